// What an inline explanation shows (src/vscode/explain renders it as a comment thread next to the selection): the
// thread's label and state, a collapsible "Thinking" comment, and the explanation itself with its notices, status
// and errors. Pure: the same state always gives the same markdown, so the unit tests see exactly what the user sees.
//
// Model text is markdown shown with HTML and command links off (the VS Code side never trusts it); on top of that,
// images in it become plain links so that a model (or a prompt injected through the explained code) cannot make the
// editor fetch a URL by itself. Our own text that carries user data (paths, diagnostic messages) is escaped.
import type { ChatMode } from '../chat/types';

export type ExplanationPhase =
  /** Waiting for the server to be ready (not running, starting, needs an API key). */
  | 'waiting'
  /** The request is out; nothing has arrived yet. */
  | 'sending'
  | 'thinking'
  | 'answering'
  | 'done'
  | 'stopped'
  | 'failed'
  /** Not sent: the selection cannot fit the server's context, or there is nothing to explain. */
  | 'refused';

export interface ExplanationState {
  /** What is explained, as the thread's header says it: "src/math.ts, lines 8–10". */
  subject: string;
  kind: 'selection' | 'problem';
  mode: ChatMode;
  phase: ExplanationPhase;
  /** Why it waits (phase `waiting`), e.g. "No server running — Start Server". */
  waitingReason?: string;
  thinking: string;
  answer: string;
  /** Truncation / context notices from the prompt builder. */
  notices: string[];
  /** phase `failed` or `refused`: the message (plain text, ours or the server's). */
  error?: { message: string; serverMessage?: string };
  /** Epoch ms of the first thinking text. */
  thinkingStartedAt?: number;
  /** How long it thought, once the answer started (or the stream ended). */
  thinkingMs?: number;
  thinkingExpanded: boolean;
  model?: string;
  metrics?: { durationMs?: number; completionTokens?: number; tokensPerSecond?: number };
}

export interface RenderedComment {
  /** Which comment this is (stable across renders). */
  role: 'thinking' | 'explanation';
  author: string;
  /** Shown next to the author: status, mode, timing. */
  label?: string;
  /** Markdown. */
  body: string;
  contextValue: string;
}

export interface RenderedExplanation {
  /** The thread's header. */
  label: string;
  /** Drives the thread's title actions (package.json menus). */
  contextValue: ExplanationContext;
  comments: RenderedComment[];
}

/** Thread context values: Stop while running; Re-run once finished; Continue in Chat once there is text. */
export type ExplanationContext = 'kimiExplanation:running' | 'kimiExplanation:finished' | 'kimiExplanation:finishedWithText';
/** Thinking comment context values: its title action shows or hides the thinking text. */
export type ThinkingContext = 'kimiThinking:collapsed' | 'kimiThinking:expanded';

const RUNNING: ReadonlySet<ExplanationPhase> = new Set(['waiting', 'sending', 'thinking', 'answering']);

export function isRunning(phase: ExplanationPhase): boolean {
  return RUNNING.has(phase);
}

/** Escapes text so markdown shows it literally. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&');
}

function splitInlineCode(line: string): { text: string; code: boolean }[] {
  const parts: { text: string; code: boolean }[] = [];
  let i = 0;
  let plainFrom = 0;
  while (i < line.length) {
    if (line[i] !== '`') {
      i++;
      continue;
    }
    let n = 0;
    while (line[i + n] === '`') n++;
    const fence = '`'.repeat(n);
    // The closing run must be exactly as long (not part of a longer run).
    let close = line.indexOf(fence, i + n);
    while (close >= 0 && (line[close + n] === '`' || line[close - 1] === '`')) {
      let end = close;
      while (line[end] === '`') end++;
      close = line.indexOf(fence, end);
    }
    if (close < 0) {
      i += n;
      continue;
    }
    if (i > plainFrom) parts.push({ text: line.slice(plainFrom, i), code: false });
    parts.push({ text: line.slice(i, close + n), code: true });
    i = close + n;
    plainFrom = i;
  }
  if (plainFrom < line.length) parts.push({ text: line.slice(plainFrom), code: false });
  return parts;
}

const FENCE_RE = /^ {0,3}(`{3,}|~{3,})/;

/** Model markdown made safe to show: images become links (`![alt](url)` → `[alt](url)`), so nothing is fetched
 *  unless the user follows a link; code (fenced blocks, inline spans) is left exactly as written. */
export function safeModelMarkdown(text: string): string {
  const lines = text.split('\n');
  let fence: { char: string; len: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = FENCE_RE.exec(line);
    if (fence) {
      if (m && m[1]![0] === fence.char && m[1]!.length >= fence.len && line.slice(m[0].length).trim() === '') fence = undefined;
      continue;
    }
    if (m && !(m[1]![0] === '`' && line.slice(m[0].length).includes('`'))) {
      fence = { char: m[1]![0]!, len: m[1]!.length };
      continue;
    }
    if (!line.includes('![')) continue;
    lines[i] = splitInlineCode(line)
      .map((p) => (p.code ? p.text : p.text.replace(/!\[([^\]\n]*)\]/g, (_m, alt: string) => `[${alt.trim() ? alt : 'image'}]`)))
      .join('');
  }
  return lines.join('\n');
}

