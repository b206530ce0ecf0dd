// Turns one model turn (thinking, answer, tool calls) into what vLLM would send for it. It mirrors vLLM's layering:
// first the raw Kimi token stream the model would generate (reasoning, `</think>`, answer, the
// `<|tool_calls_section_begin|>` … markers), then the reasoning parser and the kimi_k2 tool parser turning those
// tokens into deltas — or, when a parser is off, leaving its text inside `content` as the real model's output does.
import type { ReasoningField } from './types';
import { seededRandom } from '../support/seededRandom';
import { splitTokens } from './tokens';

export interface ToolCallSpec {
  id: string;
  name: string;
  /** The arguments text exactly as the model writes it (normally compact JSON). */
  arguments: string;
}

export interface ModelTurn {
  thinking: string;
  answer: string;
  toolCalls: ToolCallSpec[];
  /** A scripted 'length' stop without an actual token budget. */
  forceLength?: boolean;
}

export interface OutputConfig {
  /** --reasoning-parser: reasoning goes to its own delta field instead of `content`. */
  reasoningParser: boolean;
  reasoningField: ReasoningField;
  /** The kimi_k2 tool parser runs for this request (parser configured, tools sent, tool_choice allows calls). */
  parseToolCalls: boolean;
  /** max_tokens / max_completion_tokens, when the request set one. */
  maxTokens?: number;
}

export interface ToolCallDelta {
  index: number;
  id?: string | null;
  type?: 'function' | null;
  function: { name?: string | null; arguments: string };
}

export interface Delta {
  role?: 'assistant';
  content?: string;
  reasoning?: string;
  reasoning_content?: string;
  tool_calls?: ToolCallDelta[];
}

/** One engine step: the tokens it generated and the chunk (if any) the API server sends for them. */
export interface Step {
  delta?: Delta;
  tokens: number;
  /** Visible output characters of this step (for a scripted error "after N characters"). */
  chars: number;
}

export interface AssembledMessage {
  content: string | null;
  reasoning: string | null;
  toolCalls: ToolCallSpec[];
}

export interface OutputPlan {
  steps: Step[];
  /** What the last choice chunk (the one with finish_reason) carries in its delta. */
  finalDelta: Delta;
  finishReason: 'stop' | 'length' | 'tool_calls';
  /** Tokens generated, counting the end-of-turn token on a natural stop (vLLM does). */
  completionTokens: number;
  /** The non-streaming message, assembled from exactly the same deltas. */
  message: AssembledMessage;
}

type RawKind = 'reasoning' | 'think_end' | 'content' | 'marker' | 'header' | 'arg_begin' | 'args';
interface RawToken {
  text: string;
  kind: RawKind;
  call?: number;
}

const SECTION_BEGIN = '<|tool_calls_section_begin|>';
const SECTION_END = '<|tool_calls_section_end|>';
const CALL_BEGIN = '<|tool_call_begin|>';
const ARG_BEGIN = '<|tool_call_argument_begin|>';
const CALL_END = '<|tool_call_end|>';

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Cut tool-call arguments at arbitrary points, the way the kimi_k2 parser streams whatever text the model produced
 *  since the last step. Deterministic per arguments text. Besides 1–7 character random cuts it always cuts inside
 *  the first JSON string (3 characters in) and inside the first escape sequence (right after the backslash, and in
 *  the middle of a `\uXXXX`), so clients are forced to buffer raw text and parse only at the end. */
export function cutArguments(args: string, seedText: string): string[] {
  if (args.length <= 1) return args ? [args] : [];
  const rnd = seededRandom(hashString(seedText + '\u0000' + args));
  const cuts = new Set<number>();
  if (args.startsWith('{"') && args.length > 4) cuts.add(3);
  const esc = args.indexOf('\\');
  if (esc >= 0) {
    cuts.add(esc + 1);
    if (args[esc + 1] === 'u') cuts.add(esc + 4);
  }
  for (let pos = 1 + Math.floor(rnd() * 7); pos < args.length; pos += 1 + Math.floor(rnd() * 7)) cuts.add(pos);
  const sorted = [...cuts]
    .filter((c) => c > 0 && c < args.length)
    // never split a surrogate pair: a lone half could not be sent as valid JSON text
    .filter((c) => !(args.charCodeAt(c - 1) >= 0xd800 && args.charCodeAt(c - 1) <= 0xdbff))
    .sort((a, b) => a - b);
  const pieces: string[] = [];
  let prev = 0;
  for (const c of sorted) {
    pieces.push(args.slice(prev, c));
    prev = c;
  }
  pieces.push(args.slice(prev));
  return pieces;
}

/** The raw token stream of the turn as the model generates it. */
function rawTokens(turn: ModelTurn, cfg: OutputConfig): RawToken[] {
  const out: RawToken[] = [];
  const push = (texts: string[], kind: RawKind, call?: number) => texts.forEach((text) => out.push({ text, kind, call }));
  if (turn.thinking) {
    if (cfg.reasoningParser) {
      push(splitTokens(turn.thinking), 'reasoning');
      push(['</think>'], 'think_end');
      push(splitTokens(turn.answer), 'content');
    } else {
      // No reasoning parser: the prompt already ended with `<think>`, so the text starts mid-thought, then the
      // literal ` </think> ` (spaces kept). The closing tag arrives split over two deltas, as seen in practice.
      push(splitTokens(turn.thinking.replace(/\s+$/, '')), 'content');
      push([' </th', 'ink>'], 'content');
      push(splitTokens(' ' + turn.answer.replace(/^\s+/, '')), 'content');
    }
  } else {
    push(splitTokens(turn.answer), 'content');
  }
  if (turn.toolCalls.length) {
    push([SECTION_BEGIN], 'marker');
    turn.toolCalls.forEach((call, i) => {
      push([CALL_BEGIN], 'marker', i);
      push(splitTokens(`${call.id} `), 'header', i);
      push([ARG_BEGIN], 'arg_begin', i);
      push(cutArguments(call.arguments, `${call.id}`), 'args', i);
      push([CALL_END], 'marker', i);
    });
    push([SECTION_END], 'marker');
  }
  return out;
}

