// The history drawer: past conversations (title, when, how many messages) to reopen or delete. It asks the host for
// the list each time it opens (and gets it again after every change); the host confirms a delete.
import type { HistoryItemView, WebviewToHost } from '../../shared/protocol';
import { button, el } from './dom';
import { relativeTime } from './format';

export class HistoryDrawer {
  readonly element: HTMLElement;
  readonly toggle: HTMLButtonElement;
  private readonly list: HTMLUListElement;
  private readonly status: HTMLParagraphElement;
  private readonly problems: HTMLDivElement;
  private items: HistoryItemView[] | undefined;

  constructor(
    private readonly post: (msg: WebviewToHost) => void,
    private readonly currentConversationId: () => string | undefined,
  ) {
    this.toggle = button('History', () => (this.isOpen ? this.close() : this.open()), { className: 'secondary small', title: 'Past conversations' });
    this.toggle.setAttribute('aria-expanded', 'false');
    this.toggle.setAttribute('aria-controls', 'history-drawer');
    this.list = el('ul', { className: 'history-list', attrs: { 'aria-label': 'Conversations' } });
    this.status = el('p', { className: 'history-status', attrs: { role: 'status' } });
    this.problems = el('div', { className: 'history-problems', attrs: { role: 'alert' } });
    this.problems.hidden = true;
    const heading = el('h2', { className: 'history-title', text: 'History', attrs: { id: 'history-title', tabindex: '-1' } });
    this.element = el(
      'section',
      { className: 'history', attrs: { id: 'history-drawer', 'aria-labelledby': 'history-title' } },
      el('div', { className: 'history-head' }, heading, button('Close', () => this.close(), { className: 'secondary small', ariaLabel: 'Close history' })),
      this.problems,
      this.status,
      this.list,
    );
    this.element.hidden = true;
    this.element.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape') return;
      ev.preventDefault();
      ev.stopPropagation();
      this.close();
    });
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  open(): void {
    this.element.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    this.render(); // what the host sent last, refreshed by the answer to listHistory
    this.post({ type: 'listHistory' });
    this.element.querySelector<HTMLElement>('.history-title')?.focus();
  }

  close(): void {
    if (!this.isOpen) return;
    this.element.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
    this.toggle.focus();
  }

  setItems(items: HistoryItemView[], problems: string[]): void {
    this.items = [...items].sort((a, b) => b.updatedAt - a.updatedAt);
    this.problems.replaceChildren(...problems.map((p) => el('p', { text: p })));
    this.problems.hidden = problems.length === 0;
    const focusedId = (document.activeElement as HTMLElement | null)?.closest?.<HTMLElement>('.history-item')?.dataset['id'];
    this.render();
    if (focusedId && this.isOpen) {
      // Keep the keyboard where it was: the same row, or the next one after a delete.
      const row = this.list.querySelector<HTMLElement>(`.history-item[data-id="${CSS.escape(focusedId)}"] .history-open`) ?? this.list.querySelector<HTMLElement>('.history-open');
      (row ?? this.element.querySelector<HTMLElement>('.history-title'))?.focus();
    }
  }

  private render(): void {
    if (!this.items) {
      this.status.textContent = 'Loading…';
      this.status.hidden = false;
      this.list.replaceChildren();
      return;
    }
    this.status.hidden = this.items.length > 0;
    this.status.textContent = this.items.length ? '' : 'No saved conversations yet.';
    const current = this.currentConversationId();
    const now = Date.now();
    this.list.replaceChildren(
      ...this.items.map((item) => {
        const li = el('li', { className: `history-item${item.id === current ? ' current' : ''}` });
        li.dataset['id'] = item.id;
        const open = el(
          'button',
          { className: 'history-open', attrs: { type: 'button', 'aria-current': item.id === current ? 'true' : 'false' } },
          el('span', { className: 'history-item-title', text: item.title }),
          el('span', { className: 'history-meta', text: `${relativeTime(item.updatedAt, now)} · ${item.turnCount} ${item.turnCount === 1 ? 'message' : 'messages'}` }),
        );
        open.addEventListener('click', () => {
          this.post({ type: 'openConversation', id: item.id });
          this.close();
        });
        // The host asks for confirmation (a modal dialog) before deleting.
        const del = button('Delete', () => this.post({ type: 'deleteConversation', id: item.id }), {
          className: 'secondary small history-delete',
          ariaLabel: `Delete “${item.title}”`,
        });
        li.append(open, del);
        return li;
      }),
    );
  }
}
