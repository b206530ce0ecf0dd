import type { ServerProfile } from '../config/serverProfile';
import { streamerOf, Utf8Stream, type Streamer } from '../server/hostShell';
import type { DownloadState } from '../server/lifecycleTypes';
import {
  clearPidScript,
  diskFreeScript,
  parseDiskFree,
  parseStart,
  parseStatus,
  parseStop,
  parseTail,
  parseWhich,
  startDetachedScript,
  stateDirFor,
  statusScript,
  stopScript,
  tailScript,
  whichScript,
} from '../server/remoteScripts';
import type { ShellRunner } from '../server/ssh';
import { followScript } from '../server/serverManager';
import { modelPath, modelscopeArgv, shellCommand } from '../server/vllmCommand';
import { estimateDownloadBytes, explainDownloadFailure, formatBytes, ModelscopeProgressParser } from './modelscopeProgress';

// `modelscope download` on the target, started DETACHED like the server (setsid/nohup, log and pid file in
// `<state dir>-download`): a 595 GB download outlives a dropped SSH link, VS Code and the CLI, and running the
// command again follows the download already under way instead of starting a second one. Its output is read as it
// is written — streamed with `tail -F --pid` when the runner streams (hostShellFor's runners do), else polled
// every `pollMs` — and tqdm's bars become DownloadState. Cancelling sends SIGINT to the download's process group
// (modelscope stops like on Ctrl-C; partial files stay in `._____temp` and a rerun resumes from them).

/** Kimi-K2.5 on disk (protocol sheet §5): 64 shards, 595 GiB, plus ~12 MB of other files. */
export const KIMI_DOWNLOAD_BYTES = 595 * 1024 ** 3;

export interface DownloadOptions {
  include?: readonly string[];
  exclude?: readonly string[];
  signal?: AbortSignal;
  onState?: (s: DownloadState) => void;
  /** Poll mode: how often the log is read (default 500 ms). */
  pollMs?: number;
  /** Bytes that must be free (default: the estimate for the selection — 595 GiB for the whole model — plus 1%). */
  requiredBytes?: number;
  /** Streams the log (default: the runner's own stream(), if any). */
  streamer?: Streamer;
  /** 'stream' (default when a streamer exists) or 'poll'. */
  follow?: 'stream' | 'poll';
}

export function downloadStateDir(profile: ServerProfile): string {
  return `${stateDirFor(profile.name)}-download`;
}

const SUCCESS = /Successfully Downloaded from model|Download model '[^']*' successfully/;

