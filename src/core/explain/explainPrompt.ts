// The request behind "Explain Selection" and "Explain This Problem": the language, the workspace-relative path,
// the selected lines with their line numbers, and bounded surrounding context (the enclosing symbol when a symbol
// provider knows it, else a window of lines around the selection). When it cannot fit the server's max_model_len,
// the context is dropped first, then the selections are cut (with a visible notice); when even a minimal excerpt
// cannot fit, the request is refused with a clear message.
import { ChatError } from '../chat/errors';
import { estimateTokens } from '../chat/conversation';
import type { RequestMessage } from '../chat/types';

/** 1-based, inclusive line ranges. */
export interface LineRange {
  startLine: number;
  endLine: number;
}

export interface ExplainSymbol extends LineRange {
  name: string;
  /** "function", "method", "class" … */
  kind: string;
}

export interface ExplainTarget extends LineRange {
  /** The enclosing symbol of this range, when a symbol provider knows one. */
  symbol?: ExplainSymbol;
}

export interface ExplainDiagnostic extends LineRange {
  message: string;
  severity: 'error' | 'warning' | 'information' | 'hint';
  source?: string;
  code?: string;
}

export interface ExplainInput {
  /** Workspace-relative path (or the file name of an untitled document). */
  path: string;
  /** VS Code languageId. */
  languageId: string;
  /** The document's lines (without line terminators). */
  lines: readonly string[];
  /** What to explain: one or more selections (whole lines are sent; their order is kept, overlaps merged). */
  targets: ExplainTarget[];
  /** "Explain this problem": the diagnostic to explain; its range is usually the only target. */
  diagnostic?: ExplainDiagnostic;
  /** The server's max_model_len, when known. */
  maxModelLen?: number;
  /** Room kept for the explanation. Default: min(4096, maxModelLen / 4). */
  reserveOutputTokens?: number;
}

export interface ExplainPrompt {
  messages: RequestMessage[];
  /** Plain-language notes the UI shows with the explanation ("Only lines 1–400 of the selection were sent …"). */
  notices: string[];
  /** The selections were cut to fit. */
  truncated: boolean;
  /** The surrounding context was left out to fit. */
  contextDropped: boolean;
  estimate: number;
  /** The merged selections and the lines of each that were sent (a prefix of the selection when it was cut). */
  excerpts: Excerpt[];
}

/** Lines of context on each side of a selection when no enclosing symbol is known (or it is too large). */
export const CONTEXT_LINES = 30;
/** An enclosing symbol longer than this is not sent whole: the window around the selection is used instead. */
export const MAX_SYMBOL_LINES = 300;
/** Below this many selected lines a selection is not cut further: the request is refused instead. */
export const MIN_SELECTION_LINES = 20;
/** A single line longer than this is cut (minified code) and marked. */
export const MAX_LINE_CHARS = 2000;

export const EXPLAIN_SYSTEM_PROMPT =
  'You explain code to a developer inside their editor. Explain what the selected code does, why, and anything ' +
  'surprising (edge cases, bugs, performance), referring to line numbers. Be concise and concrete; use markdown; ' +
  'do not repeat the code back unless you change it.';

export const EXPLAIN_PROBLEM_SYSTEM_PROMPT =
  'You help a developer fix a problem reported in their editor. Explain in plain words what the diagnostic means ' +
  'for this code, the likely cause, and the fix (show the corrected lines). Be concise; use markdown; refer to ' +
  'line numbers.';

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function clampRange(r: LineRange, lineCount: number): LineRange {
  const max = Math.max(lineCount, 1);
  const startLine = Math.min(Math.max(1, Math.floor(r.startLine)), max);
  const endLine = Math.min(Math.max(startLine, Math.floor(r.endLine)), max);
  return { startLine, endLine };
}

/** Sorted, overlapping or adjacent ranges merged. */
export function mergeRanges(ranges: LineRange[]): LineRange[] {
  const sorted = ranges.map((r) => ({ ...r })).sort((a, b) => a.startLine - b.startLine || a.endLine - b.endLine);
  const out: LineRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.startLine <= last.endLine + 1) last.endLine = Math.max(last.endLine, r.endLine);
    else out.push({ startLine: r.startLine, endLine: r.endLine });
  }
  return out;
}

