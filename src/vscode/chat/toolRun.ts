// A chat message answered through the tool loop (src/core/tools/toolLoop.ts), as the panel shows it: every model
// request (round) is its own assistant turn — Thinking, tool-call cards, answer — stored as the loop's
// `result.turns`, so a reopened chat shows and replays exactly what happened. Between rounds the turn ends with
// `continued` and the next starts without a user message. Cards are posted on every status change and at most every
// 100 ms while arguments stream. No vscode import (unit-tested in plain Node with the CLI's workspace port).
import { randomUUID } from 'node:crypto';
import { assistantMeta, clipForCard, MAX_CARD_ARGUMENTS_CHARS, MAX_CARD_RESULT_CHARS } from '../../core/chat/chatViews';
import type { AssistantTurn, Conversation } from '../../core/chat/conversation';
import type { ChatErrorInit } from '../../core/chat/errors';
import { appendStreamed } from '../../core/chat/streamText';
import type { RequestMessage } from '../../core/chat/types';
import { splitLines } from '../../core/tools/format';
import type { ToolRegistry } from '../../core/tools/registry';
import type { ToolCallInfo, ToolLoopEvent } from '../../core/tools/toolLoop';
import type { ApprovalRequest, WorkspacePort } from '../../core/tools/types';
import type { AssistantTurnMeta, HostToWebview, ToolApprovalView, ToolCallView } from '../../shared/protocol';
import { alwaysAllowText, type ApprovalMemory, type ApprovalPresenter, type ToolApprovals } from './toolApprovals';

/** Whether the chat may use tools now, as the platform decides it (settings, Workspace Trust, folders). */
export type ToolsAvailability =
  | {
    enabled: false;
    /** Why not, when the user should hear it (once per session): e.g. Restricted Mode. */
    reason?: string;
  }
  | {
    enabled: true;
    /** The workspace (undefined: no folder open; only the demo tools then). */
    port?: WorkspacePort;
    demo: boolean;
    maxRounds: number;
    presenter?: ApprovalPresenter;
    memory?: ApprovalMemory;
  };

/** The live turn of the session (ChatSession's ActiveTurn). */
export interface LiveTurn {
  abort: AbortController;
  conv: Conversation;
  assistant: AssistantTurn;
  startMeta: AssistantTurnMeta;
  /** The cards of the streaming round (posted again when the webview reloads). */
  calls?: ToolCallView[];
}

export interface ToolRunHost {
  post(msg: HostToWebview): void;
  text(channel: 't' | 'a', text: string): void;
  notice(level: 'info' | 'warning', text: string): void;
  now(): number;
  /** Whether the server is one of the extension's own profiles, running (so "Restart with Flags" can do it);
   *  otherwise a 400 "auto tool choice requires …" only names the flags to add. */
  canRestartServer?(): boolean;
}

const CARD_POST_INTERVAL_MS = 100;

/** The request's messages with the tool instructions in the system prompt (added to one the conversation has). */
export function withSystemPrompt(messages: readonly RequestMessage[], prompt: string | undefined): RequestMessage[] {
  if (!prompt) return [...messages];
  const first = messages[0];
  if (first?.role === 'system' && typeof first.content === 'string') return [{ role: 'system', content: `${first.content}\n\n${prompt}` }, ...messages.slice(1)];
  return [{ role: 'system', content: prompt }, ...messages];
}

/** "+3 −1 lines" for an edit (lines that differ between the common start and end), "new file, 12 lines". */
export function editSummary(original: string | undefined, proposed: string): string {
  const b = splitLines(proposed);
  if (original === undefined) return `new file, ${b.length} line${b.length === 1 ? '' : 's'}`;
  const a = splitLines(original);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  const removed = a.length - start - end;
  const added = b.length - start - end;
  if (!removed && !added) return 'line endings or whitespace at the end';
  return `+${added} −${removed} line${added + removed === 1 ? '' : 's'}`;
}