function reasoningDelta(text: string, field: ReasoningField): Delta {
  if (field === 'reasoning') return { reasoning: text };
  if (field === 'reasoning_content') return { reasoning_content: text };
  return { reasoning: text, reasoning_content: text };
}

export function buildOutput(turn: ModelTurn, cfg: OutputConfig): OutputPlan {
  let raw = rawTokens(turn, cfg);
  let finishReason: OutputPlan['finishReason'];
  let completionTokens: number;
  if (cfg.maxTokens !== undefined && raw.length > cfg.maxTokens) {
    raw = raw.slice(0, cfg.maxTokens);
    finishReason = 'length';
    completionTokens = raw.length;
  } else if (turn.forceLength) {
    finishReason = 'length';
    completionTokens = raw.length;
  } else {
    finishReason = turn.toolCalls.length && cfg.parseToolCalls ? 'tool_calls' : 'stop';
    completionTokens = raw.length + 1; // + <|im_end|>
  }

  // Per-token deltas.
  const rnd = seededRandom(hashString(raw.map((t) => t.text).join('')));
  const lastArgOfCall = new Map<number, number>();
  raw.forEach((t, i) => {
    if (t.kind === 'args' && t.call !== undefined) lastArgOfCall.set(t.call, i);
  });
  const lastCallArgIdx = lastArgOfCall.get(turn.toolCalls.length - 1);
  let flushStep: Step | undefined;
  const steps: Step[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i];
    if (t.kind === 'reasoning') {
      steps.push({ delta: reasoningDelta(t.text, cfg.reasoningField), tokens: 1, chars: t.text.length });
    } else if (t.kind === 'think_end') {
      // `</think>` itself produces no chunk; vLLM's step often carries the last reasoning token and the first answer
      // token together (multi-token steps), which is exactly the case a client must not get wrong.
      const prev = steps[steps.length - 1];
      const next = raw[i + 1];
      if (prev?.delta && next?.kind === 'content' && !prev.delta.content) {
        prev.delta = { content: next.text, ...prev.delta };
        prev.tokens += 2;
        prev.chars += next.text.length;
        i++;
      } else {
        steps.push({ tokens: 1, chars: 0 });
      }
    } else if (t.kind === 'content' || !cfg.parseToolCalls) {
      steps.push({ delta: { content: t.text }, tokens: 1, chars: t.text.length });
    } else if (t.kind === 'arg_begin' && t.call !== undefined) {
      const call = turn.toolCalls[t.call];
      const first: ToolCallDelta = { index: t.call, id: call.id, type: 'function', function: { name: call.name, arguments: '' } };
      steps.push({ delta: { tool_calls: [first] }, tokens: 1, chars: call.name.length });
    } else if (t.kind === 'args' && t.call !== undefined) {
      // Later deltas carry only index + arguments; some (always the last of a call) spell the other fields as null.
      const explicitNulls = lastArgOfCall.get(t.call) === i || rnd() < 0.25;
      const piece: ToolCallDelta = explicitNulls
        ? { id: null, type: null, index: t.call, function: { name: null, arguments: t.text } }
        : { index: t.call, function: { arguments: t.text } };
      steps.push({ delta: { tool_calls: [piece] }, tokens: 1, chars: t.text.length });
      if (i === lastCallArgIdx) flushStep = steps[steps.length - 1];
    } else {
      steps.push({ tokens: 1, chars: 0 }); // markers and the call header are consumed by the parser
    }
  }

  // The finish chunk.
  let finalDelta: Delta = {};
  if (finishReason === 'length') {
    // The token that hit the budget arrives in the same chunk as finish_reason.
    const last = steps[steps.length - 1];
    if (last?.delta) {
      finalDelta = last.delta;
      last.delta = undefined;
    }
  } else if (finishReason === 'tool_calls') {
    // The kimi_k2 parser holds back the tail of the last call's arguments; vLLM flushes it in the finish chunk.
    if (flushStep?.delta) {
      finalDelta = flushStep.delta;
      flushStep.delta = undefined;
    }
  } else {
    finalDelta = { content: '' }; // the end-of-turn token decodes to '' and vLLM still sends it as content
  }

  return { steps, finalDelta, finishReason, completionTokens, message: assemble(steps, finalDelta) };
}

function assemble(steps: Step[], finalDelta: Delta): AssembledMessage {
  let content = '';
  let reasoning = '';
  const calls: ToolCallSpec[] = [];
  for (const d of [...steps.map((s) => s.delta), finalDelta]) {
    if (!d) continue;
    content += d.content ?? '';
    reasoning += d.reasoning ?? d.reasoning_content ?? '';
    for (const c of d.tool_calls ?? []) {
      const call = (calls[c.index] ??= { id: '', name: '', arguments: '' });
      if (typeof c.id === 'string') call.id = c.id;
      if (typeof c.function.name === 'string') call.name = c.function.name;
      call.arguments += c.function.arguments;
    }
  }
  return { content: content === '' ? null : content, reasoning: reasoning === '' ? null : reasoning, toolCalls: calls };
}
