// POST /v1/chat/completions and POST /v1/completions: request validation with vLLM's messages, choosing the scripted
// round or the persona, and serving the planned output as a paced SSE stream or one JSON body.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { runGeneration, type EngineContext } from './generation';
import { buildOutput, type Delta, type ModelTurn, type OutputPlan, type ToolCallSpec } from './kimiOutput';
import { personaCompletion, personaReply, type PersonaMessage, type PersonaTool, type PersonaToolChoice } from './persona';
import { contentText, countImages, IMAGE_TOKENS, renderChatPrompt, splitTokens } from './tokens';
import type { ReasoningField, RequestEndInfo, ScriptedRound } from './types';
import {
  badRequest,
  contextLengthError,
  errorBody,
  errorTypeForStatus,
  IM_END_TOKEN_ID,
  maxTokensError,
  PyRaw,
  pythonJsonDumps,
  PyTuple,
  requestValidationError,
  usesNestedErrors,
  versionAtLeast,
  VllmHttpError,
  type ApiError,
} from './vllmFormat';

export interface ResolvedConfig {
  host: string;
  port: number;
  vllmVersion: string;
  reasoningField: ReasoningField;
  reasoningParser: boolean;
  toolCallParser: boolean;
  enableAutoToolChoice: boolean;
  model: string;
  servedModelName: string;
  maxModelLen: number;
  apiKey?: string;
  ttftMs: number;
  tokensPerSecond: number;
}

export interface ServerContext extends EngineContext {
  cfg: ResolvedConfig;
  isDead(): boolean;
  /** The next scripted round if it applies to a request whose last user/tool text is `text` (consumes it). */
  takeRound(text: string): ScriptedRound | undefined;
  /** Track an in-flight generation so close() / markDead() can stop it; returns the untrack function. */
  track(ctrl: AbortController): () => void;
  requestEnded(info: RequestEndInfo): void;
}

export interface IncomingCall {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  rawBody: string;
  receivedAt: number;
}

/** What vLLM V1 says when its engine core died under a request. */
export const ENGINE_DEAD_MESSAGE = 'EngineCore encountered an issue. See stack trace (above) for the root cause.';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', server: 'uvicorn' };

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    server: 'uvicorn',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, version: string, e: ApiError) {
  sendJson(res, e.status, errorBody(version, e));
}

const hex16 = () => randomBytes(8).toString('hex');
const nowSecs = () => Math.floor(Date.now() / 1000);

// ----- request parsing (FastAPI / pydantic layer) -----

type Body = Record<string, unknown>;

function parseBody(version: string, call: IncomingCall): Body {
  const mediaType = String(call.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw requestValidationError(version, [{
      loc: ['header', 'content-type'],
      msg: "Unsupported Media Type: Only 'application/json' is allowed",
      type: 'value_error',
    }]);
  }
  if (call.rawBody.trim() === '') {
    throw requestValidationError(version, [{ type: 'missing', loc: new PyTuple(['body']), msg: 'Field required', input: null }]);
  }
  let body: unknown;
  try {
    body = JSON.parse(call.rawBody);
  } catch {
    throw requestValidationError(version, [{
      type: 'json_invalid', loc: new PyTuple(['body', 0]), msg: 'JSON decode error', input: {},
      ctx: { error: 'Expecting value' },
    }]);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw requestValidationError(version, [{
      type: 'model_attributes_type', loc: new PyTuple(['body']),
      msg: 'Input should be a valid dictionary or object to extract fields from', input: body,
    }]);
  }
  return body as Body;
}

function fieldError(version: string, body: Body, field: string, type: string, msg: string): VllmHttpError {
  return requestValidationError(version, [{ type, loc: new PyTuple(['body', field]), msg, input: body[field] }]);
}

function requireField(version: string, body: Body, field: string) {
  if (body[field] === undefined) {
    throw requestValidationError(version, [{ type: 'missing', loc: new PyTuple(['body', field]), msg: 'Field required', input: body }]);
  }
}