export function approvalView(req: ApprovalRequest, approvals: Pick<ToolApprovals, 'canAlwaysAllow'>): ToolApprovalView {
  switch (req.kind) {
    case 'edit':
      return {
        kind: 'edit', path: req.path.display, summary: editSummary(req.original, req.proposed), created: req.original === undefined,
        ...(req.explanation ? { explanation: req.explanation } : {}),
      };
    case 'command':
      return { kind: 'command', command: req.command, cwd: req.cwd.display };
    case 'sensitiveRead':
      return { kind: 'sensitiveRead', path: req.path.display, reason: req.reason, ...(approvals.canAlwaysAllow(req) ? { alwaysAllow: alwaysAllowText(req) } : {}) };
  }
}

function cardOf(c: ToolCallInfo, approvals: Pick<ToolApprovals, 'canAlwaysAllow' | 'remembered'>): ToolCallView {
  // A request the user allowed for good earlier is accepted at once: the card does not flash Accept / Reject.
  if (c.status === 'awaitingApproval' && c.approval && approvals.remembered(c.approval)) c = { ...c, status: 'running', approval: undefined };
  return {
    id: c.id,
    name: c.name,
    arguments: clipForCard(c.arguments, MAX_CARD_ARGUMENTS_CHARS),
    ...(c.arguments.length > MAX_CARD_ARGUMENTS_CHARS ? { argumentsChars: c.arguments.length } : {}),
    status: c.status,
    ...(c.result !== undefined ? { resultPreview: clipForCard(c.result, MAX_CARD_RESULT_CHARS) } : {}),
    ...(c.isError ? { isError: true } : {}),
    ...(c.durationMs !== undefined ? { durationMs: Math.round(c.durationMs) } : {}),
    index: c.index,
    readOnly: c.readOnly,
    ...(c.status === 'awaitingApproval' && c.approval ? { approval: approvalView(c.approval, approvals) } : {}),
  };
}

/** Maps the loop's events onto the panel's messages and the conversation. */
export class ToolTurnView {
  private cards: ToolCallView[] = [];
  private readonly args = new Map<number, string>();
  private lastCardPost = -Infinity;
  private cardTimer: ReturnType<typeof setTimeout> | undefined;
  private hinted = false;

  constructor(
    private readonly turn: LiveTurn,
    private readonly host: ToolRunHost,
    private readonly approvals: Pick<ToolApprovals, 'canAlwaysAllow' | 'remembered'>,
  ) {}

  readonly onEvent = (e: ToolLoopEvent): void => {
    switch (e.kind) {
      case 'roundStart':
        if (e.round > 1) this.startRound();
        break;
      case 'chat':
        // The text itself is appended to the live turn by streamChat (roundText).
        if (e.event.kind === 'thinking') this.host.text('t', e.event.text);
        else if (e.event.kind === 'answer') this.host.text('a', e.event.text);
        break;
      case 'toolCallDelta': {
        const text = appendStreamed(this.args.get(e.index) ?? '', e.argumentsDelta);
        this.args.set(e.index, text);
        const card = this.cards[e.index];
        if (card && card.status === 'streaming') {
          this.cards[e.index] = {
            ...card,
            ...(e.name ? { name: e.name } : {}),
            arguments: clipForCard(text, MAX_CARD_ARGUMENTS_CHARS),
            ...(text.length > MAX_CARD_ARGUMENTS_CHARS ? { argumentsChars: text.length } : {}),
          };
          this.scheduleCards();
        }
        break;
      }
      case 'toolCall':
        this.cards[e.call.index] = cardOf(e.call, this.approvals);
        this.postCards();
        break;
      case 'hint':
        if (!this.hinted) {
          this.hinted = true;
          this.host.notice('info', e.message);
        }
        break;
      case 'roundEnd':
        this.endRound(e.turn, e.more);
        break;
      case 'maxRounds':
        this.host.notice('info', e.message);
        break;
    }
  };

