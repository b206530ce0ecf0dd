// Errors: the two body forms, vLLM's validation messages, the context-length check, scripted failures before and
// during a stream, dropped connections and clients that go away.
import * as assert from 'node:assert/strict';
import { nextRequestEnd, request, sseEvents, stream, withEmulator, type Json } from './serverHelpers';

const CHAT = '/v1/chat/completions';
const ask = (content: string, extra: Json = {}) => ({ messages: [{ role: 'user', content }], ...extra });
const LONG = 'lorem ipsum dolor sit amet '.repeat(60); // about 300 tokens

describe('vLLM emulator errors: body forms and validation', () => {
  it('uses the nested form from 0.10.1 and the flat form before', async () => {
    const script = [{ error: { when: 'before' as const, message: 'nope' } }];
    await withEmulator({ vllmVersion: '0.10.1', script: [...script] }, async (h) => {
      const r = await request(h.url + CHAT, { body: ask('x') });
      assert.equal(r.status, 400);
      assert.equal(r.text, '{"error":{"message":"nope","type":"BadRequestError","param":null,"code":400}}');
    });
    await withEmulator({ vllmVersion: '0.10.0', script: [...script] }, async (h) => {
      const r = await request(h.url + CHAT, { body: ask('x') });
      assert.equal(r.status, 400);
      assert.equal(r.text, '{"object":"error","message":"nope","type":"BadRequestError","param":null,"code":400}');
    });
  });

  it('rejects bodies FastAPI would reject: bad JSON, missing messages, wrong content type, wrong types', async () => {
    await withEmulator({}, async (h) => {
      const bad = await request(h.url + CHAT, { rawBody: '{oops', headers: { 'content-type': 'application/json' } });
      assert.equal(bad.status, 400);
      assert.deepEqual(Object.keys(bad.json.error), ['message', 'type', 'param', 'code']);
      assert.equal(bad.json.error.type, 'Bad Request');
      assert.equal(bad.json.error.message,
        "[{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': 'Expecting value'}}]");

      const missing = await request(h.url + CHAT, { body: { model: '/models/Kimi-K2.5' } });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error.message,
        "[{'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field required', 'input': {'model': '/models/Kimi-K2.5'}}]");

      const notList = await request(h.url + CHAT, { body: { messages: 'hi' } });
      assert.match(notList.json.error.message, /'list_type'.*'Input should be a valid list'/);

      const text = await request(h.url + CHAT, { rawBody: JSON.stringify(ask('x')), headers: { 'content-type': 'text/plain' } });
      assert.equal(text.status, 400);
      assert.match(text.json.error.message, /Unsupported Media Type: Only 'application\/json' is allowed/);

      const floatTokens = await request(h.url + CHAT, { body: ask('x', { max_tokens: 'many' }) });
      assert.equal(floatTokens.status, 400);
      assert.match(floatTokens.json.error.message, /\('body', 'max_tokens'\).*Input should be a valid integer/);

      const choiceWithoutTools = await request(h.url + CHAT, { body: ask('x', { tool_choice: 'required' }) });
      assert.equal(choiceWithoutTools.status, 400);
      assert.match(choiceWithoutTools.json.error.message, /When using `tool_choice`, `tools` must be set\./);
    });
  });

  it('answers 404 NotFoundError for an unknown model name, in both forms', async () => {
    await withEmulator({ servedModelName: 'kimi' }, async (h) => {
      const r = await request(h.url + CHAT, { body: ask('x', { model: '/models/Kimi-K2.5' }) });
      assert.equal(r.status, 404);
      assert.deepEqual(r.json, { error: { message: 'The model `/models/Kimi-K2.5` does not exist.', type: 'NotFoundError', param: 'model', code: 404 } });
      assert.equal((await request(h.url + CHAT, { body: ask('x', { model: 'kimi' }) })).status, 200);
      assert.equal((await request(h.url + CHAT, { body: ask('x') })).status, 200, 'model may be omitted');
    });
    await withEmulator({ vllmVersion: '0.9.2' }, async (h) => {
      const r = await request(h.url + CHAT, { body: ask('x', { model: 'gpt-4' }) });
      assert.deepEqual(r.json, { object: 'error', message: 'The model `gpt-4` does not exist.', type: 'NotFoundError', param: null, code: 404 });
    });
  });

  it('validates max_tokens / max_completion_tokens', async () => {
    await withEmulator({ maxModelLen: 300 }, async (h) => {
      const zero = await request(h.url + CHAT, { body: ask('x', { max_tokens: 0 }) });
      assert.equal(zero.status, 400);
      assert.deepEqual(zero.json.error, { message: 'max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)', type: 'BadRequestError', param: 'max_tokens', code: 400 });
      const huge = await request(h.url + CHAT, { body: ask('x', { max_completion_tokens: 999999 }) });
      assert.equal(huge.status, 400);
      assert.equal(huge.json.error.message, 'max_completion_tokens=999999 cannot be greater than max_model_len=max_total_tokens=300. ' +
        'Please request fewer output tokens. (parameter=max_completion_tokens, value=999999)');
      assert.equal(huge.json.error.param, 'max_completion_tokens');
    });
  });
});

