// The message input and its controls: Thinking / Instant, attach file / selection, attachment and image chips,
// Send (Stop while a turn streams), the reason the server cannot answer yet (with the button that fixes it), and the
// host's composerError next to the input. The draft is kept whenever a message does not go out.
import type { ComposerStateView, WebviewToHost } from '../../shared/protocol';
import { button, el } from './dom';
import { attachmentLabel, formatBytes, formatInt } from './format';
import type { Host } from './host';

// These mirror PROTOCOL_LIMITS in src/shared/protocol.ts. Importing that value would pull zod into the webview
// bundle (+25 KB), so the two numbers are repeated here; the host enforces the real limits anyway.
const MAX_IMAGE_DATA_URL_CHARS = 14_000_000;
const MAX_IMAGES_PER_MESSAGE = 8;

const BLOCKED_ACTION: Record<NonNullable<NonNullable<ComposerStateView['blocked']>['action']>, { label: string; command: 'kimi.startServer' | 'kimi.setApiKey' | 'kimi.openSettings' }> = {
  startServer: { label: 'Start Server', command: 'kimi.startServer' },
  setApiKey: { label: 'Set API Key', command: 'kimi.setApiKey' },
  openSettings: { label: 'Settings', command: 'kimi.openSettings' },
};

const PLACEHOLDER = 'Ask Kimi… (Enter to send, Shift+Enter for a new line)';

export class Composer {
  readonly element: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly blockedBox: HTMLDivElement;
  private readonly chips: HTMLUListElement;
  private readonly errorEl: HTMLParagraphElement;
  private readonly modeButtons: Record<ComposerStateView['mode'], HTMLButtonElement>;
  private state: ComposerStateView = { mode: 'thinking', busy: false, attachments: [], images: [] };
  /** A send is on its way to the host and not answered yet (no double sends). */
  private sentText: string | undefined;
  private chipsKey = '';

  constructor(
    private readonly post: (msg: WebviewToHost) => void,
    private readonly host: Host,
  ) {
    this.input = el('textarea', {
      className: 'composer-input',
      attrs: { 'aria-label': 'Message to Kimi', rows: '2', placeholder: PLACEHOLDER, 'aria-keyshortcuts': 'Enter' },
    });
    this.input.value = host.loadState().draft ?? '';
    this.input.addEventListener('keydown', (ev) => this.onKeyDown(ev));
    this.input.addEventListener('input', () => this.saveDraft());
    this.input.addEventListener('paste', (ev) => this.onPaste(ev));

    this.blockedBox = el('div', { className: 'composer-blocked', attrs: { role: 'status' } });
    this.blockedBox.hidden = true;
    this.chips = el('ul', { className: 'chips composer-chips', attrs: { 'aria-label': 'Attached to the next message' } });
    this.chips.hidden = true;
    this.errorEl = el('p', { className: 'composer-error', attrs: { role: 'alert' } });
    this.errorEl.hidden = true;

    const mode = (m: ComposerStateView['mode'], label: string, title: string) =>
      button(label, () => this.setMode(m), { className: 'mode-option', title });
    this.modeButtons = {
      thinking: mode('thinking', 'Thinking', 'Kimi reasons first (shown in a Thinking block), then answers'),
      instant: mode('instant', 'Instant', 'Kimi answers at once, without thinking'),
    };
    const modeSwitch = el('div', { className: 'mode-switch', attrs: { role: 'group', 'aria-label': 'Mode' } }, this.modeButtons.thinking, this.modeButtons.instant);

    const attachFile = button('+ File', () => this.post({ type: 'attach', what: 'file' }), { className: 'secondary small', ariaLabel: 'Attach current file', title: 'Attach the file open in the editor' });
    const attachSel = button('+ Selection', () => this.post({ type: 'attach', what: 'selection' }), { className: 'secondary small', ariaLabel: 'Attach selection', title: 'Attach the selected lines of the editor' });

    this.sendButton = button('Send', () => (this.state.busy ? this.post({ type: 'stop' }) : this.submit()), { className: 'primary send' });

    this.element = el(
      'form',
      { className: 'composer', attrs: { 'aria-label': 'Message composer' } },
      this.blockedBox,
      el('div', { className: 'composer-attach' }, attachFile, attachSel, this.chips),
      this.input,
      this.errorEl,
      el('div', { className: 'composer-toolbar' }, modeSwitch, el('span', { className: 'spacer' }), this.sendButton),
    );
    this.element.addEventListener('submit', (ev) => ev.preventDefault());
    this.element.addEventListener('dragover', (ev) => {
      if (ev.dataTransfer && [...ev.dataTransfer.types].includes('Files')) {
        ev.preventDefault();
        ev.dataTransfer.dropEffect = 'copy';
        this.element.classList.add('drag-over');
      }
    });
    this.element.addEventListener('dragleave', () => this.element.classList.remove('drag-over'));
    this.element.addEventListener('drop', (ev) => {
      this.element.classList.remove('drag-over');
      const files = [...(ev.dataTransfer?.files ?? [])];
      if (!files.length) return;
      ev.preventDefault();
      this.addImageFiles(files);
    });
    this.render();
  }

