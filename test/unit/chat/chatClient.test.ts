// The chat client against the vLLM emulator over real HTTP: request bodies, every reasoning-field version, usage
// and timing, tool calls, each error class (each surfacing within a second with the partial text kept), Stop.
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { buildChatRequestBody, fetchModels, samplingFromSettings, streamChat, type ChatRequest } from '../../../src/core/chat/chatClient';
import { ChatError } from '../../../src/core/chat/errors';
import type { ChatEvent } from '../../../src/core/chat/streamNormalizer';
import { parseSettings } from '../../../src/core/config/settings';
import { TOOLS_FILES } from '../emulator/serverHelpers';
import { spawnEmulator, withEmulator, type Json } from './helpers';
import type { ToolDefinition } from '../../../src/core/chat/types';

const MODEL = '/models/Kimi-K2.5';
const req = (baseUrl: string, content: string, extra: Partial<ChatRequest> = {}): ChatRequest =>
  ({ baseUrl, model: MODEL, messages: [{ role: 'user', content }], mode: 'thinking', ...extra });

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Events with arrival times, to check how fast a failure surfaces after the last text. */
function recorder() {
  const events: { e: ChatEvent; t: number }[] = [];
  return { events, onEvent: (e: ChatEvent) => events.push({ e, t: performance.now() }) };
}

function assertErrorSurfacedFast(events: { e: ChatEvent; t: number }[]) {
  const err = events.findIndex((x) => x.e.kind === 'error');
  assert.ok(err > 0, 'an error event after some text');
  const gap = events[err]!.t - events[err - 1]!.t;
  assert.ok(gap < 1000, `error surfaced ${gap.toFixed(0)} ms after the last text`);
}

describe('chat client: requests', () => {
  it('thinking mode: stream, include_usage, temperature 1.0, top_p 0.95, no chat_template_kwargs', async () => {
    await withEmulator({}, async (h, baseUrl) => {
      const r = await streamChat(req(baseUrl, 'hello'));
      assert.equal(r.error, undefined);
      const body = h.requests.find((x) => x.path === '/v1/chat/completions')!.body as Json;
      assert.deepEqual(body, { model: MODEL, messages: [{ role: 'user', content: 'hello' }], stream: true, stream_options: { include_usage: true }, temperature: 1, top_p: 0.95 });
      assert.equal(h.requests[0]!.headers['content-type'], 'application/json');
    });
  });

  it('instant mode: chat_template_kwargs {thinking:false}, temperature 0.6 — and no thinking comes back', async () => {
    await withEmulator({}, async (h, baseUrl) => {
      const r = await streamChat(req(baseUrl, 'hello', { mode: 'instant' }));
      const body = h.requests[0]!.body as Json;
      assert.deepEqual(body.chat_template_kwargs, { thinking: false });
      assert.equal(body.temperature, 0.6);
      assert.equal(body.top_p, 0.95);
      assert.deepEqual(body.stream_options, { include_usage: true });
      assert.equal(r.thinking, '');
      assert.match(r.answer, /^Hello!/);
    });
  });

  it('sampling comes from settings (overridable); tools add tool_choice auto; max_tokens passes through', () => {
    const { settings } = parseSettings({ 'chat.thinkingTemperature': 0.8, 'chat.instantTemperature': 0.3, 'chat.topP': 0.9 });
    const s = samplingFromSettings(settings);
    const tools = TOOLS_FILES as ToolDefinition[];
    const b = buildChatRequestBody({ ...req('http://x/v1', 'q'), sampling: s, tools, maxTokens: 99 });
    assert.equal(b.temperature, 0.8);
    assert.equal(b.top_p, 0.9);
    assert.equal(b.tool_choice, 'auto');
    assert.equal(b.max_tokens, 99);
    assert.equal(buildChatRequestBody({ ...req('http://x/v1', 'q'), mode: 'instant', sampling: s }).temperature, 0.3);
    const d = samplingFromSettings(parseSettings({}).settings);
    assert.deepEqual(d, { thinkingTemperature: 1, instantTemperature: 0.6, topP: 0.95 });
  });

  it('sends the API key as a Bearer token', async () => {
    await withEmulator({ apiKey: 'sekret' }, async (h, baseUrl) => {
      const r = await streamChat(req(baseUrl, 'hello', { apiKey: 'sekret' }));
      assert.equal(r.error, undefined);
      assert.equal(h.requests[0]!.headers.authorization, 'Bearer sekret');
    });
  });
});

