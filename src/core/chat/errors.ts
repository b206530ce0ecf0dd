// Chat failures in plain language. Every error keeps what the server said (serverMessage) and tells the UI what
// to offer (retryable, action). Classification follows docs/vllm-kimi-protocol.md §2 (error bodies by version).

export type ChatErrorKind =
  /** Nothing listens at the base URL (ECONNREFUSED): no server is running. */
  | 'connectionRefused'
  /** The host cannot be reached or resolved, or the server does not answer at all. */
  | 'unreachable'
  /** HTTP 401/403: missing or wrong API key. */
  | 'unauthorized'
  /** HTTP 400: the prompt does not fit max_model_len. */
  | 'contextTooLong'
  /** HTTP 400: tools were sent but the server was started without --enable-auto-tool-choice / --tool-call-parser. */
  | 'toolChoiceNotEnabled'
  /** HTTP 404: the model id is not served. */
  | 'modelNotFound'
  /** Any other HTTP 4xx. */
  | 'badRequest'
  /** HTTP 5xx (e.g. the engine died). */
  | 'serverError'
  /** A `data: {"error": …}` event after the stream had started. */
  | 'streamError'
  /** The connection closed before `[DONE]` (server killed or crashed mid-answer). */
  | 'connectionDropped'
  /** No bytes for longer than the idle timeout. */
  | 'timeout'
  /** The server answered something that is not an OpenAI-compatible response. */
  | 'protocol'
  /** Refused before sending: the message cannot fit the context (estimate). */
  | 'contextPrecheck'
  /** Refused before sending: invalid input (image too large or of the wrong type …). */
  | 'invalidInput';

/** What the UI should offer next to the error. */
export type ChatErrorAction = 'startServer' | 'setApiKey' | 'restartServerWithFlags' | 'newChat' | 'checkSettings';

export interface ChatErrorInit {
  kind: ChatErrorKind;
  message: string;
  status?: number;
  serverMessage?: string;
  serverType?: string;
  retryable: boolean;
  action?: ChatErrorAction;
  /** For toolChoiceNotEnabled: the `vllm serve` flags to add. */
  missingFlags?: string[];
}

export class ChatError extends Error {
  readonly kind: ChatErrorKind;
  readonly status?: number;
  readonly serverMessage?: string;
  readonly serverType?: string;
  readonly retryable: boolean;
  readonly action?: ChatErrorAction;
  readonly missingFlags?: string[];

  constructor(init: ChatErrorInit) {
    super(init.message);
    this.name = 'ChatError';
    this.kind = init.kind;
    if (init.status !== undefined) this.status = init.status;
    if (init.serverMessage !== undefined) this.serverMessage = init.serverMessage;
    if (init.serverType !== undefined) this.serverType = init.serverType;
    this.retryable = init.retryable;
    if (init.action) this.action = init.action;
    if (init.missingFlags) this.missingFlags = init.missingFlags;
  }

  /** A plain object for persistence or posting to the webview. */
  toJSON(): ChatErrorInit {
    return {
      kind: this.kind,
      message: this.message,
      retryable: this.retryable,
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.serverMessage !== undefined ? { serverMessage: this.serverMessage } : {}),
      ...(this.serverType !== undefined ? { serverType: this.serverType } : {}),
      ...(this.action ? { action: this.action } : {}),
      ...(this.missingFlags ? { missingFlags: this.missingFlags } : {}),
    };
  }
}

const AUTO_TOOL_RE = /"?auto"? tool choice requires --enable-auto-tool-choice and --tool-call-parser/i;
const CONTEXT_RE = /maximum context length is (\d+) tokens/i;

function quote(s: string, max = 600): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The message (and type) from any of vLLM's error bodies: nested `{"error":{message,type,code}}` (≥ 0.10.1),
 *  flat `{"object":"error","message":…}` (older), `{"error":"Unauthorized"}`, FastAPI's `{"detail":…}`, or text. */
export function serverErrorMessage(bodyText: string): { message: string; type?: string } {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return { message: quote(bodyText) };
  }
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const e = b.error;
    if (e && typeof e === 'object') {
      const ee = e as Record<string, unknown>;
      if (typeof ee.message === 'string') return { message: ee.message, ...(typeof ee.type === 'string' ? { type: ee.type } : {}) };
    }
    if (typeof e === 'string') return { message: e };
    if (typeof b.message === 'string') return { message: b.message, ...(typeof b.type === 'string' ? { type: b.type } : {}) };
    if (typeof b.detail === 'string') return { message: b.detail };
    if (b.detail !== undefined) return { message: quote(JSON.stringify(b.detail)) };
  }
  return { message: quote(bodyText) };
}

