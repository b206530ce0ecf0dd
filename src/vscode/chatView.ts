import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { webviewToHostSchema, type HostToWebview, type WebviewToHost } from '../shared/protocol';
import { Disposable } from './lifecycle';
import type { Services } from './services';
import { chatServerView } from './server/presentation';
import { applyFixAndRestart } from './server/startFlow';

export const CHAT_VIEW_ID = 'kimi.chatView';

/** The chat side panel. Holds host→webview messages until the webview says `ready`; validates what it sends back. */
export class ChatViewProvider extends Disposable implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private pending: HostToWebview[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly s: Services,
  ) {
    super();
    const update = () => this.post({ type: 'server', server: this.serverView() });
    this.register(s.status.onDidChange(update));
    this.register(s.server.onDidChange(update));
    this.register(s.server.onDidChangeDownload(update));
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
      view.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      view.onDidDispose(() => {
        this.view = undefined;
        this.ready = false;
        subs.forEach((s) => s.dispose());
      }),
    ];
  }

  private receive(raw: unknown): void {
    const parsed = webviewToHostSchema.safeParse(raw);
    if (!parsed.success) {
      this.s.log.warn(`Ignored a malformed message from the chat view: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return;
    }
    void this.handle(parsed.data);
  }

  private async handle(msg: WebviewToHost): Promise<void> {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.pending = [{ type: 'server', server: this.serverView() }];
        this.flush();
        return;
      case 'checkServer':
        this.post({ type: 'server', server: chatServerView({ ...this.s.status.current, state: 'checking' }, this.s.server.state, this.s.server.download) });
        await this.s.status.check();
        this.post({ type: 'server', server: this.serverView() });
        return;
      case 'applyServerFix':
        await applyFixAndRestart(this.s);
        return;
      case 'runCommand':
        await vscode.commands.executeCommand(msg.command);
        return;
    }
  }

  private post(msg: HostToWebview): void {
    if (typeof msg !== 'string' && msg.type === 'server') this.pending = this.pending.filter((m) => typeof m === 'string' || m.type !== 'server');
    this.pending.push(msg);
    this.flush();
  }

  private flush(): void {
    if (!this.view || !this.ready) return;
    for (const msg of this.pending.splice(0)) void this.view.webview.postMessage(msg);
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
