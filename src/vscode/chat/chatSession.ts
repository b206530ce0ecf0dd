// One chat panel's host side (docs/chat-design.md, "The host session"): the current conversation (the source of
// truth, saved through HistoryStore), the composer (mode, pending attachments and images), the streaming turn and
// its AbortController. It answers every chat message of the webview and posts everything the webview shows.
//
// No vscode import: what it needs of VS Code (editor, clipboard, dialogs, commands, the server's state) comes
// through ChatPlatform, so the whole session runs in plain Node in the unit tests (against the vLLM emulator).
import { randomUUID } from 'node:crypto';
import { streamChat, type ChatTurnResult, type FetchFn } from '../../core/chat/chatClient';
import {
  assistantMeta,
  attachmentView,
  composerBlock,
  conversationView,
  historyItems,
  imageView,
  toolCallView,
  userTurnView,
} from '../../core/chat/chatViews';
import {
  addUserTurn,
  assistantTurnFromResult,
  checkContextFits,
  imageFromDataUrl,
  MAX_IMAGE_BYTES,
  newConversation,
  titleFrom,
  toRequestMessages,
  type AssistantTurn,
  type Conversation,
  type ImageAttachment,
  type TextAttachment,
  type Turn,
  type UserTurn,
} from '../../core/chat/conversation';
import { ChatError, type ChatErrorInit } from '../../core/chat/errors';
import { HistoryError, type HistoryStore } from '../../core/chat/historyStore';
import type { ChatEvent } from '../../core/chat/streamNormalizer';
import type { ChatMode, ChatSampling } from '../../core/chat/types';
import { createToolRegistry } from '../../core/tools/registry';
import { runToolLoop } from '../../core/tools/toolLoop';
import { workspaceSystemPrompt } from '../../core/tools/workspaceTools';
import type { ApprovalCall, ApprovalDecision, ApprovalRequest } from '../../core/tools/types';
import {
  PROTOCOL_LIMITS,
  type AssistantTurnMeta,
  type ComposerStateView,
  type HostToWebview,
  type ServerView,
  type ToolCallView,
  type WebviewToHost,
} from '../../shared/protocol';
import { DeltaBatcher, type BatchClock } from './deltaBatcher';
import { ToolApprovals } from './toolApprovals';
import { ToolTurnView, withSystemPrompt, type ToolsAvailability, type TurnTools } from './toolRun';

/** What the session needs of its surroundings (VS Code in the extension, fakes in unit tests). */
export interface ChatPlatform {
  /** Where host→webview messages go (after batching). */
  post(msg: HostToWebview): void;
  readonly store: HistoryStore;
  /** kimi.chat.*: the default mode and the sampling per mode. */
  chatSettings(): { mode: ChatMode; sampling: ChatSampling };
  /** The server the chat talks to, as the header shows it. */
  server(): ServerView;
  /** Checks the server now. */
  refreshServer(): Promise<ServerView>;
  apiKey(): Promise<string | undefined>;
  /** Whether the server runs a reasoning parser, when the extension knows (a managed profile). */
  reasoningParser(): boolean | undefined;
  /** The active editor's file or selection. Throws ChatError('invalidInput') with a message for the user. */
  editorAttachment(what: 'file' | 'selection'): Promise<TextAttachment>;
  /** Inserts at the cursor of the active text editor (replacing its selection); false when there is none. */
  insertCode(code: string): Promise<boolean>;
  copy(text: string): Promise<void>;
  /** A modal question; true when the user chose `confirmLabel`. */
  confirm(message: string, detail: string, confirmLabel: string): Promise<boolean>;
  openExternal(url: string): Promise<void>;
  /** Runs a command without waiting for it (Start Server can take minutes). */
  runCommand(command: 'kimi.startServer' | 'kimi.setApiKey' | 'kimi.openSettings'): void;
  /** Restarts the managed server with these `vllm serve` flags added; resolves once the restart is under way, or
   *  with a plain-language explanation of why the extension cannot do it (the server is not one it manages). */
  restartServerWithFlags(flags: string[]): Promise<string | undefined>;
  /** Whether the next message may use tools (settings, Workspace Trust, folders) and with which workspace; the port's
   *  approvals go to `approve`. Absent: no tools. */
  tools?(approve: (req: ApprovalRequest, signal: AbortSignal, call?: ApprovalCall) => Promise<ApprovalDecision>): ToolsAvailability;
  log: { info(line: string): void; warn(line: string): void };
}