export async function downloadModel(runner: ShellRunner, profile: ServerProfile, opts: DownloadOptions = {}): Promise<DownloadState> {
  const emit = (s: DownloadState): DownloadState => {
    opts.onState?.(s);
    return s;
  };
  const stateDir = downloadStateDir(profile);
  const dir = modelPath(profile);
  const where = profile.host === 'local' ? 'this machine' : profile.host;
  const include = opts.include?.filter((g) => g !== '') ?? [];
  const exclude = opts.exclude?.filter((g) => g !== '') ?? [];
  try {
    emit({ kind: 'checking', detail: `Checking ModelScope and the disk space on ${where}…` });
    let command: string;
    try {
      command = shellCommand(profile, modelscopeArgv(profile, { include, exclude }), { PYTHONUNBUFFERED: '1' });
    } catch (e) {
      return emit({ kind: 'failed', title: 'The download cannot be started', explanation: e instanceof Error ? e.message : String(e) });
    }
    const status = parseStatus((await runner.exec(statusScript({ stateDir }), { timeoutMs: 20_000 })).stdout);
    const estimate = estimateDownloadBytes(profile.model, include, exclude);
    if (!status.alive) {
      const tools = parseWhich((await runner.exec(whichScript(profile.environment, ['modelscope']), { timeoutMs: 30_000 })).stdout, ['modelscope']);
      if (!tools.modelscope) return emit({ kind: 'failed', ...explainDownloadFailure('modelscope: command not found', 127) });
      const need = opts.requiredBytes ?? (estimate.known ? Math.ceil(estimate.bytes * 1.01) : 0);
      const disk = parseDiskFree((await runner.exec(diskFreeScript(dir), { timeoutMs: 30_000 })).stdout);
      if (disk && need > 0 && disk.availableBytes < need) {
        const what = include.length || exclude.length ? `the selected files (${estimate.files} of Kimi-K2.5's 78) need about ${formatBytes(estimate.bytes)}` : `the model needs about 595 GB (${formatBytes(KIMI_DOWNLOAD_BYTES)})`;
        return emit({
          kind: 'failed',
          title: 'Not enough disk space for Kimi-K2.5',
          explanation:
            `${dir} on ${where} is on ${disk.mount || disk.path}, which has ${formatBytes(disk.availableBytes)} free (${Math.floor(disk.availableBytes / 1e9)} GB free); ${what}. ` +
            'Free space, set downloadDir/modelDir in the server profile to a larger disk, or narrow the download with include/exclude.',
        });
      }
      if (opts.signal?.aborted) return emit({ kind: 'cancelled' });
    }

    // Starts it, or finds the one already running for this profile (it is then followed from the start of its log).
    const started = parseStart(await runner.exec(startDetachedScript({ stateDir, command }), { timeoutMs: 30_000 }));
    if (started.kind === 'error') return emit({ kind: 'failed', title: 'The download could not be started', explanation: started.message });

    const parser = new ModelscopeProgressParser({ expectedBytes: estimate.known ? estimate.bytes : undefined, expectedFiles: estimate.files });
    let recent = '';
    const onText = (text: string) => {
      recent = (recent + text).slice(-65536);
      const p = parser.push(text);
      if (p) emit({ kind: 'downloading', ...p });
    };
    // The download is over: no pid file stays behind (the stop script removes the one it stopped; clearPid the one of
    // a run that ended by itself — done or failed).
    const clearPid = () => runner.exec(clearPidScript({ stateDir, pid: started.pid }), { timeoutMs: 20_000 }).catch(() => undefined);
    const cancel = async (): Promise<DownloadState> => {
      parseStop((await runner.exec(stopScript({ stateDir, graceIntSec: 10, graceTermSec: 5 }), { timeoutMs: 40_000 })).stdout);
      await clearPid();
      return emit({ kind: 'cancelled' });
    };

    let offset = 0;
    const streamer = opts.follow === 'poll' ? undefined : (opts.streamer ?? streamerOf(runner));
    if (streamer) {
      // Streamed: `tail -F --pid` ends when modelscope does (or the link drops: then poll what is left).
      const utf8 = new Utf8Stream();
      const s = streamer.stream(followScript(stateDir, 0, started.pid), {
        onStdout: (d) => {
          offset += d.length;
          onText(utf8.push(d));
        },
      });
      const aborted = new Promise<'aborted'>((resolve) => {
        if (opts.signal?.aborted) resolve('aborted');
        opts.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      const first = await Promise.race([s.done, aborted]);
      if (first === 'aborted') {
        const state = await cancel();
        await s.cancel(5000);
        return state;
      }
      onText(utf8.end());
    }
    // Poll (also after a stream, for what it may have missed).
    let logId: string | undefined;
    const pollMs = opts.pollMs ?? 500;
    for (;;) {
      if (opts.signal?.aborted) return await cancel();
      const st = parseStatus((await runner.exec(statusScript({ stateDir }), { timeoutMs: 20_000 })).stdout);
      const chunk = parseTail((await runner.exec(tailScript({ stateDir, offset, maxBytes: 1 << 20, ...(logId ? { logId } : {}) }), { timeoutMs: 20_000 })).stdoutBuffer, offset);
      offset = chunk.nextOffset;
      logId = chunk.logId;
      if (chunk.text) onText(chunk.text);
      if (!st.alive && chunk.nextOffset >= chunk.size) {
        parser.end();
        await clearPid();
        if (SUCCESS.test(recent)) return emit({ kind: 'done', dir });
        return emit({ kind: 'failed', ...explainDownloadFailure(recent, 1) });
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        opts.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return emit({
      kind: 'failed',
      title: profile.host === 'local' ? 'The download could not be managed' : `Lost the connection to ${profile.host}`,
      explanation: `${message}${profile.host === 'local' ? '' : ' The download keeps running on the host if it had started; run Download Model again to follow it (a rerun resumes).'}`,
    });
  }
}
