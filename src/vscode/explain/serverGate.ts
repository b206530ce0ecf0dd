// Whether an explanation can be sent now, and waiting until it can: the same view of the server as the chat panel
// (the managed server when there is one, else the endpoint's check). When it is not ready, one notification offers
// the way out ("Start Server", "Set API Key", "Open Settings") while explanations wait; they go out once it is ready.
import * as vscode from 'vscode';
import { composerBlock } from '../../core/chat/chatViews';
import type { ServerView } from '../../shared/protocol';
import { Disposable } from '../lifecycle';
import { chatServerView } from '../server/presentation';
import type { Services } from '../services';

export type ServerBlock = NonNullable<ReturnType<typeof composerBlock>>;

const OFFERS: Record<NonNullable<ServerBlock['action']>, { button: string; command: string }> = {
  startServer: { button: 'Start Server', command: 'kimi.startServer' },
  setApiKey: { button: 'Set API Key', command: 'kimi.setApiKey' },
  openSettings: { button: 'Open Settings', command: 'kimi.openSettings' },
};

/** The notification's text for a blocked server. */
export function offerMessage(view: ServerView, block: ServerBlock): string {
  const then = 'The explanation starts as soon as it is ready.';
  switch (view.state) {
    case 'unreachable':
      return `Kimi's server is not running (nothing answers at ${view.baseUrl}). ${then}`;
    case 'unauthorized':
      return `Kimi's server needs an API key: it refused the request (HTTP 401). ${then}`;
    case 'failed':
      return `Kimi's server failed to start${view.managed?.diagnosis ? `: ${view.managed.diagnosis.title}` : ''}. ${then}`;
    default:
      return `${block.reason}. ${then}`;
  }
}

export class ServerGate extends Disposable {
  private readonly changed = this.register(new vscode.EventEmitter<ServerView>());
  /** The server view changed (endpoint check or managed server). */
  readonly onDidChange = this.changed.event;
  /** The offer being shown (one at a time, whatever number of explanations wait). */
  private offering: { key: string; done: Promise<void> } | undefined;

  constructor(private readonly s: Services) {
    super();
    const fire = () => this.changed.fire(this.view());
    this.register(s.status.onDidChange(fire));
    this.register(s.server.onDidChange(fire));
  }

  view(): ServerView {
    return chatServerView(this.s.status.current, this.s.server.state, this.s.server.download);
  }

  /** The server now (checked again when the last check says it cannot be used). */
  async check(): Promise<ServerView> {
    const v = this.view();
    if (!composerBlock(v)) return v;
    await this.s.status.check();
    return this.view();
  }

  /** Resolves with the ready server, or undefined when `signal` aborts first. */
  waitUntilReady(signal: AbortSignal): Promise<ServerView | undefined> {
    const now = this.view();
    if (!composerBlock(now) && now.modelId) return Promise.resolve(now);
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (v: ServerView | undefined) => {
        sub.dispose();
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = () => done(undefined);
      const sub = this.onDidChange((v) => {
        if (!composerBlock(v) && v.modelId) done(v);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Shows the notification for a blocked server (not again while the same one is open). A server that is merely
   *  starting or stopping gets none: the thread says it waits. */
  offer(view: ServerView, block: ServerBlock): void {
    const action = block.action;
    if (!action) return;
    const key = `${view.state}:${action}`;
    if (this.offering?.key === key) return;
    const { button, command } = OFFERS[action];
    const shown = Promise.resolve(vscode.window.showWarningMessage(offerMessage(view, block), button)).then(
      async (pick) => {
        if (pick === button) await vscode.commands.executeCommand(command);
      },
      () => undefined,
    );
    const entry = { key, done: shown.finally(() => {
      if (this.offering === entry) this.offering = undefined;
    }) };
    this.offering = entry;
    void entry.done.catch((e: unknown) => this.s.log.warn(`Explain: ${command} failed: ${e instanceof Error ? e.message : String(e)}`));
  }

  apiKey(): Promise<string | undefined> {
    return this.s.secrets.apiKey();
  }

  /** Whether the server runs a reasoning parser, when the extension knows (a server it manages). */
  reasoningParser(): boolean | undefined {
    return this.s.server.state.kind === 'ready' ? this.s.server.runningProfile.reasoningParser !== '' : undefined;
  }
}