describe('chat client: streaming every vLLM shape', () => {
  for (const [label, opts] of [
    ['0.10.0 (reasoning_content)', { vllmVersion: '0.10.0' }],
    ['0.11.0 (reasoning_content)', { vllmVersion: '0.11.0' }],
    ['0.15.1 (reasoning + reasoning_content)', { vllmVersion: '0.15.1' }],
    ['0.16.0 (reasoning)', { vllmVersion: '0.16.0' }],
    ['no reasoning parser', { vllmVersion: '0.16.0', reasoningParser: false }],
  ] as const) {
    it(`vLLM ${label}: thinking and answer apart, usage, finish reason, observations`, async () => {
      await withEmulator(opts, async (_h, baseUrl) => {
        const r = await streamChat(req(baseUrl, 'Write a python function for fibonacci'));
        assert.equal(r.error, undefined);
        assert.match(r.thinking, /^The user wants code/);
        assert.ok(!r.thinking.includes('</think>') && !r.answer.includes('</think>'));
        assert.match(r.answer, /^Here is a python implementation:\n\n```python\ndef fibonacci/);
        assert.equal(r.finishReason, 'stop');
        assert.equal(r.stopReason, 163586);
        assert.ok(r.usage && r.usage.completion > 0 && r.usage.total === r.usage.prompt + r.usage.completion);
        assert.equal(r.stopped, false);
        const field = opts.vllmVersion === '0.16.0' ? 'reasoning' : opts.vllmVersion === '0.15.1' ? 'both' : 'reasoning_content';
        assert.equal(r.observations.reasoningField, 'reasoningParser' in opts ? 'none' : field);
        assert.equal(r.observations.thinkTagsInContent, 'reasoningParser' in opts);
      });
    });
  }

  it('measures TTFT and tokens/s (emulator: 300 ms TTFT, 200 tokens/s)', async () => {
    await withEmulator({ ttftMs: 300, tokensPerSecond: 200 }, async (_h, baseUrl) => {
      const r = await streamChat(req(baseUrl, 'Write a python function for fibonacci'));
      assert.equal(r.error, undefined);
      assert.ok(r.ttftMs! >= 280 && r.ttftMs! < 800, `ttft ${r.ttftMs}`);
      assert.ok(r.tokensPerSecond! > 150 && r.tokensPerSecond! < 230, `tok/s ${r.tokensPerSecond}`);
      assert.ok(r.thinkingMs! > 0 && r.thinkingMs! < r.durationMs);
    });
  });

  it('reassembles streamed tool calls (arbitrary cuts, explicit nulls, several calls)', async () => {
    const args = { path: 'docs/ünïcode "notes"\\n.md' };
    await withEmulator({ script: [{ thinking: 'Read both.', toolCalls: [{ name: 'read_file', arguments: args }, { name: 'list_directory', arguments: { path: '.' } }] }] }, async (h, baseUrl) => {
      const rec = recorder();
      const r = await streamChat(req(baseUrl, 'x', { tools: TOOLS_FILES as ToolDefinition[] }), { onEvent: rec.onEvent });
      assert.equal((h.requests[0]!.body as Json).tool_choice, 'auto');
      assert.equal(r.finishReason, 'tool_calls');
      assert.deepEqual(r.toolCalls, [
        { index: 0, id: 'functions.read_file:0', name: 'read_file', arguments: JSON.stringify(args) },
        { index: 1, id: 'functions.list_directory:1', name: 'list_directory', arguments: '{"path":"."}' },
      ]);
      assert.ok(rec.events.filter((x) => x.e.kind === 'toolCall').length > 3, 'argument deltas stream as they come');
      const kinds = rec.events.map((x) => x.e.kind);
      assert.deepEqual(kinds.slice(-3), ['usage', 'toolCallsDone', 'done']);
    });
  });

  it('without the tool parser the raw markers are parsed into the same calls', async () => {
    await withEmulator({ toolCallParser: false }, async (_h, baseUrl) => {
      const r = await streamChat(req(baseUrl, 'Read src/main.ts and explain it', { tools: TOOLS_FILES as ToolDefinition[] }));
      assert.deepEqual(r.toolCalls, [{ index: 0, id: 'functions.read_file:0', name: 'read_file', arguments: '{"path":"src/main.ts"}' }]);
      assert.ok(!r.answer.includes('<|'));
      assert.equal(r.finishReason, 'tool_calls');
      assert.equal(r.observations.rawToolMarkers, true);
    });
  });

  it('fetchModels: first id and max_model_len', async () => {
    await withEmulator({ servedModelName: 'kimi-k2.5', maxModelLen: 32768 }, async (_h, baseUrl) => {
      assert.deepEqual(await fetchModels(baseUrl), { id: 'kimi-k2.5', ids: ['kimi-k2.5'], maxModelLen: 32768 });
      assert.deepEqual(await fetchModels(`${baseUrl}/`), { id: 'kimi-k2.5', ids: ['kimi-k2.5'], maxModelLen: 32768 });
    });
  });
});

describe('chat client: Stop', () => {
  it('abort keeps the partial text, marks the turn stopped, and the server sees the client go away', async () => {
    await withEmulator({ tokensPerSecond: 400 }, async (h, baseUrl) => {
      const ctrl = new AbortController();
      const rec = recorder();
      let answered = 0;
      const ended = new Promise((resolve) => h.onRequestEnd(resolve));
      const r = await streamChat(req(baseUrl, 'long-answer:2000 please'), {
        signal: ctrl.signal,
        onEvent: (e) => {
          rec.onEvent(e);
          if (e.kind === 'answer' && ++answered === 20) ctrl.abort();
        },
      });
      assert.equal(r.stopped, true);
      assert.equal(r.error, undefined);
      assert.ok(r.answer.length > 20 && r.answer.length < 5000, `partial answer kept (${r.answer.length} chars)`);
      assert.ok(r.thinking.length > 0);
      assert.deepEqual(rec.events.at(-1)!.e, { kind: 'done', finishReason: 'stopped' });
      assert.equal(r.usage, null);
      assert.equal(((await ended) as Json).outcome, 'aborted');
    });
  });

  it('Stop before the first token (long TTFT) returns at once, empty and stopped', async () => {
    await withEmulator({ ttftMs: 5000 }, async (_h, baseUrl) => {
      const ctrl = new AbortController();
      setTimeout(() => ctrl.abort(), 100);
      const t0 = performance.now();
      const r = await streamChat(req(baseUrl, 'hello'), { signal: ctrl.signal });
      assert.ok(performance.now() - t0 < 1000);
      assert.equal(r.stopped, true);
      assert.equal(r.answer, '');
    });
  });
});

describe('chat client: errors in plain language, server message kept, retryable', () => {
  it('connection refused → "no server", action startServer, within a second', async () => {
    const baseUrl = `http://127.0.0.1:${await freePort()}/v1`;
    const t0 = performance.now();
    const rec = recorder();
    const r = await streamChat(req(baseUrl, 'hi'), { onEvent: rec.onEvent });
    assert.ok(performance.now() - t0 < 1000);
    assert.ok(r.error instanceof ChatError);
    assert.equal(r.error.kind, 'connectionRefused');
    assert.equal(r.error.action, 'startServer');
    assert.equal(r.error.retryable, true);
    assert.match(r.error.message, /No server is running at .* \(connection refused\)/);
    assert.equal(rec.events.at(-1)!.e.kind, 'error');
    await assert.rejects(fetchModels(baseUrl), (e: ChatError) => e.kind === 'connectionRefused');
  });

  it('401 → API key message with the server\'s text', async () => {
    await withEmulator({ apiKey: 'right' }, async (_h, baseUrl) => {
      for (const apiKey of [undefined, 'wrong']) {
        const r = await streamChat(req(baseUrl, 'hi', apiKey ? { apiKey } : {}));
        assert.equal(r.error?.kind, 'unauthorized');
        assert.equal(r.error?.status, 401);
        assert.equal(r.error?.serverMessage, 'Unauthorized');
        assert.equal(r.error?.action, 'setApiKey');
        assert.match(r.error!.message, apiKey ? /rejected the API key/ : /needs an API key/);
      }
      await assert.rejects(fetchModels(baseUrl), (e: ChatError) => e.kind === 'unauthorized');
    });
  });

  it('400 context too long, both body forms (nested ≥ 0.10.1, flat before)', async () => {
    for (const vllmVersion of ['0.16.0', '0.10.0']) {
      await withEmulator({ vllmVersion, maxModelLen: 200 }, async (_h, baseUrl) => {
        const r = await streamChat(req(baseUrl, 'word '.repeat(400)));
        assert.equal(r.error?.kind, 'contextTooLong', vllmVersion);
        assert.equal(r.error?.status, 400);
        assert.match(r.error!.serverMessage!, /maximum context length is 200 tokens/);
        assert.match(r.error!.message, /max_model_len 200 tokens/);
        assert.match(r.error!.message, /The server said: This model's maximum context length is 200 tokens/);
        assert.equal(r.error?.retryable, true);
      });
    }
  });

  it('400 with any other message keeps it verbatim, both body forms', async () => {
    for (const vllmVersion of ['0.16.0', '0.10.0']) {
      await withEmulator({ vllmVersion, script: [{ error: { when: 'before', status: 400, message: 'Something specific went wrong.' } }] }, async (_h, baseUrl) => {
        const r = await streamChat(req(baseUrl, 'hi'));
        assert.equal(r.error?.kind, 'badRequest');
        assert.equal(r.error?.serverMessage, 'Something specific went wrong.');
        assert.equal(r.error?.serverType, 'BadRequestError');
        assert.match(r.error!.message, /HTTP 400.*Something specific went wrong\./);
      });
    }
  });

  it('400 "auto" tool choice requires … → names the missing vllm serve flags', async () => {
    await withEmulator({ enableAutoToolChoice: false }, async (_h, baseUrl) => {
      const r = await streamChat(req(baseUrl, 'Read src/main.ts', { tools: TOOLS_FILES as ToolDefinition[] }));
      assert.equal(r.error?.kind, 'toolChoiceNotEnabled');
      assert.deepEqual(r.error?.missingFlags, ['--enable-auto-tool-choice', '--tool-call-parser kimi_k2']);
      assert.match(r.error!.message, /--enable-auto-tool-choice --tool-call-parser kimi_k2/);
      assert.match(r.error!.serverMessage!, /"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set/);
    });
  });

  it('404 unknown model and 500 dead engine', async () => {
    await withEmulator({}, async (h, baseUrl) => {
      const r = await streamChat({ ...req(baseUrl, 'hi'), model: 'nope' });
      assert.equal(r.error?.kind, 'modelNotFound');
      assert.match(r.error!.message, /does not serve the model "nope"/);
      h.markDead();
      const d = await streamChat(req(baseUrl, 'hi'));
      assert.equal(d.error?.kind, 'serverError');
      assert.match(d.error!.serverMessage!, /EngineCore encountered an issue/);
    });
  });

  it('a mid-stream error event keeps the partial text and surfaces at once', async () => {
    await withEmulator({ tokensPerSecond: 200, script: [{ thinking: 'Thinking hard about it.', answer: 'A partial answer that will break.', error: { when: 'midStream', afterChars: 30, message: 'Scripted failure mid-answer.' } }] }, async (_h, baseUrl) => {
      const rec = recorder();
      const r = await streamChat(req(baseUrl, 'x'), { onEvent: rec.onEvent });
      assert.equal(r.error?.kind, 'streamError');
      assert.equal(r.error?.serverMessage, 'Scripted failure mid-answer.');
      assert.equal(r.error?.retryable, true);
      assert.equal(r.thinking, 'Thinking hard about it.');
      assert.ok(r.answer.length > 0 && 'A partial answer that will break.'.startsWith(r.answer), r.answer);
      assertErrorSurfacedFast(rec.events);
    });
  });

  it('a scripted dropped connection keeps the partial text and surfaces within a second', async () => {
    await withEmulator({ tokensPerSecond: 200, script: [{ thinking: 'Thinking.', answer: 'The answer goes on and on until the server dies.', error: { when: 'drop', afterChars: 25 } }] }, async (_h, baseUrl) => {
      const rec = recorder();
      const r = await streamChat(req(baseUrl, 'x'), { onEvent: rec.onEvent });
      assert.equal(r.error?.kind, 'connectionDropped');
      assert.equal(r.error?.retryable, true);
      assert.match(r.error!.message, /lost mid-answer.*partial answer is kept/);
      assert.ok(r.answer.length > 0);
      assertErrorSurfacedFast(rec.events);
    });
  });

  it('the server process killed (SIGKILL) mid-answer: dropped, partial kept, within a second', async function () {
    const { child, baseUrl } = await spawnEmulator(['--tokens-per-second', '100']);
    try {
      const rec = recorder();
      let answered = 0;
      let killedAt = 0;
      const r = await streamChat(req(baseUrl, 'long-answer:500 now'), {
        onEvent: (e) => {
          rec.onEvent(e);
          if (e.kind === 'answer' && ++answered === 5) {
            killedAt = performance.now();
            child.kill('SIGKILL');
          }
        },
      });
      const surfaced = rec.events.find((x) => x.e.kind === 'error')!.t - killedAt;
      assert.equal(r.error?.kind, 'connectionDropped');
      assert.ok(r.answer.length > 0);
      assert.ok(surfaced < 1000, `surfaced ${surfaced.toFixed(0)} ms after the kill`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the emulator closing all connections mid-thought (server shut down) is a drop too', async () => {
    await withEmulator({ tokensPerSecond: 200 }, async (h, baseUrl) => {
      let n = 0;
      const r = await streamChat(req(baseUrl, 'long-thinking:500 x'), {
        onEvent: (e) => {
          if (e.kind === 'thinking' && ++n === 5) void h.close();
        },
      });
      assert.equal(r.error?.kind, 'connectionDropped');
      assert.ok(r.thinking.length > 0);
    });
  });

  it('idle timeout (optional) turns a silent server into a timeout error', async () => {
    await withEmulator({ ttftMs: 3000 }, async (_h, baseUrl) => {
      const t0 = performance.now();
      const r = await streamChat(req(baseUrl, 'hi'), { idleTimeoutMs: 300 });
      assert.equal(r.error?.kind, 'timeout');
      assert.ok(performance.now() - t0 < 1500);
    });
  });

  it('ChatError serialises for the webview and the history', () => {
    const e = new ChatError({ kind: 'contextTooLong', message: 'm', status: 400, serverMessage: 's', retryable: true, action: 'newChat' });
    assert.deepEqual(JSON.parse(JSON.stringify(e)), { kind: 'contextTooLong', message: 'm', retryable: true, status: 400, serverMessage: 's', action: 'newChat' });
  });
});
