// The tool-calling loop: stream a turn (streamChat) → collect its tool calls by index → validate each → execute
// (read-only calls concurrently, the others one at a time, each after the user's approval) → append the assistant
// message with its tool_calls and its reasoning, then one `tool` message per call with the matching tool_call_id
// (exactly what conversation.ts's toRequestMessages replays later) → stream again, until the model answers without
// tools, `maxRounds` rounds of tools have run, the user stops (AbortSignal: mid-stream, mid-approval or mid-tool),
// or the request fails. Bad calls never end the loop: they become `error: …` results the model sees.
//
// Servers without `--tool-call-parser`: raw `<|tool_calls_section_begin|>…` markers in the content are parsed by the
// stream normaliser into the same tool calls; the loop runs them and reports a hint naming the flags to add.
import { setMaxListeners } from 'node:events';
import { streamChat, type ChatRequest, type ChatTurnResult, type StreamChatOptions } from '../chat/chatClient';
import { assistantTurnFromResult, toRequestMessages, type AssistantTurn } from '../chat/conversation';
import type { ChatError } from '../chat/errors';
import type { ChatEvent } from '../chat/streamNormalizer';
import type { RequestMessage, Usage } from '../chat/types';
import { Confinement } from './confinement';
import { capText, previewOf } from './format';
import type { ToolRegistry } from './registry';
import type { Tool, ToolContext } from './tool';
import { DEFAULT_LIMITS, ToolError, type ApprovalRequest, type ToolLimits, type WorkspacePort } from './types';
import { settleOnAbort } from '../util/abort';

export const DEFAULT_MAX_ROUNDS = 8;
export const TOOL_PARSER_FLAGS = ['--tool-call-parser kimi_k2', '--enable-auto-tool-choice'] as const;

export type ToolCallStatus =
  /** Arguments are still streaming. */
  | 'streaming'
  /** Valid, waiting for its turn to run. */
  | 'pending'
  | 'awaitingApproval'
  | 'running'
  /** Ran; `result` is its output. */
  | 'done'
  /** Invalid call or the tool failed; `result` starts with `error:`. */
  | 'error'
  /** The user rejected it. */
  | 'rejected'
  /** Stopped by the user before it finished. */
  | 'cancelled'
  /** Not run: the round limit was reached. */
  | 'skipped';

export interface ToolCallInfo {
  /** 1-based round (model request) that made the call. */
  round: number;
  /** Index within its round. */
  index: number;
  /** `functions.read_file:0` — the id sent back as tool_call_id. */
  id: string;
  name: string;
  /** The arguments text as the model produced it. */
  arguments: string;
  /** The parsed arguments when they were valid. */
  args?: Record<string, unknown>;
  readOnly: boolean;
  needsApproval: boolean;
  status: ToolCallStatus;
  /** What the model receives (capped). */
  result?: string;
  /** A one-line preview of the result for a compact card. */
  preview?: string;
  isError?: boolean;
  /** When it started running (performance.now() clock) and how long it ran, approval wait excluded. */
  durationMs?: number;
  /** The pending approval, while status is awaitingApproval. */
  approval?: ApprovalRequest;
}

export type ToolLoopEvent =
  | { kind: 'roundStart'; round: number }
  /** The stream of the round: thinking, answer, usage, done, error (tool-call deltas come as toolCallDelta). */
  | { kind: 'chat'; round: number; event: Exclude<ChatEvent, { kind: 'toolCall' } | { kind: 'toolCallsDone' }> }
  /** Streaming arguments of call `index` of the round; `id`/`name` on its first delta. */
  | { kind: 'toolCallDelta'; round: number; index: number; id?: string; name?: string; argumentsDelta: string }
  /** A call changed status (a snapshot; the first one, status 'streaming', is the call starting). */
  | { kind: 'toolCall'; call: ToolCallInfo }
  /** Something the user should know about the server (raw tool-call markers: no --tool-call-parser). */
  | { kind: 'hint'; code: 'noToolCallParser'; message: string; flags: readonly string[] }
  /** `turn`: the round as the conversation stores it (its calls with their results), the same object as in
   *  `result.turns`. `more`: another request follows (the round's calls ran and the loop goes on). */
  | { kind: 'roundEnd'; round: number; finishReason: string; toolCalls: number; turn: AssistantTurn; more: boolean }
  /** The round limit was reached while the model still wanted tools. */
  | { kind: 'maxRounds'; maxRounds: number; message: string };

