// The chat client: builds the request vLLM + Kimi-K2.5 expects, streams it with an AbortSignal, normalises the
// chunks (streamNormalizer.ts), measures TTFT and tokens/s, and turns every failure into a ChatError that keeps the
// server's message and the partial text. It parses SSE itself over Node's fetch (no SDK on the hot path: smaller
// bundle, raw chunk objects, and direct control over how a dropped connection is reported).
import type { Settings } from '../config/settings';
import { ChatError, classifyConnectError, classifyHttpError, droppedError, streamError } from './errors';
import { SseDecoder, SseLineTooLongError, StreamNormalizer, type ChatEvent, type CompletedToolCall, type StreamObservations } from './streamNormalizer';
import { appendStreamed } from './streamText';
import { RECOMMENDED_SAMPLING, type ChatMode, type ChatSampling, type RequestMessage, type ToolDefinition, type Usage } from './types';

export interface ChatRequest {
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 */
  baseUrl: string;
  apiKey?: string;
  model: string;
  messages: RequestMessage[];
  mode: ChatMode;
  /** Defaults to the recommended sampling (thinking 1.0, instant 0.6, top_p 0.95). */
  sampling?: Partial<ChatSampling>;
  tools?: ToolDefinition[];
  toolChoice?: 'auto' | 'none' | 'required';
  maxTokens?: number;
}

export interface ChatRequestBody {
  model: string;
  messages: RequestMessage[];
  stream: true;
  stream_options: { include_usage: true };
  temperature: number;
  top_p: number;
  chat_template_kwargs?: { thinking: false };
  tools?: ToolDefinition[];
  tool_choice?: 'auto' | 'none' | 'required';
  max_tokens?: number;
}

export type FetchFn = typeof globalThis.fetch;

export interface StreamChatOptions {
  /** Stop: aborts the request; the partial text is kept and the result is marked stopped. */
  signal?: AbortSignal;
  /** Every event as it happens, in order; exactly one terminal event (`done` or `error`) per call. A stopped turn
   *  ends with `{kind:'done', finishReason:'stopped'}`. */
  onEvent?: (event: ChatEvent) => void;
  /** Whether the server runs a reasoning parser, when known (a managed server profile). Default: detect. */
  reasoningParser?: boolean;
  /** Fail with `timeout` when no byte arrives for this long once the response has started. Default: off (a long
   *  prefill can legitimately take minutes). */
  idleTimeoutMs?: number;
  fetch?: FetchFn;
  now?: () => number;
  /** Where the thinking and answer accumulate while they stream (streamChat sets both to '' first; the result carries
   *  the same strings). A caller that keeps the text so far anyway (the chat's live turn, saved and re-sent while it
   *  streams) passes its own object, so the text is held once instead of twice. Default: streamChat's own. */
  text?: { thinking: string; answer: string };
}

export interface ChatTurnResult {
  thinking: string;
  answer: string;
  /** Complete calls once the stream finished; on a stopped or failed turn, what had arrived. */
  toolCalls: CompletedToolCall[];
  usage: Usage | null;
  finishReason?: string;
  stopReason?: number | string | null;
  /** Request sent → first thinking/answer/tool-call text. */
  ttftMs?: number;
  /** Generation speed: (completion tokens − 1) / (last token − first token); needs the usage chunk. */
  tokensPerSecond?: number;
  /** First thinking text → first answer or tool call. */
  thinkingMs?: number;
  durationMs: number;
  stopped: boolean;
  error?: ChatError;
  observations: StreamObservations;
}

/** The sampling settings of `kimi.chat.*`. */
export function samplingFromSettings(s: Pick<Settings, 'chat.thinkingTemperature' | 'chat.instantTemperature' | 'chat.topP'>): ChatSampling {
  return { thinkingTemperature: s['chat.thinkingTemperature'], instantTemperature: s['chat.instantTemperature'], topP: s['chat.topP'] };
}

