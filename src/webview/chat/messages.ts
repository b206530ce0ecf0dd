// The conversation: the scrolling list of turns. New turns are appended and finished turns are never rendered
// again; streamed text goes to the one streaming turn. The view stays pinned to the bottom while text arrives unless
// the user scrolled up, in which case a "Jump to latest" button appears.
import type { AssistantTurnMeta, ConversationView, StreamDelta, ToolCallView, UserTurnView, WebviewToHost } from '../../shared/protocol';
import { AssistantTurn } from './assistantTurn';
import { button, el } from './dom';
import { UserTurn } from './userTurn';

/** How close to the bottom (px) still counts as "at the bottom". */
const PIN_SLACK = 24;

export class MessageList {
  /** The positioned wrapper: the scroller plus the floating "Jump to latest" button. */
  readonly element: HTMLDivElement;
  readonly scroller: HTMLDivElement;
  private log: HTMLDivElement;
  private readonly resizes: ResizeObserver;
  private readonly empty: HTMLDivElement;
  private readonly jump: HTMLButtonElement;
  private turns: (UserTurn | AssistantTurn)[] = [];
  private current: AssistantTurn | undefined;
  private pinned = true;
  /** Where the list was when last seen (a scroll event, a layout change, a stick): what the next scroll is judged against. */
  private seen = { top: 0, height: 0, client: 0 };
  private lastUser: UserTurn | undefined;
  private lastAssistant: AssistantTurn | undefined;

  constructor(private readonly post: (msg: WebviewToHost) => void) {
    this.empty = el(
      'div',
      { className: 'empty' },
      el('p', { className: 'empty-title', text: 'Ask Kimi anything.' }),
      el('p', { className: 'empty-hint', text: 'Enter sends · Shift+Enter adds a line · Esc stops an answer. Attach the current file or selection, or paste an image.' }),
    );
    this.log = newLog();
    this.scroller = el('div', { className: 'messages', attrs: { tabindex: '0', 'aria-label': 'Messages' } }, this.empty, this.log);
    this.jump = button('Jump to latest', () => this.scrollToBottom(), { className: 'secondary jump-latest', ariaLabel: 'Jump to the latest message' });
    this.jump.hidden = true;
    this.element = el('div', { className: 'messages-wrap' }, this.scroller, this.jump);

    this.scroller.addEventListener('scroll', () => {
      // Only the user's scroll up leaves the bottom. The browser scrolls the list by itself too, and also up: it clamps
      // scrollTop when the content shrinks, and scroll anchoring moves it when something above what is in view changes
      // size (a new markdown chunk is a 2000 px content-visibility placeholder until it is first rendered). Such a
      // scroll comes with a layout change, and its event can arrive a frame later, when new content (a tool card) has
      // made the list taller again: neither "it went up" nor "it is off the bottom" tells it from the user's. So a
      // scroll up counts only over the layout last seen (here, by the ResizeObserver or by stick()); after a layout
      // change a pinned list goes back to the bottom (a user's scroll in that very frame is lost, the next one counts).
      const s = this.scroller;
      const relaid = s.scrollHeight !== this.seen.height || s.clientHeight !== this.seen.client;
      if (this.atBottom()) this.pinned = true;
      else if (!relaid && s.scrollTop < this.seen.top) this.pinned = false;
      if (this.pinned && relaid) this.stick();
      else this.see();
      this.jump.hidden = this.pinned;
    }, { passive: true });
    // Content grows (a streamed frame was rendered, a turn was added, a block collapsed …) or the panel resizes.
    const onResize = () => {
      if (this.pinned) {
        this.stick();
      } else {
        this.see();
        this.jump.hidden = this.atBottom();
      }
    };
    this.resizes = new ResizeObserver(onResize);
    this.resizes.observe(this.log);
    this.resizes.observe(this.scroller);
  }

  get streamingTurnId(): string | undefined {
    return this.current?.id;
  }

