// The tool calls of an assistant turn as cards: a one-line header (status icon, tool name, its main argument,
// status, duration) that expands (a <details>, so click / Enter / Space) to the arguments as pretty JSON and the
// result; a one-line preview of the result while collapsed; and, while the call waits for the user, what it asks
// with Accept / Reject (and "Always allow" for reads). Cards are keyed by their position in the turn and updated in
// place, so an expanded card stays expanded and a focused button keeps the focus while statuses change.
import type { ToolApprovalView, ToolCallView, WebviewToHost } from '../../shared/protocol';
import { button, el } from './dom';
import { formatDuration, formatInt } from './format';

type Status = ToolCallView['status'];

const STATUS_TEXT: Record<Status, string> = {
  streaming: 'writing…',
  pending: 'queued',
  awaitingApproval: 'waiting for you',
  running: 'running…',
  done: 'done',
  error: 'failed',
  rejected: 'rejected',
  cancelled: 'stopped',
  skipped: 'not run',
};

/** A glyph per status (decorative: the status text says it in words). */
const STATUS_ICON: Record<Status, string> = {
  streaming: '…',
  pending: '○',
  awaitingApproval: '?',
  running: '◌',
  done: '✓',
  error: '✕',
  rejected: '⊘',
  cancelled: '■',
  skipped: '↷',
};

/** The argument that says what a call is about, for the header. */
const TARGET_KEYS = ['path', 'glob', 'query', 'command'] as const;

