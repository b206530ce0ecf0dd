// One inline explanation: a comment thread at the explained lines, its request (waiting for the server when needed),
// the streamed text rendered into the thread at most 10 times a second, and Stop / Re-run / Dismiss. Nothing is ever
// written into the document: the thread is an overlay that Dismiss disposes.
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { streamChat, type ChatTurnResult, type FetchFn } from '../../core/chat/chatClient';
import { composerBlock } from '../../core/chat/chatViews';
import type { Conversation } from '../../core/chat/conversation';
import { ChatError, type ChatErrorKind } from '../../core/chat/errors';
import type { ChatEvent } from '../../core/chat/streamNormalizer';
import type { ChatMode, ChatSampling, RequestMessage } from '../../core/chat/types';
import { explanationConversation } from '../../core/explain/explainConversation';
import { buildExplainPrompt, type Excerpt, type ExplainTarget } from '../../core/explain/explainPrompt';
import { renderExplanation, type ExplanationState, type RenderedComment, type RenderedExplanation } from '../../core/explain/explanationView';
import { RenderThrottle } from '../../core/explain/renderThrottle';
import { documentLines, explainInput, type ExplainSource } from './explainRequest';
import type { ServerGate } from './serverGate';

export interface ExplanationHost {
  readonly gate: ServerGate;
  /** kimi.explain.mode and the sampling of kimi.chat.*. */
  settings(): { mode: ChatMode; sampling: ChatSampling };
  /** The comments' author picture. */
  readonly authorIcon?: vscode.Uri;
  /** Called after every render (tests observe the thread through it). */
  rendered(e: Explanation, view: RenderedExplanation): void;
  log: { warn(line: string): void };
  /** Render interval (default 100 ms: at most 10 renders per second). */
  readonly renderIntervalMs?: number;
  readonly fetch?: FetchFn;
}

/** A comment of the thread. Kept per role and updated in place, so that title actions find their explanation. */
export class ExplainComment implements vscode.Comment {
  body: vscode.MarkdownString = safeMarkdown('');
  mode = vscode.CommentMode.Preview;
  author: vscode.CommentAuthorInformation;
  label?: string;
  contextValue?: string;

  constructor(readonly explanation: Explanation, readonly role: RenderedComment['role'], icon: vscode.Uri | undefined) {
    this.author = { name: role === 'thinking' ? 'Thinking' : 'Kimi', ...(icon ? { iconPath: icon } : {}) };
  }
}

/** Markdown as model text must be shown: no HTML, no command links, no theme icons. */
export function safeMarkdown(text: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(text, false);
  md.isTrusted = false;
  md.supportHtml = false;
  return md;
}

/** Failures that mean "the server is not there (any more)": the explanation waits for it again instead of failing. */
const SERVER_GONE: ReadonlySet<ChatErrorKind> = new Set(['connectionRefused', 'unreachable', 'unauthorized']);

export class Explanation {
  readonly id = randomUUID();
  readonly state: ExplanationState;
  /** The request of the latest run (tests). */
  lastRequest: RequestMessage[] | undefined;
  private abort: AbortController | undefined;
  private running: Promise<void> = Promise.resolve();
  private result: ChatTurnResult | undefined;
  private excerpts: Excerpt[] = [];
  private lines: string[];
  private startedAt = 0;
  private model: string | undefined;
  private tick: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly throttle: RenderThrottle;
  private readonly comments = new Map<RenderedComment['role'], ExplainComment>();
  private shown: { label?: string; contextValue?: string; roles?: string } = {};

  constructor(
    readonly thread: vscode.CommentThread,
    readonly source: ExplainSource,
    document: vscode.TextDocument,
    private readonly host: ExplanationHost,
    /** The targets with their enclosing symbols, once the symbol provider answered (awaited by the first run). */
    private symbols?: Promise<ExplainTarget[]>,
  ) {
    this.lines = documentLines(document);
    const mode = host.settings().mode;
    this.state = {
      subject: subjectOf(source),
      kind: source.diagnostic ? 'problem' : 'selection',
      mode,
      phase: 'sending',
      thinking: '',
      answer: '',
      notices: [],
      thinkingExpanded: false,
    };
    this.throttle = new RenderThrottle(() => this.render(), host.renderIntervalMs ?? 100);
  }