export function chatCompletionsUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/chat/completions`;
}

export function buildChatRequestBody(req: ChatRequest): ChatRequestBody {
  const sampling = { ...RECOMMENDED_SAMPLING, ...req.sampling };
  const instant = req.mode === 'instant';
  const body: ChatRequestBody = {
    model: req.model,
    messages: req.messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: instant ? sampling.instantTemperature : sampling.thinkingTemperature,
    top_p: sampling.topP,
  };
  // Thinking is Kimi's default; only instant mode needs the template switch.
  if (instant) body.chat_template_kwargs = { thinking: false };
  if (req.tools && req.tools.length) {
    body.tools = req.tools;
    body.tool_choice = req.toolChoice ?? 'auto';
  }
  if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
  return body;
}

const defaultNow = () => performance.now();

function isAbort(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { name?: unknown }).name === 'AbortError';
}

/** Sends one chat completion and streams it. Never throws for server or network failures: they come back as
 *  `result.error` (and an `error` event), with everything received so far kept. */
export async function streamChat(req: ChatRequest, opts: StreamChatOptions = {}): Promise<ChatTurnResult> {
  const now = opts.now ?? defaultNow;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const started = now();
  const normalizer = new StreamNormalizer({ instant: req.mode === 'instant', ...(opts.reasoningParser !== undefined ? { reasoningParser: opts.reasoningParser } : {}) });
  const acc = opts.text ?? { thinking: '', answer: '' };
  acc.thinking = '';
  acc.answer = '';
  const calls = new Map<number, CompletedToolCall>();
  let doneCalls: CompletedToolCall[] | undefined;
  let usage: Usage | null = null;
  let finishReason: string | undefined;
  let stopReason: number | string | null | undefined;
  let firstTokenAt: number | undefined;
  let firstThinkingAt: number | undefined;
  let thinkingEndAt: number | undefined;
  let lastChoiceAt: number | undefined;
  let error: ChatError | undefined;
  let stopped = false;

  const emit = (e: ChatEvent) => {
    switch (e.kind) {
      case 'thinking':
        firstTokenAt ??= now();
        firstThinkingAt ??= firstTokenAt;
        acc.thinking = appendStreamed(acc.thinking, e.text);
        break;
      case 'answer':
      case 'toolCall': {
        const t = now();
        firstTokenAt ??= t;
        if (firstThinkingAt !== undefined) thinkingEndAt ??= t;
        if (e.kind === 'answer') {
          acc.answer = appendStreamed(acc.answer, e.text);
        } else {
          let c = calls.get(e.index);
          if (!c) calls.set(e.index, (c = { index: e.index, id: '', name: '', arguments: '' }));
          if (e.id) c.id = e.id;
          if (e.name) c.name = e.name;
          c.arguments = appendStreamed(c.arguments, e.argumentsDelta);
        }
        break;
      }
      case 'toolCallsDone':
        doneCalls = e.calls;
        break;
      case 'usage':
        usage = { prompt: e.prompt, completion: e.completion, total: e.total };
        break;
      case 'done':
        finishReason = e.finishReason;
        if (e.stopReason !== undefined) stopReason = e.stopReason;
        break;
      case 'error':
        break;
    }
    opts.onEvent?.(e);
  };
  const emitAll = (events: ChatEvent[]) => {
    for (const e of events) emit(e);
  };
  const fail = (e: ChatError) => {
    error = e;
    emitAll(normalizer.flush());
    emit({ kind: 'error', message: e.message, ...(e.status !== undefined ? { status: e.status } : {}), ...(e.serverType ? { type: e.serverType } : {}) });
  };

  // One controller for the user's Stop and the idle timer.
  const ctrl = new AbortController();
  let abortedBy: 'user' | 'idle' | undefined;
  const onUserAbort = () => {
    abortedBy ??= 'user';
    ctrl.abort();
  };
  if (opts.signal?.aborted) onUserAbort();
  else opts.signal?.addEventListener('abort', onUserAbort, { once: true });
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (!opts.idleTimeoutMs) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      abortedBy ??= 'idle';
      ctrl.abort();
    }, opts.idleTimeoutMs);
  };

  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (req.apiKey) headers.authorization = `Bearer ${req.apiKey}`;

  try {
    let res: Response;
    try {
      res = await doFetch(chatCompletionsUrl(req.baseUrl), {
        method: 'POST',
        headers,
        body: JSON.stringify(buildChatRequestBody(req)),
        signal: ctrl.signal,
      });
    } catch (err) {
      if (abortedBy === 'user' || (isAbort(err) && opts.signal?.aborted)) stopped = true;
      else fail(classifyConnectError(err, req.baseUrl));
      return result();
    }
    if (!res.ok) {
      let text = '';
      try {
        text = await res.text();
      } catch {
        /* the body is optional for classification */
      }
      fail(classifyHttpError(res.status, text, { baseUrl: req.baseUrl, model: req.model, apiKeySent: !!req.apiKey }));
      return result();
    }
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('text/event-stream')) {
      // A server (or proxy) that ignored `stream: true`: accept one whole chat.completion.
      const text = await res.text();
      const chunk = wholeCompletionAsChunk(text);
      if (!chunk) {
        fail(new ChatError({ kind: 'protocol', retryable: true, serverMessage: text.slice(0, 300), message: `The server did not answer with an event stream (content-type ${type || 'none'}). Is ${req.baseUrl} an OpenAI-compatible endpoint?` }));
        return result();
      }
      lastChoiceAt = now();
      emitAll(normalizer.push(chunk));
      emitAll(normalizer.end());
      return result();
    }
    if (!res.body) {
      fail(droppedError(undefined, false));
      return result();
    }
    const reader = res.body.getReader();
    const sse = new SseDecoder();
    armIdle();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        armIdle();
        for (const data of sse.push(value)) {
          // The finish chunk and the usage chunk leave the server together: the last data event before [DONE]
          // marks the last generated token.
          if (data !== '[DONE]') lastChoiceAt = now();
          const events = normalizer.pushData(data);
          for (const e of events) {
            if (e.kind === 'error') error = streamError(e.message, e.status, e.type);
            emit(e);
          }
          if (normalizer.finished) break;
        }
        if (normalizer.finished) break;
      }
    } catch (err) {
      if (abortedBy === 'user') {
        stopped = true;
        emitAll(normalizer.flush());
      } else if (err instanceof SseLineTooLongError) {
        fail(new ChatError({ kind: 'protocol', retryable: true, serverMessage: err.message, message: `The server sent a malformed stream (${err.message}); the request was abandoned. The partial answer is kept.` }));
      } else if (abortedBy === 'idle') {
        fail(new ChatError({ kind: 'timeout', retryable: true, message: `The server sent nothing for ${Math.round((opts.idleTimeoutMs ?? 0) / 1000)} s; the request was abandoned. The partial answer is kept.` }));
      } else {
        fail(droppedError(err, acc.thinking !== '' || acc.answer !== '' || calls.size > 0));
      }
      return result();
    } finally {
      reader.cancel().catch(() => undefined);
    }
    if (!normalizer.finished) {
      if (abortedBy === 'user') {
        stopped = true;
        emitAll(normalizer.flush());
      } else {
        fail(droppedError(undefined, acc.thinking !== '' || acc.answer !== '' || calls.size > 0));
      }
    }
    return result();
  } finally {
    clearTimeout(idleTimer);
    opts.signal?.removeEventListener('abort', onUserAbort);
  }

  function result(): ChatTurnResult {
    if (stopped) opts.onEvent?.({ kind: 'done', finishReason: 'stopped' });
    const end = now();
    const u = usage as Usage | null;
    let tokensPerSecond: number | undefined;
    if (u && firstTokenAt !== undefined && lastChoiceAt !== undefined && u.completion > 1 && lastChoiceAt > firstTokenAt) {
      tokensPerSecond = (u.completion - 1) / ((lastChoiceAt - firstTokenAt) / 1000);
    }
    const toolCalls = doneCalls ?? [...calls.values()].sort((a, b) => a.index - b.index);
    return {
      thinking: acc.thinking,
      answer: acc.answer,
      toolCalls,
      usage: u,
      ...(finishReason !== undefined ? { finishReason } : {}),
      ...(stopReason !== undefined ? { stopReason } : {}),
      ...(firstTokenAt !== undefined ? { ttftMs: firstTokenAt - started } : {}),
      ...(tokensPerSecond !== undefined ? { tokensPerSecond } : {}),
      ...(firstThinkingAt !== undefined ? { thinkingMs: (thinkingEndAt ?? end) - firstThinkingAt } : {}),
      durationMs: end - started,
      stopped,
      ...(error ? { error } : {}),
      observations: normalizer.observations,
    };
  }
}

/** A non-streaming chat.completion body as one chunk the normaliser understands. */
function wholeCompletionAsChunk(text: string): Record<string, unknown> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const choice = (body as { choices?: unknown[] })?.choices?.[0] as { message?: Record<string, unknown>; finish_reason?: unknown; stop_reason?: unknown } | undefined;
  const m = choice?.message;
  if (!m || typeof m !== 'object') return undefined;
  const calls = Array.isArray(m.tool_calls) ? m.tool_calls.map((c: unknown, index: number) => ({ index, ...(c as object) })) : undefined;
  return {
    choices: [{
      index: 0,
      delta: { reasoning: m.reasoning ?? m.reasoning_content ?? null, content: m.content ?? null, ...(calls ? { tool_calls: calls } : {}) },
      finish_reason: choice.finish_reason ?? 'stop',
      ...(choice.stop_reason !== undefined ? { stop_reason: choice.stop_reason } : {}),
    }],
    usage: (body as { usage?: unknown }).usage ?? null,
  };
}

// ----- /v1/models -----

export interface ModelInfo {
  /** The first served model id (what requests should name). */
  id: string;
  ids: string[];
  /** vLLM's max_model_len for that model, when reported. */
  maxModelLen?: number;
}

export interface FetchModelsOptions {
  apiKey?: string;
  signal?: AbortSignal;
  /** Default 10 s. */
  timeoutMs?: number;
  fetch?: FetchFn;
}

/** GET {baseUrl}/models → the first model id and its max_model_len. Throws ChatError. */
export async function fetchModels(baseUrl: string, opts: FetchModelsOptions = {}): Promise<ModelInfo> {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => ctrl.abort(), opts.timeoutMs ?? 10_000);
  let res: Response;
  let text: string;
  try {
    res = await doFetch(`${baseUrl.replace(/\/+$/, '')}/models`, { headers, signal: ctrl.signal });
    text = await res.text();
  } catch (err) {
    if (ctrl.signal.aborted && !opts.signal?.aborted) {
      throw new ChatError({ kind: 'unreachable', retryable: true, action: 'startServer', message: `The server at ${baseUrl} accepted the connection but did not answer within ${Math.round((opts.timeoutMs ?? 10_000) / 1000)} s — it is probably still loading the model.` });
    }
    throw classifyConnectError(err, baseUrl);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (!res.ok) throw classifyHttpError(res.status, text, { baseUrl, apiKeySent: !!opts.apiKey });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ChatError({ kind: 'protocol', retryable: true, serverMessage: text.slice(0, 300), message: `GET ${baseUrl}/models did not return JSON — is this an OpenAI-compatible endpoint?` });
  }
  const data = (body as { data?: unknown })?.data;
  const models = Array.isArray(data) ? data.filter((m): m is { id: string; max_model_len?: unknown } => typeof m?.id === 'string' && m.id !== '') : [];
  const first = models[0];
  if (!first) throw new ChatError({ kind: 'protocol', retryable: true, message: `The server at ${baseUrl} serves no model (GET /models returned an empty list).` });
  const maxModelLen = typeof first.max_model_len === 'number' && first.max_model_len > 0 ? first.max_model_len : undefined;
  return { id: first.id, ids: models.map((m) => m.id), ...(maxModelLen !== undefined ? { maxModelLen } : {}) };
}
