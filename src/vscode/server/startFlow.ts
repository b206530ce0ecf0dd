import * as vscode from 'vscode';
import type { LifecycleState } from '../../core/server/lifecycleTypes';
import type { Services } from '../services';
import { activityText, hostLabel, isRunning, shortGpus, startPercent } from './presentation';
import { stopWithProgress } from './stopFlow';

/**
 * Starts the active profile's server under a progress notification that follows the phases ("Loading weights
 * 12/64", "Capturing CUDA graphs", …). Cancel stops the launch. Resolves with the final state; a failure is shown
 * as its diagnosis with the fix as a button (not awaited: the command returns as soon as the start settles).
 */
export async function startWithProgress(s: Services): Promise<LifecycleState> {
  const current = s.server.state;
  if (current.kind === 'ready') {
    void vscode.window.showInformationMessage(`Kimi: "${current.profile}" is already running and serves ${current.modelId} at ${current.baseUrl}.`);
    return current;
  }
  if (current.kind === 'stopping') {
    void vscode.window.showWarningMessage(`Kimi: "${current.profile}" is still stopping; start it again once it has stopped.`);
    return current;
  }
  s.server.switchIfIdle();
  const profile = s.server.runningProfile;
  let cancelled = false;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Kimi: starting "${profile.name}" on ${hostLabel(profile.host)}`, cancellable: true },
    async (progress, token) => {
      let done = 0;
      const report = (st: LifecycleState) => {
        const activity = activityText(st);
        if (!activity) return;
        const gpus = (st.kind === 'starting' && st.gpus) ? ` · ${shortGpus(st.gpus)}` : '';
        const pct = startPercent(st);
        progress.report({ message: `${activity}${gpus}`, increment: Math.max(0, pct - done) });
        done = Math.max(done, pct);
      };
      report(s.server.state);
      const sub = s.server.onDidChange(report);
      const abort = new AbortController();
      const cancel = token.onCancellationRequested(() => {
        cancelled = true;
        abort.abort();
        // Whatever was launched already is stopped; a launch the core had not begun never happens.
        void s.server.stop().catch((err) => s.log.warn(`Stopping the cancelled start failed: ${String(err)}`));
      });
      try {
        let end = await s.server.start(abort.signal);
        if (cancelled && isRunning(end) && end.kind !== 'stopping') {
          await s.server.stop();
          end = s.server.state;
        }
        return end;
      } finally {
        sub.dispose();
        cancel.dispose();
      }
    },
  );
  if (cancelled) {
    void vscode.window.showInformationMessage(`Kimi: the start of "${profile.name}" was cancelled; nothing is left running.`);
  } else if (result.kind === 'ready' && result.reattached) {
    // Start found the server an earlier session (or the CLI) left running: no second one was launched.
    void vscode.window.showInformationMessage(`Kimi: "${result.profile}" was already running and serves ${result.modelId} at ${result.baseUrl}.`, 'Open Chat').then((pick) => {
      if (pick) void vscode.commands.executeCommand('kimi.openChat');
    });
  } else if (result.kind === 'ready') {
    const gpus = result.gpus ? ` on ${result.gpus}` : '';
    const ctx = result.maxModelLen ? `, context ${result.maxModelLen.toLocaleString('en-US')} tokens` : '';
    void vscode.window.showInformationMessage(`Kimi: "${result.profile}" is ready — ${result.modelId}${ctx}${gpus}.`, 'Open Chat').then((pick) => {
      if (pick) void vscode.commands.executeCommand('kimi.openChat');
    });
  } else if (result.kind === 'failed') {
    void showFailure(s, result);
  }
  return result;
}

/** Restart: stop what runs (or what failed), then start the active profile as the settings define it now. */
export async function restartWithProgress(s: Services): Promise<LifecycleState> {
  const st = s.server.state;
  if (isRunning(st) || (st.kind === 'failed' && st.pid)) await stopWithProgress(s, { quiet: true });
  return startWithProgress(s);
}

/** A failed start: the diagnosis in plain words, the fix as a button when it is a setting, and the log. */
export async function showFailure(s: Services, failed: Extract<LifecycleState, { kind: 'failed' }>): Promise<void> {
  const d = failed.diagnosis;
  const fix = d.fix?.setting ? d.fix : undefined;
  const advice = d.fix && !fix ? ` What to do: ${d.fix.label}.` : '';
  const title = /[.!?]$/.test(d.title) ? d.title : `${d.title}.`;
  const buttons = [...(fix ? [fix.label] : d.fix ? ['Open Settings'] : []), 'Show Logs'];
  const pick = await vscode.window.showErrorMessage(`Kimi: ${title} ${d.explanation}${advice}`, ...buttons);
  if (pick === 'Show Logs') await vscode.commands.executeCommand('kimi.showServerLogs');
  else if (pick === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', 'kimi.servers');
  else if (pick && fix) await applyFixAndRestart(s);
}

/** Applies the current failure's fix to the profile (kimi.servers, user level) and starts again. */
export async function applyFixAndRestart(s: Services): Promise<LifecycleState | undefined> {
  const st = s.server.state;
  if (st.kind !== 'failed' || !st.diagnosis.fix?.setting) {
    void vscode.window.showInformationMessage('Kimi: there is no failed start with a fix to apply.');
    return undefined;
  }
  const fix = st.diagnosis.fix;
  try {
    await s.server.applyFix(fix);
  } catch (err) {
    void vscode.window.showErrorMessage(`Kimi: could not change the profile "${st.profile}": ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  return restartWithProgress(s);
}