export interface ChatSessionOptions {
  /** Batching clock (tests). */
  clock?: BatchClock;
  /** How often a streaming turn is saved. Default 3 s. */
  saveIntervalMs?: number;
  /** Epoch ms (timestamps of turns). */
  now?: () => number;
  fetch?: FetchFn;
}

/** The turn that is streaming right now. */
interface ActiveTurn {
  abort: AbortController;
  conv: Conversation;
  /** The live turn inside conv.turns (replaced by the final one when the stream ends). */
  assistant: AssistantTurn;
  startMeta: AssistantTurnMeta;
  done: Promise<void>;
  /** With tools: the cards of the streaming round, and the approvals its calls wait for. */
  calls?: ToolCallView[];
  approvals?: ToolApprovals;
}

interface Target {
  baseUrl: string;
  model: string;
  maxModelLen?: number;
  apiKey?: string;
  reasoningParser?: boolean;
  /** The tools the request goes out with (decided before the context check, which counts them). */
  tools: ToolsPlan;
}

/** The tools of a turn as decided before sending: the tools, or why there are none (said once per session). */
interface ToolsPlan {
  tools?: TurnTools;
  reason?: string;
}

type UserDraft = Pick<UserTurn, 'text' | 'attachments' | 'images'>;

/** What a streaming turn is saved with, so that a window closed mid-answer reopens with the partial text and a
 *  Retry (the final save replaces it). */
const INTERRUPTED: ChatErrorInit = {
  kind: 'connectionDropped',
  retryable: true,
  message: 'VS Code closed (or the window reloaded) while this answer was streaming; the partial answer is kept.',
};

const MAX_ATTACHMENTS = 64;
const LINK_SCHEMES = new Set(['http:', 'https:', 'mailto:']);
/** Failures after which the header's server state is probably stale. */
const RECHECK_AFTER = new Set(['connectionRefused', 'connectionDropped', 'unreachable', 'unauthorized', 'modelNotFound']);

export class ChatSession {
  private conv: Conversation;
  private loading: Promise<void> | undefined;
  private mode: ChatMode;
  private attachments: TextAttachment[] = [];
  private images: ImageAttachment[] = [];
  private turn: ActiveTurn | undefined;
  /** The end (final save included) of the latest turn. */
  private lastTurnDone: Promise<void> = Promise.resolve();
  /** A send being checked (before its turn starts): Stop cancels it. */
  private preparing: AbortController | undefined;
  private problems: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private lastBlocked = '';
  private saveFailed = false;
  private toolsNoticeShown = false;
  private disposed = false;
  private readonly batcher: DeltaBatcher;
  private readonly now: () => number;
  private readonly saveIntervalMs: number;

  constructor(private readonly p: ChatPlatform, private readonly opts: ChatSessionOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.saveIntervalMs = opts.saveIntervalMs ?? 3000;
    this.batcher = new DeltaBatcher((m) => p.post(m), opts.clock ? { clock: opts.clock } : {});
    this.mode = p.chatSettings().mode;
    this.conv = newConversation({ now: this.now() });
  }

  /** Posts a message in order with the streamed text (e.g. the server header). */
  post(msg: HostToWebview): void {
    this.batcher.post(msg);
  }

  /** The conversation shown (read-only use: tests, commands). */
  get conversation(): Readonly<Conversation> {
    return this.conv;
  }

  get busy(): boolean {
    return this.turn !== undefined;
  }

  /** Bytes of text streamed vs bytes posted (the ≤ 1.1× budget). */
  get deltaStats() {
    return this.batcher.stats;
  }

  /** The webview (re)loaded: send it everything — composer, history, the conversation (with the streaming turn's
   *  text so far). The first time, the most recent conversation is reopened. */
  ready(): Promise<void> {
    return this.serial(async () => {
      await this.ensureLoaded();
      const listing = await this.listing();
      this.batcher.discard();
      this.postComposer();
      this.postHistoryItems(listing);
      this.postConversation();
    });
  }

