// The one place where the VS Code side meets the lifecycle core: it builds the ServerController (ServerManager)
// and the model download for a profile, over one runner — LocalShell for `local`, one multiplexed SSH connection
// otherwise (hostShellFor). Everything else in src/vscode/ talks to the ServerController interface only.
import { downloadCluster } from '../../core/cluster/clusterDownload';
import { ClusterManager } from '../../core/cluster/clusterManager';
import { isClusterProfile, layoutTitle, type ClusterProfile } from '../../core/cluster/clusterPlan';
import { probeClusterGpus, type ClusterGpuReport } from '../../core/cluster/clusterProbe';
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
  /** A cluster profile: every node's GPUs, the profile's layout checked on them, the smallest layout that fits. */
  sizing?(): Promise<ClusterGpuReport>;
  /** Stops following logs and closes the connection; never stops the server. */
  dispose(): Promise<void>;
}

export function createServerHandle(profile: ServerProfile): ServerHandle {
  if (isClusterProfile(profile)) return createClusterHandle(profile);
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

/** A cluster profile: a ClusterManager over one lazy connection per node (the head's also carries the tunnel). */
function createClusterHandle(profile: ClusterProfile): ServerHandle {
  const runners = new Map<string, HostRunner>();
  const runnerFor = (host: string): HostRunner => {
    let r = runners.get(host);
    if (!r) {
      r = lazyRunner({ ...profile, host });
      runners.set(host, r);
    }
    return r;
  };
  const controller = new ClusterManager(profile, { runnerFor, freeLocalPort, stopGrace: { intSec: 15, termSec: 10 } });
  const sizing = () => probeClusterGpus(profile, runnerFor);
  let disposed: Promise<void> | undefined;
  return {
    profile,
    controller,
    download: (opts) =>
      downloadCluster(profile, runnerFor, {
        ...(opts.include?.length ? { include: opts.include } : {}),
        ...(opts.exclude?.length ? { exclude: opts.exclude } : {}),
        signal: opts.signal,
        onState: opts.onState,
      }),
    probeGpus: async () => {
      const r = await sizing();
      const verdict = r.layout ? (r.layout.fits ? `${layoutTitle(profile)} fits` : `${layoutTitle(profile)} does NOT fit`) : `a node has too few GPUs for ${layoutTitle(profile)}`;
      return `${r.nodes.length} nodes (${r.nodes.map((n) => `${n.host === 'local' ? 'this machine' : n.host}: ${n.summary}`).join('; ')}) — ${verdict}`;
    },
    sizing,
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