  get busy(): boolean {
    return this.state.busy;
  }

  get blockedAction(): NonNullable<ComposerStateView['blocked']>['action'] | undefined {
    return this.state.blocked?.action;
  }

  setState(state: ComposerStateView): void {
    this.state = state;
    this.sentText = state.busy ? undefined : this.sentText;
    this.render();
  }

  /** A turn started: if it carries the message we sent, the draft went out and is cleared. */
  turnStarted(userText: string | undefined): void {
    if (this.sentText !== undefined && userText !== undefined && this.input.value === this.sentText) {
      this.input.value = '';
      this.saveDraft();
    }
    this.sentText = undefined;
    this.hideError();
    this.render();
  }

  /** The host did not send what the user tried; the draft stays. */
  showError(message: string): void {
    this.sentText = undefined;
    this.errorEl.textContent = message;
    this.errorEl.hidden = false;
    this.render();
  }

  prefill(text: string): void {
    this.input.value = text;
    this.saveDraft();
    this.focus();
  }

  focus(): void {
    this.input.focus();
    const end = this.input.value.length;
    this.input.setSelectionRange(end, end);
  }

  /** Images (pasted, dropped) → data URLs → addImage; the host checks them and answers with `composer`. */
  addImageFiles(files: File[]): void {
    const images = files.filter((f) => f.type.startsWith('image/'));
    if (!images.length) {
      this.showError('Only images can be added here: drop or paste a PNG, JPEG, WebP or GIF.');
      return;
    }
    let room = MAX_IMAGES_PER_MESSAGE - this.state.images.length;
    for (const file of images) {
      if (room-- <= 0) {
        this.showError(`At most ${MAX_IMAGES_PER_MESSAGE} images can go with one message.`);
        return;
      }
      const reader = new FileReader();
      reader.addEventListener('load', () => {
        const dataUrl = typeof reader.result === 'string' ? reader.result : '';
        if (!dataUrl.startsWith('data:image/')) {
          this.showError(`${file.name || 'The image'} could not be read as an image.`);
        } else if (dataUrl.length > MAX_IMAGE_DATA_URL_CHARS) {
          this.showError(`${file.name || 'The image'} is too large (${formatBytes(file.size)}); images can be at most 10 MB.`);
        } else {
          this.hideError();
          this.post({ type: 'addImage', image: { ...(file.name ? { name: file.name.slice(0, 255) } : {}), dataUrl } });
        }
      });
      reader.addEventListener('error', () => this.showError(`${file.name || 'The image'} could not be read.`));
      reader.readAsDataURL(file);
    }
  }

  private setMode(mode: ComposerStateView['mode']): void {
    if (mode === this.state.mode) return;
    this.state = { ...this.state, mode }; // shown at once; the host's next `composer` confirms it
    this.render();
    this.post({ type: 'setMode', mode });
  }

