// Cluster commands: a node's log ("Kimi: Show Node Logs", from the Cluster Nodes view or the palette with a pick of
// the nodes) and the sizing help ("Kimi: Check Cluster Sizing": every node's GPUs probed over SSH, the profile's
// layout checked on them, the smallest layout that fits).
import * as vscode from 'vscode';
import { isClusterProfile } from '../../core/cluster/clusterProfile';
import { pickNode, showServerLogs } from '../server/logsView';
import type { Services } from '../services';

export async function showNodeLogs(s: Services, node?: number): Promise<void> {
  if (!s.server.nodes) {
    await vscode.commands.executeCommand('kimi.showServerLogs');
    return;
  }
  const i = node ?? (await pickNode(s, `Kimi: logs of "${s.server.runningProfile.name}"`));
  if (i === undefined) return;
  if (i === 0) {
    // The head's vLLM: the server terminal the extension already feeds.
    await showServerLogs(s, { node: 0 });
    return;
  }
  try {
    await s.server.showNodeLog(i);
  } catch (err) {
    void vscode.window.showErrorMessage(`Kimi: could not read the log of node ${i}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** "Kimi: Check Cluster Sizing": the verdict in a notification, the details in the Kimi output channel. */
export async function checkClusterSizing(s: Services): Promise<string[] | undefined> {
  const profile = s.server.profile();
  if (!isClusterProfile(profile)) {
    void vscode.window.showInformationMessage(`Kimi: "${profile.name}" runs on one host. Add "cluster": {"workers": [...]} to a profile in kimi.servers to serve Kimi-K2.5 from several GPU hosts.`, 'Open Settings').then((pick) => {
      if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', 'kimi.servers');
    });
    return undefined;
  }
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Kimi: probing the GPUs of the ${profile.cluster.workers.length + 1} nodes of "${profile.name}"…` },
    () => s.server.sizing(profile),
  );
  if (!report) return undefined;
  for (const line of report.lines) s.log.info(`Sizing "${profile.name}": ${line}`);
  const verdict = report.lines[report.nodes.length] ?? '';
  const ok = report.layout?.fits === true;
  const message = `Kimi: ${verdict} ${report.sizing.summary}`;
  const show = ok ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(message, 'Show Details').then((pick) => {
    if (pick) s.log.show(true);
  });
  return report.lines;
}