/** The context window of one target: its enclosing symbol when known and not too large, else CONTEXT_LINES around it. */
export function contextRange(target: ExplainTarget, lineCount: number): LineRange {
  const t = clampRange(target, lineCount);
  const sym = target.symbol;
  if (sym) {
    const s = clampRange(sym, lineCount);
    const covers = s.startLine <= t.startLine && s.endLine >= t.endLine;
    if (covers && s.endLine - s.startLine + 1 <= MAX_SYMBOL_LINES) return s;
  }
  return clampRange({ startLine: t.startLine - CONTEXT_LINES, endLine: t.endLine + CONTEXT_LINES }, lineCount);
}

/** Lines with right-aligned numbers: "  41 | code". */
export function numberLines(lines: readonly string[], range: LineRange, width?: number): string {
  const w = width ?? String(range.endLine).length;
  const out: string[] = [];
  for (let n = range.startLine; n <= range.endLine; n++) {
    let text = lines[n - 1] ?? '';
    if (text.length > MAX_LINE_CHARS) text = `${text.slice(0, MAX_LINE_CHARS)} … [line cut: ${fmt(text.length)} characters]`;
    out.push(`${String(n).padStart(w, ' ')} | ${text}`);
  }
  return out.join('\n');
}

function fenceFor(text: string): string {
  let longest = 2;
  for (const m of text.matchAll(/`{3,}/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(longest + 1);
}

function fenced(body: string, lang: string): string {
  const f = fenceFor(body);
  return `${f}${lang}\n${body}\n${f}`;
}

function rangeText(r: LineRange): string {
  return r.startLine === r.endLine ? `line ${r.startLine}` : `lines ${r.startLine}–${r.endLine}`;
}

export interface Excerpt {
  range: LineRange;
  /** Lines actually sent (a prefix of range when cut). */
  sent: LineRange;
}

function userMessage(input: ExplainInput, excerpts: Excerpt[], context: LineRange[] | undefined): string {
  const lang = input.languageId === 'plaintext' ? '' : input.languageId;
  const width = String(Math.max(1, input.lines.length)).length;
  const parts: string[] = [];
  const what = excerpts.map((e) => rangeText(e.range)).join(', ');
  if (input.diagnostic) {
    const d = input.diagnostic;
    const origin = [d.source, d.code].filter(Boolean).join(' ');
    parts.push(
      `Explain this ${d.severity} in \`${input.path}\` (${input.languageId}) at ${rangeText(d)}` +
        `${origin ? ` reported by ${origin}` : ''}:\n\n> ${d.message.split('\n').join('\n> ')}`,
    );
  } else {
    parts.push(`Explain the selected code in \`${input.path}\` (${input.languageId}), ${what}.`);
  }
  excerpts.forEach((e, i) => {
    const label = excerpts.length > 1 ? `Selection ${i + 1} of ${excerpts.length}` : input.diagnostic ? 'The lines it refers to' : 'Selection';
    const cut = e.sent.endLine < e.range.endLine;
    const body = numberLines(input.lines, e.sent, width) +
      (cut ? `\n… ${fmt(e.range.endLine - e.sent.endLine)} more selected lines not sent (the context limit) …` : '');
    parts.push(`${label} (${rangeText(e.range)}):\n${fenced(body, lang)}`);
  });
  if (context && context.length) {
    const symbols = input.targets.map((t) => t.symbol).filter((s): s is ExplainSymbol => !!s);
    const named = symbols.length ? ` — inside ${[...new Set(symbols.map((s) => `${s.kind} \`${s.name}\``))].join(', ')}` : '';
    const blocks = context.map((r) => fenced(numberLines(input.lines, r, width), lang));
    parts.push(`Surrounding code for context${named} (not to be explained line by line):\n${blocks.join('\n\n')}`);
  }
  return parts.join('\n\n');
}

function build(input: ExplainInput, excerpts: Excerpt[], context: LineRange[] | undefined): RequestMessage[] {
  return [
    { role: 'system', content: input.diagnostic ? EXPLAIN_PROBLEM_SYSTEM_PROMPT : EXPLAIN_SYSTEM_PROMPT },
    { role: 'user', content: userMessage(input, excerpts, context) },
  ];
}

/** Builds the explanation request. Throws ChatError (`invalidInput` for an empty target list, `contextPrecheck` when
 *  even a minimal excerpt cannot fit max_model_len). */
export function buildExplainPrompt(input: ExplainInput): ExplainPrompt {
  const lineCount = input.lines.length;
  if (!input.targets.length) {
    throw new ChatError({ kind: 'invalidInput', retryable: false, message: 'Nothing to explain: select some code first.' });
  }
  const ranges = mergeRanges(input.targets.map((t) => clampRange(t, lineCount)));
  const excerpts: Excerpt[] = ranges.map((r) => ({ range: r, sent: { ...r } }));
  const context = mergeRanges(input.targets.map((t) => contextRange(t, lineCount)));
  // Context that only repeats the selection adds nothing.
  const usefulContext = context.some((c) => !ranges.some((r) => r.startLine <= c.startLine && r.endLine >= c.endLine)) ? context : [];

  const notices: string[] = [];
  let messages = build(input, excerpts, usefulContext);
  let estimate = estimateTokens(messages);
  if (input.maxModelLen === undefined) return { messages, notices, truncated: false, contextDropped: false, estimate, excerpts };

  const maxModelLen = input.maxModelLen;
  const reserve = input.reserveOutputTokens ?? Math.min(4096, Math.floor(maxModelLen / 4));
  const budget = maxModelLen - reserve;
  if (estimate <= budget) return { messages, notices, truncated: false, contextDropped: false, estimate, excerpts };

  // 1. Without the surrounding context.
  let contextDropped = false;
  if (usefulContext.length) {
    contextDropped = true;
    messages = build(input, excerpts, undefined);
    estimate = estimateTokens(messages);
    notices.push('The surrounding code was left out so the selection fits the server\'s context.');
    if (estimate <= budget) return { messages, notices, truncated: false, contextDropped, estimate, excerpts };
  }

  // 2. Cut the selections: every excerpt keeps the same share of its lines, found by bisection on that share.
  const total = excerpts.reduce((n, e) => n + (e.range.endLine - e.range.startLine + 1), 0);
  const withShare = (share: number): Excerpt[] =>
    excerpts.map((e) => {
      const len = e.range.endLine - e.range.startLine + 1;
      const keep = Math.max(1, Math.min(len, Math.floor(len * share)));
      return { range: e.range, sent: { startLine: e.range.startLine, endLine: e.range.startLine + keep - 1 } };
    });
  let lo = 0;
  let hi = 1;
  let best: Excerpt[] | undefined;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    const candidate = withShare(mid);
    if (estimateTokens(build(input, candidate, undefined)) <= budget) {
      best = candidate;
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const sentLines = best?.reduce((n, e) => n + (e.sent.endLine - e.sent.startLine + 1), 0) ?? 0;
  if (!best || sentLines < Math.min(MIN_SELECTION_LINES, total)) {
    throw new ChatError({
      kind: 'contextPrecheck',
      retryable: false,
      message: `Not sent: the selection (${fmt(total)} lines, about ${fmt(estimateTokens(build(input, excerpts, undefined)))} tokens) ` +
        `cannot fit the server's context of ${fmt(maxModelLen)} tokens (max_model_len) with ${fmt(reserve)} left for the answer. ` +
        'Select less code, or start the server with a larger --max-model-len.',
    });
  }
  messages = build(input, best, undefined);
  estimate = estimateTokens(messages);
  const cutParts = best.filter((e) => e.sent.endLine < e.range.endLine).map((e) => `${rangeText(e.sent)} of ${rangeText(e.range)}`);
  notices.push(`Only ${cutParts.join('; ')} were sent: the whole selection does not fit the server's context of ${fmt(maxModelLen)} tokens.`);
  return { messages, notices, truncated: true, contextDropped, estimate, excerpts: best };
}
