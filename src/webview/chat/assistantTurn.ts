// One assistant turn: tool calls (compact), the Thinking block, the answer (streaming markdown), the error with its
// actions, and a footer with the metrics, the "stopped" marker and Regenerate (on the last turn only).
import type { AssistantTurnMeta, AssistantTurnView, ChatErrorActionView, ChatErrorView, ToolCallView, TurnMetricsView, WebviewToHost } from '../../shared/protocol';
import { button, el } from './dom';
import { formatDuration, formatInt } from './format';
import { createStreamingMarkdown, renderMarkdown, type StreamingMarkdown } from '../markdown';
import { ThinkingBlock } from './thinking';
import { ToolCardList } from './toolCards';

const ERROR_ACTION_LABEL: Record<ChatErrorActionView, string> = {
  retry: 'Retry',
  startServer: 'Start Server',
  setApiKey: 'Set API Key',
  restartServerWithFlags: 'Restart with Flags',
  newChat: 'New Chat',
  openSettings: 'Settings',
};

export class AssistantTurn {
  readonly element: HTMLElement;
  private readonly thinking: ThinkingBlock;
  private readonly answerEl: HTMLDivElement;
  private readonly statusEl: HTMLParagraphElement;
  private readonly tools: ToolCardList;
  private readonly errorEl: HTMLDivElement;
  private readonly footer: HTMLDivElement;
  private readonly regenerate: HTMLButtonElement;
  private answerMd: StreamingMarkdown | undefined;
  /** A finished turn's text (from history). A streaming turn's text is held by its renderers only, not copied here:
   *  see thinkingSoFar / answerSoFar. */
  private thinkingText = '';
  private answerText = '';
  private isStreaming = false;
  private hasCalls = false;
  private meta: AssistantTurnMeta | undefined;

  private constructor(
    readonly id: string,
    private readonly post: (msg: WebviewToHost) => void,
    thinking: ThinkingBlock,
  ) {
    this.thinking = thinking;
    this.tools = new ToolCardList(post);
    this.answerEl = el('div', { className: 'answer' });
    this.statusEl = el('p', { className: 'turn-status', text: 'Waiting for the model…' });
    this.statusEl.hidden = true;
    this.errorEl = el('div', { className: 'turn-error', attrs: { role: 'alert' } });
    this.errorEl.hidden = true;
    this.regenerate = button('Regenerate', () => this.post({ type: 'regenerate', turnId: this.id }), {
      className: 'secondary small',
      title: 'Answer the same message again',
    });
    this.regenerate.hidden = true;
    this.footer = el('div', { className: 'turn-footer' }, el('div', { className: 'turn-actions' }, this.regenerate));
    this.element = el(
      'article',
      { className: 'turn turn-assistant', attrs: { 'aria-label': 'Kimi' } },
      el('div', { className: 'turn-role', text: 'Kimi' }),
      thinking.element,
      this.statusEl,
      this.answerEl,
      this.tools.element,
      this.errorEl,
      this.footer,
    );
    this.element.dataset['turnId'] = id;
  }

  /** The empty turn that streams next. */
  static streaming(id: string, meta: AssistantTurnMeta, post: (msg: WebviewToHost) => void): AssistantTurn {
    const turn = new AssistantTurn(id, post, ThinkingBlock.streaming());
    turn.isStreaming = true;
    turn.element.classList.add('streaming');
    turn.element.setAttribute('aria-busy', 'true');
    turn.statusEl.hidden = false;
    turn.setToolCalls(meta.toolCalls);
    turn.setMeta(meta, false);
    return turn;
  }

  /** A finished turn from history, rendered once. */
  static finished(view: AssistantTurnView, post: (msg: WebviewToHost) => void): AssistantTurn {
    const turn = new AssistantTurn(view.id, post, ThinkingBlock.finished(view.thinking, view.metrics.thinkingMs));
    turn.thinkingText = view.thinking;
    turn.answerText = view.answer;
    if (view.answer) turn.answerEl.append(renderMarkdown(view.answer));
    turn.setToolCalls(view.toolCalls);
    turn.setMeta(view, true);
    return turn;
  }

  get streaming(): boolean {
    return this.isStreaming;
  }

  /**
   * Turns a turn that was shown finished (from `conversation`) back into a streaming one because more text is
   * arriving for it: its text so far seeds new streaming renderers. Happens once, after the panel was reloaded
   * while an answer streamed.
   */
  resume(): AssistantTurn {
    const fresh = new AssistantTurn(this.id, this.post, ThinkingBlock.resumed(this.thinkingSoFar));
    fresh.isStreaming = true;
    fresh.element.classList.add('streaming');
    fresh.element.setAttribute('aria-busy', 'true');
    const answer = this.answerSoFar;
    if (answer) {
      fresh.thinking.answerStarted();
      fresh.ensureAnswer().append(answer);
    }
    this.element.replaceWith(fresh.element);
    return fresh;
  }

  appendThinking(text: string): void {
    this.statusEl.hidden = true;
    this.thinking.append(text);
  }

  appendAnswer(text: string): void {
    this.statusEl.hidden = true;
    if (!this.answerSoFar) this.thinking.answerStarted();
    this.ensureAnswer().append(text);
  }

  private get thinkingSoFar(): string {
    return this.thinking.text || this.thinkingText;
  }