  /** The loop's roundText: the live turn of the round that starts (its roundStart event came first). */
  readonly roundText = (): AssistantTurn => this.turn.assistant;

  /** The loop itself failed (a bug: it reports request failures in its result): the live turn ends with the error. */
  failed(error: ChatErrorInit): void {
    const live = this.turn.assistant;
    const i = this.turn.conv.turns.indexOf(live);
    if (i < 0) return;
    const final: AssistantTurn = { ...live, error, durationMs: Math.round(this.host.now() - live.createdAt) };
    this.turn.conv.turns[i] = final;
    this.turn.assistant = final;
    this.host.post({ type: 'turnFinished', assistantId: final.id, meta: assistantMeta(final) });
  }

  dispose(): void {
    if (this.cardTimer) clearTimeout(this.cardTimer);
    this.cardTimer = undefined;
  }

  private startRound(): void {
    const now = this.host.now();
    const prev = this.turn.assistant;
    const live: AssistantTurn = {
      role: 'assistant', id: randomUUID(), createdAt: now, mode: prev.mode, ...(prev.model ? { model: prev.model } : {}),
      thinking: '', answer: '', toolCalls: [], error: INTERRUPTED_AGAIN,
    };
    this.turn.conv.turns.push(live);
    this.turn.conv.updatedAt = now;
    this.turn.assistant = live;
    this.turn.startMeta = { ...this.turn.startMeta, startedAt: now, metrics: {}, toolCalls: [] };
    this.cards = [];
    this.args.clear();
    this.turn.calls = this.cards;
    this.host.post({ type: 'turnStarted', assistantId: live.id, meta: this.turn.startMeta });
  }

  private endRound(stored: AssistantTurn, more: boolean): void {
    this.flushCards();
    const live = this.turn.assistant;
    const final: AssistantTurn = {
      ...stored, id: live.id, createdAt: live.createdAt,
      ...(this.turn.abort.signal.aborted && !more ? { stopped: true } : {}),
    };
    if (final.error?.action === 'restartServerWithFlags' && !this.host.canRestartServer?.()) {
      const { action: _offered, ...error } = final.error;
      final.error = error;
    }
    const i = this.turn.conv.turns.indexOf(live);
    if (i >= 0) this.turn.conv.turns[i] = final;
    else this.turn.conv.turns.push(final);
    this.turn.conv.updatedAt = this.host.now();
    this.turn.assistant = final;
    this.host.post({ type: 'turnFinished', assistantId: final.id, meta: { ...assistantMeta(final), ...(more ? { continued: true } : {}) } });
  }

  private scheduleCards(): void {
    if (this.cardTimer) return;
    const wait = Math.max(0, this.lastCardPost + CARD_POST_INTERVAL_MS - this.host.now());
    this.cardTimer = setTimeout(() => {
      this.cardTimer = undefined;
      this.postCards();
    }, wait);
  }

  private flushCards(): void {
    if (this.cardTimer) {
      clearTimeout(this.cardTimer);
      this.cardTimer = undefined;
      this.postCards();
    }
  }

  private postCards(): void {
    if (this.cardTimer) {
      clearTimeout(this.cardTimer);
      this.cardTimer = undefined;
    }
    this.lastCardPost = this.host.now();
    const calls = this.cards.filter((c): c is ToolCallView => c !== undefined);
    this.turn.calls = calls;
    this.host.post({ type: 'toolCalls', assistantId: this.turn.assistant.id, calls });
  }
}

/** What a round streaming when the window closes is saved with (the final save replaces it). */
const INTERRUPTED_AGAIN: ChatErrorInit = {
  kind: 'connectionDropped',
  retryable: true,
  message: 'VS Code closed (or the window reloaded) while this answer was streaming; the partial answer is kept.',
};

/** The registry, port and prompt a tool turn runs with. */
export interface TurnTools {
  registry: ToolRegistry;
  port?: WorkspacePort;
  maxRounds: number;
  systemPrompt?: string;
  approvals: ToolApprovals;
}
