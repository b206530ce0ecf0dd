// The vLLM emulator's HTTP server (node:http only): what `vllm serve <Kimi-K2.5> --reasoning-parser kimi_k2
// --tool-call-parser kimi_k2 --enable-auto-tool-choice` looks like from the outside. Behaviour follows
// docs/vllm-kimi-protocol.md; the contract is test/emulator/types.ts.
//
// Modules: completions.ts (the two generation endpoints), kimiOutput.ts (model turn → raw Kimi tokens → deltas),
// generation.ts (pacing + engine accounting), persona.ts (the default model), tokens.ts (approximate tokenizer),
// metrics.ts (/metrics and the stats line), vllmFormat.ts (version-dependent spellings).
//
// Where the protocol sheet is silent, the emulator follows vLLM's source:
//  - FastAPI validation errors (bad JSON, missing `messages`, wrong types, a non-JSON content type) are 400 with the
//    Python repr of pydantic's error list as message and type "Bad Request" ("BadRequestError" before 0.10.1).
//  - An unknown `model` is 404 NotFoundError "The model `X` does not exist." (param "model" from 0.10.1).
//  - Context length (0.10.1+): vLLM tokenizes with truncation at max_input + 1, so the "at least" figures are
//    back-computed (P = max_model_len − max_tokens + 1). Without max_tokens the request asks for 0 output tokens, so
//    only a prompt over the whole context fails, and the output may then run to the end of the context.
//  - The finish chunk carries `{"content":""}` on a stop (the end-of-turn token decodes to ""), the last token on
//    `length` (stop_reason null), and the held-back tail of the last tool call's arguments on `tool_calls`.
//  - Non-streaming bodies are pydantic model_dump()s: every field is present, nulls included.
//  - Aborted requests are not counted in vllm:request_success_total (see stats().aborted).
//
// Emulator-only choices: toolCallParser:false with enableAutoToolChoice:true (a start-up error in real vLLM) serves
// tool calls as raw markers; /v1/completions takes one prompt per request; n, logprobs and stop are ignored.
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  handleChatCompletions,
  handleCompletions,
  sendJson,
  type IncomingCall,
  type ResolvedConfig,
  type ServerContext,
} from './completions';
import { EngineMetrics, StatsLogger } from './metrics';
import { contentText, countImages, IMAGE_TOKENS, renderChatPrompt, splitTokens } from './tokens';
import type {
  EmulatorHandle,
  EmulatorOptions,
  EmulatorStats,
  RecordedRequest,
  RequestEndInfo,
  ScriptedRound,
} from './types';
import { hashString } from './kimiOutput';
import { defaultReasoningField } from './vllmFormat';

/** The handle startEmulator returns: the contract's handle with its optional extras always present. */
export interface EmulatorServerHandle extends EmulatorHandle {
  stats(): EmulatorStats;
  onRequestEnd(listener: (info: RequestEndInfo) => void): () => void;
  /** The resolved configuration (model names, version, parsers …). */
  readonly config: Readonly<ResolvedConfig>;
}

type EngineState = 'loading' | 'ready' | 'dead';
type Handler = (call: IncomingCall) => void | Promise<void>;

