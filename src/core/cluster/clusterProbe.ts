// Sizing help for a cluster profile: the GPUs of every node, read with nvidia-smi over each node's own connection,
// then what sizing.ts makes of them — the smallest layout that holds the model on these hosts, and whether the
// profile's own layout does (refused with the numbers when it does not).
import type { HostRunner } from '../server/hostShell';
import { interpretNvidiaSmiFailure, NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, summarizeGpus, type Gpu } from '../server/gpuProbe';
import { shellCommand } from '../server/vllmCommand';
import { clusterNodes, gpusPerNode, layoutTitle, nodeLabel, nodeProfile, type ClusterProfile } from './clusterPlan';
import { checkLayout, proposeLayouts, type LayoutCheck, type SizingResult } from './sizing';

export interface ClusterGpuReport {
  nodes: { host: string; role: 'head' | 'worker'; gpus: Gpu[] | null; summary: string }[];
  /** The smallest layout sizing.ts proposes for these hosts. */
  sizing: SizingResult;
  /** The profile's layout on these hosts; absent when a node has too few GPUs for it (then `shortNode` says which). */
  layout?: LayoutCheck;
  shortNode?: string;
  /** Lines for a terminal or a message: every node, the verdict on the profile's layout, the recommendation. */
  lines: string[];
}

export async function probeClusterGpus(p: ClusterProfile, runnerFor: (host: string) => HostRunner): Promise<ClusterGpuReport> {
  const specs = clusterNodes(p);
  const nodes = await Promise.all(
    specs.map(async (s) => {
      const profile = nodeProfile(p, s);
      try {
        const runner = runnerFor(s.host);
        const q = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), { timeoutMs: 30_000 });
        if (q.code !== 0) return { host: s.host, role: s.role, gpus: null, summary: interpretNvidiaSmiFailure(q.code, q.stdout + q.stderr).title };
        const apps = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), { timeoutMs: 30_000 });
        const gpus = parseGpuQuery(q.stdout);
        return { host: s.host, role: s.role, gpus, summary: summarizeGpus(gpus, apps.code === 0 ? parseComputeApps(apps.stdout) : []) };
      } catch (err) {
        return { host: s.host, role: s.role, gpus: null, summary: `unreachable: ${err instanceof Error ? err.message : String(err)}` };
      }
    }),
  );
  const label = (h: string) => (h === 'local' ? 'this machine' : h);
  const hosts = nodes.map((n) => ({ host: label(n.host), gpus: n.gpus ?? [] }));
  const sizing = proposeLayouts(hosts, { gpuMemoryUtilization: p.gpuMemoryUtilization });
  const need = gpusPerNode(p);
  const short = nodes.find((n) => (n.gpus?.length ?? 0) < need);
  const layout = short
    ? undefined
    : checkLayout(hosts, { kind: p.cluster.layout === 'ray' ? 'tp-pp-ray' : 'dp-ep', tensorParallel: p.cluster.layout === 'ray' ? p.tensorParallelSize : 1, gpusPerNode: need }, { gpuMemoryUtilization: p.gpuMemoryUtilization });
  const lines = [
    ...nodes.map((n, i) => `${nodeLabel(specs[i]!)}: ${n.summary}`),
    short
      ? `${layoutTitle(p)} needs ${need} GPUs on every node; ${nodeLabel(specs[nodes.indexOf(short)]!)} has ${short.gpus?.length ?? 0}.`
      : `${layout!.fits ? 'Fits' : 'Does not fit'}: ${layout!.explanation}`,
    sizing.summary,
  ];
  return { nodes, sizing, ...(layout ? { layout } : {}), ...(short ? { shortNode: short.host } : {}), lines };
}