describe('vLLM emulator errors: context length', () => {
  it('rejects prompt + output over max_model_len with the newer wording, exactly at the boundary', async () => {
    await withEmulator({ maxModelLen: 300 }, async (h) => {
      const messages = [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat(20) }];
      const prompt = (await request(`${h.url}/tokenize`, { body: { messages } })).json.count as number;
      assert.ok(prompt > 50 && prompt < 250);
      assert.equal((await request(h.url + CHAT, { body: { messages, max_tokens: 300 - prompt } })).status, 200);
      const over = await request(h.url + CHAT, { body: { messages, max_tokens: 300 - prompt + 1 } });
      assert.equal(over.status, 400);
      const m = 300 - prompt + 1;
      // vLLM tokenizes with truncation at (max_model_len - max_tokens + 1), so its "at least" figures are back-computed.
      const atLeast = 300 - m + 1;
      assert.deepEqual(over.json.error, {
        message: `This model's maximum context length is 300 tokens. However, you requested ${m} output tokens and your ` +
          `prompt contains at least ${atLeast} input tokens, for a total of at least ${atLeast + m} tokens. Please reduce the ` +
          `length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=${atLeast})`,
        type: 'BadRequestError', param: 'input_tokens', code: 400,
      });
    });
  });

  it('without max_tokens only a prompt over the whole context fails', async () => {
    await withEmulator({ maxModelLen: 300 }, async (h) => {
      assert.equal((await request(h.url + CHAT, { body: ask('short question') })).status, 200);
      const r = await request(h.url + CHAT, { body: ask(LONG) });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.message, "This model's maximum context length is 300 tokens. However, you requested 0 output " +
        'tokens and your prompt contains at least 301 input tokens, for a total of at least 301 tokens. Please reduce the ' +
        'length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=301)');
    });
  });

  it('uses the older wordings before 0.10.1', async () => {
    await withEmulator({ maxModelLen: 300, vllmVersion: '0.9.2' }, async (h) => {
      const prompt = (await request(`${h.url}/tokenize`, { body: { messages: ask(LONG).messages } })).json.count as number;
      const r = await request(h.url + CHAT, { body: ask(LONG) });
      assert.deepEqual(r.json, { object: 'error', message: `This model's maximum context length is 300 tokens. However, your ` +
        `request has ${prompt} input tokens. Please reduce the length of the input messages.`, type: 'BadRequestError', param: null, code: 400 });
      const small = ask('lorem ipsum dolor sit amet '.repeat(20), { max_tokens: 250 });
      const p2 = (await request(`${h.url}/tokenize`, { body: { messages: small.messages } })).json.count as number;
      const r2 = await request(h.url + CHAT, { body: small });
      assert.equal(r2.json.message, `'max_tokens' or 'max_completion_tokens' is too large: 250. This model's maximum context ` +
        `length is 300 tokens and your request has ${p2} input tokens (250 > 300 - ${p2}).`);
    });
  });
});