export async function startEmulator(opts: EmulatorOptions = {}): Promise<EmulatorServerHandle> {
  const vllmVersion = opts.vllmVersion ?? '0.15.1';
  const model = opts.model ?? '/models/Kimi-K2.5';
  const cfg: ResolvedConfig = {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    vllmVersion,
    reasoningField: opts.reasoningField ?? defaultReasoningField(vllmVersion),
    reasoningParser: opts.reasoningParser ?? true,
    toolCallParser: opts.toolCallParser ?? true,
    enableAutoToolChoice: opts.enableAutoToolChoice ?? true,
    model,
    servedModelName: opts.servedModelName ?? model,
    maxModelLen: opts.maxModelLen ?? 262144,
    apiKey: opts.apiKey,
    ttftMs: opts.ttftMs ?? 0,
    tokensPerSecond: opts.tokensPerSecond ?? 0,
  };

  let state: EngineState = opts.startLoading ? 'loading' : 'ready';
  let script: ScriptedRound[] = [...(opts.script ?? [])];
  let closing = false;
  const requests: RecordedRequest[] = [];
  const metrics = new EngineMetrics();
  const stats = new StatsLogger(metrics, opts.log, opts.statsIntervalMs ?? 10_000);
  const active = new Set<AbortController>();
  const endListeners = new Set<(info: RequestEndInfo) => void>();

  const ctx: ServerContext = {
    cfg,
    metrics,
    stats,
    isDead: () => state === 'dead',
    takeRound(text) {
      const next = script[0];
      if (!next) return undefined;
      if (next.match !== undefined && !new RegExp(next.match, 'i').test(text)) return undefined;
      script.shift();
      return next;
    },
    track(ctrl) {
      active.add(ctrl);
      return () => active.delete(ctrl);
    },
    requestEnded(info) {
      for (const l of [...endListeners]) l(info);
    },
  };

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/health': { GET: health },
    '/ping': { GET: health, POST: health },
    '/version': { GET: ({ res }) => sendJson(res, 200, { version: vllmVersion }) },
    '/metrics': { GET: ({ res }) => sendText(res, 200, metrics.render(cfg.servedModelName, vllmVersion)) },
    '/v1/models': { GET: ({ res }) => sendJson(res, 200, modelList(cfg)) },
    '/v1/chat/completions': { POST: (call) => handleChatCompletions(ctx, call) },
    '/v1/completions': { POST: (call) => handleCompletions(ctx, call) },
    '/tokenize': { POST: (call) => tokenize(cfg, call) },
  };

  function health({ res }: IncomingCall) {
    // vLLM answers 503 with an empty body once the engine is dead.
    res.writeHead(state === 'dead' ? 503 : 200, { 'content-length': 0, server: 'uvicorn' });
    res.end();
  }

  async function onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    const receivedAt = Date.now();
    accessLogOnHead(req, res, opts.log);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    requests.push({ method: req.method ?? 'GET', path, headers: { ...req.headers }, body, rawBody, receivedAt });
    const call: IncomingCall = { req, res, path, rawBody, receivedAt };

    // vLLM's AuthenticationMiddleware: only /v1 paths, exact "Bearer <key>", before routing (so unknown /v1 paths
    // are 401 too).
    if (cfg.apiKey && path.startsWith('/v1') && req.method !== 'OPTIONS' &&
        req.headers.authorization !== `Bearer ${cfg.apiKey}`) {
      return sendJson(res, 401, { error: 'Unauthorized' });
    }
    const route = routes[path];
    if (!route) return sendJson(res, 404, { detail: 'Not Found' });
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? 'GET';
    const handler = route[method];
    if (!handler) {
      res.setHeader('allow', Object.keys(route).join(', '));
      return sendJson(res, 405, { detail: 'Method Not Allowed' });
    }
    await handler(call);
  }

  const server = http.createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      // Starlette's answer to an unhandled exception.
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error', 'text/plain; charset=utf-8');
      else res.destroy();
      opts.log?.(`ERROR:    Exception in ASGI application: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    });
  });
  // While the engine loads (and once closing) the port is bound but nothing answers: drop every connection.
  server.on('connection', (socket) => {
    if (state === 'loading' || closing) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  cfg.port = port;
  const hostForUrl = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    requests,
    config: cfg,
    markReady() {
      state = 'ready';
    },
    markDead() {
      state = 'dead';
      for (const c of [...active]) c.abort('dead');
    },
    setScript(next) {
      script = [...next];
    },
    stats: () => ({
      running: metrics.running,
      waiting: metrics.waiting,
      promptTokens: metrics.promptTokens,
      generationTokens: metrics.generationTokens,
      requestSuccess: Object.fromEntries(metrics.success),
      aborted: metrics.aborted,
    }),
    onRequestEnd(listener) {
      endListeners.add(listener);
      return () => endListeners.delete(listener);
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        stats.stop();
        for (const c of [...active]) c.abort('close');
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function sendText(res: http.ServerResponse, status: number, text: string, type = 'text/plain; version=0.0.4; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), server: 'uvicorn' });
  res.end(text);
}

/** uvicorn's access log line, written when the response head goes out (as uvicorn does). */
function accessLogOnHead(req: http.IncomingMessage, res: http.ServerResponse, log: ((line: string) => void) | undefined) {
  if (!log) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    const status = args[0] as number;
    const client = `${req.socket.remoteAddress ?? '127.0.0.1'}:${req.socket.remotePort ?? 0}`;
    log(`INFO:     ${client} - "${req.method} ${req.url} HTTP/${req.httpVersion}" ${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd());
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/** GET /v1/models, shaped like the seed transcript's real response. */
function modelList(cfg: ResolvedConfig) {
  const created = Math.floor(Date.now() / 1000);
  return {
    object: 'list',
    data: [{
      id: cfg.servedModelName,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: cfg.model,
      parent: null,
      max_model_len: cfg.maxModelLen,
      permission: [{
        id: `modelperm-${randomBytes(8).toString('hex')}`,
        object: 'model_permission',
        created,
        allow_create_engine: false,
        allow_sampling: true,
        allow_logprobs: true,
        allow_search_indices: false,
        allow_view: true,
        allow_fine_tuning: false,
        organization: '*',
        group: null,
        is_blocking: false,
      }],
    }],
  };
}

/** POST /tokenize (vLLM's, outside /v1): `prompt` or chat `messages` → count and token ids. The ids are stable
 *  hashes of the emulator's token pieces, not Kimi's real vocabulary. */
function tokenize(cfg: ResolvedConfig, { res, rawBody }: IncomingCall) {
  let body: { prompt?: unknown; messages?: unknown; tools?: unknown; chat_template_kwargs?: { thinking?: unknown } };
  try {
    body = JSON.parse(rawBody);
  } catch {
    return sendJson(res, 400, { error: { message: 'Invalid JSON body', type: 'Bad Request', param: null, code: 400 } });
  }
  let pieces: string[];
  let extra = 0;
  if (Array.isArray(body.messages)) {
    const thinking = body.chat_template_kwargs?.thinking !== false;
    pieces = splitTokens(renderChatPrompt(body.messages, Array.isArray(body.tools) ? body.tools : undefined, thinking));
    extra = body.messages.reduce((n: number, m: { content?: unknown }) => n + countImages(m?.content), 0) * IMAGE_TOKENS;
  } else {
    pieces = splitTokens(typeof body.prompt === 'string' ? body.prompt : contentText(body.prompt));
  }
  const tokens = pieces.map((p) => hashString(p) % 163840);
  for (let i = 0; i < extra; i++) tokens.push(163605); // an image placeholder id
  sendJson(res, 200, { count: tokens.length, max_model_len: cfg.maxModelLen, tokens, token_strs: null });
}
