import * as vscode from 'vscode';
import type { LifecycleState } from '../core/server/lifecycleTypes';
import type { ServerView } from '../shared/protocol';
import { Disposable } from './lifecycle';
import { phaseLabel, type ServerService } from './server/serverService';
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

/** One status bar item, always showing the state: a server the extension manages (stopped / starting: phase /
 *  ready / failed: reason), or else the configured endpoint. Click: the actions that apply. */
export class StatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('kimi.server', vscode.StatusBarAlignment.Left, 50));

  constructor(
    private readonly status: ServerStatusService,
    private readonly server: ServerService,
  ) {
    super();
    this.item.name = 'Kimi Server';
    this.item.command = 'kimi.serverActions';
    this.refresh();
    this.register(status.onDidChange(() => this.refresh()));
    this.register(server.onDidChange(() => this.refresh()));
    this.item.show();
  }

  private refresh(): void {
    const managed = this.server.state;
    void vscode.commands.executeCommand('setContext', 'kimi.serverRunning', managed.kind === 'ready' || managed.kind === 'starting' || managed.kind === 'preflight');
    if (managed.kind === 'stopped' || (managed.kind === 'ready' && this.status.current.state === 'ready')) this.render(this.status.current);
    else this.renderManaged(managed);
  }

  private renderManaged(s: Exclude<LifecycleState, { kind: 'stopped' }>): void {
    const text =
      s.kind === 'preflight' ? '$(sync~spin) Kimi: checking GPUs…'
      : s.kind === 'starting' ? `$(loading~spin) Kimi: starting: ${phaseLabel(s)}`
      : s.kind === 'ready' ? `$(pass-filled) Kimi: ready · ${shortModel(s.modelId)}`
      : s.kind === 'stopping' ? '$(loading~spin) Kimi: stopping…'
      : `$(error) Kimi: failed: ${s.diagnosis.title}`;
    this.item.text = text.length > 90 ? `${text.slice(0, 89)}…` : text;
    const lines = [`Server profile "${s.profile}" on ${s.host}`];
    if (s.kind === 'ready' && s.gpus) lines.push(`GPUs: ${s.gpus}`);
    if (s.kind === 'starting' && s.gpus) lines.push(`GPUs: ${s.gpus}`);
    if (s.kind === 'failed') lines.push(s.diagnosis.explanation);
    lines.push('Click for server actions.');
    this.item.tooltip = lines.join('\n');
    this.item.accessibilityInformation = { label: `Kimi server ${s.kind}`, role: 'button' };
    this.item.backgroundColor = s.kind === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  private render(v: ServerView): void {
    const model = v.state === 'ready' && v.modelId ? ` · ${shortModel(v.modelId)}` : '';
    this.item.text = `${ICON[v.state]} Kimi: ${LABEL[v.state]}${model}`;
    const lines = [`Kimi server at ${v.baseUrl}`];
    if (v.modelId) lines.push(`Model: ${v.modelId}${v.maxModelLen ? ` (context ${v.maxModelLen.toLocaleString('en-US')} tokens)` : ''}`);
    if (v.detail) lines.push(v.detail);
    lines.push('Click for server actions.');
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
