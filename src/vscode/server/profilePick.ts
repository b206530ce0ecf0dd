import * as vscode from 'vscode';
import { isClusterProfile, layoutTitle } from '../../core/cluster/clusterProfile';
import type { ServerProfile } from '../../core/config/serverProfile';
import { modelPath } from '../../core/server/vllmCommand';
import type { ServerService } from './serverService';
import { describeState, hostLabel } from './presentation';

interface ProfileItem extends vscode.QuickPickItem {
  profile: ServerProfile;
}

/**
 * A quick pick of the server profiles: name, host, what the server needs, and each host's GPUs as nvidia-smi reports
 * them (filled in as the answers arrive; an unreachable host says why). Resolves with the picked profile.
 */
export async function pickProfile(server: ServerService, title: string): Promise<ServerProfile | undefined> {
  const profiles = server.profiles();
  const active = server.runningProfile.name;
  const qp = vscode.window.createQuickPick<ProfileItem>();
  qp.title = title;
  qp.placeholder = 'Which server profile? (kimi.servers)';
  qp.matchOnDescription = true;
  const gpuInfo = new Map<string, string>();
  let closed = false;
  const render = () => {
    if (closed) return;
    qp.items = profiles.map((p) => {
      const running = p.name === active && server.state.kind !== 'stopped' ? ` · ${describeState(server.state)}` : '';
      return {
        profile: p,
        label: `${p.name === active ? '$(check)' : '$(server)'} ${p.name}`,
        description: `${hostLabel(p.host)}${running}`,
        detail: isClusterProfile(p)
          ? `Cluster: ${layoutTitle(p)}, head ${hostLabel(p.host)} + ${p.cluster.workers.length} worker${p.cluster.workers.length > 1 ? 's' : ''} · GPUs: ${gpuInfo.get(p.name) ?? 'checking…'}`
          : `GPUs: ${gpuInfo.get(p.name) ?? 'checking…'} · needs ${p.tensorParallelSize} (-tp) · port ${p.port} · ${modelPath(p)}`,
      };
    });
    const current = qp.items.find((i) => i.profile.name === active);
    if (current && qp.activeItems.length === 0) qp.activeItems = [current];
  };
  render();
  for (const p of profiles) {
    void server.probeGpus(p).then(
      (g) => gpuInfo.set(p.name, g),
      (err) => gpuInfo.set(p.name, `unknown (${err instanceof Error ? err.message : String(err)})`),
    ).then(() => {
      const keep = qp.activeItems[0]?.profile.name;
      render();
      const again = qp.items.find((i) => i.profile.name === keep);
      if (again) qp.activeItems = [again];
    });
  }
  return new Promise((resolve) => {
    qp.onDidAccept(() => {
      resolve(qp.selectedItems[0]?.profile ?? qp.activeItems[0]?.profile);
      qp.hide();
    });
    qp.onDidHide(() => {
      closed = true;
      resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}
