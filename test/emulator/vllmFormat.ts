// Version-dependent details of vLLM's wire format: which reasoning field, which error-body shape, and Python's
// json.dumps / repr spellings (vLLM builds some messages with them, and clients see those bytes).
import type { ReasoningField } from './types';

/** Kimi's `<|im_end|>` token id: vLLM reports it as `stop_reason` on a natural stop. */
export const IM_END_TOKEN_ID = 163586;

/** '0.15.1', 'v0.11.1rc2', '0.10.1.1' → [major, minor, patch]. Missing parts count as 0. */
export function parseVersion(version: string): [number, number, number] {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim());
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

export function versionAtLeast(version: string, min: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(min);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

/** <= 0.11.0: `reasoning_content`; 0.11.1 .. 0.15.x: both; >= 0.16.0: `reasoning` (protocol sheet §2). */
export function defaultReasoningField(version: string): ReasoningField {
  if (!versionAtLeast(version, '0.11.1')) return 'reasoning_content';
  if (!versionAtLeast(version, '0.16.0')) return 'both';
  return 'reasoning';
}

/** Error bodies changed shape in 0.10.1: nested `{"error":{…}}` instead of the flat `{"object":"error",…}`.
 *  The same cut-over is used for message wording (see `contextLengthMessage`). */
export function usesNestedErrors(version: string): boolean {
  return versionAtLeast(version, '0.10.1');
}

export interface ApiError {
  status: number;
  type: string;
  message: string;
  param: string | null;
}

/** The exception vLLM's serving layer turns into an ErrorResponse. */
export class VllmHttpError extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

export function badRequest(message: string, param: string | null = null): VllmHttpError {
  return new VllmHttpError({ status: 400, type: 'BadRequestError', message, param });
}

/** vLLM's default error `type` for a status (serving layer names). */
export function errorTypeForStatus(status: number): string {
  if (status === 400) return 'BadRequestError';
  if (status === 401) return 'UnauthorizedError';
  if (status === 404) return 'NotFoundError';
  if (status === 501) return 'NotImplementedError';
  if (status === 503) return 'ServiceUnavailableError';
  return status >= 500 ? 'InternalServerError' : 'BadRequestError';
}

/** The ErrorResponse body in the form `version` uses. */
export function errorBody(version: string, e: ApiError): Record<string, unknown> {
  if (usesNestedErrors(version)) {
    return { error: { message: e.message, type: e.type, param: e.param, code: e.status } };
  }
  return { object: 'error', message: e.message, type: e.type, param: e.param, code: e.status };
}

/** vLLM's VLLMValidationError appends `(parameter=…, value=…)` to its message (newer versions only). */
export function withParameter(version: string, message: string, parameter: string, value: unknown): string {
  return usesNestedErrors(version) ? `${message} (parameter=${parameter}, value=${String(value)})` : message;
}

/** Over-long request. Newer wording (renderer): the prompt is tokenized with truncation at max_input + 1, so the
 *  "at least" figures are back-computed from the limit, exactly as real vLLM reports them. Older wording is the
 *  serving_engine one ("'max_tokens' or 'max_completion_tokens' is too large" / "your request has N input tokens"). */
export function contextLengthError(
  version: string,
  maxModelLen: number,
  promptTokens: number,
  maxTokens: number | undefined,
): VllmHttpError | undefined {
  const requested = maxTokens ?? 0;
  if (usesNestedErrors(version)) {
    if (promptTokens + requested <= maxModelLen) return undefined;
    const atLeast = maxModelLen - requested + 1;
    const message =
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${requested} output ` +
      `tokens and your prompt contains at least ${atLeast} input tokens, for a total of at least ` +
      `${atLeast + requested} tokens. Please reduce the length of the input prompt or the number of requested ` +
      `output tokens.`;
    return badRequest(withParameter(version, message, 'input_tokens', atLeast), 'input_tokens');
  }
  if (promptTokens >= maxModelLen) {
    return badRequest(
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} ` +
        `input tokens. Please reduce the length of the input messages.`,
    );
  }
  if (maxTokens !== undefined && promptTokens + maxTokens > maxModelLen) {
    return badRequest(
      `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ` +
        `${maxModelLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${maxModelLen} - ` +
        `${promptTokens}).`,
    );
  }
  return undefined;
}

/** A requested output length that can never fit: below 1, or above the whole context. `param` is the request field
 *  the client used (`max_tokens` or `max_completion_tokens`). */
export function maxTokensError(
  version: string,
  maxModelLen: number,
  maxTokens: number,
  param: string,
): VllmHttpError | undefined {
  if (maxTokens < 1) {
    return badRequest(withParameter(version, `max_tokens must be at least 1, got ${maxTokens}.`, 'max_tokens', maxTokens),
      usesNestedErrors(version) ? 'max_tokens' : null);
  }
  if (maxTokens > maxModelLen && usesNestedErrors(version)) {
    const message = `${param}=${maxTokens} cannot be greater than max_model_len=max_total_tokens=${maxModelLen}. ` +
      'Please request fewer output tokens.';
    return badRequest(withParameter(version, message, param, maxTokens), param);
  }
  return undefined;
}

// ----- Python spellings -----

/** Python's `json.dumps(value)` with default arguments: `", "` and `": "` separators, ensure_ascii. vLLM uses it for
 *  the `data: {"error": …}` event of a failed stream. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : 'NaN';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
}

/** A Python tuple, for `repr` of pydantic error locations such as `('body', 'messages')`. */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

/** Text that `pyRepr` prints verbatim, e.g. `ValueError('…')` inside a pydantic error context. */
export class PyRaw {
  constructor(readonly text: string) {}
}

/** Python's `repr()` of a JSON-like value; used to reproduce FastAPI/pydantic validation messages. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let s = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    if (quote === "'") s = s.replace(/'/g, "\\'");
    return quote + s + quote;
  }
  if (value instanceof PyRaw) return value.text;
  if (value instanceof PyTuple) {
    const inner = value.items.map(pyRepr).join(', ');
    return value.items.length === 1 ? `(${inner},)` : `(${inner})`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
}

/** A FastAPI RequestValidationError as vLLM reports it: 400, the str() of the pydantic error list as message.
 *  vLLM >= 0.10.1 uses `HTTPStatus.BAD_REQUEST.phrase` ("Bad Request") as the type, older ones "BadRequestError". */
export function requestValidationError(version: string, errors: Record<string, unknown>[]): VllmHttpError {
  return new VllmHttpError({
    status: 400,
    type: usesNestedErrors(version) ? 'Bad Request' : 'BadRequestError',
    message: pyRepr(errors),
    param: null,
  });
}
