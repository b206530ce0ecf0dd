// `kimi-vllm gpus [--profile NAME] [--config FILE] [--host …] [--json]`: the target's GPUs as nvidia-smi reports
// them (through the profile's environment, locally or over SSH), who holds them, and whether the profile's
// `vllm serve -tp N` would pass the pre-flight there.
import { isClusterProfile, type ClusterProfile } from '../core/cluster/clusterPlan';
import { probeClusterGpus } from '../core/cluster/clusterProbe';
import type { ServerProfile } from '../core/config/serverProfile';
import { formatGiB, interpretNvidiaSmiFailure, NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, preflight, summarizeGpus } from '../core/server/gpuProbe';
import { shellCommand } from '../core/server/vllmCommand';
import { parseArgs, UsageError } from './args';
import { clusterRunners, PROFILE_FLAGS, resolveProfile, runnerFor } from './profiles';
import type { Io } from './serveCommand';

export const GPUS_USAGE = 'kimi-vllm gpus [--profile NAME] [--config FILE] [--host local|SSH-DEST] [--tp N] [--json]';

export async function runGpus(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, PROFILE_FLAGS);
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const profile: ServerProfile = resolveProfile(flags, io.env);
  if (isClusterProfile(profile)) return clusterGpus(profile, flags.json === true, io);
  const runner = runnerFor(profile, io.env);
  const where = profile.host === 'local' ? 'this machine' : profile.host;
  try {
    const q = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), { timeoutMs: 30_000 });
    if (q.code !== 0) {
      const f = interpretNvidiaSmiFailure(q.code, q.stdout + q.stderr);
      if (flags.json) io.stdout.write(`${JSON.stringify({ host: profile.host, error: { kind: f.kind, title: f.title, explanation: f.explanation } })}\n`);
      io.stderr.write(`kimi-vllm: ${f.title} on ${where}: ${f.explanation}\n`);
      return 1;
    }
    const apps = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), { timeoutMs: 30_000 });
    const gpus = parseGpuQuery(q.stdout);
    const processes = apps.code === 0 ? parseComputeApps(apps.stdout) : [];
    const check = preflight({ gpus, processes, tensorParallelSize: profile.tensorParallelSize, gpuMemoryUtilization: profile.gpuMemoryUtilization });
    const summary = summarizeGpus(gpus, processes);
    if (flags.json) {
      const pre = { ok: check.ok, tensorParallelSize: profile.tensorParallelSize, ...(check.ok ? {} : { reason: check.reason }), warnings: check.warnings };
      io.stdout.write(`${JSON.stringify({ host: profile.host, summary, gpus, processes, preflight: pre })}\n`);
    } else {
      io.stdout.write(`${where}: ${summary}\n`);
      for (const g of gpus) {
        const holders = processes.filter((p) => p.gpuUuid === g.uuid).map((p) => `pid ${p.pid} ${p.name}`);
        const used = g.usedMiB === null ? '?' : formatGiB(g.usedMiB);
        const total = g.totalMiB === null ? '?' : formatGiB(g.totalMiB);
        io.stdout.write(`  GPU ${g.index}  ${g.name}  ${used} / ${total} GiB used${holders.length ? `  (${holders.join(', ')})` : ''}\n`);
      }
      io.stdout.write(check.ok ? `pre-flight for -tp ${profile.tensorParallelSize}: ok\n` : `pre-flight for -tp ${profile.tensorParallelSize}: REFUSED — ${check.reason}\n`);
      for (const w of check.warnings) io.stdout.write(`  warning: ${w}\n`);
    }
    return 0;
  } finally {
    await runner.close?.();
  }
}

/** A cluster: every node's GPUs, whether the profile's layout holds the model on them, and what sizing proposes. */
async function clusterGpus(profile: ClusterProfile, json: boolean, io: Io): Promise<number> {
  const runners = new Map<string, ReturnType<ReturnType<typeof clusterRunners>>>();
  const get = clusterRunners(profile, io.env);
  const runnerOf = (host: string) => {
    const r = get(host);
    runners.set(host, r);
    return r;
  };
  try {
    const r = await probeClusterGpus(profile, runnerOf);
    if (json) {
      io.stdout.write(
        `${JSON.stringify({
          nodes: r.nodes.map((n) => ({ host: n.host, role: n.role, summary: n.summary, gpus: n.gpus })),
          layout: r.layout ? { fits: r.layout.fits, explanation: r.layout.explanation } : { fits: false, explanation: r.lines[r.nodes.length] },
          sizing: { fits: r.sizing.fits, summary: r.sizing.summary, proposals: r.sizing.proposals.map((x) => ({ kind: x.kind, title: x.title, hosts: x.hosts })) },
        })}\n`,
      );
    } else {
      for (const line of r.lines) io.stdout.write(`${line}\n`);
    }
    return r.nodes.some((n) => n.gpus === null) ? 1 : 0;
  } finally {
    for (const runner of runners.values()) await runner.close?.();
  }
}
