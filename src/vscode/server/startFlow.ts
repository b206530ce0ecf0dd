import * as vscode from 'vscode';
import { defaultProfile, type ServerProfile } from '../../core/config/serverProfile';
import type { Diagnosis } from '../../core/server/diagnosis';
import type { LifecycleState } from '../../core/server/lifecycleTypes';
import type { Services } from '../services';
import { describeState, phaseLabel } from './serverService';

/** "Kimi: Start Server": a progress notification that follows the phases, then ready or a diagnosis with its fix. */
export async function startWithProgress(s: Services): Promise<LifecycleState> {
  const current = s.server.state;
  if (current.kind === 'ready') {
    void vscode.window.showInformationMessage(`Kimi: the server "${current.profile}" is already running (${current.modelId}).`);
    return current;
  }
  const profile = s.server.profile();
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Kimi: starting "${profile.name}"`, cancellable: true },
    async (progress, token) => {
      let lastPct = 0;
      const sub = s.server.onDidChange((st) => {
        if (st.kind === 'starting' && st.progress && st.phase === 'loadingWeights') {
          const pct = Math.round((st.progress.done / st.progress.total) * 80);
          progress.report({ message: phaseLabel(st), increment: Math.max(0, pct - lastPct) });
          lastPct = Math.max(lastPct, pct);
        } else if (st.kind === 'starting' || st.kind === 'preflight') {
          progress.report({ message: st.kind === 'starting' ? phaseLabel(st) : st.detail });
        }
      });
      const cancel = token.onCancellationRequested(() => void s.server.stop());
      try {
        return await s.server.start();
      } finally {
        sub.dispose();
        cancel.dispose();
      }
    },
  );
  if (result.kind === 'ready') {
    void vscode.window.showInformationMessage(`Kimi: ${describeState(result)}.`);
  } else if (result.kind === 'failed') {
    void showDiagnosis(s, result.diagnosis);
  }
  return result;
}

/** The diagnosis in plain words, with its fix as a button when it is a setting. */
export async function showDiagnosis(s: Services, d: Diagnosis): Promise<void> {
  const actions = [...(d.fix?.setting ? [d.fix.label] : []), 'Show Logs'];
  const pick = await vscode.window.showErrorMessage(`Kimi: ${d.title}. ${d.explanation}`, ...actions);
  if (pick === 'Show Logs') s.server.terminal.show();
  else if (pick && d.fix?.setting) {
    await applyFix(s, d.fix.setting.key, d.fix.setting.value);
    await startWithProgress(s);
  }
}

/** Writes a fix into the active profile (creating an explicit profile when the implicit default is in use). */
export async function applyFix(s: Services, key: string, value: unknown): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('kimi');
  const servers = [...((cfg.get<unknown[]>('servers') ?? []) as Record<string, unknown>[])];
  const name = s.server.profile().name;
  let index = servers.findIndex((p) => p && p.name === name);
  if (index < 0) {
    servers.push({ name: defaultProfile().name });
    index = servers.length - 1;
  }
  const entry = { ...servers[index]! };
  if (key === 'extraArgs' && value && typeof value === 'object' && 'remove' in value) {
    const remove = new Set((value as { remove: string[] }).remove);
    entry.extraArgs = ((entry.extraArgs as string[] | undefined) ?? []).filter((a) => !remove.has(a));
  } else {
    entry[key as keyof ServerProfile] = value;
  }
  servers[index] = entry;
  await cfg.update('servers', servers, vscode.ConfigurationTarget.Global);
  await cfg.update('activeServer', entry.name, vscode.ConfigurationTarget.Global);
  s.server.switchIfProfileChanged();
}