export interface ToolLoopOptions {
  /** Everything of the request but messages and tools. */
  chat: Omit<ChatRequest, 'messages' | 'tools' | 'toolChoice'>;
  /** The conversation so far, ending with the user's message. Not modified. */
  messages: readonly RequestMessage[];
  registry: ToolRegistry;
  /** Required when the registry has workspace tools. */
  port?: WorkspacePort;
  /** How many rounds of tool calls may run (then one more request for the answer). Default 8. */
  maxRounds?: number;
  limits?: Partial<ToolLimits>;
  signal?: AbortSignal;
  onEvent?: (e: ToolLoopEvent) => void;
  /** The server's vLLM version when known (reasoning replay: < 0.16 also gets `reasoning_content`). */
  vllmVersion?: string;
  /** Passed to every streamChat call. */
  stream?: Pick<StreamChatOptions, 'reasoningParser' | 'idleTimeoutMs' | 'fetch' | 'now'>;
  /** Where round `round`'s thinking and answer accumulate while they stream (streamChat's `text`), asked right after
   *  its `roundStart` event: a caller that keeps the live text anyway holds it once instead of twice. */
  roundText?: (round: number) => { thinking: string; answer: string } | undefined;
}

export interface ToolLoopResult {
  /** Every round's thinking, joined by blank lines. */
  thinking: string;
  /** Every round's answer text, joined by blank lines (normally only the last round has one). */
  answer: string;
  /** Every tool call the model made, in order across rounds, with its status and result. */
  toolCalls: ToolCallInfo[];
  /** The raw result of each model request. */
  rounds: ChatTurnResult[];
  /** One assistant turn per round (tool calls with their results), for the conversation store. */
  turns: AssistantTurn[];
  /** `messages` plus what the loop appended (assistant turns with tool_calls and reasoning, tool results, and the
   *  final answer). */
  messages: RequestMessage[];
  /** Summed over the rounds (null when no round reported usage). */
  usage: Usage | null;
  /** The last round's finish reason, or 'max_rounds', 'stopped', 'error'. */
  finishReason: string;
  stopped: boolean;
  error?: ChatError;
  maxRoundsReached: boolean;
  /** Hints for the user (e.g. the server has no tool-call parser). */
  hints: string[];
  /** A closing note (the round limit), when there is one. */
  note?: string;
}

class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'AbortError';
  }
}

