import type { FetchLike } from '../ports';

// Tells whether an OpenAI-compatible endpoint (vLLM or anything else) is ready, and what it serves.
// vLLM binds its port before the engine has loaded and answers nothing until then, so "connection reset" and
// "timed out" mean "starting", while "refused" means nothing listens there.

export type EndpointState =
  | { kind: 'ready'; modelId: string; modelIds: string[]; maxModelLen?: number }
  | { kind: 'starting'; detail: string }
  | { kind: 'unreachable'; detail: string }
  | { kind: 'unauthorized'; detail: string }
  | { kind: 'error'; detail: string };

export interface ProbeOptions {
  apiKey?: string;
  timeoutMs?: number;
  fetch?: FetchLike;
}

/** `http://h:8000/v1` → `http://h:8000/v1/models` (a trailing slash is tolerated). */
export function endpointUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export async function probeEndpoint(baseUrl: string, opts: ProbeOptions = {}): Promise<EndpointState> {
  const doFetch: FetchLike = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), opts.timeoutMs ?? 3000);
  try {
    const res = await doFetch(endpointUrl(baseUrl, 'models'), { headers, signal: ctrl.signal });
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      return { kind: 'unauthorized', detail: opts.apiKey ? 'the server rejected the API key' : 'the server needs an API key (Kimi: Set API Key)' };
    }
    if (!res.ok) return { kind: 'error', detail: `GET /models answered HTTP ${res.status}: ${text.slice(0, 200)}` };
    return parseModels(text);
  } catch (err) {
    return classifyNetworkError(err, ctrl.signal.aborted);
  } finally {
    clearTimeout(timer);
  }
}

export function parseModels(text: string): EndpointState {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'error', detail: 'GET /models did not return JSON — is this an OpenAI-compatible endpoint?' };
  }
  const data = (body as { data?: unknown })?.data;
  if (!Array.isArray(data)) return { kind: 'error', detail: 'GET /models returned no "data" list — is this an OpenAI-compatible endpoint?' };
  const models = data.filter((m): m is { id: string; max_model_len?: unknown } => typeof m?.id === 'string' && m.id.length > 0);
  const first = models[0];
  if (!first) return { kind: 'error', detail: 'the server serves no model' };
  const maxModelLen = typeof first.max_model_len === 'number' && first.max_model_len > 0 ? first.max_model_len : undefined;
  return { kind: 'ready', modelId: first.id, modelIds: models.map((m) => m.id), ...(maxModelLen ? { maxModelLen } : {}) };
}

function classifyNetworkError(err: unknown, timedOut: boolean): EndpointState {
  if (timedOut) return { kind: 'starting', detail: 'the port is open but the server does not answer yet (still loading?)' };
  const code = errorCode(err);
  switch (code) {
    case 'ECONNREFUSED':
      return { kind: 'unreachable', detail: 'nothing is listening there (connection refused)' };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return { kind: 'starting', detail: 'the port is bound but the server is not answering yet (still loading?)' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { kind: 'unreachable', detail: 'the host name does not resolve' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return { kind: 'unreachable', detail: `the host cannot be reached (${code})` };
    default:
      return { kind: 'unreachable', detail: err instanceof Error ? err.message : String(err) };
  }
}

/** Node's fetch wraps the socket error in `cause`; dig the code out. */
function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