function parseArgs(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function targetOf(args: unknown): string {
  if (!args || typeof args !== 'object') return '';
  for (const k of TARGET_KEYS) {
    const v = (args as Record<string, unknown>)[k];
    if (typeof v === 'string' && v !== '') return v.length > 120 ? `${v.slice(0, 119)}…` : v;
  }
  return '';
}

function prettyArgs(c: ToolCallView, args: unknown): string {
  const text = args === undefined ? c.arguments : JSON.stringify(args, null, 2);
  return c.argumentsChars !== undefined ? `${text}\n… (${formatInt(c.argumentsChars)} characters in all; the rest is left out here)` : text;
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

class ToolCard {
  readonly element: HTMLLIElement;
  private readonly details: HTMLDetailsElement;
  private readonly summary: HTMLElement;
  private readonly icon: HTMLSpanElement;
  private readonly nameEl: HTMLSpanElement;
  private readonly targetEl: HTMLSpanElement;
  private readonly statusEl: HTMLSpanElement;
  private readonly durationEl: HTMLSpanElement;
  private readonly argsEl: HTMLPreElement;
  private readonly resultBox: HTMLDivElement;
  private readonly resultEl: HTMLPreElement;
  private readonly previewEl: HTMLParagraphElement;
  private readonly approvalEl: HTMLDivElement;
  private view: ToolCallView | undefined;
  private approvalKey = '';

  constructor(private readonly post: (msg: WebviewToHost) => void) {
    this.icon = el('span', { className: 'tool-icon', attrs: { 'aria-hidden': 'true' } });
    this.nameEl = el('span', { className: 'tool-name' });
    this.targetEl = el('span', { className: 'tool-target' });
    this.statusEl = el('span', { className: 'tool-status' });
    this.durationEl = el('span', { className: 'tool-duration' });
    const summary = el('summary', { className: 'tool-summary' }, this.icon, this.nameEl, this.targetEl, this.statusEl, this.durationEl);
    this.summary = summary;
    this.argsEl = el('pre', { className: 'tool-args' });
    this.resultEl = el('pre', { className: 'tool-result' });
    this.resultBox = el('div', { className: 'tool-section' }, el('div', { className: 'tool-label', text: 'Result' }), this.resultEl);
    const body = el('div', { className: 'tool-body' }, el('div', { className: 'tool-section' }, el('div', { className: 'tool-label', text: 'Arguments' }), this.argsEl), this.resultBox);
    this.details = el('details', { className: 'tool-details' }, summary, body);
    this.previewEl = el('p', { className: 'tool-preview' });
    this.approvalEl = el('div', { className: 'tool-approval', attrs: { role: 'group' } });
    this.approvalEl.hidden = true;
    this.element = el('li', { className: 'tool-card' }, this.details, this.previewEl, this.approvalEl);
  }

  update(c: ToolCallView): void {
    const prev = this.view;
    this.view = c;
    this.element.dataset['status'] = c.status;
    this.element.dataset['tool'] = c.name;
    this.element.classList.toggle('is-error', !!c.isError || c.status === 'error');
    this.icon.textContent = STATUS_ICON[c.status] ?? '•';
    this.nameEl.textContent = c.name || 'tool';
    const args = parseArgs(c.arguments);
    this.targetEl.textContent = targetOf(args);
    this.statusEl.textContent = STATUS_TEXT[c.status] ?? c.status;
    const showDuration = c.durationMs !== undefined && c.status !== 'running' && c.status !== 'awaitingApproval';
    this.durationEl.textContent = showDuration ? formatDuration(c.durationMs!) : '';
    this.durationEl.hidden = !showDuration;
    if (!prev || prev.arguments !== c.arguments || prev.argumentsChars !== c.argumentsChars) this.argsEl.textContent = prettyArgs(c, args);
    const result = c.resultPreview ?? '';
    if (!prev || prev.resultPreview !== c.resultPreview) {
      this.resultEl.textContent = result;
      this.previewEl.textContent = firstLine(result);
    }
    this.resultBox.hidden = result === '';
    this.previewEl.hidden = result === '';
    this.details.setAttribute('aria-label', `${c.name} ${this.targetEl.textContent}, ${this.statusEl.textContent}`.replace(/\s+,/, ','));
    this.renderApproval(c.status === 'awaitingApproval' ? c.approval : undefined, c);
  }

  private renderApproval(a: ToolApprovalView | undefined, c: ToolCallView): void {
    const key = a ? `${c.id}\n${JSON.stringify(a)}` : '';
    if (key === this.approvalKey) return;
    const hadFocus = this.approvalEl.contains(document.activeElement);
    this.approvalKey = key;
    this.approvalEl.hidden = !a;
    if (!a) {
      this.approvalEl.replaceChildren();
      // Keep the keyboard in the card that was just answered.
      if (hadFocus) this.summary.focus({ preventScroll: true });
      return;
    }
    const parts: Node[] = [];
    const decide = (decision: 'accept' | 'reject' | 'always') => {
      // The buttons are disabled (one answer per request) and go away once the host moves on: the keyboard stays in
      // this card, on its header.
      const hadFocus = this.approvalEl.contains(document.activeElement);
      for (const b of this.approvalEl.querySelectorAll('button')) b.disabled = true;
      if (hadFocus) this.summary.focus({ preventScroll: true });
      this.post({ type: 'approveToolCall', callId: c.id, decision });
    };
    let acceptLabel = 'Accept';
    switch (a.kind) {
      case 'edit':
        parts.push(el('p', { className: 'approval-text', text: a.created ? `Kimi wants to create ${a.path} (${a.summary}).` : `Kimi wants to edit ${a.path} (${a.summary}).` }));
        if (a.explanation) parts.push(el('p', { className: 'approval-explanation', text: a.explanation }));
        parts.push(el('p', { className: 'approval-hint', text: 'The change is open in a diff editor.' }));
        acceptLabel = 'Accept Edit';
        break;
      case 'command':
        parts.push(el('p', { className: 'approval-text', text: `Kimi wants to run a command in ${a.cwd === '.' ? 'the workspace folder' : a.cwd}:` }));
        parts.push(el('pre', { className: 'approval-command', text: a.command }));
        acceptLabel = 'Run';
        break;
      case 'sensitiveRead':
        parts.push(el('p', { className: 'approval-text', text: `Kimi wants to read ${a.path}: ${a.reason}.` }));
        acceptLabel = 'Allow';
        break;
    }
    const what = a.kind === 'command' ? 'the command' : a.kind === 'edit' ? `the edit to ${a.path}` : `reading ${a.path}`;
    const actions = el('div', { className: 'actions approval-actions' },
      button(acceptLabel, () => decide('accept'), { className: 'primary small', ariaLabel: `${acceptLabel}: ${what}` }),
      button('Reject', () => decide('reject'), { className: 'secondary small', ariaLabel: `Reject ${what}` }),
    );
    if (a.kind === 'sensitiveRead' && a.alwaysAllow) {
      actions.append(button('Always Allow', () => decide('always'), { className: 'secondary small', title: a.alwaysAllow, ariaLabel: a.alwaysAllow }));
    }
    parts.push(actions);
    this.approvalEl.setAttribute('aria-label', `${c.name} needs your approval`);
    this.approvalEl.replaceChildren(...parts);
  }
}

/** The list of cards of one turn. */
export class ToolCardList {
  readonly element: HTMLUListElement;
  private readonly cards: ToolCard[] = [];

  constructor(private readonly post: (msg: WebviewToHost) => void) {
    this.element = el('ul', { className: 'tool-calls', attrs: { 'aria-label': 'Tool calls' } });
    this.element.hidden = true;
  }

  set(calls: readonly ToolCallView[]): void {
    calls.forEach((c, i) => {
      const at = c.index ?? i;
      let card = this.cards[at];
      if (!card) {
        card = new ToolCard(this.post);
        this.cards[at] = card;
      }
      card.update(c);
    });
    // In index order; cards the host no longer lists go away.
    const wanted = new Set(calls.map((c, i) => c.index ?? i));
    this.cards.forEach((card, i) => {
      if (card && !wanted.has(i)) {
        card.element.remove();
        delete this.cards[i];
      }
    });
    const order = this.cards.filter((c): c is ToolCard => c !== undefined).map((c) => c.element);
    order.forEach((node, i) => {
      if (this.element.children[i] !== node) this.element.insertBefore(node, this.element.children[i] ?? null);
    });
    this.element.hidden = order.length === 0;
  }
}