  /** A chat message from the webview (already validated against the protocol schema). */
  handle(msg: WebviewToHost): Promise<void> {
    switch (msg.type) {
      case 'stop':
        this.stop();
        return Promise.resolve();
      case 'copyCode':
        return this.guard(() => this.p.copy(msg.code));
      case 'insertCode':
        return this.guard(() => this.insertCode(msg.code));
      case 'openLink':
        return this.guard(() => this.openLink(msg.href));
      case 'ready':
        return this.ready();
      case 'send':
        return this.serial(() => this.send(msg.text, msg.images ?? []));
      case 'newChat':
        return this.serial(() => this.newChatNow());
      case 'regenerate':
        return this.serial(() => this.regenerate(msg.turnId));
      case 'editResend':
        return this.serial(() => this.editResend(msg.turnId, msg.text));
      case 'setMode':
        return this.serial(async () => {
          this.mode = msg.mode;
          this.postComposer();
        });
      case 'openConversation':
        return this.serial(() => this.open(msg.id));
      case 'deleteConversation':
        return this.serial(() => this.remove(msg.id));
      case 'listHistory':
        return this.serial(() => this.postHistory());
      case 'attach':
        return this.serial(() => this.attach(msg.what));
      case 'removeAttachment':
        return this.serial(async () => {
          if (msg.index < this.attachments.length) this.attachments.splice(msg.index, 1);
          this.postComposer();
        });
      case 'addImage':
        return this.serial(async () => this.addImage(msg.image.dataUrl, msg.image.name));
      case 'removeImage':
        return this.serial(async () => {
          if (msg.index < this.images.length) this.images.splice(msg.index, 1);
          this.postComposer();
        });
      case 'errorAction':
        return this.serial(() => this.errorAction(msg.turnId, msg.action));
      case 'approveToolCall':
        // Not queued: an answer must reach the call that waits for it while the turn runs.
        if (!this.turn?.approvals?.decide(msg.callId, msg.decision)) this.p.log.info(`Chat: no tool call ${msg.callId} is waiting for approval (already decided or stopped).`);
        return Promise.resolve();
      default:
        // Server messages (checkServer, applyServerFix, runCommand) belong to the view provider.
        return Promise.resolve();
    }
  }

  /** kimi.newChat. */
  newChat(): Promise<void> {
    return this.serial(() => this.newChatNow());
  }

  /** Shows a conversation made elsewhere (an inline explanation continued in chat) as the current one and saves it to
   *  the history; a streaming answer is stopped (and kept) first. */
  openConversation(conv: Conversation): Promise<void> {
    return this.serial(async () => {
      this.loading ??= Promise.resolve(); // chosen explicitly: the first `ready` does not reopen the last chat
      await this.stopAndWait();
      this.conv = conv;
      this.postConversation();
      this.postComposer();
      await this.save(conv);
      await this.postHistory();
    });
  }

  /** The server's state changed: the composer may become (un)blocked. */
  serverChanged(): void {
    if (JSON.stringify(composerBlock(this.p.server()) ?? null) !== this.lastBlocked) this.postComposer();
  }

  /** The default mode in the settings changed. */
  settingsChanged(): void {
    const mode = this.p.chatSettings().mode;
    if (mode !== this.mode) {
      this.mode = mode;
      this.postComposer();
    }
  }

  /** Stops the streaming turn (its partial text stays, marked stopped) or a send still being checked. */
  stop(): void {
    this.preparing?.abort();
    this.turn?.abort.abort();
  }

  /** Resolves once no turn streams any more and its final save is done. */
  async idle(): Promise<void> {
    let d: Promise<void>;
    do {
      d = this.lastTurnDone;
      await d;
    } while (d !== this.lastTurnDone);
  }

