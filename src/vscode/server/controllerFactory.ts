// The one place where the VS Code side meets the lifecycle core: it builds the ServerController (ServerManager)
// and the model download for a profile, over one runner — LocalShell for `local`, one multiplexed SSH connection
// otherwise (hostShellFor). Everything else in src/vscode/ talks to the ServerController interface only.
import type { ServerProfile } from '../../core/config/serverProfile';
import { downloadModel } from '../../core/download/modelDownload';
import { NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, summarizeGpus, interpretNvidiaSmiFailure } from '../../core/server/gpuProbe';
import type { DownloadState, ServerController } from '../../core/server/lifecycleTypes';
import { freeLocalPort, hostShellFor, type HostRunner, type HostShell, type StreamOptions } from '../../core/server/hostShell';
import { ServerManager } from '../../core/server/serverManager';
import type { ExecOptions, ShellRunner } from '../../core/server/ssh';
import { shellCommand } from '../../core/server/vllmCommand';

export interface DownloadOptions {
  include?: string[];
  exclude?: string[];
  signal: AbortSignal;
  onState(s: DownloadState): void;
}

/** A profile's controller plus what else runs on its host, sharing one connection. */
export interface ServerHandle {
  readonly profile: ServerProfile;
  readonly controller: ServerController;
  download(opts: DownloadOptions): Promise<DownloadState>;
  /** One line about the host's GPUs ("8× NVIDIA H200, 140.4 GiB each, all free"), or why it cannot be known. */
  probeGpus(): Promise<string>;
  /** Stops following logs and closes the connection; never stops the server. */
  dispose(): Promise<void>;
}

export function createServerHandle(profile: ServerProfile): ServerHandle {
  const runner = lazyRunner(profile);
  const controller = new ServerManager(profile, { runner, freeLocalPort, stopGrace: { intSec: 15, termSec: 10 } });
  let disposed: Promise<void> | undefined;
  return {
    profile,
    controller,
    download: (opts) =>
      downloadModel(runner, profile, {
        ...(opts.include?.length ? { include: opts.include } : {}),
        ...(opts.exclude?.length ? { exclude: opts.exclude } : {}),
        signal: opts.signal,
        onState: opts.onState,
      }),
    probeGpus: () => probeGpus(runner, profile),
    dispose: () => (disposed ??= controller.dispose()),
  };
}

/** The connection is made on first use, so creating a handle (at activation) costs nothing and cannot throw; a bad
 *  SSH setup surfaces as the diagnosis of the first command instead. The runner streams (the log is followed with
 *  `tail -F`, not polled) and, for SSH, forwards ports through its own multiplexed master. */
function lazyRunner(profile: ServerProfile): HostRunner {
  let real: HostShell['runner'] | undefined;
  const get = () => (real ??= hostShellFor(profile).runner);
  const runner: HostRunner = {
    exec: async (script: string, opts?: ExecOptions) => get().exec(script, opts),
    stream: (script: string, opts?: StreamOptions) => get().stream(script, opts),
    close: async () => {
      await real?.close?.();
    },
  };
  if (profile.host !== 'local') {
    runner.forward = async (l, h, r) => get().forward!(l, h, r);
    runner.cancelForward = async (l, h, r) => get().cancelForward!(l, h, r);
  }
  return runner;
}

async function probeGpus(runner: ShellRunner, profile: ServerProfile): Promise<string> {
  const q = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), { timeoutMs: 20_000 });
  if (q.code !== 0) return interpretNvidiaSmiFailure(q.code, q.stdout + q.stderr).title;
  const apps = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), { timeoutMs: 20_000 });
  return summarizeGpus(parseGpuQuery(q.stdout), apps.code === 0 ? parseComputeApps(apps.stdout) : []);
}