  /** Replaces everything (a conversation opened, New chat, or the host truncated it for Regenerate/Edit). */
  setConversation(conv: ConversationView): void {
    for (const t of this.turns) if (t instanceof AssistantTurn) t.dispose();
    this.current = undefined;
    this.turns = conv.turns.map((t) => (t.role === 'user' ? new UserTurn(t, this.post) : AssistantTurn.finished(t, this.post)));
    // A fresh live region: a screen reader announces turns added later, not a whole reopened conversation.
    const log = newLog();
    log.append(...this.turns.map((t) => t.element));
    log.dataset['conversationId'] = conv.id;
    this.resizes.unobserve(this.log);
    this.log.replaceWith(log);
    this.log = log;
    this.resizes.observe(log);
    this.updateLast();
    this.pinned = true;
    this.stick();
  }

  startTurn(user: UserTurnView | undefined, assistantId: string, meta: AssistantTurnMeta): void {
    this.current?.abandon(); // never two streaming turns
    if (user) {
      // An edited message replaces its old self and everything after it.
      const at = this.turns.findIndex((t) => t.id === user.id);
      if (at >= 0) this.removeFrom(at);
      this.add(new UserTurn(user, this.post));
    }
    const turn = AssistantTurn.streaming(assistantId, meta, this.post);
    this.current = turn;
    this.add(turn);
    this.updateLast();
    // Sending is a request to see the answer: follow it.
    this.scrollToBottom();
  }

  delta(d: StreamDelta): void {
    const channel = d.charCodeAt(0);
    if (channel !== 116 /* t */ && channel !== 97 /* a */) return;
    let turn = this.current;
    if (!turn) {
      // Text for a turn shown from `conversation` (the panel was reloaded mid-answer): continue the last turn.
      const last = this.turns[this.turns.length - 1];
      if (!(last instanceof AssistantTurn)) return;
      turn = last.resume();
      last.dispose();
      this.turns[this.turns.length - 1] = turn;
      this.current = turn;
      this.updateLast();
    }
    const text = d.slice(1);
    if (channel === 116) turn.appendThinking(text);
    else turn.appendAnswer(text);
  }

  finishTurn(assistantId: string, meta: AssistantTurnMeta): void {
    const turn = this.current?.id === assistantId ? this.current : this.find(assistantId);
    if (!turn) return;
    turn.finish(meta);
    if (turn === this.current) this.current = undefined;
  }

  setToolCalls(assistantId: string, calls: ToolCallView[]): void {
    this.find(assistantId)?.setToolCalls(calls);
  }

  /** The host refused an edit: re-enable the editor that was waiting. */
  editRefused(): void {
    for (const t of this.turns) if (t instanceof UserTurn) t.editRefused();
  }

  get hasOpenEditor(): boolean {
    return this.turns.some((t) => t instanceof UserTurn && t.editing);
  }

  scrollToBottom(): void {
    this.pinned = true;
    this.jump.hidden = true;
    this.stick();
  }

  private find(id: string): AssistantTurn | undefined {
    const t = this.turns.find((x) => x.id === id);
    return t instanceof AssistantTurn ? t : undefined;
  }

  private add(turn: UserTurn | AssistantTurn): void {
    this.turns.push(turn);
    this.log.append(turn.element);
  }

  private removeFrom(index: number): void {
    for (const t of this.turns.splice(index)) {
      if (t instanceof AssistantTurn) t.dispose();
      t.element.remove();
    }
  }

  private updateLast(): void {
    let lastUser: UserTurn | undefined;
    let lastAssistant: AssistantTurn | undefined;
    for (let i = this.turns.length - 1; i >= 0 && (!lastUser || !lastAssistant); i--) {
      const t = this.turns[i];
      if (t instanceof UserTurn) lastUser ??= t;
      else if (t) lastAssistant ??= t;
    }
    if (this.lastUser !== lastUser) this.lastUser?.setLast(false);
    if (this.lastAssistant !== lastAssistant) this.lastAssistant?.setLast(false);
    lastUser?.setLast(true);
    lastAssistant?.setLast(true);
    this.lastUser = lastUser;
    this.lastAssistant = lastAssistant;
    this.empty.hidden = this.turns.length > 0;
  }

  private atBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= PIN_SLACK;
  }

  private stick(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.see();
  }

  private see(): void {
    const s = this.scroller;
    this.seen = { top: s.scrollTop, height: s.scrollHeight, client: s.clientHeight };
  }
}

function newLog(): HTMLDivElement {
  return el('div', {
    className: 'log',
    attrs: { role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Conversation' },
  });
}