function optionalInt(version: string, body: Body, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw fieldError(version, body, field, 'int_type', 'Input should be a valid integer');
  if (!Number.isInteger(v)) {
    throw fieldError(version, body, field, 'int_from_float', 'Input should be a valid integer, got a number with a fractional part');
  }
  return v;
}

function pydanticValueError(version: string, body: Body, message: string): VllmHttpError {
  return requestValidationError(version, [{
    type: 'value_error', loc: new PyTuple(['body']), msg: `Value error, ${message}`, input: body,
    ctx: { error: new PyRaw(`ValueError(${JSON.stringify(message)})`) },
  }]);
}

/** The serving layer's checks shared by both endpoints: model name, a dead engine, the output budget. */
function checkModelAndBudget(ctx: ServerContext, body: Body): number | undefined {
  const { cfg } = ctx;
  const v = cfg.vllmVersion;
  const maxCompletion = optionalInt(v, body, 'max_completion_tokens');
  const maxTokensField = optionalInt(v, body, 'max_tokens');
  if (body.model !== undefined && body.model !== null && body.model !== cfg.servedModelName) {
    throw new VllmHttpError({
      status: 404, type: 'NotFoundError', message: `The model \`${String(body.model)}\` does not exist.`,
      param: usesNestedErrors(v) ? 'model' : null,
    });
  }
  const maxTokens = maxCompletion ?? maxTokensField;
  if (maxTokens !== undefined) {
    const err = maxTokensError(v, cfg.maxModelLen, maxTokens, maxCompletion !== undefined ? 'max_completion_tokens' : 'max_tokens');
    if (err) throw err;
  }
  return maxTokens;
}

function streamFlags(body: Body) {
  const opts = (body.stream_options ?? {}) as { include_usage?: unknown; continuous_usage_stats?: unknown };
  const stream = body.stream === true;
  return {
    stream,
    includeUsage: stream && opts.include_usage === true,
    continuousUsage: stream && opts.include_usage === true && opts.continuous_usage_stats === true,
  };
}

// ----- chat -----

function parseTools(body: Body): PersonaTool[] {
  if (!Array.isArray(body.tools)) return [];
  return body.tools
    .map((t: unknown) => (t as { function?: PersonaTool })?.function)
    .filter((f): f is PersonaTool => !!f && typeof f.name === 'string');
}

function parseToolChoice(version: string, body: Body, tools: PersonaTool[]): PersonaToolChoice {
  const raw = body.tool_choice;
  if (raw === undefined || raw === null) return tools.length ? 'auto' : 'none';
  if (raw !== 'none' && !tools.length) throw pydanticValueError(version, body, 'When using `tool_choice`, `tools` must be set.');
  if (raw === 'none' || raw === 'auto' || raw === 'required') return raw;
  const name = (raw as { function?: { name?: unknown } })?.function?.name;
  if (typeof name !== 'string') throw pydanticValueError(version, body, 'Invalid value for `tool_choice`.');
  if (!tools.some((t) => t.name === name)) {
    throw pydanticValueError(version, body, `Tool '${name}' has not been passed in \`tools\`.`);
  }
  return { name };
}

/** The text a scripted round's `match` is tested against: the last user or tool message. */
function lastUserOrToolText(messages: PersonaMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user' || messages[i].role === 'tool') return contentText(messages[i].content);
  }
  return '';
}

/** Kimi numbers tool calls across the whole conversation: `functions.<name>:<n>`. */
function priorToolCalls(messages: PersonaMessage[]): number {
  return messages.reduce((n, m) => n + (m.role === 'assistant' && Array.isArray(m.tool_calls) ? m.tool_calls.length : 0), 0);
}

function serialiseArgs(args: unknown): string {
  return typeof args === 'string' ? args : JSON.stringify(args ?? {});
}

function toolCallSpecs(calls: { name: string; arguments: unknown }[], firstIndex: number): ToolCallSpec[] {
  return calls.map((c, k) => ({ id: `functions.${c.name}:${firstIndex + k}`, name: c.name, arguments: serialiseArgs(c.arguments) }));
}

