// A cluster profile as nodes: who is the head, who the workers, how many GPUs each must bring, where each keeps its
// state, and the per-node command lines — `ray start` for the Ray layout, `vllm serve` with vLLM's own multi-node
// flags for both layouts (docs/vllm-kimi-protocol.md §6). Plain data in, argv arrays out; shell text only through
// vllmCommand.shellCommand (shellQuote), so no value from a profile or a host is ever interpreted by a shell.
import type { ServerProfile } from '../config/serverProfile';
import { profileSlug, stateDirFor } from '../server/stateDir';
import { serveArgv, shellCommand } from '../server/vllmCommand';
import { isClusterProfile, type ClusterProfile } from './clusterProfile';

export { isClusterProfile, layoutTitle, type ClusterProfile } from './clusterProfile';

export interface ClusterNodeSpec {
  /** 0 is the head. */
  index: number;
  role: 'head' | 'worker';
  /** 'local' (head only) or an SSH destination. */
  host: string;
  /** The configured address ('' = detect). */
  ip: string;
  /** The configured interface for NCCL/Gloo ('' = the cluster's setting). */
  networkInterface: string;
}

export function clusterNodes(p: ClusterProfile): ClusterNodeSpec[] {
  const head: ClusterNodeSpec = { index: 0, role: 'head', host: p.host, ip: p.cluster.headIp, networkInterface: '' };
  return [
    head,
    ...p.cluster.workers.map((w, i): ClusterNodeSpec => {
      const o = typeof w === 'string' ? { host: w, ip: '', networkInterface: '' } : w;
      return { index: i + 1, role: 'worker', host: o.host, ip: o.ip, networkInterface: o.networkInterface };
    }),
  ];
}

/** `gpu-a (head)`, `this machine (head)`, `gpu-b (worker 1)`. */
export function nodeLabel(n: Pick<ClusterNodeSpec, 'index' | 'role' | 'host'>): string {
  const where = n.host === 'local' ? 'this machine' : n.host;
  return `${where} (${n.role === 'head' ? 'head' : `worker ${n.index}`})`;
}

/** GPUs every node must bring: tensor-parallel-size (Ray: TP inside a node, PP across) or the data-parallel ranks
 *  of a node (dp: one GPU each). */
export function gpusPerNode(p: ClusterProfile): number {
  return p.cluster.layout === 'ray' ? p.tensorParallelSize : p.cluster.dataParallelSizeLocal;
}

/** The profile as seen on one node: its host, no cluster part (for shellCommand, downloads, GPU probes). */
export function nodeProfile(p: ClusterProfile, node: Pick<ClusterNodeSpec, 'host'>): ServerProfile {
  const { cluster: _cluster, ...rest } = p;
  return { ...rest, host: node.host };
}

/** Where a node keeps the pid and log of one of its cluster processes: `~/.kimi-vllm/<profile>/<host>-<what>`. The
 *  host is part of the name because cluster nodes often share one home directory (NFS). */
export function nodeStateDir(p: ServerProfile, node: Pick<ClusterNodeSpec, 'host'>, what: 'vllm' | 'ray'): string {
  return `${stateDirFor(p.name)}/${profileSlug(node.host)}-${what}`;
}

/** Where a node's network ended up: the address the others reach it at, the interface for NCCL/Gloo (null: leave
 *  NCCL_SOCKET_IFNAME / GLOO_SOCKET_IFNAME unset). */
export interface NodeNet {
  ip: string;
  networkInterface: string | null;
}

/** `10.0.0.1:6379`, `[fd00::1]:6379`. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The environment of every cluster process on a node: its own address for vLLM and the interface for NCCL/Gloo. */
export function nodeEnv(net: NodeNet): Record<string, string> {
  return {
    VLLM_HOST_IP: net.ip,
    ...(net.networkInterface ? { NCCL_SOCKET_IFNAME: net.networkInterface, GLOO_SOCKET_IFNAME: net.networkInterface } : {}),
  };
}

/** `ray start --head` on the head, in the foreground (--block) so that it is one process group the extension can
 *  start detached, follow and stop like the server; Ray ends its own processes when it is stopped. */
export function rayHeadArgv(p: ClusterProfile, head: NodeNet): string[] {
  return ['ray', 'start', '--head', `--port=${p.cluster.rayPort}`, `--node-ip-address=${head.ip}`, '--block', '--disable-usage-stats'];
}

export function rayWorkerArgv(p: ClusterProfile, head: NodeNet, node: NodeNet): string[] {
  return ['ray', 'start', `--address=${hostPort(head.ip, p.cluster.rayPort)}`, `--node-ip-address=${node.ip}`, '--block'];
}

/** The multi-node flags of `vllm serve` on `node`. */
export function clusterServeFlags(p: ClusterProfile, node: Pick<ClusterNodeSpec, 'index'>, head: NodeNet): string[] {
  const n = p.cluster.workers.length + 1;
  if (p.cluster.layout === 'ray') return ['-pp', String(n), '--distributed-executor-backend', 'ray'];
  const local = p.cluster.dataParallelSizeLocal;
  return [
    '--data-parallel-size', String(n * local),
    '--data-parallel-size-local', String(local),
    '--data-parallel-address', head.ip,
    '--data-parallel-rpc-port', String(p.cluster.dpRpcPort),
    '--enable-expert-parallel',
    ...(node.index > 0 ? ['--headless', '--data-parallel-start-rank', String(node.index * local)] : []),
  ];
}

/** `vllm serve` argv on a node: the profile's command (-tp 1 for dp: one GPU per rank) with the multi-node flags
 *  before the profile's own extra arguments (which may still override them). */
export function clusterServeArgv(p: ClusterProfile, node: Pick<ClusterNodeSpec, 'index' | 'host'>, head: NodeNet): string[] {
  const base = nodeProfile(p, node);
  return serveArgv({
    ...base,
    ...(p.cluster.layout === 'dp' ? { tensorParallelSize: 1 } : {}),
    extraArgs: [...clusterServeFlags(p, node, head), ...p.extraArgs],
  });
}

/** The shell text that runs `vllm serve` on a node: the node's environment (and, for the Ray layout, RAY_ADDRESS:
 *  vLLM must join the cluster the extension started, not start a local one). */
export function clusterServeCommand(p: ClusterProfile, node: Pick<ClusterNodeSpec, 'index' | 'host'>, nets: readonly NodeNet[]): string {
  const head = nets[0]!;
  const env = { ...nodeEnv(nets[node.index]!), ...(p.cluster.layout === 'ray' ? { RAY_ADDRESS: hostPort(head.ip, p.cluster.rayPort) } : {}) };
  return shellCommand(nodeProfile(p, node), clusterServeArgv(p, node, head), env);
}

/** The shell text that runs `ray start` on a node. */
export function rayCommand(p: ClusterProfile, node: Pick<ClusterNodeSpec, 'index' | 'host'>, nets: readonly NodeNet[]): string {
  const argv = node.index === 0 ? rayHeadArgv(p, nets[0]!) : rayWorkerArgv(p, nets[0]!, nets[node.index]!);
  return shellCommand(nodeProfile(p, node), argv, nodeEnv(nets[node.index]!));
}
