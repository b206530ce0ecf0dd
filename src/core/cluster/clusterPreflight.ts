// The pre-flight of a cluster, from the facts of every node (nodeScripts.ts): the tools, the GPUs and their free
// memory, one vLLM (and Ray) version everywhere, the model present at the same path on every node, addresses and
// interfaces that make sense, and a layout that holds the model (sizing.ts). Nothing here runs anything: it turns
// facts into refusals (Diagnosis, naming the node and the numbers) and into the network every node will use.
import type { Diagnosis } from '../server/diagnosis';
import { interpretNvidiaSmiFailure, preflight, summarizeGpus, type Gpu } from '../server/gpuProbe';
import { modelPath } from '../server/vllmCommand';
import { gpusPerNode, layoutTitle, nodeLabel, type ClusterNodeSpec, type ClusterProfile, type NodeNet } from './clusterPlan';
import type { NodeFacts } from './nodeScripts';
import { checkLayout, proposeLayouts, type LayoutCheck, type SizingResult } from './sizing';

export interface ClusterPreflight {
  /** Empty when the cluster may start. Each names its node. */
  problems: Diagnosis[];
  /** Per node (head first); an entry is missing where the address could not be determined. */
  nets: (NodeNet | undefined)[];
  /** Per node: "8× NVIDIA H100 80GB HBM3, 79.6 GiB each, all free". */
  gpuSummaries: (string | undefined)[];
  /** Per node: GPU processes that were there before the start (not the cluster's: not "left over" after a stop). */
  foreignPids: Set<number>[];
  /** The profile's layout checked against the GPUs found (undefined when some node reported no GPUs). */
  layout?: LayoutCheck;
  /** What sizing.ts proposes for these hosts. */
  sizing?: SizingResult;
  /** "2 nodes × 8× NVIDIA H100 80GB HBM3". */
  summary: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+$/;
const isIp = (v: string) => IPV4.test(v) || (v.includes(':') && IPV6.test(v));

function problem(node: ClusterNodeSpec, code: Diagnosis['code'], title: string, explanation: string, fix?: Diagnosis['fix']): Diagnosis {
  return { code, title, explanation, line: `${nodeLabel(node)}: ${title}`, node: node.host, ...(fix ? { fix } : {}) };
}

function modelsOf(gpus: Gpu[]): string {
  const names = [...new Set(gpus.map((g) => g.name))];
  return names.join(' + ') || 'GPU';
}

/** The address of a node as the others should reach it. */
function detectIp(node: ClusterNodeSpec, nodes: ClusterNodeSpec[], facts: NodeFacts[]): string | null {
  if (node.ip) return node.ip;
  const own = facts[node.index];
  if (node.host !== 'local') return own?.sshConnection?.serverIp ?? null;
  // A local head: the address the first worker sees our SSH connection come from.
  for (const w of nodes.slice(1)) {
    const c = facts[w.index]?.sshConnection?.clientIp;
    if (c) return c;
  }
  return null;
}

export function evaluateCluster(p: ClusterProfile, nodes: ClusterNodeSpec[], facts: NodeFacts[]): ClusterPreflight {
  const problems: Diagnosis[] = [];
  const need = gpusPerNode(p);
  const ray = p.cluster.layout === 'ray';
  const head = facts[0]!;
  const gpuSummaries: (string | undefined)[] = [];
  const foreignPids: Set<number>[] = [];
  const dir = modelPath(p);

  for (const node of nodes) {
    const f = facts[node.index]!;
    const who = nodeLabel(node);
    foreignPids.push(new Set(f.processes.map((x) => x.pid)));
    gpuSummaries.push(f.gpus ? summarizeGpus(f.gpus, f.processes) : undefined);
    if (!f.tools.vllm) {
      problems.push(problem(node, 'vllmNotInstalled', `vLLM is not installed on ${who}`, `\`vllm\` is not on PATH on ${who} inside the profile's environment (environment.venv / conda / commandPrefix): every node needs the same vLLM.`, { label: 'Install vLLM on every node, or fix the profile\'s environment' }));
    }
    if (ray && !f.tools.ray) {
      problems.push(problem(node, 'vllmNotInstalled', `Ray is not installed on ${who}`, `The ray layout runs \`ray start\` on every node, and \`ray\` is not on PATH on ${who} inside the profile's environment (pip install "ray[default]", the version vLLM wants).`, { label: 'Install Ray on every node, or use the dp layout' }));
    }
    if (!f.tools['nvidia-smi'] || !f.gpus) {
      const failure = interpretNvidiaSmiFailure(f.tools['nvidia-smi'] ? (f.gpuError?.code ?? 1) : 127, f.gpuError?.output || 'nvidia-smi: command not found');
      problems.push(problem(node, 'noGpu', `${failure.title} (${who})`, failure.explanation));
    } else if (f.gpus.length < need) {
      problems.push(
        problem(
          node,
          'notEnoughGpus',
          `${who} has ${f.gpus.length} GPU${f.gpus.length === 1 ? '' : 's'}; this layout needs ${need} on every node`,
          `${layoutTitle(p)} uses ${need} GPUs on each of the ${nodes.length} nodes (${ray ? 'tensorParallelSize' : 'cluster.dataParallelSizeLocal'} = ${need}), ` +
            `and nvidia-smi on ${who} lists ${f.gpus.length} (${modelsOf(f.gpus)}). Nothing was started.`,
          { label: `Use hosts with ${need} GPUs, or lower ${ray ? 'tensorParallelSize' : 'cluster.dataParallelSizeLocal'}` },
        ),
      );
    } else {
      const check = preflight({ gpus: f.gpus, processes: f.processes, tensorParallelSize: need, gpuMemoryUtilization: p.gpuMemoryUtilization, modelGiB: 0 });
      if (!check.ok) problems.push(problem(node, 'gpuMemoryBusy', `The GPUs of ${who} are busy`, check.reason, { label: 'Stop the other GPU processes on that node, or lower gpu-memory-utilization' }));
    }
    if (f.model !== 'present') {
      problems.push(
        problem(
          node,
          'invalidModel',
          f.model === 'missing' ? `The model is not on ${who}` : `The model on ${who} is incomplete`,
          f.model === 'missing'
            ? `${dir} does not exist on ${who}. Every node loads the weights from the same path${p.cluster.sharedStorage ? ' (the profile says it is shared storage: is it mounted there?)' : ''}.`
            : `${dir} exists on ${who} but has no config.json (a download still running, or stopped halfway).`,
          { label: p.cluster.sharedStorage ? 'Mount the shared model directory on every node, or Download Model' : 'Download Model (onto every node)' },
        ),
      );
    } else if (node.index > 0 && head.model === 'present' && f.shards !== head.shards) {
      problems.push(
        problem(node, 'invalidModel', `The model on ${who} differs from the head's`, `${dir} holds ${f.shards} weight shard${f.shards === 1 ? '' : 's'} (*.safetensors) on ${who} and ${head.shards} on the head: an incomplete copy.`, {
          label: 'Download Model again (it resumes)',
        }),
      );
    }
    if (node.index > 0 && head.vllmVersion && f.vllmVersion && f.vllmVersion !== head.vllmVersion) {
      problems.push(problem(node, 'versionMismatch', `${who} runs vLLM ${f.vllmVersion}, the head ${head.vllmVersion}`, 'Every node of a cluster must run the same vLLM version: the engines talk to each other in that version\'s protocol.', { label: `Install vLLM ${head.vllmVersion} on ${who}` }));
    }
    if (ray && node.index > 0 && head.rayVersion && f.rayVersion && f.rayVersion !== head.rayVersion) {
      problems.push(problem(node, 'versionMismatch', `${who} runs Ray ${f.rayVersion}, the head ${head.rayVersion}`, 'Ray refuses nodes of another version ("Version mismatch").', { label: `Install Ray ${head.rayVersion} on ${who}` }));
    }
  }

  // The network: the address every node is reached at, and the interface NCCL and Gloo use.
  const nets: (NodeNet | undefined)[] = [];
  const seen = new Map<string, ClusterNodeSpec>();
  for (const node of nodes) {
    const f = facts[node.index]!;
    const who = nodeLabel(node);
    const field = node.index === 0 ? 'cluster.headIp' : `cluster.workers[${node.index - 1}].ip`;
    const ip = detectIp(node, nodes, facts);
    if (!ip || !isIp(ip)) {
      problems.push(problem(node, 'nodeUnreachable', `The address of ${who} is not known`, `It could not be read from the SSH connection${ip ? ` (got ${JSON.stringify(ip.slice(0, 60))})` : ''}: set ${field} to the address the other nodes reach it at.`, { label: `Set ${field}` }));
      nets.push(undefined);
      continue;
    }
    const own = f.addresses.map((a) => a.ip);
    if (own.length > 0 && !own.includes(ip)) {
      problems.push(
        problem(node, 'nodeUnreachable', `${ip} is not an address of ${who}`, `${who} has ${own.join(', ')}; ${ip} is probably a NAT or jump address. Ray and vLLM bind to the node's own address: set ${field} to the one the other nodes reach it at.`, {
          label: `Set ${field}`,
        }),
      );
    }
    const other = seen.get(ip);
    if (other) problems.push(problem(node, 'nodeUnreachable', `${who} and ${nodeLabel(other)} have the same address ${ip}`, `Every node needs its own address (Ray and vLLM tell nodes apart by it). Set ${field}.`, { label: `Set ${field}` }));
    seen.set(ip, node);
    const setting = node.networkInterface || p.cluster.networkInterface;
    const iface = setting === 'none' ? null : setting || (f.addresses.find((a) => a.ip === ip)?.iface ?? null);
    nets.push({ ip, networkInterface: iface });
  }

  // Does the layout hold the model on these GPUs at all?
  let layout: LayoutCheck | undefined;
  let sizing: SizingResult | undefined;
  if (facts.every((f) => f.gpus && f.gpus.length >= need)) {
    const hosts = nodes.map((n) => ({ host: n.host === 'local' ? 'this machine' : n.host, gpus: facts[n.index]!.gpus! }));
    sizing = proposeLayouts(hosts, { gpuMemoryUtilization: p.gpuMemoryUtilization });
    layout = checkLayout(hosts, { kind: ray ? 'tp-pp-ray' : 'dp-ep', tensorParallel: ray ? p.tensorParallelSize : 1, gpusPerNode: need }, { gpuMemoryUtilization: p.gpuMemoryUtilization });
    if (!layout.fits) {
      problems.push({ code: 'layoutDoesNotFit', title: `${layoutTitle(p)} does not hold Kimi-K2.5 on these GPUs`, explanation: layout.explanation, line: layout.explanation.slice(0, 300), fix: { label: 'Add a node, use GPUs with more memory, or change the layout' } });
    }
  }
  const models = [...new Set(facts.flatMap((f) => (f.gpus ?? []).map((g) => g.name)))];
  const summary = `${nodes.length} nodes × ${need}× ${models.join(' + ') || 'GPU'}`;
  return { problems, nets, gpuSummaries, foreignPids, ...(layout ? { layout } : {}), ...(sizing ? { sizing } : {}), summary };
}

/** One diagnosis for the user: the first problem, the others appended to its explanation. */
export function combineProblems(problems: Diagnosis[]): Diagnosis {
  const [first, ...rest] = problems;
  if (!first) throw new Error('no problems');
  if (rest.length === 0) return { ...first, explanation: `${first.explanation} Nothing was started.`.replace('Nothing was started. Nothing was started.', 'Nothing was started.') };
  return {
    ...first,
    explanation: `${first.explanation} Also: ${rest.map((r) => r.title).join('; ')}. Nothing was started.`.replace('Nothing was started. Also', 'Also'),
  };
}