  /** The panel is gone for good: the streaming turn is stopped and saved; nothing is posted any more. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.stop();
    this.batcher.dispose();
    await this.idle();
  }

  // ───────────────────────────── sending ─────────────────────────────

  private async send(text: string, extra: { name?: string; dataUrl: string }[]): Promise<void> {
    if (this.turn) return this.composerError('An answer is still streaming: press Stop (Esc) first, or wait for it to finish. Your message is kept.');
    const images = [...this.images];
    for (const img of extra) {
      try {
        images.push(imageFromDataUrl(img.dataUrl, img.name !== undefined ? { name: img.name } : {}));
      } catch (e) {
        return this.composerError(messageOf(e));
      }
    }
    if (images.length > PROTOCOL_LIMITS.maxImagesPerMessage) {
      return this.composerError(`A message can carry at most ${PROTOCOL_LIMITS.maxImagesPerMessage} images; remove ${images.length - PROTOCOL_LIMITS.maxImagesPerMessage}.`);
    }
    const attachments = [...this.attachments];
    if (text.trim() === '' && !attachments.length && !images.length) return this.composerError('Type a message first.');
    const draft: UserDraft = { text, ...(attachments.length ? { attachments } : {}), ...(images.length ? { images } : {}) };
    const target = await this.prepare(() => [...this.conv.turns, draftTurn(draft)]);
    if (!target) return;
    const user = addUserTurn(this.conv, draft, this.now());
    // The composer's attachments went out with this message.
    this.attachments = this.attachments.filter((a) => !attachments.includes(a));
    this.images = this.images.filter((i) => !images.includes(i));
    this.startTurn(this.conv, user, target);
  }

  private async regenerate(turnId: string): Promise<void> {
    if (this.turn) return this.composerError('An answer is still streaming: press Stop (Esc) first.');
    const turns = this.conv.turns;
    const i = turns.findIndex((t) => t.id === turnId);
    if (i < 0 || turns[i]!.role !== 'assistant') return this.composerError('That answer is no longer in this conversation.');
    if (i !== turns.length - 1) return this.composerError('Only the last answer can be regenerated.');
    // The request before it ends with the user's message, or with the results of an earlier round's tool calls.
    const prev = turns[i - 1];
    if (!prev || (prev.role === 'assistant' && !prev.toolCalls.some((c) => c.result !== undefined))) return this.composerError('That answer has no question before it to send again.');
    const target = await this.prepare(() => turns.slice(0, i));
    if (!target) return;
    turns.splice(i);
    this.conv.updatedAt = this.now();
    this.postConversation();
    this.startTurn(this.conv, undefined, target);
  }

  private async editResend(turnId: string, text: string): Promise<void> {
    if (this.turn) return this.composerError('An answer is still streaming: press Stop (Esc) first. Your edit is kept.');
    const turns = this.conv.turns;
    const i = turns.findIndex((t) => t.id === turnId);
    const old = turns[i];
    if (!old || old.role !== 'user') return this.composerError('That message is no longer in this conversation.');
    if (turns.slice(i + 1).some((t) => t.role === 'user')) return this.composerError('Only the last message can be edited and sent again.');
    if (text.trim() === '' && !old.attachments?.length && !old.images?.length) return this.composerError('Type a message first.');
    const draft: UserDraft = { text, ...(old.attachments ? { attachments: old.attachments } : {}), ...(old.images ? { images: old.images } : {}) };
    const target = await this.prepare(() => [...turns.slice(0, i), draftTurn(draft)]);
    if (!target) return;
    const firstUser = !turns.slice(0, i).some((t) => t.role === 'user');
    turns.splice(i);
    if (firstUser && this.conv.title === titleFrom(old.text)) this.conv.title = titleFrom(text);
    const user = addUserTurn(this.conv, draft, this.now());
    this.postConversation(turns.length - 1);
    this.startTurn(this.conv, user, target);
  }

  /** The checks before anything is sent: a ready server with a model, and a request that fits its context.
   *  Undefined (with composerError posted) when the message must not go out; nothing has been changed then. */
  private async prepare(turnsToSend: () => Turn[]): Promise<Target | undefined> {
    const ctrl = new AbortController();
    this.preparing = ctrl;
    try {
      let server = this.p.server();
      if (composerBlock(server)) server = await this.p.refreshServer();
      const blocked = composerBlock(server);
      if (ctrl.signal.aborted) return undefined;
      if (blocked || !server.modelId) {
        this.postComposer();
        this.composerError(`Not sent — ${blocked?.reason ?? 'the server serves no model'}. Your message is kept.`);
        return undefined;
      }
      const apiKey = await this.p.apiKey();
      if (ctrl.signal.aborted) return undefined;
      const tools = this.planTools();
      if (server.maxModelLen) {
        // What is actually sent: the conversation's messages with the tool instructions in the system prompt, and the
        // tool declarations (the server renders both into the prompt).
        const messages = toRequestMessages({ turns: turnsToSend(), ...(this.conv.systemPrompt ? { systemPrompt: this.conv.systemPrompt } : {}) });
        try {
          checkContextFits(withSystemPrompt(messages, tools.tools?.systemPrompt), {
            maxModelLen: server.maxModelLen,
            ...(tools.tools ? { tools: tools.tools.registry.definitions() } : {}),
          });
        } catch (e) {
          this.composerError(messageOf(e));
          return undefined;
        }
      }
      const reasoningParser = this.p.reasoningParser();
      return {
        baseUrl: server.baseUrl,
        model: server.modelId,
        ...(server.maxModelLen ? { maxModelLen: server.maxModelLen } : {}),
        ...(apiKey ? { apiKey } : {}),
        ...(reasoningParser !== undefined ? { reasoningParser } : {}),
        tools,
      };
    } finally {
      if (this.preparing === ctrl) this.preparing = undefined;
    }
  }

