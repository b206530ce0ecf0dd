import type { ServerProfile } from '../config/serverProfile';
import type { DownloadState } from '../server/lifecycleTypes';
import {
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
import { modelPath, modelscopeArgv, shellCommand } from '../server/vllmCommand';
import { explainDownloadFailure, ModelscopeProgressParser } from './modelscopeProgress';

// `modelscope download` on the target, detached like the server (a 595 GB download outlives VS Code and the CLI;
// running the command again follows the download already under way), its progress read from the log.

/** Kimi-K2.5 on disk (protocol sheet §5), with some headroom. */
export const KIMI_DOWNLOAD_BYTES = 600e9;

export interface DownloadOptions {
  include?: readonly string[];
  exclude?: readonly string[];
  signal?: AbortSignal;
  onState?: (s: DownloadState) => void;
  /** How often the log is read (default 500 ms). */
  pollMs?: number;
  /** Bytes that must be free (default: all of Kimi-K2.5 unless include/exclude narrow the download). */
  requiredBytes?: number;
}

export function downloadStateDir(profile: ServerProfile): string {
  return `${stateDirFor(profile.name)}-download`;
}

export async function downloadModel(runner: ShellRunner, profile: ServerProfile, opts: DownloadOptions = {}): Promise<DownloadState> {
  const emit = (s: DownloadState): DownloadState => {
    opts.onState?.(s);
    return s;
  };
  const stateDir = downloadStateDir(profile);
  const dir = modelPath(profile);

  emit({ kind: 'checking', detail: 'Checking ModelScope and disk space on the host…' });
  const tools = parseWhich((await runner.exec(whichScript(profile.environment, ['modelscope']), { timeoutMs: 30_000 })).stdout, ['modelscope']);
  if (!tools.modelscope) return emit({ kind: 'failed', ...explainDownloadFailure('modelscope: command not found', 127) });

  const narrowed = (opts.include?.length ?? 0) > 0 || (opts.exclude?.length ?? 0) > 0;
  const need = opts.requiredBytes ?? (narrowed ? 0 : KIMI_DOWNLOAD_BYTES);
  const disk = parseDiskFree((await runner.exec(diskFreeScript(dir), { timeoutMs: 30_000 })).stdout);
  if (disk && need > 0 && disk.availableBytes < need) {
    const gb = (b: number) => `${Math.floor(b / 1e9)} GB`;
    return emit({
      kind: 'failed',
      title: 'Not enough disk space for Kimi-K2.5',
      explanation: `${dir} is on ${disk.mount}, which has ${gb(disk.availableBytes)} free; the model needs about 595 GB. Free space or set downloadDir/modelDir in the server profile to a larger disk.`,
    });
  }

  const command = shellCommand(profile, modelscopeArgv(profile, { ...(opts.include ? { include: opts.include } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}) }), { PYTHONUNBUFFERED: '1' });
  const started = parseStart(await runner.exec(startDetachedScript({ stateDir, command }), { timeoutMs: 30_000 }));
  if (started.kind === 'error') return emit({ kind: 'failed', title: 'The download could not be started', explanation: started.message });

  const parser = new ModelscopeProgressParser();
  let all = '';
  let offset = 0;
  let logId: string | undefined;
  const pollMs = opts.pollMs ?? 500;
  for (;;) {
    if (opts.signal?.aborted) {
      parseStop((await runner.exec(stopScript({ stateDir, graceIntSec: 10, graceTermSec: 5 }), { timeoutMs: 40_000 })).stdout);
      return emit({ kind: 'cancelled' });
    }
    const status = parseStatus((await runner.exec(statusScript({ stateDir }), { timeoutMs: 20_000 })).stdout);
    const chunk = parseTail((await runner.exec(tailScript({ stateDir, offset, maxBytes: 1 << 20, ...(logId ? { logId } : {}) }), { timeoutMs: 20_000 })).stdoutBuffer, offset);
    offset = chunk.nextOffset;
    logId = chunk.logId;
    if (chunk.text) {
      all = (all + chunk.text).slice(-65536);
      const p = parser.push(chunk.text);
      if (p) emit({ kind: 'downloading', ...p });
    }
    if (!status.alive && chunk.nextOffset >= chunk.size) {
      if (/Successfully Downloaded from model|Download model '[^']*' successfully/.test(all)) return emit({ kind: 'done', dir });
      return emit({ kind: 'failed', ...explainDownloadFailure(all, 1) });
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
}