export async function handleChatCompletions(ctx: ServerContext, call: IncomingCall): Promise<void> {
  const { cfg } = ctx;
  const v = cfg.vllmVersion;
  let prepared: ReturnType<typeof prepareChat>;
  try {
    prepared = prepareChat(ctx, parseBody(v, call));
  } catch (e) {
    return failEarly(ctx, call, e);
  }
  const { body, messages, tools, toolChoice, thinking, maxTokens, promptTokens, promptTokenList, parseToolCalls } = prepared;

  const round = ctx.takeRound(lastUserOrToolText(messages));
  if (round?.error?.when === 'before') return failEarly(ctx, call, scriptedError(round), promptTokens);

  let turn: ModelTurn;
  const firstIndex = priorToolCalls(messages);
  if (round) {
    turn = {
      thinking: thinking ? round.thinking ?? '' : '',
      answer: round.answer ?? '',
      toolCalls: toolCallSpecs(round.toolCalls ?? [], firstIndex),
      forceLength: round.finishReason === 'length',
    };
  } else {
    const reply = personaReply({ messages, tools, toolChoice, thinking });
    turn = { thinking: reply.thinking, answer: reply.answer, toolCalls: toolCallSpecs(reply.toolCalls, firstIndex) };
  }
  const plan = buildOutput(turn, {
    reasoningParser: cfg.reasoningParser,
    reasoningField: cfg.reasoningField,
    parseToolCalls,
    // Without max_tokens vLLM lets the output run to the end of the context.
    maxTokens: maxTokens ?? cfg.maxModelLen - promptTokens,
  });

  const id = `chatcmpl-${hex16()}`;
  const created = nowSecs();
  const head = { id, object: 'chat.completion.chunk', created, model: cfg.servedModelName };
  const withTokenIds = versionAtLeast(v, '0.11.0');
  await serve(ctx, call, {
    flags: streamFlags(body),
    plan,
    round,
    promptTokens,
    promptTokenList,
    wire: {
      first: () => ({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }),
      step: (delta) => ({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] }),
      final: (delta, finishReason) => ({
        ...head,
        choices: [{
          index: 0, delta, logprobs: null, finish_reason: finishReason, stop_reason: stopReason(finishReason),
          ...(withTokenIds ? { token_ids: null } : {}),
        }],
      }),
      usage: (usage) => ({ ...head, choices: [], usage }),
      whole: (p, usage) => chatCompletionBody(cfg, id, created, p, usage),
    },
  });
}

function prepareChat(ctx: ServerContext, body: Body) {
  const { cfg } = ctx;
  const v = cfg.vllmVersion;
  requireField(v, body, 'messages');
  if (!Array.isArray(body.messages)) throw fieldError(v, body, 'messages', 'list_type', 'Input should be a valid list');
  const messages = body.messages as PersonaMessage[];
  const tools = parseTools(body);
  const toolChoice = parseToolChoice(v, body, tools);
  const maxTokens = checkModelAndBudget(ctx, body);
  if (ctx.isDead()) throw new VllmHttpError({ status: 500, type: 'InternalServerError', message: ENGINE_DEAD_MESSAGE, param: null });
  // Real vLLM refuses to start with --enable-auto-tool-choice but no --tool-call-parser; the emulator allows that
  // combination (toolCallParser: false alone) and lets tool calls come back as raw markers inside content.
  if (toolChoice === 'auto' && tools.length && !cfg.enableAutoToolChoice) {
    throw badRequest('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set');
  }
  const kwargs = (body.chat_template_kwargs ?? {}) as { thinking?: unknown };
  const thinking = kwargs.thinking !== false;
  const rendered = renderChatPrompt(messages, Array.isArray(body.tools) ? body.tools : undefined, thinking);
  const promptTokenList = splitTokens(rendered);
  const images = messages.reduce((n, m) => n + countImages(m.content), 0);
  const promptTokens = promptTokenList.length + images * IMAGE_TOKENS;
  const tooLong = contextLengthError(v, cfg.maxModelLen, promptTokens, maxTokens);
  if (tooLong) throw tooLong;
  // The kimi_k2 parser runs for `auto` only when configured; named / required tool choice is served through
  // structured output in vLLM and always comes back as tool_calls.
  const parseToolCalls = tools.length > 0 && toolChoice !== 'none' && (toolChoice !== 'auto' || cfg.toolCallParser);
  return { body, messages, tools, toolChoice, thinking, maxTokens, promptTokens, promptTokenList, parseToolCalls };
}

