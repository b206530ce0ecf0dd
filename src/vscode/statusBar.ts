import * as vscode from 'vscode';
import { SETTINGS_SECTION } from '../core/config/settings';
import type { ConfigService } from './config';
import { Disposable } from './lifecycle';
import { statusBarModel } from './server/presentation';
import type { ServerService } from './server/serverService';
import type { ServerStatusService } from './serverStatus';

export { shortModel } from './server/presentation';

/** One status bar item that always shows the state — downloading n% / starting: phase / ready: model, GPUs /
 *  failed: reason / stopped — of the server the extension manages, or of the configured endpoint when it manages
 *  none. Click: the quick pick of the actions that apply. */
export class StatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('kimi.server', vscode.StatusBarAlignment.Left, 50));

  constructor(
    private readonly status: ServerStatusService,
    private readonly server: ServerService,
    config: ConfigService,
  ) {
    super();
    this.item.name = 'Kimi Server';
    this.item.command = 'kimi.serverActions';
    this.register(status.onDidChange(() => this.render()));
    this.register(server.onDidChange(() => this.render()));
    this.register(server.onDidChangeDownload(() => this.render()));
    this.register(config.onDidChange(() => this.render()));
    this.render();
    this.item.show();
  }

  private render(): void {
    const m = statusBarModel({
      managed: this.server.state,
      download: this.server.download,
      endpoint: this.status.current,
      externalEndpoint: endpointConfigured(),
    });
    this.item.text = m.text;
    this.item.tooltip = m.tooltip;
    this.item.accessibilityInformation = { label: m.text.replace(/\$\([\w~-]+\)\s*/g, ''), role: 'button' };
    this.item.backgroundColor =
      m.tone === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : m.tone === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }
}

/** The user pointed kimi.endpoint.baseUrl somewhere (an external server) rather than leaving the default. */
function endpointConfigured(): boolean {
  const i = vscode.workspace.getConfiguration(SETTINGS_SECTION).inspect('endpoint.baseUrl');
  return [i?.globalValue, i?.workspaceValue, i?.workspaceFolderValue].some((v) => v !== undefined);
}
