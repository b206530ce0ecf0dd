import * as vscode from 'vscode';
import type { Services } from '../services';
import { explainNotYetAvailable } from './notYet';

const START_YOURSELF =
  'Meanwhile, start `vllm serve` yourself (see the README) and set "kimi.endpoint.baseUrl"; the status bar shows when the server is ready.';

export function registerServerCommands(s: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.downloadModel', () =>
      explainNotYetAvailable('Kimi: Download Model', 'downloading Kimi-K2.5 from ModelScope onto a GPU host', 'Meanwhile, run `modelscope download --model moonshotai/Kimi-K2.5 --local_dir DIR` on the host.'),
    ),
    vscode.commands.registerCommand('kimi.startServer', () =>
      explainNotYetAvailable('Kimi: Start Server', 'starting vLLM locally or over SSH', START_YOURSELF),
    ),
    vscode.commands.registerCommand('kimi.stopServer', () =>
      explainNotYetAvailable('Kimi: Stop Server', 'stopping a server the extension started', 'Meanwhile, stop `vllm serve` with Ctrl+C in its terminal.'),
    ),
    vscode.commands.registerCommand('kimi.restartServer', () =>
      explainNotYetAvailable('Kimi: Restart Server', 'restarting a server the extension started', START_YOURSELF),
    ),
    vscode.commands.registerCommand('kimi.showServerLogs', () => s.log.show(true)),
    vscode.commands.registerCommand('kimi.checkServer', async () => {
      const v = await s.status.check();
      const where = v.baseUrl;
      if (v.state === 'ready') void vscode.window.showInformationMessage(`Kimi: the server at ${where} is ready and serves ${v.modelId}.`);
      else void vscode.window.showWarningMessage(`Kimi: the server at ${where} is not ready — ${v.detail ?? v.state}.`);
      return v;
    }),
  );
}
