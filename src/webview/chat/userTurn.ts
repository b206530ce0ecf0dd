// One user message: its text (plain, never markdown), attachment chips, image thumbnails, and "Edit" on the last
// user message, which turns the text into an inline editor that sends `editResend`.
import type { UserTurnView, WebviewToHost } from '../../shared/protocol';
import { button, el } from './dom';
import { attachmentLabel, formatBytes, formatInt } from './format';

export class UserTurn {
  readonly element: HTMLElement;
  private readonly textEl: HTMLDivElement;
  private readonly editButton: HTMLButtonElement;
  private readonly actions: HTMLDivElement;
  private editor: { box: HTMLDivElement; input: HTMLTextAreaElement; send: HTMLButtonElement } | undefined;

  constructor(
    readonly view: UserTurnView,
    private readonly post: (msg: WebviewToHost) => void,
  ) {
    this.textEl = el('div', { className: 'user-text', text: view.text });
    this.editButton = button('Edit', () => this.openEditor(), { className: 'secondary small', ariaLabel: 'Edit and resend this message' });
    this.editButton.hidden = true;
    this.actions = el('div', { className: 'turn-actions' }, this.editButton);
    this.element = el('article', { className: 'turn turn-user', attrs: { 'aria-label': 'You' } }, el('div', { className: 'turn-role', text: 'You' }));
    this.element.dataset['turnId'] = view.id;
    if (view.attachments.length) {
      this.element.append(
        el(
          'ul',
          { className: 'chips', attrs: { 'aria-label': 'Attached' } },
          ...view.attachments.map((a) =>
            el('li', { className: `chip chip-${a.kind}`, text: attachmentLabel(a), attrs: { title: `${a.kind === 'file' ? 'File' : 'Selection'} · ${formatInt(a.chars)} characters` } }),
          ),
        ),
      );
    }
    if (view.images.length) {
      this.element.append(
        el(
          'div',
          { className: 'thumbs' },
          ...view.images.map((img) => {
            const i = el('img', { className: 'thumb', attrs: { alt: img.name ?? 'Image', title: `${img.name ?? 'Image'} · ${formatBytes(img.bytes)}` } });
            i.src = img.dataUrl;
            return i;
          }),
        ),
      );
    }
    this.element.append(this.textEl, this.actions);
  }

  get id(): string {
    return this.view.id;
  }

  /** Only the last user message can be edited. */
  setLast(last: boolean): void {
    this.editButton.hidden = !last;
    if (!last) this.closeEditor();
  }

  get editing(): boolean {
    return this.editor !== undefined;
  }

  private openEditor(): void {
    if (this.editor) return;
    const input = el('textarea', { className: 'edit-input', attrs: { 'aria-label': 'Edit your message', rows: '3' } });
    input.value = this.view.text;
    const send = button('Resend', () => this.submit(), { className: 'primary small', ariaLabel: 'Resend the edited message' });
    const cancel = button('Cancel', () => this.closeEditor(true), { className: 'secondary small' });
    const hint = el('span', { className: 'hint', text: 'Enter to resend · Esc to cancel' });
    const box = el('div', { className: 'edit-box' }, input, el('div', { className: 'edit-actions' }, send, cancel, hint));
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.submit();
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        ev.stopPropagation(); // Esc here cancels the edit, it does not stop a streaming turn
        this.closeEditor(true);
      }
    });
    this.editor = { box, input, send };
    this.textEl.hidden = true;
    this.actions.hidden = true;
    this.textEl.after(box);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  private submit(): void {
    const ed = this.editor;
    if (!ed || ed.send.disabled) return;
    const text = ed.input.value;
    if (!text.trim()) return;
    // Wait for the host: it answers with the replaced conversation (this element goes away) or a composerError.
    ed.send.disabled = true;
    ed.input.readOnly = true;
    this.element.classList.add('pending');
    this.post({ type: 'editResend', turnId: this.view.id, text });
  }

  /** The host refused the edit (composerError): let the user change it again. */
  editRefused(): void {
    if (!this.editor) return;
    this.editor.send.disabled = false;
    this.editor.input.readOnly = false;
    this.element.classList.remove('pending');
    this.editor.input.focus();
  }

  private closeEditor(focusEdit = false): void {
    if (!this.editor) return;
    this.editor.box.remove();
    this.editor = undefined;
    this.textEl.hidden = false;
    this.actions.hidden = false;
    this.element.classList.remove('pending');
    if (focusEdit) this.editButton.focus();
  }
}
