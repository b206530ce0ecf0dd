import * as vscode from 'vscode';
import { Disposable } from '../lifecycle';
import type { ServerStatusService } from '../serverStatus';
import { isRunning } from './presentation';
import type { ServerService } from './serverService';

/** `kimi.serverRunning` (a managed server exists or is starting — Stop Server shows only then) and
 *  `kimi.serverReady` (the chat has a server to talk to: the managed one, or the configured endpoint). */
export class ServerContextKeys extends Disposable {
  private last = '';

  constructor(
    private readonly status: ServerStatusService,
    private readonly server: ServerService,
  ) {
    super();
    this.register(status.onDidChange(() => this.update()));
    this.register(server.onDidChange(() => this.update()));
    this.update();
  }

  private update(): void {
    const s = this.server.state;
    const running = isRunning(s);
    const ready = s.kind === 'ready' || (s.kind === 'stopped' && this.status.current.state === 'ready');
    const key = `${running}/${ready}`;
    if (key === this.last) return;
    this.last = key;
    void vscode.commands.executeCommand('setContext', 'kimi.serverRunning', running);
    void vscode.commands.executeCommand('setContext', 'kimi.serverReady', ready);
  }
}