  private get answerSoFar(): string {
    return this.answerMd ? this.answerMd.text : this.answerText;
  }

  private ensureAnswer(): StreamingMarkdown {
    if (!this.answerMd) {
      this.answerMd = createStreamingMarkdown();
      this.answerEl.append(this.answerMd.element);
    }
    return this.answerMd;
  }

  /** The turn ended (done, stopped or failed): render what is left, stop the timer, show metrics and errors. */
  finish(meta: AssistantTurnMeta): void {
    this.answerMd?.finish();
    this.thinking.finish(meta.metrics.thinkingMs, this.answerSoFar.length > 0 || meta.toolCalls.length > 0);
    this.isStreaming = false;
    this.statusEl.hidden = true;
    this.element.classList.remove('streaming');
    this.element.setAttribute('aria-busy', 'false');
    this.setToolCalls(meta.toolCalls);
    this.setMeta(meta, true);
  }

  setToolCalls(calls: ToolCallView[]): void {
    if (calls.length) {
      this.statusEl.hidden = true;
      // The model stopped thinking to call tools: the thinking folds and its timer stops, as when an answer starts.
      if (this.isStreaming && !this.answerSoFar && !this.hasCalls) this.thinking.answerStarted();
      this.hasCalls = true;
    }
    this.tools.set(calls);
  }

  /** Shows Regenerate when this is the last assistant turn (CSS hides it while a turn streams). */
  setLast(last: boolean): void {
    this.regenerate.hidden = !last;
  }

  /** Ends a streaming turn the host never finished (a new turn started): keeps its text, as it stands. */
  abandon(): void {
    if (this.isStreaming && this.meta) this.finish(this.meta);
  }

  private setMeta(meta: AssistantTurnMeta, finished: boolean): void {
    this.meta = meta;
    this.element.dataset['mode'] = meta.mode;
    if (meta.model) this.element.title = meta.model;
    this.renderError(meta.error);
    this.element.classList.toggle('failed', !!meta.error);
    this.element.classList.toggle('stopped', !!meta.stopped);
    // The footer: markers and metrics before the actions.
    const actions = this.footer.querySelector('.turn-actions');
    this.footer.replaceChildren();
    if (meta.stopped) this.footer.append(el('span', { className: 'turn-stopped', text: 'Stopped', attrs: { title: 'You stopped this answer; the text is partial' } }));
    if (meta.finishReason === 'length') this.footer.append(el('span', { className: 'turn-truncated', text: 'Cut off at the token limit' }));
    if (finished) this.footer.append(metricsElement(meta.metrics, meta.mode));
    if (actions) this.footer.append(actions);
  }

  private renderError(error: ChatErrorView | undefined): void {
    this.errorEl.hidden = !error;
    if (!error) {
      this.errorEl.replaceChildren();
      return;
    }
    this.errorEl.dataset['kind'] = error.kind;
    const parts: Node[] = [el('p', { className: 'error-message', text: error.message })];
    if (error.serverMessage) {
      parts.push(el('p', { className: 'error-server-label', text: 'The server said:' }), el('pre', { className: 'error-server', text: error.serverMessage }));
    }
    if (error.missingFlags?.length) {
      const flags = el('p', { className: 'error-flags', text: 'Missing server flags: ' });
      error.missingFlags.forEach((f, i) => flags.append(...(i ? [' '] : []), el('code', { text: f })));
      parts.push(flags);
    }
    const actions = el('div', { className: 'actions' });
    for (const action of error.actions) {
      const primary = action === error.actions[0];
      actions.append(
        button(
          ERROR_ACTION_LABEL[action],
          () => this.post(action === 'retry' ? { type: 'regenerate', turnId: this.id } : { type: 'errorAction', turnId: this.id, action }),
          { className: primary ? 'primary' : 'secondary' },
        ),
      );
    }
    if (error.actions.length) parts.push(actions);
    this.errorEl.replaceChildren(...parts);
  }

  dispose(): void {
    this.thinking.dispose();
  }
}

function metricsElement(m: TurnMetricsView, mode: AssistantTurnMeta['mode']): HTMLElement {
  const box = el('span', { className: 'turn-metrics' });
  const item = (cls: string, text: string, title: string) => box.append(el('span', { className: cls, text, attrs: { title } }));
  if (m.promptTokens !== undefined || m.completionTokens !== undefined) {
    const parts: string[] = [];
    if (m.promptTokens !== undefined) parts.push(`${formatInt(m.promptTokens)} in`);
    if (m.completionTokens !== undefined) parts.push(`${formatInt(m.completionTokens)} out`);
    item('metric-tokens', `${parts.join(' / ')} tokens`, 'Prompt / completion tokens, from the server');
  }
  if (m.ttftMs !== undefined) item('metric-ttft', `TTFT ${formatDuration(m.ttftMs)}`, 'Time to first token');
  if (m.tokensPerSecond !== undefined) item('metric-tps', `${m.tokensPerSecond.toFixed(1)} tok/s`, 'Completion tokens per second');
  if (m.durationMs !== undefined) item('metric-duration', formatDuration(m.durationMs), 'Total time of this answer');
  item('metric-mode', mode === 'thinking' ? 'Thinking' : 'Instant', 'Mode of this answer');
  return box;
}
