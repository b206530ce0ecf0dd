import * as vscode from 'vscode';
import type { ServerView } from '../shared/protocol';
import { Disposable } from './lifecycle';
import type { ServerStatusService } from './serverStatus';

const ICON: Record<ServerView['state'], string> = {
  checking: '$(sync~spin)',
  ready: '$(pass-filled)',
  starting: '$(loading~spin)',
  unreachable: '$(debug-disconnect)',
  unauthorized: '$(lock)',
  error: '$(error)',
};

const LABEL: Record<ServerView['state'], string> = {
  checking: 'checking…',
  ready: 'ready',
  starting: 'starting…',
  unreachable: 'no server',
  unauthorized: 'needs API key',
  error: 'server error',
};

/** One status bar item: the server's state and model; click opens the chat. */
export class StatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('kimi.server', vscode.StatusBarAlignment.Left, 50));

  constructor(status: ServerStatusService) {
    super();
    this.item.name = 'Kimi Server';
    this.item.command = 'kimi.openChat';
    this.render(status.current);
    this.register(status.onDidChange((v) => this.render(v)));
    this.item.show();
  }

  private render(v: ServerView): void {
    const model = v.state === 'ready' && v.modelId ? ` · ${shortModel(v.modelId)}` : '';
    this.item.text = `${ICON[v.state]} Kimi: ${LABEL[v.state]}${model}`;
    const lines = [`Kimi server at ${v.baseUrl}`];
    if (v.modelId) lines.push(`Model: ${v.modelId}${v.maxModelLen ? ` (context ${v.maxModelLen.toLocaleString('en-US')} tokens)` : ''}`);
    if (v.detail) lines.push(v.detail);
    lines.push('Click to open the chat.');
    this.item.tooltip = lines.join('\n');
    this.item.accessibilityInformation = { label: `Kimi server ${LABEL[v.state]}${v.modelId ? `, model ${v.modelId}` : ''}`, role: 'button' };
    this.item.backgroundColor = v.state === 'error' || v.state === 'unauthorized' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    void vscode.commands.executeCommand('setContext', 'kimi.serverReady', v.state === 'ready');
  }
}

/** `/root/autodl-fs/moonshotai/Kimi-K2.5` → `Kimi-K2.5` */
export function shortModel(id: string): string {
  const last = id.split('/').filter(Boolean).pop() ?? id;
  return last.length > 40 ? `${last.slice(0, 39)}…` : last;
}
