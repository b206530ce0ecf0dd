// Sizing help for serving Kimi-K2.5 across hosts: from the GPUs found on each host, the smallest layout that fits,
// explained with the numbers, and a refusal (with the numbers) when nothing fits. Layouts are vLLM's own
// (docs/vllm-kimi-protocol.md §6): tensor parallel on one host; tensor × pipeline parallel over Ray; native data
// parallel with expert parallel.
//
// The memory model (GiB, per GPU), stated so a user can check it:
//   - the checkpoint is ~595 GB = 554 GiB: ~32 GiB of non-expert weights (attention, dense layer, shared experts,
//     embeddings, vision tower; BF16) and ~522 GiB of routed experts (INT4);
//   - tensor/pipeline parallel split all of it evenly over the GPUs;
//   - data parallel with expert parallel replicates the non-expert weights on every GPU and splits the experts;
//   - every GPU also needs ~4 GiB of runtime (CUDA context, activations, CUDA graphs) and at least 2 GiB of KV cache
//     to serve anything useful;
//   - vLLM may use total × gpu-memory-utilization (default 0.9) of each GPU.
// With these, 8× H200 fits on one host, 8× H100 80GB does not (the ~714 GB rule of thumb), 2× 8 H100 fits.
import type { Gpu } from '../server/gpuProbe';

export const KIMI_K25_MEMORY = Object.freeze({
  weightsGiB: 554,
  replicatedGiB: 32,
  runtimeGiBPerGpu: 4,
  minKvGiBPerGpu: 2,
});

/** Kimi-K2.5 has 64 attention heads: the tensor-parallel size must divide it. */
const VALID_TP = [1, 2, 4, 8, 16, 32, 64];

export interface HostGpus {
  /** The SSH destination or 'local'. */
  host: string;
  gpus: Pick<Gpu, 'name' | 'totalMiB'>[];
}

export type LayoutKind = 'tp' | 'tp-pp-ray' | 'dp-ep';

export interface LayoutProposal {
  kind: LayoutKind;
  /** The hosts used, head first. */
  hosts: string[];
  tensorParallel: number;
  pipelineParallel: number;
  dataParallel: number;
  expertParallel: boolean;
  /** GiB each GPU needs for weights + runtime (before KV cache). */
  perGpuNeedGiB: number;
  /** GiB vLLM may use on the smallest GPU (total × utilization). */
  perGpuUsableGiB: number;
  /** What is left per GPU for the KV cache. */
  kvGiBPerGpu: number;
  /** One line: "TP8 × PP2 over Ray on gpu-a, gpu-b". */
  title: string;
  /** Why this layout, in plain words, with the numbers. */
  explanation: string;
}

export interface SizingResult {
  /** Best first; empty when nothing fits. */
  proposals: LayoutProposal[];
  /** Plain-language summary: the recommendation, or the refusal with numbers. */
  summary: string;
  fits: boolean;
}

export interface SizingOptions {
  gpuMemoryUtilization?: number;
  memory?: typeof KIMI_K25_MEMORY;
}

const GIB_PER_MIB = 1 / 1024;
const fmt = (x: number) => (Math.round(x * 10) / 10).toLocaleString('en-US');

function usableGiB(gpu: Pick<Gpu, 'totalMiB'>, util: number): number {
  return (gpu.totalMiB ?? 0) * GIB_PER_MIB * util;
}

function gpuLabel(h: HostGpus): string {
  const names = [...new Set(h.gpus.map((g) => g.name))];
  return `${h.gpus.length}× ${names.join(' + ') || 'GPU'}`;
}

function largestValidTp(n: number): number {
  return [...VALID_TP].reverse().find((t) => t <= n) ?? 1;
}

/** Proposes the smallest layout that fits the hosts' GPUs, best first. Hosts keep their order (the first is the
 *  preferred head). */