/** Resolves/rejects with `p`, or rejects with Cancelled as soon as `signal` aborts. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return settleOnAbort(p, signal, () => {
    throw new Cancelled();
  });
}

function idsIn(messages: readonly RequestMessage[]): { ids: Set<string>; count: number } {
  const ids = new Set<string>();
  let count = 0;
  for (const m of messages) {
    if (m.role === 'assistant') {
      for (const c of m.tool_calls ?? []) {
        ids.add(c.id);
        count++;
      }
    }
  }
  return { ids, count };
}

function addUsage(a: Usage | null, b: Usage | null): Usage | null {
  if (!b) return a;
  if (!a) return { ...b };
  return { prompt: a.prompt + b.prompt, completion: a.completion + b.completion, total: a.total + b.total };
}

export function noToolParserHint(): string {
  return 'The server sent its tool calls as raw text markers (<|tool_calls_section_begin|> …): it runs without a tool-call ' +
    `parser. They were parsed and run here; for reliable tool calling restart vllm serve with ${TOOL_PARSER_FLAGS.join(' ')}.`;
}

export async function runToolLoop(opts: ToolLoopOptions): Promise<ToolLoopResult> {
  // One internal signal for everything the loop starts (many concurrent tools each listen to it), following the
  // caller's.
  const ctrl = new AbortController();
  setMaxListeners(0, ctrl.signal);
  const onCallerAbort = () => ctrl.abort();
  if (opts.signal?.aborted) ctrl.abort();
  else opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    return await loopWithSignal(opts, ctrl.signal);
  } finally {
    opts.signal?.removeEventListener('abort', onCallerAbort);
  }
}

async function loopWithSignal(opts: ToolLoopOptions, signal: AbortSignal): Promise<ToolLoopResult> {
  const limits: ToolLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const maxRounds = opts.maxRounds ?? DEFAULT_MAX_ROUNDS;
  if (!Number.isInteger(maxRounds) || maxRounds < 1) throw new Error(`runToolLoop: maxRounds must be a whole number ≥ 1, got ${String(opts.maxRounds)}`);
  const emit = (e: ToolLoopEvent) => opts.onEvent?.(e);
  const registry = opts.registry;
  if (registry.needsWorkspace && !opts.port) throw new Error('runToolLoop: the registry has workspace tools but no WorkspacePort was given');
  const confinement = opts.port ? new Confinement(opts.port.roots, { ...(opts.port.excludes ? { excludes: opts.port.excludes } : {}) }) : undefined;
  const now = opts.stream?.now ?? (() => performance.now());

  const messages: RequestMessage[] = [...opts.messages];
  const rounds: ChatTurnResult[] = [];
  const turns: AssistantTurn[] = [];
  const allCalls: ToolCallInfo[] = [];
  const hints: string[] = [];
  const known = idsIn(messages);
  let usage: Usage | null = null;
  let toolRounds = 0;
  let finishReason = 'unknown';
  let stopped = false;
  let error: ChatError | undefined;
  let maxRoundsReached = false;
  let note: string | undefined;

  const snapshot = (c: ToolCallInfo) => emit({ kind: 'toolCall', call: { ...c } });

  // Whether the server runs a reasoning parser: as given, else learnt from the first round that shows it (a
  // reasoning field → yes; <think> tags inside content → no), so that a later round which answers without thinking
  // is not mistaken for thinking.
  let reasoningParser = opts.stream?.reasoningParser;

  for (let round = 1; ; round++) {
    emit({ kind: 'roundStart', round });
    const started = new Set<number>();
    const text = opts.roundText?.(round);
    const result = await streamChat(
      { ...opts.chat, messages, tools: registry.definitions() },
      {
        ...opts.stream,
        ...(reasoningParser !== undefined ? { reasoningParser } : {}),
        ...(text ? { text } : {}),
        signal,
        onEvent: (e) => {
          if (e.kind === 'toolCall') {
            if (!started.has(e.index)) {
              started.add(e.index);
              const tool = e.name ? registry.get(e.name) : undefined;
              snapshot({ round, index: e.index, id: e.id ?? '', name: e.name ?? '', arguments: '', readOnly: tool?.readOnly ?? true, needsApproval: tool?.needsApproval ?? false, status: 'streaming' });
            }
            emit({ kind: 'toolCallDelta', round, index: e.index, ...(e.id ? { id: e.id } : {}), ...(e.name ? { name: e.name } : {}), argumentsDelta: e.argumentsDelta });
          } else if (e.kind !== 'toolCallsDone') {
            emit({ kind: 'chat', round, event: e });
          }
        },
      },
    );
    rounds.push(result);
    usage = addUsage(usage, result.usage);
    if (reasoningParser === undefined) {
      if (result.observations.reasoningField !== 'none') reasoningParser = true;
      else if (result.observations.thinkTagsInContent) reasoningParser = false;
    }
    if (result.observations.rawToolMarkers && !hints.length) {
      const message = noToolParserHint();
      hints.push(message);
      emit({ kind: 'hint', code: 'noToolCallParser', message, flags: TOOL_PARSER_FLAGS });
    }

    // A stopped or failed request: keep what arrived, run nothing.
    if (result.stopped || result.error) {
      stopped = result.stopped;
      if (result.error) error = result.error;
      finishReason = result.stopped ? 'stopped' : 'error';
      // Calls that had started streaming never run; their cards close as cancelled. The turn keeps them without
      // results (which toRequestMessages does not replay).
      for (const c of result.toolCalls) {
        const tool = registry.get(c.name);
        const info: ToolCallInfo = { round, index: c.index, id: c.id, name: c.name, arguments: c.arguments, readOnly: tool?.readOnly ?? true, needsApproval: tool?.needsApproval ?? false, status: 'pending' };
        allCalls.push(info);
        finish(info, 'cancelled', `error: not run — the request ${result.stopped ? 'was stopped' : 'failed'} before the call was complete.`, undefined);
      }
      const turn = assistantTurnFromResult(result, { mode: opts.chat.mode, model: opts.chat.model });
      // Without results (toRequestMessages never replays them), marked as not run for the history.
      turn.toolCalls = turn.toolCalls.map((c) => ({ ...c, status: 'cancelled' as const }));
      turns.push(turn);
      emit({ kind: 'roundEnd', round, finishReason, toolCalls: 0, turn, more: false });
      break;
    }

    // The round's calls, with Kimi-style ids that are unique in the conversation.
    const calls: ToolCallInfo[] = result.toolCalls.map((c, i) => {
      let id = c.id;
      if (!id || known.ids.has(id)) {
        let n = known.count;
        while (known.ids.has(`functions.${c.name || 'unknown'}:${n}`)) n++;
        id = `functions.${c.name || 'unknown'}:${n}`;
      }
      known.ids.add(id);
      known.count++;
      const tool = registry.get(c.name);
      return { round, index: i, id, name: c.name, arguments: c.arguments, readOnly: tool?.readOnly ?? true, needsApproval: tool?.needsApproval ?? false, status: 'pending' as ToolCallStatus };
    });

    if (!calls.length) {
      finishReason = result.finishReason ?? 'unknown';
      const turn = assistantTurnFromResult(result, { mode: opts.chat.mode, model: opts.chat.model });
      turns.push(turn);
      messages.push(...toRequestMessages({ turns: [turn] }, { ...(opts.vllmVersion ? { vllmVersion: opts.vllmVersion } : {}) }));
      emit({ kind: 'roundEnd', round, finishReason, toolCalls: 0, turn, more: false });
      break;
    }

    allCalls.push(...calls);
    if (toolRounds >= maxRounds) {
      maxRoundsReached = true;
      note = `Stopped after ${maxRounds} round${maxRounds === 1 ? '' : 's'} of tool calls: the model still wanted to call ${calls.map((c) => c.name).join(', ')}, ` +
        'which did not run. Ask it to continue, or raise the limit (kimi.tools.maxRounds, or --max-rounds in the CLI).';
      for (const c of calls) finish(c, 'skipped', `error: not run — the limit of ${maxRounds} tool rounds for this message was reached. Answer with what you have.`, undefined);
    } else {
      toolRounds++;
      await execute(calls);
    }

    const turn = assistantTurnFromResult(result, { mode: opts.chat.mode, model: opts.chat.model });
    turn.toolCalls = calls.map((c) => ({
      id: c.id, name: c.name, arguments: c.arguments, result: c.result ?? '', ...(c.isError ? { isError: true } : {}),
      ...(c.status === 'done' || c.status === 'error' || c.status === 'rejected' || c.status === 'cancelled' || c.status === 'skipped' ? { status: c.status } : {}),
      ...(c.durationMs !== undefined ? { durationMs: Math.round(c.durationMs) } : {}),
    }));
    turns.push(turn);
    messages.push(...toRequestMessages({ turns: [turn] }, { ...(opts.vllmVersion ? { vllmVersion: opts.vllmVersion } : {}) }));
    emit({ kind: 'roundEnd', round, finishReason: result.finishReason ?? 'tool_calls', toolCalls: calls.length, turn, more: !signal.aborted && !maxRoundsReached });

    if (signal.aborted) {
      stopped = true;
      finishReason = 'stopped';
      break;
    }
    if (maxRoundsReached) {
      finishReason = 'max_rounds';
      emit({ kind: 'maxRounds', maxRounds, message: note! });
      break;
    }
  }

  const join = (parts: string[]) => parts.filter((s) => s !== '').join('\n\n');
  return {
    thinking: join(rounds.map((r) => r.thinking)),
    answer: join(rounds.map((r) => r.answer)),
    toolCalls: allCalls,
    rounds,
    turns,
    messages,
    usage,
    finishReason,
    stopped,
    ...(error ? { error } : {}),
    maxRoundsReached,
    hints,
    ...(note ? { note } : {}),
  };

  // ----- running the calls of one round -----

  function finish(c: ToolCallInfo, status: ToolCallStatus, text: string, startedAt: number | undefined) {
    c.status = status;
    c.result = capText(text, limits.maxResultChars, 'ask for less (a line range, a narrower glob or query)');
    c.preview = previewOf(c.result);
    c.isError = status === 'error' || status === 'cancelled' || status === 'skipped';
    if (startedAt !== undefined) c.durationMs = now() - startedAt;
    delete c.approval;
    snapshot(c);
  }

  async function execute(calls: ToolCallInfo[]): Promise<void> {
    const valid = new Map<ToolCallInfo, Tool>();
    for (const c of calls) {
      const v = registry.validate(c.name, c.arguments);
      if (!v.ok) {
        finish(c, 'error', v.error, undefined);
        continue;
      }
      c.args = v.args;
      valid.set(c, v.tool);
      snapshot(c); // pending, arguments parsed
    }
    const concurrent = [...valid].filter(([, t]) => t.readOnly && !t.needsApproval);
    const serial = [...valid].filter(([, t]) => !(t.readOnly && !t.needsApproval));
    await Promise.all(concurrent.map(([c, t]) => runOne(c, t)));
    for (const [c, t] of serial) await runOne(c, t);
  }

  async function runOne(c: ToolCallInfo, tool: Tool): Promise<void> {
    if (signal.aborted) {
      finish(c, 'cancelled', 'error: not run — the user stopped the request.', undefined);
      return;
    }
    let waited = 0;
    let rejected = false;
    const ctx: ToolContext = {
      port: opts.port,
      confinement,
      signal,
      limits,
      offers: (name) => opts.registry.get(name) !== undefined,
      approve: async (req) => {
        if (!opts.port) throw new ToolError(`${tool.name} needs approval, but there is no workspace to ask in`);
        const askedAt = now();
        c.status = 'awaitingApproval';
        c.approval = req;
        snapshot(c);
        const decision = await raceAbort(opts.port.requestApproval(req, signal, { id: c.id, round: c.round, index: c.index, name: c.name }), signal);
        waited += now() - askedAt;
        delete c.approval;
        c.status = 'running';
        snapshot(c);
        if (decision !== 'accept') rejected = true;
        return decision === 'accept';
      },
    };
    c.status = 'running';
    snapshot(c);
    const startedAt = now();
    try {
      const text = await raceAbort(tool.run(c.args as never, ctx), signal);
      finish(c, rejected ? 'rejected' : 'done', text, startedAt + waited);
    } catch (e) {
      if (signal.aborted || e instanceof Cancelled) {
        finish(c, 'cancelled', 'error: stopped by the user before this call finished.', startedAt + waited);
      } else if (e instanceof ToolError) {
        finish(c, 'error', `error: ${e.message}`, startedAt + waited);
      } else {
        const msg = e instanceof Error ? e.message : String(e);
        finish(c, 'error', `error: ${tool.name} failed unexpectedly: ${msg}`, startedAt + waited);
      }
    }
  }
}

/** The calls of a loop result that produced a result for the model (ran, failed, or were invalid), in order. */
export function executedCalls(r: Pick<ToolLoopResult, 'toolCalls'>): ToolCallInfo[] {
  return r.toolCalls.filter((c) => c.status === 'done' || c.status === 'error' || c.status === 'rejected');
}
