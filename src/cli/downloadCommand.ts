// `kimi-vllm download [--profile NAME] [--config FILE] [--host …] [--model ID] [--include GLOB]… [--exclude GLOB]…
// [--json]`: `modelscope download` of the profile's model into its download dir on the target, with the disk check
// first and a progress line (bytes, speed, ETA). The download runs detached on the host: Ctrl+C cancels it (SIGINT
// to modelscope; partial files stay and a rerun resumes); a dropped connection does not stop it — run the command
// again to follow it. --json prints one JSON DownloadState per line (at most two a second, and the last).
import { downloadCluster } from '../core/cluster/clusterDownload';
import { isClusterProfile } from '../core/cluster/clusterPlan';
import { downloadModel } from '../core/download/modelDownload';
import { formatBytes } from '../core/download/modelscopeProgress';
import type { DownloadState } from '../core/server/lifecycleTypes';
import { parseArgs, UsageError } from './args';
import { clusterRunners, PROFILE_FLAGS, resolveProfile, runnerFor } from './profiles';
import type { Io } from './serveCommand';

export const DOWNLOAD_USAGE = 'kimi-vllm download [--profile NAME] [--config FILE] [--host local|SSH-DEST] [--model ID] [--include GLOB]… [--exclude GLOB]… [--json]';

export async function runDownload(argv: string[], io: Io): Promise<number> {
  const { flags, positionals, lists } = parseArgs(argv, {
    ...PROFILE_FLAGS,
    include: { value: true, repeat: true },
    exclude: { value: true, repeat: true },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  for (const g of [...(lists.include ?? []), ...(lists.exclude ?? [])]) {
    if (g === '' || g.startsWith('-')) throw new UsageError(`--include/--exclude pattern ${JSON.stringify(g)} is empty or starts with "-"`);
  }
  const profile = resolveProfile(flags, io.env);
  const json = flags.json === true;
  const tty = io.stderr.isTTY === true && !json;
  const cluster = isClusterProfile(profile) ? profile : undefined;
  const clusterOpened: { close?(): Promise<void> }[] = [];
  const get = cluster ? clusterRunners(profile, io.env) : undefined;
  const runner = cluster ? undefined : runnerFor(profile, io.env);
  let lastJson = 0;
  let lastLine = '';
  let lastPrinted = 0;
  let unprinted: string | undefined;
  const onState = (s: DownloadState) => {
    const now = Date.now();
    if (json) {
      if (s.kind !== 'downloading' || now - lastJson >= 500) {
        lastJson = now;
        io.stdout.write(`${JSON.stringify(s)}\n`);
      }
      return;
    }
    const line = progressLine(s);
    if (!line || line === lastLine) return;
    // A terminal gets one refreshing line; a log one line every 2 s at most.
    if (tty) io.stderr.write(`\r\x1b[2K${line}`);
    else if (s.kind !== 'downloading') io.stderr.write(`${line}\n`);
    else if (now - lastPrinted >= 2000) {
      io.stderr.write(`${line}\n`);
      lastPrinted = now;
      unprinted = undefined;
    } else unprinted = line;
    lastLine = line;
  };
  try {
    const opts = {
      ...(lists.include ? { include: lists.include } : {}),
      ...(lists.exclude ? { exclude: lists.exclude } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
      onState,
    };
    const end = cluster
      ? await downloadCluster(
          cluster,
          (host) => {
            const r = get!(host);
            clusterOpened.push(r);
            return r;
          },
          opts,
        )
      : await downloadModel(runner!, profile, opts);
    if (tty) io.stderr.write('\n');
    else if (unprinted) io.stderr.write(`${unprinted}\n`); // the last progress, so a log shows where it ended
    switch (end.kind) {
      case 'done':
        if (!json) io.stdout.write(cluster ? `downloaded ${profile.model} to ${end.dir}\n` : `downloaded ${profile.model} to ${end.dir} on ${profile.host === 'local' ? 'this machine' : profile.host}\n`);
        return 0;
      case 'cancelled':
        if (!json) io.stderr.write('kimi-vllm: download cancelled; the partial files are kept and a rerun resumes.\n');
        return 130;
      case 'failed':
        if (!json) io.stderr.write(`kimi-vllm: ${end.title}: ${end.explanation}\n`);
        return 1;
      default:
        return 1;
    }
  } finally {
    await runner?.close?.();
    for (const r of new Set(clusterOpened)) await r.close?.();
  }
}

export function progressLine(s: DownloadState): string | undefined {
  switch (s.kind) {
    case 'checking':
      return s.detail;
    case 'downloading': {
      const pct = s.bytes.total > 0 ? Math.min(100, Math.floor((s.bytes.done / s.bytes.total) * 100)) : 0;
      const speed = s.speed ? `, ${formatBytes(s.speed)}/s` : '';
      const eta = s.etaSeconds !== undefined ? `, ETA ${clock(s.etaSeconds)}` : '';
      return `downloading ${pct}%: ${formatBytes(s.bytes.done)} of ${formatBytes(s.bytes.total)}${speed}${eta}, files ${s.files.done}/${s.files.total}${s.currentFile ? ` (${s.currentFile})` : ''}`;
    }
    default:
      return undefined;
  }
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
