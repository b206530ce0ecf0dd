import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Conversation } from '../core/chat/conversation';
import { webviewToHostSchema, type HostToWebview, type WebviewToHost } from '../shared/protocol';
import type { ChatSession } from './chat/chatSession';
import { features } from './lazy';
import { Disposable } from './lifecycle';
import type { Services } from './services';
import { chatServerView } from './server/presentation';
import { applyFixAndRestart } from './server/startFlow';

export const CHAT_VIEW_ID = 'kimi.chatView';

/** For the integration tests (reached through KimiApi; nothing a user sees). */
export interface ChatTestHook {
  /** A message as if the webview had sent it: validated like one, then handled; resolves once handled (for a send:
   *  once its turn has started, not finished). */
  receive(raw: unknown): Promise<void>;
  /** Every message the host posts to the chat webview, whether or not a webview is showing. */
  onDidPost(listener: (msg: HostToWebview) => void): vscode.Disposable;
  /** What a window reload does to the panel: the session ends (its streaming turn is stopped and saved) and a new one
   *  starts over the same chat history. */
  reloadSession(): Promise<void>;
  readonly session: ChatSession;
}

/** The chat side panel. One ChatSession lives as long as the provider (the webview may be hidden, re-created or
 *  reloaded meanwhile: on `ready` it gets the full state again). Validates what the webview sends. */
export class ChatViewProvider extends Disposable implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private current: ChatSession | undefined;
  private readonly taps = new Set<(msg: HostToWebview) => void>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly s: Services,
  ) {
    super();
    const update = () => {
      this.current?.post({ type: 'server', server: this.serverView() });
      this.current?.serverChanged();
    };
    this.register(s.status.onDidChange(update));
    this.register(s.server.onDidChange(update));
    this.register(s.server.onDidChangeDownload(update));
    this.register(s.config.onDidChange(({ keys }) => {
      if (keys.includes('chat.mode')) this.current?.settingsChanged();
    }));
    this.register({ dispose: () => void this.current?.dispose() });
  }

  /** Created on first use (the panel opens, New Chat), so that activation does not load the chat code. */
  private get session(): ChatSession {
    return (this.current ??= this.createSession());
  }

  /** kimi.newChat */
  newChat(): Promise<void> {
    return this.session.newChat();
  }

  /** "Continue in chat" of an inline explanation: the panel shows `conv` (saved to the history) and gets the focus. */
  async continueConversation(conv: Conversation): Promise<void> {
    await this.session.openConversation(conv);
    await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
  }

  get testHook(): ChatTestHook {
    const provider = this;
    return {
      receive: (raw) => this.receive(raw),
      onDidPost: (listener) => {
        this.taps.add(listener);
        return new vscode.Disposable(() => this.taps.delete(listener));
      },
      reloadSession: async () => {
        const old = this.current;
        this.current = this.createSession();
        await old?.dispose();
      },
      get session() {
        return provider.session;
      },
    };
  }

  private createSession(): ChatSession {
    // From dist/features.js, loaded now: the chat modules (client, normaliser, history store, tools) are read and
    // compiled when the chat is first used, not when the extension activates.
    const { ChatSession, VscodeChatPlatform } = features();
    return new ChatSession(new VscodeChatPlatform(this.s, (msg) => this.deliver(msg)));
  }

  /** The header's view: the managed server (phase, diagnosis) when there is one, else the endpoint's check. */
  private serverView() {
    return chatServerView(this.s.status.current, this.s.server.state, this.s.server.download);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    view.webview.html = renderHtml(view.webview, this.extensionUri);
    const subs = [
      view.webview.onDidReceiveMessage((raw: unknown) => void this.receive(raw)),
      // Hidden without retained context: the page is destroyed; once shown again it reloads and says `ready`.
      view.onDidChangeVisibility(() => {
        if (!view.visible) this.ready = false;
      }),
      view.onDidDispose(() => {
        if (this.view === view) {
          this.view = undefined;
          this.ready = false;
        }
        // The user closed the panel: a streaming answer stops (and is kept, marked stopped).
        this.current?.stop();
        subs.forEach((s) => s.dispose());
      }),
    ];
  }

  private receive(raw: unknown): Promise<void> {
    const parsed = webviewToHostSchema().safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.s.log.warn(`Ignored a malformed message from the chat view: ${issue ? `${issue.path.map(String).join('.') || 'message'}: ${issue.message}` : 'invalid'}`);
      // Over a size limit is something the user did (a huge image or paste): say so instead of staying silent.
      const why = features().limitFeedback(raw);
      if (why) this.session.post({ type: 'composerError', message: why });
      return Promise.resolve();
    }
    return this.handle(parsed.data);
  }

  private async handle(msg: WebviewToHost): Promise<void> {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.session.post({ type: 'server', server: this.serverView() });
        await this.session.ready();
        return;
      case 'checkServer':
        this.session.post({ type: 'server', server: chatServerView({ ...this.s.status.current, state: 'checking' }, this.s.server.state, this.s.server.download) });
        await this.s.status.check();
        this.session.post({ type: 'server', server: this.serverView() });
        this.session.serverChanged();
        return;
      case 'applyServerFix':
        await applyFixAndRestart(this.s);
        return;
      case 'runCommand':
        await vscode.commands.executeCommand(msg.command);
        return;
      default:
        await this.session.handle(msg);
    }
  }

  /** Everything the session posts ends here; a webview that has not said `ready` gets the full state then. */
  private deliver(msg: HostToWebview): void {
    for (const tap of this.taps) {
      try {
        tap(msg);
      } catch {
        // a test listener must not break the panel
      }
    }
    if (this.view && this.ready) void this.view.webview.postMessage(msg);
  }
}

function renderHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(18).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'chat.css'));
  const markdownStyle = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'markdown.css'));
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<link rel="stylesheet" href="${markdownStyle}">
<title>Kimi</title>
</head>
<body>
<main id="app" aria-live="polite"></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