  get busy(): boolean {
    return !!this.abort;
  }

  /** Resolves when the current run (waiting, streaming) has ended. */
  idle(): Promise<void> {
    return this.running;
  }

  start(): void {
    this.throttle.flush();
    this.running = this.run().catch((e: unknown) => {
      this.host.log.warn(`Explain: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      this.finish('failed', { message: `Something went wrong: ${e instanceof Error ? e.message : String(e)}` });
    });
  }

  /** Stop: a stream keeps its partial text; a request still waiting for the server is cancelled. */
  stop(): void {
    this.abort?.abort();
  }

  /** Re-run: the same lines, read again from the document, in the mode the settings say now. */
  async rerun(): Promise<void> {
    this.stop();
    await this.running;
    if (this.disposed) return;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === this.source.uri.toString());
    if (doc) this.lines = documentLines(doc);
    this.start();
  }

  toggleThinking(): void {
    this.state.thinkingExpanded = !this.state.thinkingExpanded;
    this.throttle.flush();
  }

  /** Dismiss: stops and removes the thread. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stop();
    this.stopTick();
    this.throttle.dispose();
    this.thread.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The conversation "Continue in chat" opens; undefined while it runs or when there is nothing to continue. */
  conversation(now = Date.now()): Conversation | undefined {
    if (this.busy || !this.result || (!this.result.answer.trim() && !this.result.thinking.trim())) return undefined;
    return explanationConversation(
      { path: this.source.path, languageId: this.source.languageId, lines: this.lines, excerpts: this.excerpts, ...(this.source.diagnostic ? { diagnostic: this.source.diagnostic } : {}) },
      this.result,
      { mode: this.state.mode, ...(this.model ? { model: this.model } : {}), startedAt: this.startedAt, now },
    );
  }

  // ───────────────────────────── the run ─────────────────────────────

  private async run(): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const s = this.state;
    const { mode, sampling } = this.host.settings();
    Object.assign(s, { mode, thinking: '', answer: '', notices: [] });
    delete s.error;
    delete s.waitingReason;
    delete s.thinkingStartedAt;
    delete s.thinkingMs;
    delete s.metrics;
    this.result = undefined;
    try {
      if (this.symbols) {
        this.source.targets = await this.symbols;
        this.symbols = undefined;
      }
      for (let attempt = 0; ; attempt++) {
        const server = await this.readyServer(abort.signal);
        if (!server) return this.finish('stopped');
        let prompt;
        try {
          prompt = buildExplainPrompt({ ...explainInput(this.source, undefined, this.lines), ...(server.maxModelLen ? { maxModelLen: server.maxModelLen } : {}) });
        } catch (e) {
          if (e instanceof ChatError) return this.finish('refused', { message: e.message });
          throw e;
        }
        this.excerpts = prompt.excerpts;
        this.lastRequest = prompt.messages;
        s.notices = prompt.notices;
        s.phase = 'sending';
        this.model = server.modelId;
        this.startedAt = Date.now();
        this.throttle.flush();
        const apiKey = await this.host.gate.apiKey();
        if (abort.signal.aborted) return this.finish('stopped');
        const reasoningParser = this.host.gate.reasoningParser();
        const result = await streamChat(
          { baseUrl: server.baseUrl, model: server.modelId!, messages: prompt.messages, mode, sampling, ...(apiKey ? { apiKey } : {}) },
          {
            signal: abort.signal,
            onEvent: (e) => this.onEvent(e),
            ...(reasoningParser !== undefined ? { reasoningParser } : {}),
            ...(this.host.fetch ? { fetch: this.host.fetch } : {}),
          },
        );
        this.result = result;
        const nothing = !result.answer && !result.thinking;
        // The server went away (or wants a key) before anything arrived: wait for it again, like the first time.
        if (result.error && nothing && SERVER_GONE.has(result.error.kind) && attempt < 2 && composerBlock(await this.host.gate.check())) continue;
        s.thinking = result.thinking;
        s.answer = result.answer;
        if (result.thinkingMs !== undefined) s.thinkingMs = result.thinkingMs;
        s.metrics = {
          durationMs: result.durationMs,
          ...(result.usage ? { completionTokens: result.usage.completion } : {}),
          ...(result.tokensPerSecond !== undefined ? { tokensPerSecond: result.tokensPerSecond } : {}),
        };
        if (result.stopped) return this.finish('stopped');
        if (result.error) {
          return this.finish('failed', {
            message: result.error.message,
            ...(result.error.serverMessage ? { serverMessage: result.error.serverMessage } : {}),
          });
        }
        return this.finish('done');
      }
    } finally {
      if (this.abort === abort) this.abort = undefined;
      this.stopTick();
      this.throttle.flush();
    }
  }

  /** The server to send to, waiting (phase `waiting`, with the notification) while it is not ready. */
  private async readyServer(signal: AbortSignal) {
    const gate = this.host.gate;
    const view = await gate.check();
    const block = composerBlock(view);
    if (!block && view.modelId) return view;
    this.state.phase = 'waiting';
    this.state.waitingReason = block?.reason ?? 'the server serves no model yet';
    this.throttle.flush();
    if (block) gate.offer(view, block);
    // The thread follows the server meanwhile ("starting: loading weights 12/64" …).
    const follow = gate.onDidChange((v) => {
      const b = composerBlock(v);
      if (b && b.reason !== this.state.waitingReason) {
        this.state.waitingReason = b.reason;
        this.throttle.request();
      }
    });
    try {
      return await gate.waitUntilReady(signal);
    } finally {
      follow.dispose();
      delete this.state.waitingReason;
    }
  }

  private onEvent(e: ChatEvent): void {
    const s = this.state;
    switch (e.kind) {
      case 'thinking':
        s.thinking += e.text;
        if (s.phase === 'sending') {
          s.phase = 'thinking';
          s.thinkingStartedAt = Date.now();
          // The "Thinking… N s" timer moves even when no text arrives for a while.
          this.tick = setInterval(() => this.throttle.request(), 1000);
        }
        break;
      case 'answer':
        s.answer += e.text;
        if (s.phase === 'thinking' && s.thinkingStartedAt !== undefined) s.thinkingMs = Date.now() - s.thinkingStartedAt;
        if (s.phase !== 'answering') {
          s.phase = 'answering';
          this.stopTick();
        }
        break;
      default:
        return;
    }
    this.throttle.request();
  }

  private finish(phase: 'done' | 'stopped' | 'failed' | 'refused', error?: ExplanationState['error']): void {
    this.state.phase = phase;
    if (error) this.state.error = error;
    else delete this.state.error;
    if (phase === 'refused') this.state.notices = [];
    this.stopTick();
    this.throttle.flush();
  }

  private stopTick(): void {
    if (this.tick) clearInterval(this.tick);
    this.tick = undefined;
  }

  // ───────────────────────────── rendering ─────────────────────────────

  private render(): void {
    if (this.disposed) return;
    const view = renderExplanation(this.state, Date.now());
    const t = this.thread;
    if (this.shown.label !== view.label) t.label = this.shown.label = view.label;
    if (this.shown.contextValue !== view.contextValue) t.contextValue = this.shown.contextValue = view.contextValue;
    t.comments = view.comments.map((c) => {
      let comment = this.comments.get(c.role);
      if (!comment) this.comments.set(c.role, (comment = new ExplainComment(this, c.role, this.host.authorIcon)));
      comment.body = safeMarkdown(c.body);
      comment.author = { ...comment.author, name: c.author };
      comment.contextValue = c.contextValue;
      if (c.label !== undefined) comment.label = c.label;
      else delete comment.label;
      return comment;
    });
    this.host.rendered(this, view);
  }
}

function subjectOf(source: ExplainSource): string {
  const d = source.diagnostic;
  if (d) return `${source.path}, line ${d.startLine}`;
  const ranges = source.targets.map((t) => (t.startLine === t.endLine ? `${t.startLine}` : `${t.startLine}–${t.endLine}`));
  const many = source.targets.length > 1 || source.targets.some((t) => t.endLine > t.startLine);
  return `${source.path}, line${many ? 's' : ''} ${ranges.join(', ')}`;
}
