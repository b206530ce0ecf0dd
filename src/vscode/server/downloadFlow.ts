import * as vscode from 'vscode';
import { isClusterProfile } from '../../core/cluster/clusterProfile';
import type { ServerProfile } from '../../core/config/serverProfile';
import type { DownloadState } from '../../core/server/lifecycleTypes';
import { modelPath } from '../../core/server/vllmCommand';
import type { Services } from '../services';
import { downloadPercent, downloadText, hostLabel } from './presentation';
import { pickProfile } from './profilePick';

interface ScopeItem extends vscode.QuickPickItem {
  scope: 'all' | 'include' | 'exclude';
}

/** Glob patterns typed on one line, separated by spaces: none may be empty or start with "-". */
export function parseGlobs(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/**
 * "Kimi: Download Model": `modelscope download` into the profile's directory on its host, optionally narrowed with
 * include/exclude patterns, under a cancellable progress notification with bytes, speed and ETA. A rerun resumes.
 */
export async function downloadWithProgress(s: Services): Promise<DownloadState | undefined> {
  if (s.server.download.kind === 'checking' || s.server.download.kind === 'downloading') {
    void vscode.window.showInformationMessage(`Kimi: a download is already running — ${downloadText(s.server.download)}.`);
    return s.server.download;
  }
  const profile = s.server.profiles().length > 1 ? await pickProfile(s.server, 'Kimi: Download Model — onto which host?') : s.server.profile();
  if (!profile) return undefined;
  const where = isClusterProfile(profile)
    ? `${modelPath(profile)} ${profile.cluster.sharedStorage ? `on the shared storage (from ${hostLabel(profile.host)})` : `on each of the ${profile.cluster.workers.length + 1} nodes`}`
    : `${modelPath(profile)} on ${hostLabel(profile.host)}`;
  const scope = await vscode.window.showQuickPick<ScopeItem>(
    [
      { scope: 'all', label: '$(cloud-download) The whole model', description: `${profile.model}, about 595 GB`, detail: `Into ${where}` },
      { scope: 'include', label: '$(filter) Only files matching…', detail: 'Glob patterns such as *.json *.py (modelscope --include)' },
      { scope: 'exclude', label: '$(exclude) All files except…', detail: 'Glob patterns such as *.md (modelscope --exclude)' },
    ],
    { title: `Kimi: Download ${profile.model}`, placeHolder: `What to download into ${where}` },
  );
  if (!scope) return undefined;
  let globs: string[] = [];
  if (scope.scope !== 'all') {
    const text = await vscode.window.showInputBox({
      title: `Kimi: Download ${profile.model} — ${scope.scope === 'include' ? 'only files matching' : 'all files except'}`,
      prompt: 'Glob patterns separated by spaces.',
      placeHolder: scope.scope === 'include' ? '*.json *.py' : '*.md',
      validateInput: (v) => {
        const g = parseGlobs(v);
        if (g.length === 0) return 'Type at least one pattern.';
        const bad = g.find((x) => x.startsWith('-'));
        return bad ? `"${bad}" starts with "-": a pattern cannot.` : undefined;
      },
    });
    if (text === undefined) return undefined;
    globs = parseGlobs(text);
  }
  const opts = scope.scope === 'include' ? { include: globs } : scope.scope === 'exclude' ? { exclude: globs } : {};
  return runDownload(s, profile, opts);
}

async function runDownload(s: Services, profile: ServerProfile, opts: { include?: string[]; exclude?: string[] }): Promise<DownloadState> {
  const end = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Kimi: downloading ${profile.model} to ${hostLabel(profile.host)}`, cancellable: true },
    async (progress, token) => {
      let done = 0;
      const sub = s.server.onDidChangeDownload((d) => {
        if (d.kind !== 'checking' && d.kind !== 'downloading') return;
        const pct = downloadPercent(d) ?? done;
        progress.report({ message: downloadText(d), increment: Math.max(0, pct - done) });
        done = Math.max(done, pct);
      });
      const abort = new AbortController();
      const cancel = token.onCancellationRequested(() => abort.abort());
      try {
        return await s.server.runDownload(profile, opts, abort.signal);
      } finally {
        sub.dispose();
        cancel.dispose();
      }
    },
  );
  switch (end.kind) {
    case 'done':
      void vscode.window.showInformationMessage(`Kimi: ${profile.model} is downloaded into ${end.dir} on ${hostLabel(profile.host)}.`, 'Start Server').then((pick) => {
        if (pick) void vscode.commands.executeCommand('kimi.startServer', profile.name);
      });
      break;
    case 'failed':
      void vscode.window.showErrorMessage(`Kimi: ${end.title}. ${end.explanation}`, 'Try Again').then((pick) => {
        if (pick) void runDownload(s, profile, opts);
      });
      break;
    case 'cancelled':
      void vscode.window.showInformationMessage('Kimi: the download was cancelled. The files already on disk stay; "Kimi: Download Model" again resumes it.');
      break;
    default:
      break;
  }
  return end;
}
