// The collapsible "Thinking" block of an assistant turn: a <details> whose summary shows a live timer while the
// model thinks ("Thinking… 12 s"), then how long it thought ("Thought for 41 s"). It closes by itself when the
// answer starts (unless the user opened or closed it meanwhile) and reopens on click / Enter / Space.
import { el } from './dom';
import { formatSeconds } from './format';
import { createStreamingMarkdown, renderMarkdown, type StreamingMarkdown } from '../markdown';

const TICK_MS = 250;

export class ThinkingBlock {
  readonly element: HTMLDetailsElement;
  private readonly label: HTMLSpanElement;
  private readonly body: HTMLDivElement;
  private md: StreamingMarkdown | undefined;
  private startedAt: number | undefined;
  private thoughtMs: number | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private userToggled = false;
  private shownSeconds = -1;

  private constructor() {
    this.label = el('span', { className: 'thinking-label', text: 'Thinking…' });
    this.body = el('div', { className: 'thinking-body' });
    const summary = el('summary', { className: 'thinking-summary' }, this.label);
    summary.addEventListener('click', () => {
      this.userToggled = true;
    });
    this.element = el('details', { className: 'thinking' }, summary, this.body);
    this.element.hidden = true;
  }

  /** An empty block for a streaming turn; it appears with the first thinking text. */
  static streaming(): ThinkingBlock {
    return new ThinkingBlock();
  }

  /** A finished turn's thinking (history), collapsed. */
  static finished(text: string, thinkingMs: number | undefined): ThinkingBlock {
    const block = new ThinkingBlock();
    if (!text) return block;
    block.element.hidden = false;
    block.element.classList.add('done');
    block.body.append(renderMarkdown(text));
    block.setDoneLabel(thinkingMs);
    return block;
  }

  /** Continues a finished-looking block as a streaming one (the host resumed a turn after a reload). */
  static resumed(text: string): ThinkingBlock {
    const block = new ThinkingBlock();
    if (text) block.append(text);
    return block;
  }

  get streaming(): boolean {
    return this.timer !== undefined;
  }

  /** The streamed (or resumed) thinking so far, as its renderer holds it; '' for a block made by finished(). */
  get text(): string {
    return this.md?.text ?? '';
  }

  append(text: string): void {
    if (!text) return;
    if (!this.md) {
      this.md = createStreamingMarkdown();
      this.body.append(this.md.element);
      this.element.hidden = false;
      this.element.open = true;
      this.element.classList.add('live');
      this.startedAt = performance.now();
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.tick();
    }
    this.md.append(text);
  }

  /** The first answer text arrived: stop the timer and fold the thinking away. */
  answerStarted(): void {
    if (!this.md || this.thoughtMs !== undefined) return;
    this.stopTimer();
    if (!this.userToggled) this.element.open = false;
  }

  /** The turn ended. `thinkingMs` from the host's metrics wins over the local measure. */
  finish(thinkingMs: number | undefined, hasAnswer: boolean): void {
    if (!this.md) return;
    this.md.finish();
    this.stopTimer(thinkingMs);
    this.element.classList.remove('live');
    this.element.classList.add('done');
    if (hasAnswer && !this.userToggled) this.element.open = false;
  }

  private stopTimer(hostMs?: number): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    const local = this.startedAt !== undefined ? performance.now() - this.startedAt : undefined;
    this.thoughtMs = hostMs ?? this.thoughtMs ?? local;
    this.element.classList.remove('live');
    this.setDoneLabel(this.thoughtMs);
  }

  private setDoneLabel(ms: number | undefined): void {
    this.label.textContent = ms === undefined ? 'Thinking' : `Thought for ${formatSeconds(Math.max(ms, 1000))}`;
  }

  private tick(): void {
    if (this.startedAt === undefined) return;
    const ms = performance.now() - this.startedAt;
    const s = Math.floor(ms / 1000);
    if (s === this.shownSeconds) return;
    this.shownSeconds = s;
    this.label.textContent = `Thinking… ${formatSeconds(ms)}`;
  }

  /** Stops the timer without touching the text (the turn is being removed). */
  dispose(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
