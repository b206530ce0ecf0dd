import * as vscode from 'vscode';
import type { Services } from '../services';
import { describeState, downloadText, hostLabel, isDownloading, isRunning } from './presentation';
import { pickProfile } from './profilePick';
import { applyFixAndRestart } from './startFlow';

interface ActionItem extends vscode.QuickPickItem {
  run: () => unknown;
}

const command = (id: string, ...args: unknown[]) => () => vscode.commands.executeCommand(id, ...args);

/** The status bar's menu: only the actions that apply to the state the server is in. */
export async function showServerActions(s: Services): Promise<void> {
  const st = s.server.state;
  const p = s.server.runningProfile;
  const items: ActionItem[] = [];
  const add = (label: string, run: () => unknown, description?: string) => items.push({ label, run, ...(description ? { description } : {}) });

  if (st.kind === 'failed' && st.diagnosis.fix?.setting) add(`$(wrench) ${st.diagnosis.fix.label}`, () => applyFixAndRestart(s), 'apply the fix to the profile');
  if (st.kind === 'stopped' || st.kind === 'failed') add('$(play) Start Server', command('kimi.startServer', p.name), `${p.name} on ${hostLabel(p.host)}`);
  if (st.kind === 'preflight' || st.kind === 'starting') add('$(debug-stop) Stop Server', command('kimi.stopServer'), 'cancel the start');
  if (st.kind === 'ready') {
    add('$(comment-discussion) Open Chat', command('kimi.openChat'));
    add('$(debug-stop) Stop Server', command('kimi.stopServer'));
    add('$(debug-restart) Restart Server', command('kimi.restartServer'));
  }
  add('$(output) Show Server Logs', command('kimi.showServerLogs'), `"${p.name}"`);
  if (isDownloading(s.server.download)) add('$(close) Cancel Download', () => s.server.cancelDownload(), downloadText(s.server.download));
  else if (!isRunning(st)) add('$(cloud-download) Download Model', command('kimi.downloadModel'), p.model);
  if (st.kind !== 'ready') add('$(comment-discussion) Open Chat', command('kimi.openChat'));
  if (s.server.profiles().length > 1) {
    add('$(server) Select Profile…', async () => {
      const picked = await pickProfile(s.server, 'Kimi: Select Server Profile');
      if (picked) await s.server.selectProfile(picked.name);
    }, `now "${s.server.profile().name}"`);
  }
  add('$(refresh) Check Server', command('kimi.checkServer'));
  add('$(settings-gear) Settings', command('kimi.openSettings'));

  const pick = await vscode.window.showQuickPick(items, { title: `Kimi — "${p.name}" ${describeState(st)}`, placeHolder: 'Choose an action' });
  if (pick) await pick.run();
}
