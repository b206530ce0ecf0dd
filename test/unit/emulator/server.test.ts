// The emulator's plain endpoints, auth, engine lifecycle, request recording, logs and shutdown.
import * as assert from 'node:assert/strict';
import { startEmulator } from '../../emulator/server';
import { logCollector, nextRequestEnd, request, sseEvents, withEmulator } from './serverHelpers';

describe('vLLM emulator server: endpoints', () => {
  it('answers /health, /ping (GET and POST), /version, and 404/405 like FastAPI', async () => {
    await withEmulator({ vllmVersion: '0.16.0' }, async (h) => {
      assert.match(h.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await request(`${h.url}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.text, '');
      assert.equal((await request(`${h.url}/ping`)).status, 200);
      assert.equal((await request(`${h.url}/ping`, { method: 'POST' })).status, 200);
      const version = await request(`${h.url}/version`);
      assert.equal(version.text, '{"version":"0.16.0"}');
      const missing = await request(`${h.url}/v1/nope`);
      assert.equal(missing.status, 404);
      assert.equal(missing.text, '{"detail":"Not Found"}');
      const wrongMethod = await request(`${h.url}/v1/chat/completions`);
      assert.equal(wrongMethod.status, 405);
      assert.deepEqual(wrongMethod.json, { detail: 'Method Not Allowed' });
    });
  });

  it('lists the model exactly in the shape real vLLM uses', async () => {
    await withEmulator({ model: '/data/Kimi-K2.5', servedModelName: 'kimi-k2.5', maxModelLen: 8192 }, async (h) => {
      const before = Math.floor(Date.now() / 1000);
      const { status, json } = await request(`${h.url}/v1/models`);
      assert.equal(status, 200);
      assert.deepEqual(Object.keys(json), ['object', 'data']);
      assert.equal(json.object, 'list');
      assert.equal(json.data.length, 1);
      const card = json.data[0];
      assert.deepEqual(Object.keys(card),
        ['id', 'object', 'created', 'owned_by', 'root', 'parent', 'max_model_len', 'permission']);
      assert.equal(card.id, 'kimi-k2.5');
      assert.equal(card.object, 'model');
      assert.equal(card.owned_by, 'vllm');
      assert.equal(card.root, '/data/Kimi-K2.5');
      assert.equal(card.parent, null);
      assert.equal(card.max_model_len, 8192);
      assert.ok(Number.isInteger(card.created) && card.created >= before);
      const perm = card.permission[0];
      assert.match(perm.id, /^modelperm-[0-9a-f]{16}$/);
      assert.deepEqual({ ...perm, id: 'x', created: 0 }, {
        id: 'x', object: 'model_permission', created: 0, allow_create_engine: false, allow_sampling: true,
        allow_logprobs: true, allow_search_indices: false, allow_view: true, allow_fine_tuning: false,
        organization: '*', group: null, is_blocking: false,
      });
    });
  });

  it('uses the model path as id when no served name is given', async () => {
    await withEmulator({}, async (h) => {
      const { json } = await request(`${h.url}/v1/models`);
      assert.equal(json.data[0].id, '/models/Kimi-K2.5');
      assert.equal(json.data[0].root, '/models/Kimi-K2.5');
      assert.equal(json.data[0].max_model_len, 262144);
    });
  });

  it('POST /tokenize counts a prompt and a chat the same way usage does', async () => {
    await withEmulator({}, async (h) => {
      const messages = [{ role: 'user', content: 'Count my tokens, please.' }];
      const tok = await request(`${h.url}/tokenize`, { body: { messages } });
      assert.equal(tok.status, 200);
      assert.equal(tok.json.count, tok.json.tokens.length);
      assert.equal(tok.json.max_model_len, 262144);
      const chat = await request(`${h.url}/v1/chat/completions`, { body: { messages } });
      assert.equal(chat.json.usage.prompt_tokens, tok.json.count);
      const plain = await request(`${h.url}/tokenize`, { body: { prompt: 'hello world' } });
      assert.equal(plain.json.count, 2);
    });
  });
});

describe('vLLM emulator server: auth', () => {
  it('guards only /v1 paths with the Bearer key', async () => {
    await withEmulator({ apiKey: 'sekret' }, async (h) => {
      const none = await request(`${h.url}/v1/models`);
      assert.equal(none.status, 401);
      assert.equal(none.text, '{"error":"Unauthorized"}');
      assert.equal((await request(`${h.url}/v1/models`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      assert.equal((await request(`${h.url}/v1/models`, { headers: { authorization: 'sekret' } })).status, 401);
      assert.equal((await request(`${h.url}/v1/models`, { headers: { authorization: 'Bearer sekret' } })).status, 200);
      // Unknown /v1 paths are rejected before routing, as the middleware runs first.
      assert.equal((await request(`${h.url}/v1/unknown`)).status, 401);
      const chat = await request(`${h.url}/v1/chat/completions`, { body: { messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(chat.status, 401);
      for (const open of ['/health', '/metrics', '/version', '/ping']) {
        assert.equal((await request(`${h.url}${open}`)).status, 200, open);
      }
    });
  });
});

describe('vLLM emulator server: engine lifecycle', () => {
  it('drops connections while loading, then answers, then reports a dead engine', async () => {
    await withEmulator({ startLoading: true }, async (h) => {
      // The port is bound (we know it) but every connection is destroyed.
      await assert.rejects(fetch(`${h.url}/health`), (err: Error) => {
        const code = (err.cause as { code?: string } | undefined)?.code ?? '';
        assert.match(`${err.message} ${code}`, /fetch failed|ECONNRESET|socket|closed|UND_ERR/i);
        return true;
      });
      await assert.rejects(fetch(`${h.url}/v1/models`));
      assert.equal(h.requests.length, 0, 'nothing reaches the HTTP layer while loading');
      h.markReady();
      assert.equal((await request(`${h.url}/health`)).status, 200);
      h.markDead();
      const dead = await request(`${h.url}/health`);
      assert.equal(dead.status, 503);
      assert.equal(dead.text, '');
      assert.equal((await request(`${h.url}/ping`)).status, 503);
      const chat = await request(`${h.url}/v1/chat/completions`, { body: { messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(chat.status, 500);
      assert.equal(chat.json.error.type, 'InternalServerError');
      assert.match(chat.json.error.message, /EngineCore encountered an issue/);
    });
  });

  it('sends an error event to streams in flight when the engine dies', async () => {
    await withEmulator({ tokensPerSecond: 20 }, async (h) => {
      const res = await fetch(`${h.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'long-answer:500' }], stream: true }),
      });
      const events: string[] = [];
      for await (const ev of sseEvents(res)) {
        events.push(ev);
        if (events.length === 2) h.markDead();
      }
      assert.equal(events[events.length - 1], 'data: [DONE]');
      const err = JSON.parse(events[events.length - 2].slice(6));
      assert.equal(err.error.type, 'InternalServerError');
      assert.equal(err.error.code, 500);
    });
  });
});