export function proposeLayouts(hosts: HostGpus[], opts: SizingOptions = {}): SizingResult {
  const util = opts.gpuMemoryUtilization ?? 0.9;
  const mem = opts.memory ?? KIMI_K25_MEMORY;
  const usable = hosts.filter((h) => h.gpus.length > 0 && h.gpus.every((g) => (g.totalMiB ?? 0) > 0));
  const unknown = hosts.filter((h) => !usable.includes(h)).map((h) => h.host);
  const note = unknown.length ? ` Left out (no GPUs or unknown memory): ${unknown.join(', ')}.` : '';
  if (!usable.length) {
    return { proposals: [], fits: false, summary: `No host reported usable GPUs, so no layout can be proposed.${note}` };
  }

  const proposals: LayoutProposal[] = [];
  // Try 1 host, then 2, … (hosts sorted by usable memory, largest first, so the smallest count is found).
  const ranked = [...usable].sort((a, b) => totalUsable(b, util) - totalUsable(a, util));
  for (let k = 1; k <= ranked.length && !proposals.length; k++) {
    const group = ranked.slice(0, k);
    // Keep the user's order within the group (the first listed becomes the head).
    group.sort((a, b) => hosts.indexOf(a) - hosts.indexOf(b));
    const perHost = Math.min(...group.map((h) => h.gpus.length));
    const tp = largestValidTp(perHost);
    const minGpuGiB = Math.min(...group.flatMap((h) => h.gpus.map((g) => usableGiB(g, util))));
    const names = group.map((h) => h.host);
    const gpuText = group.map((h) => `${h.host} (${gpuLabel(h)})`).join(', ');

    const split = (n: number) => mem.weightsGiB / n + mem.runtimeGiBPerGpu;
    const nGpus = tp * k;
    const need = split(nGpus);
    if (need + mem.minKvGiBPerGpu <= minGpuGiB) {
      const kv = minGpuGiB - need;
      if (k === 1) {
        proposals.push({
          kind: 'tp', hosts: names, tensorParallel: tp, pipelineParallel: 1, dataParallel: 1, expertParallel: false,
          perGpuNeedGiB: need, perGpuUsableGiB: minGpuGiB, kvGiBPerGpu: kv,
          title: `TP${tp} on ${names[0]}`,
          explanation: `One host is enough: ${gpuText}. Split ${tp} ways the weights take ${fmt(mem.weightsGiB / tp)} GiB per GPU ` +
            `plus ~${mem.runtimeGiBPerGpu} GiB of runtime, leaving ~${fmt(kv)} GiB per GPU for the KV cache ` +
            `(${fmt(minGpuGiB)} GiB usable at gpu-memory-utilization ${util}). No cluster needed.`,
        });
      } else {
        proposals.push({
          kind: 'tp-pp-ray', hosts: names, tensorParallel: tp, pipelineParallel: k, dataParallel: 1, expertParallel: false,
          perGpuNeedGiB: need, perGpuUsableGiB: minGpuGiB, kvGiBPerGpu: kv,
          title: `TP${tp} × PP${k} over Ray on ${names.join(', ')}`,
          explanation: `The model does not fit on fewer than ${k} of these hosts. Tensor parallel ${tp} inside each host and ` +
            `pipeline parallel ${k} across them (Ray) puts ${fmt(mem.weightsGiB / nGpus)} GiB of weights on each of the ${nGpus} GPUs ` +
            `plus ~${mem.runtimeGiBPerGpu} GiB of runtime, leaving ~${fmt(kv)} GiB per GPU for the KV cache. ` +
            'Simplest multi-host layout, best latency for a few users.',
        });
      }
    }
    if (k > 1) {
      const dp = perHost * k; // every GPU of the group is a data-parallel rank
      const needDp = mem.replicatedGiB + (mem.weightsGiB - mem.replicatedGiB) / dp + mem.runtimeGiBPerGpu;
      if (needDp + mem.minKvGiBPerGpu <= minGpuGiB) {
        const kv = minGpuGiB - needDp;
        proposals.push({
          kind: 'dp-ep', hosts: names, tensorParallel: 1, pipelineParallel: 1, dataParallel: dp, expertParallel: true,
          perGpuNeedGiB: needDp, perGpuUsableGiB: minGpuGiB, kvGiBPerGpu: kv,
          title: `DP${dp} + expert parallel on ${names.join(', ')}`,
          explanation: `vLLM's native data parallel with expert parallel (Moonshot's guidance for ${dp} GPUs): every GPU keeps the ` +
            `${mem.replicatedGiB} GiB of non-expert weights and 1/${dp} of the experts (${fmt((mem.weightsGiB - mem.replicatedGiB) / dp)} GiB), ` +
            `leaving ~${fmt(kv)} GiB per GPU for the KV cache. Higher throughput for many concurrent users; no Ray.`,
        });
      }
    }
  }

  if (!proposals.length) {
    const totalGpus = usable.reduce((n, h) => n + h.gpus.length, 0);
    const totalGiB = usable.reduce((n, h) => n + totalUsable(h, util), 0);
    const minNeed = mem.weightsGiB + totalGpus * (mem.runtimeGiBPerGpu + mem.minKvGiBPerGpu);
    return {
      proposals: [], fits: false,
      summary: `Kimi-K2.5 does not fit on these GPUs: ${usable.map((h) => `${h.host} (${gpuLabel(h)})`).join(', ')} give ` +
        `${fmt(totalGiB)} GiB usable at gpu-memory-utilization ${util}, and the model needs ${fmt(mem.weightsGiB)} GiB of weights ` +
        `plus ~${mem.runtimeGiBPerGpu + mem.minKvGiBPerGpu} GiB per GPU (${fmt(minNeed)} GiB in all). Add a host, or use GPUs with more memory.${note}`,
    };
  }
  // With 2+ hosts both layouts come from the same host count: the one leaving more KV cache per GPU comes first
  // (TP×PP splits everything; DP+EP replicates the non-expert weights), the other is offered as the alternative.
  proposals.sort((a, b) => b.kvGiBPerGpu - a.kvGiBPerGpu);
  const best = proposals[0]!;
  const spare = usable.length - best.hosts.length;
  const more = spare > 0 ? ` ${spare} more host${spare > 1 ? 's' : ''} could run ${spare > 1 ? 'further copies' : 'a second copy'} for more throughput, but are not needed to fit the model.` : '';
  const alt = proposals.length > 1 ? ` Alternative: ${proposals.slice(1).map((p) => p.title).join('; ')}.` : '';
  return { proposals, fits: true, summary: `Recommended: ${best.title}. ${best.explanation}${alt}${more}${note}` };
}