describe('vLLM emulator errors: scripted failures', () => {
  it('fails before streaming with the scripted status, type and message', async () => {
    await withEmulator({ script: [{ error: { when: 'before', status: 503, message: 'Engine overloaded' } }, { answer: 'ok' }] }, async (h) => {
      const r = await request(h.url + CHAT, { body: ask('x', { stream: true }) });
      assert.equal(r.status, 503);
      assert.deepEqual(r.json, { error: { message: 'Engine overloaded', type: 'ServiceUnavailableError', param: null, code: 503 } });
      assert.equal((await request(h.url + CHAT, { body: ask('x') })).json.choices[0].message.content, 'ok');
    });
  });

  it('sends a Python-json error event mid-stream, then [DONE]', async () => {
    const answer = 'This answer is long enough to be cut somewhere in the middle of it.';
    await withEmulator({ script: [{ answer, error: { when: 'midStream', afterChars: 20, message: 'Oops: café "broken"' } }] }, async (h) => {
      const ended = nextRequestEnd(h);
      const r = await stream(h.url + CHAT, ask('x', { chat_template_kwargs: { thinking: false } }));
      assert.equal(r.status, 200);
      assert.equal(r.events[r.events.length - 1], 'data: [DONE]');
      assert.equal(r.events[r.events.length - 2],
        'data: {"error": {"message": "Oops: caf\\u00e9 \\"broken\\"", "type": "BadRequestError", "param": null, "code": 400}}');
      const content = r.chunks.slice(0, -1).map((c) => c.choices[0].delta.content ?? '').join('');
      assert.ok(content.length >= 20 && content.length < answer.length, `sent ${content.length} characters first`);
      assert.ok(answer.startsWith(content));
      assert.ok(r.chunks.every((c) => !c.choices?.[0]?.finish_reason), 'no finish chunk after an error');
      assert.equal((await ended).outcome, 'error');
    });
  });

  it('uses the flat error event before 0.10.1 and an error response when not streaming', async () => {
    await withEmulator({ vllmVersion: '0.8.5', script: [{ answer: 'abc', error: { when: 'midStream', afterChars: 0, message: 'bad' } }] }, async (h) => {
      const r = await stream(h.url + CHAT, ask('x'));
      assert.equal(r.events[r.events.length - 2], 'data: {"object": "error", "message": "bad", "type": "BadRequestError", "param": null, "code": 400}');
    });
    await withEmulator({ script: [{ answer: 'abc', error: { when: 'midStream', afterChars: 1, status: 500, type: 'InternalServerError', message: 'gen failed' } }] }, async (h) => {
      const r = await request(h.url + CHAT, { body: ask('x') });
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, { error: { message: 'gen failed', type: 'InternalServerError', param: null, code: 500 } });
    });
  });

  it('fails at the end when afterChars lies beyond the output', async () => {
    await withEmulator({ script: [{ answer: 'short', error: { when: 'midStream', afterChars: 10_000, message: 'late' } }] }, async (h) => {
      const r = await stream(h.url + CHAT, ask('x', { chat_template_kwargs: { thinking: false } }));
      assert.match(r.events[r.events.length - 2], /"message": "late"/);
    });
  });

  it('drops the connection mid-stream like a killed server', async () => {
    await withEmulator({ script: [{ answer: 'one two three four five six seven eight', error: { when: 'drop', afterChars: 10 } }] }, async (h) => {
      const ended = nextRequestEnd(h);
      const res = await fetch(h.url + CHAT, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('x', { stream: true })) });
      assert.equal(res.status, 200);
      const got: string[] = [];
      await assert.rejects(async () => {
        for await (const ev of sseEvents(res)) got.push(ev);
      });
      assert.ok(got.length >= 2 && !got.includes('data: [DONE]'));
      assert.equal((await ended).outcome, 'dropped');
      // The next request is served normally.
      assert.equal((await request(h.url + CHAT, { body: ask('hi') })).status, 200);
    });
  });
});

describe('vLLM emulator errors: client disconnects', () => {
  it('stops generating when the client goes away and does not count a success', async () => {
    await withEmulator({ tokensPerSecond: 200 }, async (h) => {
      const ctrl = new AbortController();
      const ended = nextRequestEnd(h);
      const res = await fetch(h.url + CHAT, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ask('long-answer:5000', { stream: true })), signal: ctrl.signal,
      });
      let n = 0;
      await assert.rejects(async () => {
        for await (const ev of sseEvents(res)) {
          void ev;
          if (++n === 5) ctrl.abort();
        }
      });
      const info = await ended;
      assert.equal(info.outcome, 'aborted');
      const stats = h.stats();
      assert.equal(stats.aborted, 1);
      assert.equal(stats.running, 0);
      assert.deepEqual(stats.requestSuccess, { stop: 0, length: 0, abort: 0 });
      assert.ok(stats.generationTokens < 1000, `stopped early (${stats.generationTokens} tokens)`);
      const metrics = await request(`${h.url}/metrics`);
      assert.match(metrics.text, /vllm:request_success_total\{engine="0",finished_reason="stop",model_name="\/models\/Kimi-K2\.5"\} 0\.0/);
      assert.equal(h.stats().generationTokens, stats.generationTokens, 'nothing generated after the abort');
    });
  });
});