describe('vLLM emulator server: recording and logs', () => {
  it('records every request with method, path, headers, parsed and raw body', async () => {
    await withEmulator({}, async (h) => {
      const t0 = Date.now();
      await request(`${h.url}/health`);
      await request(`${h.url}/v1/chat/completions`, {
        body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }, headers: { 'x-test': 'yes' },
      });
      await request(`${h.url}/v1/chat/completions?x=1`, { rawBody: 'not json', headers: { 'content-type': 'application/json' } });
      assert.equal(h.requests.length, 3);
      const [health, chat, bad] = h.requests;
      assert.equal(health.method, 'GET');
      assert.equal(health.path, '/health');
      assert.equal(health.body, undefined);
      assert.equal(chat.method, 'POST');
      assert.equal(chat.path, '/v1/chat/completions');
      assert.equal(chat.headers['x-test'], 'yes');
      assert.deepEqual(chat.body, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
      assert.equal(chat.rawBody, JSON.stringify(chat.body));
      assert.ok(chat.receivedAt >= t0 && chat.receivedAt <= Date.now());
      assert.equal(bad.path, '/v1/chat/completions');
      assert.equal(bad.body, undefined);
      assert.equal(bad.rawBody, 'not json');
    });
  });

  it('writes uvicorn access lines and the periodic engine stats line', async () => {
    const logs = logCollector();
    await withEmulator({ log: logs.log, statsIntervalMs: 40, tokensPerSecond: 200 }, async (h) => {
      const done = request(`${h.url}/v1/chat/completions`, { body: { messages: [{ role: 'user', content: 'long-answer:30' }] } });
      const busy = await logs.waitFor(/Running: 1 reqs/);
      assert.match(busy, /^Engine 000: Avg prompt throughput: \d+\.\d tokens\/s, Avg generation throughput: \d+\.\d tokens\/s, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: \d+\.\d%, Prefix cache hit rate: \d+\.\d%$/);
      await done;
      const access = await logs.waitFor(/POST \/v1\/chat\/completions/);
      assert.match(access, /^INFO: {5}127\.0\.0\.1:\d+ - "POST \/v1\/chat\/completions HTTP\/1\.1" 200 OK$/);
      const generating = logs.lines.filter((l) => /Avg generation throughput: [1-9]/.test(l));
      assert.ok(generating.length >= 1, 'generation throughput shows up while the request runs');
      await logs.waitFor(/Running: 0 reqs/);
    });
  });
});

describe('vLLM emulator server: shutdown', () => {
  it('close() ends open streams and releases the port promptly', async () => {
    const h = await startEmulator({ tokensPerSecond: 5 });
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'long-answer:1000' }], stream: true }),
    });
    const it = sseEvents(res);
    await it.next(); // the stream is live
    const ended = nextRequestEnd(h);
    const t0 = Date.now();
    await h.close();
    assert.ok(Date.now() - t0 < 2000, 'close() does not wait for the stream to finish');
    assert.equal((await ended).outcome, 'aborted');
    await assert.rejects(async () => {
      for (;;) {
        const r = await it.next();
        if (r.done) throw new Error('stream ended without [DONE]'); // a cut stream either errors or just ends
      }
    });
    await assert.rejects(fetch(`${h.url}/health`));
    await h.close(); // idempotent
  });
});
