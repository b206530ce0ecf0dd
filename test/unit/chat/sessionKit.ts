// A ChatSession in plain Node: a fake platform (what VS Code would provide: editor, clipboard, dialogs, commands, the
// server's state) around a real HistoryStore in a temp directory, talking to the vLLM emulator over real HTTP.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TextAttachment } from '../../../src/core/chat/conversation';
import { ChatError } from '../../../src/core/chat/errors';
import { HistoryStore } from '../../../src/core/chat/historyStore';
import { RECOMMENDED_SAMPLING, type ChatMode, type ChatSampling } from '../../../src/core/chat/types';
import type { ServerView, WebviewToHost } from '../../../src/shared/protocol';
import { ChatSession, type ChatPlatform, type ChatSessionOptions } from '../../../src/vscode/chat/chatSession';
import { webviewToHostSchema } from '../../../src/shared/protocol';
import { ChatInbox } from '../../support/chatInbox';

export class FakePlatform implements ChatPlatform {
  readonly inbox = new ChatInbox();
  readonly post = this.inbox.push;
  readonly store: HistoryStore;
  serverView: ServerView;
  /** What a re-check finds (default: the same view). */
  refreshed: ServerView | undefined;
  refreshes = 0;
  key: string | undefined;
  parser: boolean | undefined;
  settings: { mode: ChatMode; sampling: ChatSampling } = { mode: 'thinking', sampling: { ...RECOMMENDED_SAMPLING } };
  attachment: TextAttachment | ChatError = new ChatError({ kind: 'invalidInput', retryable: false, message: 'Nothing to attach: no file is open in an editor.' });
  editorOpen = true;
  inserted: string[] = [];
  clipboard = '';
  confirmAnswer = true;
  confirms: { message: string; detail: string; label: string }[] = [];
  opened: string[] = [];
  commands: string[] = [];
  restartAnswer: string | undefined;
  restarts: string[][] = [];
  logs: string[] = [];
  readonly log = { info: (l: string) => this.logs.push(l), warn: (l: string) => this.logs.push(`WARN ${l}`) };

  constructor(readonly dir: string, baseUrl: string, extra: Partial<ServerView> = {}) {
    this.store = new HistoryStore(dir);
    this.serverView = { state: 'ready', baseUrl, modelId: '/models/Kimi-K2.5', ...extra };
  }

  chatSettings() {
    return this.settings;
  }
  server() {
    return this.serverView;
  }
  async refreshServer() {
    this.refreshes++;
    if (this.refreshed) this.serverView = this.refreshed;
    return this.serverView;
  }
  async apiKey() {
    return this.key;
  }
  reasoningParser() {
    return this.parser;
  }
  async editorAttachment(): Promise<TextAttachment> {
    if (this.attachment instanceof ChatError) throw this.attachment;
    return this.attachment;
  }
  async insertCode(code: string) {
    if (!this.editorOpen) return false;
    this.inserted.push(code);
    return true;
  }
  async copy(text: string) {
    this.clipboard = text;
  }
  async confirm(message: string, detail: string, label: string) {
    this.confirms.push({ message, detail, label });
    return this.confirmAnswer;
  }
  async openExternal(url: string) {
    this.opened.push(url);
  }
  runCommand(command: string) {
    this.commands.push(command);
  }
  async restartServerWithFlags(flags: string[]) {
    this.restarts.push(flags);
    return this.restartAnswer;
  }
}

export function tmpHistoryDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-session-'));
}

/** A session over a platform, fed the way the webview feeds it (every message checked against the protocol). */
export class SessionRig {
  readonly session: ChatSession;
  constructor(readonly p: FakePlatform, opts: ChatSessionOptions = {}) {
    this.session = new ChatSession(p, opts);
  }
  get inbox() {
    return this.p.inbox;
  }
  send(msg: WebviewToHost): Promise<void> {
    const parsed = webviewToHostSchema().safeParse(msg);
    if (!parsed.success) throw new Error(`the test sent a message the webview could not: ${parsed.error.issues[0]?.message}`);
    return this.session.handle(parsed.data);
  }
}