function stopReason(finishReason: string): number | null {
  return finishReason === 'length' ? null : IM_END_TOKEN_ID;
}

interface Usage {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
}

function chatCompletionBody(cfg: ResolvedConfig, id: string, created: number, plan: OutputPlan, usage: Usage) {
  const m = plan.message;
  // ChatMessage as vLLM's model_dump() prints it: every field present, nulls included.
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: m.content,
    refusal: null,
    annotations: null,
    audio: null,
    function_call: null,
    tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
  };
  if (cfg.reasoningField !== 'reasoning_content') message.reasoning = m.reasoning;
  if (cfg.reasoningField !== 'reasoning') message.reasoning_content = m.reasoning;
  return {
    id,
    object: 'chat.completion',
    created,
    model: cfg.servedModelName,
    choices: [{
      index: 0, message, logprobs: null, finish_reason: plan.finishReason, stop_reason: stopReason(plan.finishReason),
      token_ids: null,
    }],
    service_tier: null,
    system_fingerprint: null,
    usage: { ...usage, prompt_tokens_details: null },
    prompt_logprobs: null,
    prompt_token_ids: null,
    kv_transfer_params: null,
  };
}

// ----- completions -----

export async function handleCompletions(ctx: ServerContext, call: IncomingCall): Promise<void> {
  const { cfg } = ctx;
  const v = cfg.vllmVersion;
  let body: Body;
  let prompt: string;
  let promptTokenList: string[];
  let maxTokens: number | undefined;
  try {
    body = parseBody(v, call);
    requireField(v, body, 'prompt');
    const raw = Array.isArray(body.prompt) && body.prompt.length === 1 && typeof body.prompt[0] === 'string'
      ? body.prompt[0] : body.prompt;
    if (typeof raw === 'string') {
      prompt = raw;
      promptTokenList = splitTokens(raw);
    } else if (Array.isArray(raw) && raw.every((t) => Number.isInteger(t))) {
      prompt = '';
      promptTokenList = raw.map(String); // token ids given directly
    } else {
      // vLLM batches several prompts into one response; the emulator serves one prompt per request.
      throw badRequest('The vLLM emulator accepts a single prompt (a string or a list of token ids) per request.');
    }
    maxTokens = checkModelAndBudget(ctx, body) ?? 16; // the OpenAI completions default, which vLLM keeps
    if (ctx.isDead()) throw new VllmHttpError({ status: 500, type: 'InternalServerError', message: ENGINE_DEAD_MESSAGE, param: null });
    const tooLong = contextLengthError(v, cfg.maxModelLen, promptTokenList.length, maxTokens);
    if (tooLong) throw tooLong;
  } catch (e) {
    return failEarly(ctx, call, e);
  }
  const promptTokens = promptTokenList.length;
  const round = ctx.takeRound(prompt);
  if (round?.error?.when === 'before') return failEarly(ctx, call, scriptedError(round), promptTokens);
  let text: string;
  if (round) {
    const think = round.thinking ? `${round.thinking.replace(/\s+$/, '')} </think> ` : '';
    text = think + (round.answer ?? '');
    const calls = toolCallSpecs(round.toolCalls ?? [], 0);
    if (calls.length) {
      text += '<|tool_calls_section_begin|>' + calls.map((c) =>
        `<|tool_call_begin|>${c.id} <|tool_call_argument_begin|>${c.arguments}<|tool_call_end|>`).join('') +
        '<|tool_calls_section_end|>';
    }
  } else {
    text = personaCompletion(prompt);
  }
  // Raw text: no parsers on /v1/completions.
  const plan = buildOutput({ thinking: '', answer: text, toolCalls: [], forceLength: round?.finishReason === 'length' }, {
    reasoningParser: false, reasoningField: cfg.reasoningField, parseToolCalls: false, maxTokens,
  });
  const id = `cmpl-${hex16()}`;
  const created = nowSecs();
  const head = { id, object: 'text_completion', created, model: cfg.servedModelName };
  // Completion chunks are dumped with exclude_unset=False: every field shows, `usage` null until the last one.
  const choice = (d: Delta, finishReason: string | null, stop: number | null) =>
    ({ index: 0, text: d.content ?? '', logprobs: null, finish_reason: finishReason, stop_reason: stop });
  await serve(ctx, call, {
    flags: streamFlags(body),
    plan,
    round,
    promptTokens,
    promptTokenList,
    wire: {
      step: (delta) => ({ ...head, choices: [choice(delta, null, null)], usage: null }),
      final: (delta, finishReason) => ({ ...head, choices: [choice(delta, finishReason, stopReason(finishReason))], usage: null }),
      usage: (usage) => ({ ...head, choices: [], usage }),
      whole: (p, usage) => ({
        ...head,
        choices: [{
          index: 0, text: p.message.content ?? '', logprobs: null, finish_reason: p.finishReason,
          stop_reason: stopReason(p.finishReason), token_ids: null, prompt_logprobs: null, prompt_token_ids: null,
        }],
        service_tier: null,
        system_fingerprint: null,
        usage: { ...usage, prompt_tokens_details: null },
        kv_transfer_params: null,
      }),
    },
  });
}

