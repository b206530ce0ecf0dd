import * as vscode from 'vscode';
import type { Services } from '../services';
import { checkClusterSizing, showNodeLogs } from '../cluster/clusterCommands';
import { showServerActions } from '../server/actionsPick';
import { downloadWithProgress } from '../server/downloadFlow';
import { showServerLogs } from '../server/logsView';
import { pickProfile } from '../server/profilePick';
import { isRunning } from '../server/presentation';
import { restartWithProgress, startWithProgress } from '../server/startFlow';
import { stopWithProgress } from '../server/stopFlow';

export function registerServerCommands(s: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.downloadModel', () => downloadWithProgress(s)),
    // An optional profile name (from buttons and the API) skips the picker.
    vscode.commands.registerCommand('kimi.startServer', async (profileName?: unknown) => {
      const ok = await chooseProfile(s, typeof profileName === 'string' ? profileName : undefined);
      return ok ? startWithProgress(s) : s.server.state;
    }),
    vscode.commands.registerCommand('kimi.stopServer', async () => {
      await stopWithProgress(s);
      return s.server.state;
    }),
    vscode.commands.registerCommand('kimi.restartServer', () => restartWithProgress(s)),
    vscode.commands.registerCommand('kimi.showServerLogs', () => showServerLogs(s)),
    vscode.commands.registerCommand('kimi.showNodeLogs', (node?: unknown) => showNodeLogs(s, typeof node === 'number' ? node : undefined)),
    vscode.commands.registerCommand('kimi.checkClusterSizing', () => checkClusterSizing(s)),
    vscode.commands.registerCommand('kimi.serverActions', () => showServerActions(s)),
    vscode.commands.registerCommand('kimi.checkServer', async () => {
      const v = await s.status.check();
      const where = v.baseUrl;
      if (v.state === 'ready') void vscode.window.showInformationMessage(`Kimi: the server at ${where} is ready and serves ${v.modelId}.`);
      else void vscode.window.showWarningMessage(`Kimi: the server at ${where} is not ready — ${v.detail ?? v.state}.`);
      return v;
    }),
  );
}

/**
 * Makes the profile to start the active one: the named one, or — with several profiles — the one picked in a quick
 * pick (host and GPUs shown). While another profile's server runs, asks before stopping it. false = cancelled.
 */
async function chooseProfile(s: Services, name: string | undefined): Promise<boolean> {
  const profiles = s.server.profiles();
  const target = name !== undefined ? profiles.find((p) => p.name === name) : profiles.length > 1 ? await pickProfile(s.server, 'Kimi: Start Server') : s.server.profile();
  if (name !== undefined && !target) {
    void vscode.window.showErrorMessage(`Kimi: there is no server profile named "${name}" in kimi.servers.`);
    return false;
  }
  if (!target) return false;
  const running = s.server.runningProfile;
  if (target.name !== running.name && isRunning(s.server.state)) {
    const pick = await vscode.window.showWarningMessage(
      `Kimi: "${running.name}" is running. Stop it and start "${target.name}"?`,
      { modal: true },
      'Stop and Start',
    );
    if (!pick) return false;
    await stopWithProgress(s, { quiet: true });
  }
  if (target.name !== s.server.profile().name) await s.server.selectProfile(target.name);
  return true;
}