  private startTurn(conv: Conversation, user: UserTurn | undefined, target: Target): void {
    const now = this.now();
    const mode = this.mode;
    const messages = toRequestMessages(conv);
    const assistant: AssistantTurn = {
      role: 'assistant', id: randomUUID(), createdAt: now, mode, model: target.model,
      thinking: '', answer: '', toolCalls: [], error: INTERRUPTED,
    };
    conv.turns.push(assistant);
    conv.updatedAt = now;
    const startMeta: AssistantTurnMeta = { mode, model: target.model, startedAt: now, metrics: {}, toolCalls: [] };
    const turn: ActiveTurn = { abort: new AbortController(), conv, assistant, startMeta, done: Promise.resolve() };
    this.turn = turn;
    this.post({ type: 'turnStarted', ...(user ? { user: userTurnView(user) } : {}), assistantId: assistant.id, meta: startMeta });
    this.postComposer();
    void this.save(conv).then(() => this.postHistory());
    const req = {
      baseUrl: target.baseUrl,
      model: target.model,
      messages,
      mode,
      sampling: this.p.chatSettings().sampling,
      ...(target.apiKey ? { apiKey: target.apiKey } : {}),
    };
    const tools = this.toolsFor(turn, target.tools);
    turn.done = tools ? this.streamWithTools(turn, req, target.reasoningParser, tools) : this.stream(turn, req, target.reasoningParser);
    this.lastTurnDone = turn.done;
  }

  /** The tools a request would go out with now (settings, Workspace Trust, folders), or why there are none. The
   *  approvals are wired here; they belong to the turn that sends the request (toolsFor). */
  private planTools(): ToolsPlan {
    let avail: ToolsAvailability | undefined;
    let approvals: ToolApprovals | undefined;
    try {
      avail = this.p.tools?.((req, signal, call) => approvals ? approvals.request(req, signal, call) : Promise.resolve('reject'));
    } catch (e) {
      this.p.log.warn(`Chat: the workspace tools are unavailable: ${messageOf(e)}`);
      return { reason: `Kimi answers without workspace tools this time: ${messageOf(e)}` };
    }
    if (!avail?.enabled) return avail?.reason ? { reason: avail.reason } : {};
    const registry = createToolRegistry({ workspace: !!avail.port, demo: avail.demo });
    if (!registry.names.length) return {};
    approvals = new ToolApprovals({ ...(avail.presenter ? { presenter: avail.presenter } : {}), ...(avail.memory ? { memory: avail.memory } : {}) });
    return {
      tools: {
        registry,
        ...(avail.port ? { port: avail.port, systemPrompt: workspaceSystemPrompt(avail.port, { canEdit: true }) } : {}),
        maxRounds: avail.maxRounds,
        approvals,
      },
    };
  }

  /** The planned tools of this turn, or undefined to answer without (then, once per session, why — e.g. Restricted Mode). */
  private toolsFor(turn: ActiveTurn, plan: ToolsPlan): TurnTools | undefined {
    if (!plan.tools) {
      if (plan.reason && !this.toolsNoticeShown) {
        this.toolsNoticeShown = true;
        this.notice('info', plan.reason);
      }
      return undefined;
    }
    turn.approvals = plan.tools.approvals;
    return plan.tools;
  }