function seconds(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function duration(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : seconds(ms);
}

/** "Thinking… 4 s" while it thinks, "Thought for 4 s" afterwards; undefined when there is no thinking to show. */
export function thinkingSummary(s: ExplanationState, now: number): string | undefined {
  if (s.mode !== 'thinking') return undefined;
  if (s.phase === 'thinking') return `Thinking… ${seconds(now - (s.thinkingStartedAt ?? now))}`;
  if (!s.thinking) return undefined;
  const ms = s.thinkingMs ?? (s.thinkingStartedAt !== undefined ? now - s.thinkingStartedAt : 0);
  return `Thought for ${seconds(ms)}`;
}

function thinkingComment(s: ExplanationState, now: number): RenderedComment | undefined {
  const summary = thinkingSummary(s, now);
  if (!summary) return undefined;
  const expanded = s.thinkingExpanded && s.thinking.trim() !== '';
  const contextValue: ThinkingContext = expanded ? 'kimiThinking:expanded' : 'kimiThinking:collapsed';
  const body = expanded ? `*${summary}*\n\n${safeModelMarkdown(s.thinking.trim())}` : `*${summary}*`;
  return { role: 'thinking', author: 'Thinking', ...(s.phase === 'thinking' ? { label: 'live' } : {}), body, contextValue };
}

function statusLabel(s: ExplanationState): string {
  const mode = s.mode === 'instant' ? 'Instant' : 'Thinking';
  switch (s.phase) {
    case 'waiting':
      return 'waiting for the server';
    case 'sending':
      return `${mode} · sending…`;
    case 'thinking':
      return `${mode} · thinking…`;
    case 'answering':
      return `${mode} · writing…`;
    case 'stopped':
      return `${mode} · stopped`;
    case 'failed':
      return `${mode} · failed`;
    case 'refused':
      return 'not sent';
    case 'done': {
      const m = s.metrics ?? {};
      const parts = [mode];
      if (m.durationMs !== undefined) parts.push(duration(m.durationMs));
      if (m.completionTokens !== undefined) parts.push(`${m.completionTokens.toLocaleString('en-US')} tokens`);
      if (m.tokensPerSecond !== undefined) parts.push(`${m.tokensPerSecond.toFixed(1)} tok/s`);
      return parts.join(' · ');
    }
  }
}

function explanationBody(s: ExplanationState): string {
  const parts: string[] = [];
  for (const n of s.notices) parts.push(`*⚠ ${escapeMarkdown(n)}*`);
  switch (s.phase) {
    case 'waiting':
      parts.push(`*Waiting for Kimi's server${s.waitingReason ? ` (${escapeMarkdown(s.waitingReason)})` : ''}. The explanation starts as soon as it is ready.*`);
      return parts.join('\n\n');
    case 'refused':
      parts.push(`**Not sent.** ${escapeMarkdown(s.error?.message ?? '')}`);
      return parts.join('\n\n');
    case 'sending':
      parts.push(s.mode === 'thinking' ? '*Kimi is reading the code…*' : '*Explaining…*');
      return parts.join('\n\n');
    case 'thinking':
      if (!s.answer) {
        parts.push('*The explanation follows the thinking.*');
        return parts.join('\n\n');
      }
      break;
    default:
      break;
  }
  if (s.answer.trim()) parts.push(safeModelMarkdown(s.answer.trim()));
  else if (s.phase === 'done') parts.push('*Kimi returned no explanation.*');
  if (s.phase === 'stopped') parts.push(s.answer.trim() ? '*Stopped — the explanation above is partial.*' : '*Stopped before any explanation arrived.*');
  if (s.phase === 'failed' && s.error) {
    const server = s.error.serverMessage && s.error.serverMessage !== s.error.message ? `\n\nThe server said: \`${s.error.serverMessage.replace(/`/g, "'")}\`` : '';
    parts.push(`---\n\n**The explanation failed:** ${escapeMarkdown(s.error.message)}${server}\n\n*Re-run (↻) to try again${s.answer.trim() ? '; the partial text above is kept until then' : ''}.*`);
  }
  return parts.join('\n\n');
}

/** The thread as the user sees it. `now` (epoch ms) drives the thinking timer. */
export function renderExplanation(s: ExplanationState, now: number): RenderedExplanation {
  const comments: RenderedComment[] = [];
  const thinking = thinkingComment(s, now);
  if (thinking) comments.push(thinking);
  comments.push({ role: 'explanation', author: 'Kimi', label: statusLabel(s), body: explanationBody(s), contextValue: 'kimiExplanationText' });
  const what = s.kind === 'problem' ? 'Explain problem' : 'Explain';
  const contextValue: ExplanationContext = isRunning(s.phase)
    ? 'kimiExplanation:running'
    : s.answer.trim() || s.thinking.trim()
      ? 'kimiExplanation:finishedWithText'
      : 'kimiExplanation:finished';
  return { label: `Kimi · ${what}: ${s.subject}`, contextValue, comments };
}