  private onKeyDown(ev: KeyboardEvent): void {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
      ev.preventDefault();
      this.submit();
    }
  }

  private onPaste(ev: ClipboardEvent): void {
    const files = [...(ev.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (!files.length) return; // ordinary text paste
    ev.preventDefault();
    this.addImageFiles(files);
  }

  private submit(): void {
    if (this.state.busy || this.sentText !== undefined) return;
    if (this.state.blocked) {
      this.blockedBox.classList.remove('flash');
      void this.blockedBox.offsetWidth; // restart the attention animation
      this.blockedBox.classList.add('flash');
      return;
    }
    const text = this.input.value;
    if (!text.trim() && this.state.images.length === 0) return;
    this.hideError();
    this.sentText = text;
    this.post({ type: 'send', text });
    this.render();
  }

  private removeChip(msg: Extract<WebviewToHost, { type: 'removeAttachment' | 'removeImage' }>): void {
    this.post(msg);
    this.input.focus(); // the chip (and its button) goes away with the host's answer
  }

  private hideError(): void {
    this.errorEl.hidden = true;
    this.errorEl.textContent = '';
  }

  private saveDraft(): void {
    this.host.saveState({ draft: this.input.value });
  }

  private render(): void {
    const s = this.state;
    this.element.classList.toggle('busy', s.busy);
    this.element.classList.toggle('blocked', !!s.blocked);
    for (const [m, b] of Object.entries(this.modeButtons)) b.setAttribute('aria-pressed', String(m === s.mode));

    // Send ⇄ Stop
    if (s.busy) {
      this.sendButton.textContent = 'Stop';
      this.sendButton.className = 'secondary send stop';
      this.sendButton.setAttribute('aria-keyshortcuts', 'Escape');
      this.sendButton.title = 'Stop the answer (Esc); the text so far stays';
      this.sendButton.disabled = false;
    } else {
      this.sendButton.textContent = 'Send';
      this.sendButton.className = 'primary send';
      this.sendButton.setAttribute('aria-keyshortcuts', 'Enter');
      this.sendButton.title = s.blocked ? s.blocked.reason : 'Send (Enter)';
      this.sendButton.disabled = !!s.blocked || this.sentText !== undefined;
    }

    // Why the server cannot answer, with the button that fixes it.
    if (s.blocked) {
      const parts: Node[] = [el('span', { className: 'blocked-reason', text: s.blocked.reason })];
      const action = s.blocked.action ? BLOCKED_ACTION[s.blocked.action] : undefined;
      if (action) parts.push(button(action.label, () => this.post({ type: 'runCommand', command: action.command }), { className: 'primary small' }));
      this.blockedBox.replaceChildren(...parts);
      this.blockedBox.hidden = false;
    } else {
      this.blockedBox.hidden = true;
      this.blockedBox.replaceChildren();
    }

    // What goes with the next message (rebuilt only when it changed: thumbnails are big data URLs).
    const chipsKey = JSON.stringify([s.attachments, s.images.map((i) => [i.name, i.bytes, i.dataUrl.length, i.dataUrl.slice(-48)])]);
    if (chipsKey === this.chipsKey) return;
    this.chipsKey = chipsKey;
    const chips: HTMLElement[] = [];
    s.attachments.forEach((a, index) => {
      const label = attachmentLabel(a);
      chips.push(
        el(
          'li',
          { className: `chip chip-${a.kind}`, attrs: { title: `${a.kind === 'file' ? 'File' : 'Selection'} · ${formatInt(a.chars)} characters` } },
          el('span', { className: 'chip-label', text: label }),
          button('×', () => this.removeChip({ type: 'removeAttachment', index }), { className: 'chip-remove', ariaLabel: `Remove ${label}` }),
        ),
      );
    });
    s.images.forEach((img, index) => {
      const name = img.name ?? `image ${index + 1}`;
      const thumb = el('img', { className: 'thumb', attrs: { alt: name } });
      thumb.src = img.dataUrl;
      chips.push(
        el(
          'li',
          { className: 'chip chip-image', attrs: { title: `${name} · ${formatBytes(img.bytes)}` } },
          thumb,
          button('×', () => this.removeChip({ type: 'removeImage', index }), { className: 'chip-remove', ariaLabel: `Remove ${name}` }),
        ),
      );
    });
    this.chips.replaceChildren(...chips);
    this.chips.hidden = chips.length === 0;
  }
}
