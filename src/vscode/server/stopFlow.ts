import * as vscode from 'vscode';
import type { StopReport } from '../../core/server/lifecycleTypes';
import type { Services } from '../services';
import { hostLabel } from './presentation';

const SIGNAL: Record<'INT' | 'TERM' | 'KILL', string> = { INT: 'SIGINT', TERM: 'SIGTERM', KILL: 'SIGKILL' };

/** "Kimi: Stop Server": SIGINT → SIGTERM → SIGKILL by the core, then what was verified, in one sentence. */
export async function stopWithProgress(s: Services, opts: { quiet?: boolean } = {}): Promise<StopReport | undefined> {
  const p = s.server.runningProfile;
  let report: StopReport;
  try {
    report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Kimi: stopping "${p.name}" on ${hostLabel(p.host)}…` },
      () => s.server.stop(),
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`Kimi: could not stop "${p.name}": ${err instanceof Error ? err.message : String(err)}`, 'Show Logs').then((pick) => {
      if (pick) void vscode.commands.executeCommand('kimi.showServerLogs');
    });
    return undefined;
  }
  const text = stopText(p.name, p.port, report);
  if (text.warning) void vscode.window.showWarningMessage(text.message);
  else if (!opts.quiet) void vscode.window.showInformationMessage(text.message);
  return report;
}

export function stopText(name: string, port: number, r: StopReport): { message: string; warning: boolean } {
  if (r.nodes) {
    // A cluster: the core checked every node and says what it found.
    const left = r.nodes.some((n) => n.leftovers.length > 0 || Object.keys(n.gpuMemoryHeld).length > 0 || n.error !== undefined);
    return { message: `Kimi: ${r.message ?? `"${name}" stopped.`}`, warning: left || r.result === 'survived' };
  }
  const held = Object.entries(r.gpuMemoryHeld);
  const gpus = held.map(([i, mib]) => `GPU ${i}: ${(mib / 1024).toFixed(1)} GiB`).join(', ');
  if (r.result === 'not-running' || r.result === 'stale') {
    return { message: `Kimi: no server of "${name}" was running${r.result === 'stale' ? ' (a leftover pid file was removed)' : ''}.`, warning: false };
  }
  if (r.result === 'survived' || !r.portClosed || held.length > 0) {
    const problems = [
      ...(r.result === 'survived' ? ['the process survived SIGKILL'] : []),
      ...(!r.portClosed ? [`port ${port} is still open`] : []),
      ...(held.length ? [`GPU memory is still held (${gpus})`] : []),
    ];
    return { message: `Kimi: "${name}" was signalled, but ${problems.join(' and ')}. Check the host (nvidia-smi, ss -ltnp).`, warning: true };
  }
  return { message: `Kimi: "${name}" stopped (${SIGNAL[r.result]}); port ${port} is closed and the GPU memory is free.`, warning: false };
}