function totalUsable(h: HostGpus, util: number): number {
  return h.gpus.reduce((n, g) => n + usableGiB(g, util), 0);
}

export interface LayoutRequest {
  kind: 'tp-pp-ray' | 'dp-ep';
  /** Tensor-parallel size (Ray: inside each node; dp: per rank, 1). */
  tensorParallel: number;
  /** GPUs used on every node (Ray: tensorParallel; dp: the ranks of a node). */
  gpusPerNode: number;
}

export interface LayoutCheck {
  fits: boolean;
  perGpuNeedGiB: number;
  perGpuUsableGiB: number;
  kvGiBPerGpu: number;
  /** One sentence with the numbers: why it fits or why not. */
  explanation: string;
}

/**
 * Does a given multi-node layout hold the model on these hosts (each using its first `gpusPerNode` GPUs)? The same
 * memory model as proposeLayouts; a refusal says what is missing and what would fit instead.
 */
export function checkLayout(hosts: HostGpus[], req: LayoutRequest, opts: SizingOptions = {}): LayoutCheck {
  const util = opts.gpuMemoryUtilization ?? 0.9;
  const mem = opts.memory ?? KIMI_K25_MEMORY;
  const used = hosts.map((h) => ({ host: h.host, gpus: h.gpus.slice(0, req.gpusPerNode) }));
  const known = used.every((h) => h.gpus.length > 0 && h.gpus.every((g) => (g.totalMiB ?? 0) > 0));
  const nGpus = used.reduce((n, h) => n + h.gpus.length, 0);
  const title = req.kind === 'tp-pp-ray' ? `TP${req.tensorParallel} × PP${hosts.length} over Ray` : `DP${nGpus} + expert parallel`;
  if (!known) {
    return { fits: true, perGpuNeedGiB: 0, perGpuUsableGiB: 0, kvGiBPerGpu: 0, explanation: `${title}: the GPU memory of some node is not known, so the fit could not be checked.` };
  }
  const usable = Math.min(...used.flatMap((h) => h.gpus.map((g) => usableGiB(g, util))));
  const need =
    req.kind === 'tp-pp-ray'
      ? mem.weightsGiB / nGpus + mem.runtimeGiBPerGpu
      : mem.replicatedGiB + (mem.weightsGiB - mem.replicatedGiB) / nGpus + mem.runtimeGiBPerGpu;
  const kv = usable - need;
  const fits = need + mem.minKvGiBPerGpu <= usable;
  const gpuText = used.map((h) => `${h.host} (${gpuLabel(h)})`).join(', ');
  const weights =
    req.kind === 'tp-pp-ray'
      ? `${fmt(mem.weightsGiB)} GiB of weights split over ${nGpus} GPUs is ${fmt(mem.weightsGiB / nGpus)} GiB each`
      : `every GPU keeps the ${mem.replicatedGiB} GiB of non-expert weights plus 1/${nGpus} of the experts (${fmt((mem.weightsGiB - mem.replicatedGiB) / nGpus)} GiB)`;
  if (fits) {
    return {
      fits, perGpuNeedGiB: need, perGpuUsableGiB: usable, kvGiBPerGpu: kv,
      explanation: `${title} on ${gpuText}: ${weights}, plus ~${mem.runtimeGiBPerGpu} GiB of runtime, leaving ~${fmt(kv)} GiB per GPU for the KV cache (${fmt(usable)} GiB usable at gpu-memory-utilization ${util}).`,
    };
  }
  const better = proposeLayouts(hosts, opts);
  const instead = better.fits ? ` What fits these hosts: ${better.proposals[0]!.title}.` : ` ${better.summary}`;
  return {
    fits, perGpuNeedGiB: need, perGpuUsableGiB: usable, kvGiBPerGpu: kv,
    explanation:
      `${title} does not fit on ${gpuText}: ${weights}, plus ~${mem.runtimeGiBPerGpu} GiB of runtime and at least ${mem.minKvGiBPerGpu} GiB of KV cache = ` +
      `${fmt(need + mem.minKvGiBPerGpu)} GiB per GPU, but the smallest GPU gives ${fmt(usable)} GiB at gpu-memory-utilization ${util}.${instead}`,
  };
}