  /** One message through the tool loop: each round is its own assistant turn (docs/tools.md, "In the chat"). */
  private async streamWithTools(turn: ActiveTurn, req: Parameters<typeof streamChat>[0], reasoningParser: boolean | undefined, tools: TurnTools): Promise<void> {
    const { conv } = turn;
    let saving: Promise<void> | undefined;
    const timer = setInterval(() => {
      saving ??= this.save(conv).finally(() => (saving = undefined));
    }, this.saveIntervalMs);
    const view = new ToolTurnView(turn, { post: (m) => this.post(m), text: (c, t) => this.batcher.text(c, t), notice: (l, t) => this.notice(l, t), now: this.now, canRestartServer: () => this.p.server().managed?.kind === 'ready' }, tools.approvals);
    const { messages, ...chat } = req;
    try {
      await runToolLoop({
        chat,
        messages: withSystemPrompt(messages, tools.systemPrompt),
        registry: tools.registry,
        ...(tools.port ? { port: tools.port } : {}),
        maxRounds: tools.maxRounds,
        signal: turn.abort.signal,
        onEvent: view.onEvent,
        roundText: view.roundText,
        stream: { ...(reasoningParser !== undefined ? { reasoningParser } : {}), ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}) },
      });
    } catch (e) {
      // The loop reports request failures in its result; this is a bug, still shown in the turn with the text kept.
      this.p.log.warn(`The tool loop failed unexpectedly: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      view.failed({ kind: 'protocol', retryable: true, message: `The request failed: ${messageOf(e)}` });
    } finally {
      clearInterval(timer);
      view.dispose();
    }
    this.turn = undefined;
    this.postComposer();
    const last = conv.turns[conv.turns.length - 1];
    if (last?.role === 'assistant' && last.error && RECHECK_AFTER.has(last.error.kind)) void this.p.refreshServer().catch(() => undefined);
    if (saving) await saving;
    await this.save(conv);
    await this.postHistory();
  }

  private async stream(turn: ActiveTurn, req: Parameters<typeof streamChat>[0], reasoningParser: boolean | undefined): Promise<void> {
    const { conv, assistant } = turn;
    let saving: Promise<void> | undefined;
    const timer = setInterval(() => {
      saving ??= this.save(conv).finally(() => (saving = undefined));
    }, this.saveIntervalMs);
    const onEvent = (e: ChatEvent) => {
      switch (e.kind) {
        // streamChat appends the text to `assistant` itself (`text` below): held once, saved and re-sent from there.
        case 'thinking':
          this.batcher.text('t', e.text);
          break;
        case 'answer':
          this.batcher.text('a', e.text);
          break;
        case 'toolCallsDone':
          assistant.toolCalls = e.calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
          this.post({ type: 'toolCalls', assistantId: assistant.id, calls: assistant.toolCalls.map(toolCallView) });
          break;
        default:
          break;
      }
    };
    let result: ChatTurnResult;
    try {
      result = await streamChat(req, {
        signal: turn.abort.signal,
        onEvent,
        text: assistant,
        ...(reasoningParser !== undefined ? { reasoningParser } : {}),
        ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
      });
    } catch (e) {
      // streamChat reports failures in its result; this is a bug, still shown in the turn with the text kept.
      this.p.log.warn(`The chat request failed unexpectedly: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      result = {
        thinking: assistant.thinking, answer: assistant.answer, toolCalls: [], usage: null, durationMs: this.now() - assistant.createdAt,
        stopped: false, error: new ChatError({ kind: 'protocol', retryable: true, message: `The request failed: ${messageOf(e)}` }),
        observations: { reasoningField: 'none', thinkTagsInContent: false, rawToolMarkers: false },
      };
    } finally {
      clearInterval(timer);
    }
    const final: AssistantTurn = { ...assistantTurnFromResult(result, { mode: assistant.mode, ...(assistant.model ? { model: assistant.model } : {}), now: assistant.createdAt }), id: assistant.id };
    const i = conv.turns.indexOf(assistant);
    if (i >= 0) conv.turns[i] = final;
    conv.updatedAt = this.now();
    this.turn = undefined;
    this.post({ type: 'turnFinished', assistantId: final.id, meta: assistantMeta(final) });
    this.postComposer();
    if (final.error && RECHECK_AFTER.has(final.error.kind)) void this.p.refreshServer().catch(() => undefined);
    if (saving) await saving;
    await this.save(conv);
    await this.postHistory();
  }

  // ───────────────────────────── conversations ─────────────────────────────

  private async newChatNow(): Promise<void> {
    this.loading ??= Promise.resolve(); // chosen explicitly: the first `ready` does not reopen the last chat
    await this.stopAndWait();
    this.conv = newConversation({ now: this.now() });
    this.postConversation();
    this.postComposer();
  }

  private async open(id: string): Promise<void> {
    if (id === this.conv.id) {
      this.postConversation();
      return;
    }
    this.loading ??= Promise.resolve();
    await this.stopAndWait();
    try {
      this.conv = await this.p.store.open(id);
    } catch (e) {
      this.historyProblem(e);
      await this.postHistory();
      return;
    }
    this.postConversation();
  }

  private async remove(id: string): Promise<void> {
    const listing = await this.listing();
    const title = listing.conversations.find((c) => c.id === id)?.title ?? (id === this.conv.id ? this.conv.title : undefined);
    if (title === undefined) {
      this.postHistoryItems(listing);
      return;
    }
    const ok = await this.p.confirm(`Delete the conversation "${title}"?`, 'It is removed from the chat history for good.', 'Delete');
    if (!ok) return;
    if (id === this.conv.id) await this.stopAndWait();
    try {
      await this.p.store.delete(id);
    } catch (e) {
      this.notice('warning', `The conversation could not be deleted: ${messageOf(e)}`);
      return;
    }
    if (id === this.conv.id) {
      this.conv = newConversation({ now: this.now() });
      this.postConversation();
      this.postComposer();
    }
    await this.postHistory();
  }

  private async stopAndWait(): Promise<void> {
    this.stop();
    await this.idle();
  }

  /** First load of this session: the most recent conversation (a window reload brings the chat back). */
  private ensureLoaded(): Promise<void> {
    this.loading ??= (async () => {
      let listing;
      try {
        listing = await this.p.store.list();
      } catch (e) {
        this.historyProblem(e);
        return;
      }
      this.addProblems(listing.problems);
      for (const c of listing.conversations) {
        try {
          const conv = await this.p.store.open(c.id);
          // Something may have started meanwhile (a send queued behind this load never runs before it).
          if (this.conv.turns.length === 0) this.conv = conv;
          return;
        } catch (e) {
          this.historyProblem(e);
          if (!(e instanceof HistoryError) || e.kind !== 'corrupt') return;
        }
      }
    })();
    return this.loading;
  }

  private async save(conv: Conversation): Promise<void> {
    if (conv.turns.length === 0) return;
    try {
      await this.p.store.save(conv);
      if (this.saveFailed) {
        this.saveFailed = false;
        this.notice('info', 'The chat history is being saved again.');
      }
    } catch (e) {
      this.p.log.warn(`Saving conversation ${conv.id} failed: ${messageOf(e)}`);
      if (!this.saveFailed) {
        this.saveFailed = true;
        const what = e instanceof HistoryError ? messageOf(e) : `The chat could not be saved: ${messageOf(e)}.`;
        this.notice('warning', `${what} The conversation stays open here and saving is retried with the next change.`);
      }
    }
  }

  // ───────────────────────────── composer ─────────────────────────────

  private async attach(what: 'file' | 'selection'): Promise<void> {
    if (this.attachments.length >= MAX_ATTACHMENTS) return this.composerError(`A message can carry at most ${MAX_ATTACHMENTS} attachments.`);
    try {
      this.attachments.push(await this.p.editorAttachment(what));
    } catch (e) {
      return this.composerError(messageOf(e));
    }
    this.postComposer();
  }

  private addImage(dataUrl: string, name: string | undefined): void {
    if (this.images.length >= PROTOCOL_LIMITS.maxImagesPerMessage) {
      return this.composerError(`A message can carry at most ${PROTOCOL_LIMITS.maxImagesPerMessage} images.`);
    }
    try {
      this.images.push(imageFromDataUrl(dataUrl, name !== undefined ? { name } : {}));
    } catch (e) {
      return this.composerError(messageOf(e));
    }
    this.postComposer();
  }

  private composerState(): ComposerStateView {
    const blocked = composerBlock(this.p.server());
    this.lastBlocked = JSON.stringify(blocked ?? null);
    return {
      mode: this.mode,
      busy: this.turn !== undefined,
      ...(blocked ? { blocked } : {}),
      attachments: this.attachments.map(attachmentView),
      images: this.images.map(imageView),
    };
  }

  // ───────────────────────────── actions ─────────────────────────────

  private async insertCode(code: string): Promise<void> {
    if (!(await this.p.insertCode(code))) {
      this.notice('warning', 'Nothing was inserted: no file is open in an editor. Open a file, put the cursor where the code should go, and press Insert at Cursor again.');
    }
  }

  private async openLink(href: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      this.notice('warning', `This link was not opened: "${clip(href, 200)}" is not a complete web address.`);
      return;
    }
    if (!LINK_SCHEMES.has(url.protocol)) {
      this.notice('warning', `This link was not opened: Kimi opens only web (http, https) and mail links, not "${url.protocol}" ones.`);
      return;
    }
    const ok = await this.p.confirm('Open this link from the chat?', url.href, 'Open Link');
    if (ok) await this.p.openExternal(url.href);
  }

  private async errorAction(turnId: string, action: 'startServer' | 'setApiKey' | 'restartServerWithFlags' | 'newChat' | 'openSettings'): Promise<void> {
    switch (action) {
      case 'startServer':
        this.p.runCommand('kimi.startServer');
        return;
      case 'setApiKey':
        this.p.runCommand('kimi.setApiKey');
        return;
      case 'openSettings':
        this.p.runCommand('kimi.openSettings');
        return;
      case 'newChat':
        return this.newChatNow();
      case 'restartServerWithFlags': {
        const t = this.conv.turns.find((x) => x.id === turnId);
        const flags = (t?.role === 'assistant' && t.error?.missingFlags) || ['--enable-auto-tool-choice', '--tool-call-parser kimi_k2'];
        const why = await this.p.restartServerWithFlags(flags);
        if (why) this.notice('info', why);
        return;
      }
    }
  }

  // ───────────────────────────── posting ─────────────────────────────

  private postConversation(uptoTurn?: number): void {
    const t = this.turn;
    if (t && t.conv === this.conv) {
      // A (re)loaded webview mid-answer: the turns before the streaming one, then that turn announced and its text
      // so far; the live deltas continue from there.
      const i = this.conv.turns.indexOf(t.assistant);
      this.post({ type: 'conversation', conversation: conversationView(this.conv, i) });
      this.post({ type: 'turnStarted', assistantId: t.assistant.id, meta: t.startMeta });
      if (t.assistant.thinking) this.post(`t${t.assistant.thinking}`);
      if (t.assistant.answer) this.post(`a${t.assistant.answer}`);
      if (t.calls?.length) this.post({ type: 'toolCalls', assistantId: t.assistant.id, calls: t.calls });
      return;
    }
    this.post({ type: 'conversation', conversation: conversationView(this.conv, uptoTurn) });
  }

  private postComposer(): void {
    this.post({ type: 'composer', composer: this.composerState() });
  }

  private async listing() {
    try {
      const l = await this.p.store.list();
      this.addProblems(l.problems);
      return l;
    } catch (e) {
      this.historyProblem(e);
      return { conversations: [], problems: [] };
    }
  }

  private async postHistory(): Promise<void> {
    this.postHistoryItems(await this.listing());
  }

  private postHistoryItems(listing: { conversations: Parameters<typeof historyItems>[0] }): void {
    this.post({ type: 'history', items: historyItems(listing.conversations), problems: [...this.problems] });
  }

  private historyProblem(e: unknown): void {
    this.p.log.warn(`Chat history: ${messageOf(e)}`);
    this.addProblems([messageOf(e)]);
  }

  private addProblems(list: string[]): void {
    for (const p of list) if (!this.problems.includes(p)) this.problems.push(p);
  }

  private composerError(message: string): void {
    this.post({ type: 'composerError', message });
  }

  private notice(level: 'info' | 'warning', text: string): void {
    this.post({ type: 'notice', level, text });
  }

  /** Runs operations that change the conversation or the composer one at a time, in arrival order. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => (this.disposed ? undefined : this.guard(fn)));
    this.queue = run;
    return run;
  }

  /** Nothing a message does may throw into the webview bridge: a failure is logged and shown. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.p.log.warn(`Chat: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      this.notice('warning', `Something went wrong: ${messageOf(e)}`);
    }
  }
}

/** What to tell the user about a webview message the protocol drops for exceeding its limits (an image or a message
 *  too large, too many images) — instead of silence. Undefined for anything else. */
