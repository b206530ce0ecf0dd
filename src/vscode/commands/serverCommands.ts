import * as vscode from 'vscode';
import type { Services } from '../services';
import { describeState } from '../server/serverService';
import { startWithProgress } from '../server/startFlow';
import { explainNotYetAvailable } from './notYet';

export function registerServerCommands(s: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.downloadModel', () =>
      explainNotYetAvailable('Kimi: Download Model', 'downloading Kimi-K2.5 from ModelScope onto a GPU host', 'Meanwhile, run `modelscope download --model moonshotai/Kimi-K2.5 --local_dir DIR` on the host.'),
    ),
    vscode.commands.registerCommand('kimi.startServer', () => startWithProgress(s)),
    vscode.commands.registerCommand('kimi.stopServer', () => stop(s)),
    vscode.commands.registerCommand('kimi.restartServer', async () => {
      if (s.server.state.kind !== 'stopped') await stop(s);
      return startWithProgress(s);
    }),
    vscode.commands.registerCommand('kimi.showServerLogs', () => s.server.terminal.show()),
    vscode.commands.registerCommand('kimi.serverActions', () => serverActions(s)),
    vscode.commands.registerCommand('kimi.checkServer', async () => {
      const v = await s.status.check();
      const where = v.baseUrl;
      if (v.state === 'ready') void vscode.window.showInformationMessage(`Kimi: the server at ${where} is ready and serves ${v.modelId}.`);
      else void vscode.window.showWarningMessage(`Kimi: the server at ${where} is not ready — ${v.detail ?? v.state}.`);
      return v;
    }),
  );
}

async function stop(s: Services) {
  const name = s.server.profile().name;
  const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Kimi: stopping "${name}"…` }, () => s.server.stop());
  const held = Object.entries(report.gpuMemoryHeld);
  if (report.result === 'not-running' || report.result === 'stale') {
    void vscode.window.showInformationMessage(`Kimi: no server of "${name}" is running.`);
  } else if (report.result === 'survived' || !report.portClosed || held.length) {
    const gpus = held.map(([i, mib]) => `GPU ${i}: ${(mib / 1024).toFixed(1)} GiB`).join(', ');
    void vscode.window.showWarningMessage(`Kimi: "${name}" was signalled (${report.result}) but ${!report.portClosed ? `port ${s.server.profile().port} is still open` : ''}${gpus ? ` GPU memory is still held (${gpus})` : ''}. Check the host.`);
  } else {
    void vscode.window.showInformationMessage(`Kimi: "${name}" stopped (SIG${report.result}); port closed, GPU memory freed.`);
  }
  return report;
}

/** The status bar's menu: the actions that apply now. */
async function serverActions(s: Services): Promise<void> {
  const st = s.server.state;
  const running = st.kind === 'ready' || st.kind === 'starting' || st.kind === 'preflight';
  const items: (vscode.QuickPickItem & { command: string })[] = [
    ...(running ? [] : [{ label: '$(play) Start Server', description: s.server.profile().name, command: 'kimi.startServer' }]),
    ...(running ? [{ label: '$(debug-stop) Stop Server', command: 'kimi.stopServer' }, { label: '$(debug-restart) Restart Server', command: 'kimi.restartServer' }] : []),
    { label: '$(output) Show Server Logs', command: 'kimi.showServerLogs' },
    { label: '$(comment-discussion) Open Chat', command: 'kimi.openChat' },
    { label: '$(cloud-download) Download Model', command: 'kimi.downloadModel' },
    { label: '$(settings-gear) Settings', command: 'kimi.openSettings' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: `Kimi — ${describeState(st)}`, placeHolder: 'Choose an action' });
  if (pick) await vscode.commands.executeCommand(pick.command);
}