/** An HTTP error response (status ≥ 400) from a chat or models request. */
export function classifyHttpError(status: number, bodyText: string, ctx: { baseUrl?: string; model?: string; apiKeySent?: boolean } = {}): ChatError {
  const { message: serverMessage, type: serverType } = serverErrorMessage(bodyText);
  const base = { status, serverMessage, ...(serverType ? { serverType } : {}), retryable: true } as const;
  const said = serverMessage ? ` The server said: ${quote(serverMessage)}` : '';
  if (status === 401 || status === 403) {
    return new ChatError({
      ...base,
      kind: 'unauthorized',
      action: 'setApiKey',
      message: ctx.apiKeySent
        ? `The server rejected the API key (HTTP ${status}). Set the key the server was started with (--api-key).${said}`
        : `The server needs an API key (HTTP ${status}). Set the key the server was started with (--api-key).${said}`,
    });
  }
  if (AUTO_TOOL_RE.test(serverMessage)) {
    return new ChatError({
      ...base,
      kind: 'toolChoiceNotEnabled',
      action: 'restartServerWithFlags',
      missingFlags: ['--enable-auto-tool-choice', '--tool-call-parser kimi_k2'],
      message: 'The server was started without tool calling. Restart `vllm serve` with ' +
        `--enable-auto-tool-choice --tool-call-parser kimi_k2 to use tools.${said}`,
    });
  }
  const ctxMatch = CONTEXT_RE.exec(serverMessage);
  if (status === 400 && ctxMatch) {
    return new ChatError({
      ...base,
      kind: 'contextTooLong',
      action: 'newChat',
      message: `The conversation does not fit the server's context window (max_model_len ${Number(ctxMatch[1]).toLocaleString('en-US')} ` +
        'tokens). Start a new chat, remove attachments, or restart the server with a larger --max-model-len.' + said,
    });
  }
  if (status === 404) {
    return new ChatError({
      ...base,
      kind: 'modelNotFound',
      action: 'checkSettings',
      message: `${ctx.model ? `The server does not serve the model "${ctx.model}"` : 'Not found'} (HTTP 404). ` +
        `Leave the model setting empty to use the server's first model.${said}`,
    });
  }
  if (status >= 500) {
    return new ChatError({ ...base, kind: 'serverError', message: `The server failed (HTTP ${status}).${said}` });
  }
  return new ChatError({ ...base, kind: 'badRequest', message: `The server refused the request (HTTP ${status}).${said}` });
}

/** Node's fetch wraps socket errors in `cause`; dig the code out. */
export function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function innermostMessage(err: unknown): string {
  let cur: unknown = err;
  let msg = err instanceof Error ? err.message : String(err);
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    if (cur instanceof Error && cur.message) msg = cur.message;
    cur = (cur as { cause?: unknown }).cause;
  }
  return msg;
}

/** A failure before any response arrived (fetch rejected). */
export function classifyConnectError(err: unknown, baseUrl: string): ChatError {
  const code = errorCode(err);
  const detail = innermostMessage(err);
  if (code === 'ECONNREFUSED') {
    return new ChatError({
      kind: 'connectionRefused',
      retryable: true,
      action: 'startServer',
      serverMessage: detail,
      message: `No server is running at ${baseUrl} (connection refused). Start the server, or check the base URL.`,
    });
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return new ChatError({
      kind: 'unreachable',
      retryable: true,
      action: 'startServer',
      serverMessage: detail,
      message: `The server at ${baseUrl} accepted the connection but closed it without answering — it is probably still loading the model.`,
    });
  }
  if (detail === 'bad port') {
    let port = '';
    try {
      port = new URL(baseUrl).port;
    } catch {
      /* keep it generic */
    }
    return new ChatError({
      kind: 'unreachable', retryable: false, action: 'checkSettings', serverMessage: detail,
      message: `Port ${port || 'in the base URL'} is one that web clients refuse to connect to (the fetch "bad ports" list). Serve on another port, e.g. 8000.`,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ChatError({ kind: 'unreachable', retryable: true, action: 'checkSettings', serverMessage: detail, message: `The host of ${baseUrl} does not resolve (${code}). Check the base URL.` });
  }
  return new ChatError({ kind: 'unreachable', retryable: true, action: 'checkSettings', serverMessage: detail, message: `Cannot reach the server at ${baseUrl}${code ? ` (${code})` : ''}: ${detail}` });
}

/** The connection died after the response had started (server killed, network gone). */
export function droppedError(err: unknown | undefined, partial: boolean): ChatError {
  const detail = err === undefined ? 'the stream ended without [DONE]' : innermostMessage(err);
  return new ChatError({
    kind: 'connectionDropped',
    retryable: true,
    action: 'startServer',
    serverMessage: detail,
    message: `The connection to the server was lost ${partial ? 'mid-answer' : 'before the answer started'} (the server may have stopped or crashed).` +
      (partial ? ' The partial answer is kept.' : ''),
  });
}

/** A `data: {"error": …}` event. */
export function streamError(message: string, status: number | undefined, type: string | undefined): ChatError {
  const ctxMatch = CONTEXT_RE.exec(message);
  return new ChatError({
    kind: ctxMatch ? 'contextTooLong' : 'streamError',
    retryable: true,
    serverMessage: message,
    ...(status !== undefined ? { status } : {}),
    ...(type ? { serverType: type } : {}),
    message: `The server reported an error while answering: ${quote(message)}`,
  });
}