export function limitFeedback(raw: unknown): string | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const m = raw as { type?: unknown; text?: unknown; image?: unknown; images?: unknown };
  const images = m.type === 'addImage' ? [m.image] : m.type === 'send' && Array.isArray(m.images) ? m.images : [];
  if (m.type === 'send' && typeof m.text === 'string' && m.text.length > PROTOCOL_LIMITS.maxMessageChars) {
    const fmt = (n: number) => n.toLocaleString('en-US');
    return `The message is too long to send: ${fmt(m.text.length)} characters (the limit is ${fmt(PROTOCOL_LIMITS.maxMessageChars)}). Shorten it, or attach the text as a file.`;
  }
  for (const img of images) {
    const { dataUrl, name } = (img ?? {}) as { dataUrl?: unknown; name?: unknown };
    if (typeof dataUrl === 'string' && dataUrl.length > PROTOCOL_LIMITS.maxImageDataUrlChars) {
      const who = typeof name === 'string' && name ? `"${clip(name, 80)}"` : 'The image';
      return `${who} is larger than ${MAX_IMAGE_BYTES / (1024 * 1024)} MB, the limit per image. Resize or compress it and try again.`;
    }
  }
  if (images.length > PROTOCOL_LIMITS.maxImagesPerMessage) {
    return `A message can carry at most ${PROTOCOL_LIMITS.maxImagesPerMessage} images; remove ${images.length - PROTOCOL_LIMITS.maxImagesPerMessage}.`;
  }
  return undefined;
}

function draftTurn(d: UserDraft): UserTurn {
  return { role: 'user', id: 'draft', createdAt: 0, ...d };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