// ----- serving a plan -----

interface Wire {
  /** The role chunk (chat only). */
  first?(): object;
  step(delta: Delta): Record<string, unknown>;
  final(delta: Delta, finishReason: string): Record<string, unknown>;
  usage(usage: Usage): object;
  whole(plan: OutputPlan, usage: Usage): object;
}

interface ServeParams {
  flags: { stream: boolean; includeUsage: boolean; continuousUsage: boolean };
  plan: OutputPlan;
  round: ScriptedRound | undefined;
  promptTokens: number;
  promptTokenList: string[];
  wire: Wire;
}

function scriptedError(round: ScriptedRound): VllmHttpError {
  const status = round.error?.status ?? 400;
  return new VllmHttpError({
    status,
    type: round.error?.type ?? errorTypeForStatus(status),
    message: round.error?.message ?? 'Scripted error from the vLLM emulator.',
    param: null,
  });
}

function failEarly(ctx: ServerContext, call: IncomingCall, e: unknown, promptTokens = 0): void {
  if (!(e instanceof VllmHttpError)) throw e;
  sendError(call.res, ctx.cfg.vllmVersion, e.error);
  ctx.requestEnded({ path: call.path, status: e.error.status, outcome: 'error', promptTokens, completionTokens: 0 });
}

/** Write to the response, waiting for 'drain' when the client reads slowly. */
function write(res: ServerResponse, text: string): 'continue' | Promise<'continue'> {
  if (res.write(text)) return 'continue';
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve('continue');
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function serve(ctx: ServerContext, call: IncomingCall, p: ServeParams): Promise<void> {
  const { res } = call;
  const { cfg } = ctx;
  const { plan, flags, wire } = p;
  const scripted = p.round?.error && p.round.error.when !== 'before' ? p.round.error : undefined;
  const usage = (completion: number): Usage =>
    ({ prompt_tokens: p.promptTokens, total_tokens: p.promptTokens + completion, completion_tokens: completion });
  const event = (obj: object) => `data: ${JSON.stringify(obj)}\n\n`;
  const withUsage = (obj: Record<string, unknown>, completion: number) =>
    (flags.continuousUsage ? { ...obj, usage: usage(completion) } : obj);
  const ended = (outcome: RequestEndInfo['outcome'], status: number, finishReason?: string, completion = 0) =>
    ctx.requestEnded({ path: call.path, status, outcome, finishReason, promptTokens: p.promptTokens, completionTokens: completion });

  const ctrl = new AbortController();
  const untrack = ctx.track(ctrl);
  res.on('close', () => {
    if (!res.writableFinished) ctrl.abort('client');
  });

  let started = false;
  let failed: 'error' | 'dropped' | undefined;
  const startStream = () => {
    if (started || !flags.stream) return;
    started = true;
    if (wire.first) res.write(event(withUsage(wire.first() as Record<string, unknown>, 0)));
  };
  /** A scripted failure: midStream → error event then [DONE]; drop → the connection dies; non-streaming → an
   *  error response. */
  const fail = () => {
    if (!scripted) return;
    if (scripted.when === 'drop') {
      failed = 'dropped';
      // Let what was already written reach the client (Node corks a response until the next tick), then die.
      setImmediate(() => res.destroy());
      return;
    }
    failed = 'error';
    const err = scriptedError(p.round as ScriptedRound).error;
    if (!flags.stream) return sendError(res, cfg.vllmVersion, err);
    res.write(`data: ${pythonJsonDumps(errorBody(cfg.vllmVersion, err))}\n\n`);
    res.end('data: [DONE]\n\n');
  };

  if (flags.stream) {
    // Starlette sends the response head before the first body chunk: clients see 200 at once, tokens after TTFT.
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
  }
  let outcome;
  try {
    outcome = await runGeneration(ctx, {
      steps: plan.steps,
      endOfTurnToken: plan.finishReason !== 'length',
      promptTokens: p.promptTokens,
      promptTokenList: p.promptTokenList,
      startedAt: call.receivedAt,
      ttftMs: cfg.ttftMs,
      tokensPerSecond: cfg.tokensPerSecond,
      signal: ctrl.signal,
      onStep: (step, tokensSoFar, charsBefore) => {
        startStream();
        if (scripted && charsBefore >= (scripted.afterChars ?? 0)) {
          fail();
          return 'stop';
        }
        if (flags.stream && step.delta) return write(res, event(withUsage(wire.step(step.delta), tokensSoFar)));
        return 'continue';
      },
    });
  } finally {
    untrack();
  }

  if (outcome === 'finished' && scripted) {
    // The scripted failure point lies beyond the output: fail at the very end instead of never.
    startStream();
    fail();
    outcome = 'stopped';
  }
  if (outcome === 'stopped') {
    const status = !flags.stream && failed === 'error' ? scriptedError(p.round as ScriptedRound).error.status : 200;
    return ended(failed ?? 'error', status);
  }
  if (outcome === 'client') return ended('aborted', 200);
  if (outcome === 'close') {
    res.destroy();
    return ended('aborted', 200);
  }
  if (outcome === 'dead') {
    const err: ApiError = { status: 500, type: 'InternalServerError', message: ENGINE_DEAD_MESSAGE, param: null };
    if (flags.stream) {
      startStream();
      res.write(`data: ${pythonJsonDumps(errorBody(cfg.vllmVersion, err))}\n\n`);
      res.end('data: [DONE]\n\n');
    } else {
      sendError(res, cfg.vllmVersion, err);
    }
    return ended('error', flags.stream ? 200 : 500);
  }

  // vLLM's engine-level finish reason: tool calls are a normal stop.
  const reason = plan.finishReason === 'length' ? 'length' : 'stop';
  ctx.metrics.success.set(reason, (ctx.metrics.success.get(reason) ?? 0) + 1);
  const completion = plan.completionTokens;
  if (flags.stream) {
    startStream();
    res.write(event(withUsage(wire.final(plan.finalDelta, plan.finishReason), completion)));
    if (flags.includeUsage) res.write(event(wire.usage(usage(completion))));
    res.end('data: [DONE]\n\n');
  } else {
    sendJson(res, 200, wire.whole(plan, usage(completion)));
  }
  ended('completed', 200, plan.finishReason, completion);
}
