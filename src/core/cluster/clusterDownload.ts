// "Download Model" for a cluster: every node loads the weights from the same path, so the model goes onto every
// node — or, when the profile says the model directory is on shared storage (cluster.sharedStorage), once, on the
// head. Each node's download is the single-host one (src/core/download/modelDownload.ts: detached on that node, disk
// check first, resumable, cancellable), all at the same time; their progress is added up.
import { downloadModel, type DownloadOptions } from '../download/modelDownload';
import type { HostRunner } from '../server/hostShell';
import type { DownloadState } from '../server/lifecycleTypes';
import { clusterNodes, nodeLabel, nodeProfile, type ClusterNodeSpec, type ClusterProfile } from './clusterPlan';
import type { ServerProfile } from '../config/serverProfile';

/** The profile a node's download runs under: that node's host, and a name of its own so that nodes sharing one home
 *  directory (NFS) keep apart the state of their downloads. */
export function nodeDownloadProfile(p: ClusterProfile, node: ClusterNodeSpec): ServerProfile {
  return { ...nodeProfile(p, node), name: `${p.name} @ ${node.host}` };
}

/** The nodes a download goes to: the head alone on shared storage, else every node. */
export function downloadTargets(p: ClusterProfile): ClusterNodeSpec[] {
  const nodes = clusterNodes(p);
  return p.cluster.sharedStorage ? [nodes[0]!] : nodes;
}

export interface ClusterDownloadOptions extends DownloadOptions {
  /** Each node's own state, as it changes. */
  onNodeState?(node: ClusterNodeSpec, s: DownloadState): void;
}

export async function downloadCluster(p: ClusterProfile, runnerFor: (host: string) => HostRunner, opts: ClusterDownloadOptions = {}): Promise<DownloadState> {
  const targets = downloadTargets(p);
  const states = new Map<number, DownloadState>(targets.map((t) => [t.index, { kind: 'checking', detail: `Checking ${nodeLabel(t)}…` }]));
  const emit = () => opts.onState?.(combine(targets, states, p));
  emit();
  const ends = await Promise.all(
    targets.map(async (t) => {
      const end = await downloadModel(runnerFor(t.host), nodeDownloadProfile(p, t), {
        ...opts,
        onState: (s) => {
          states.set(t.index, s);
          opts.onNodeState?.(t, s);
          emit();
        },
      });
      states.set(t.index, end);
      return end;
    }),
  );
  void ends;
  const final = combine(targets, states, p);
  opts.onState?.(final);
  return final;
}

/** One state for all nodes: a failure names its node; bytes and files add up; the slowest node sets the ETA. */
export function combine(targets: ClusterNodeSpec[], states: Map<number, DownloadState>, p: ClusterProfile): DownloadState {
  const all = targets.map((t) => ({ t, s: states.get(t.index)! }));
  const failed = all.find((x) => x.s.kind === 'failed');
  if (failed && all.every((x) => x.s.kind === 'failed' || x.s.kind === 'done' || x.s.kind === 'cancelled')) {
    const f = failed.s as Extract<DownloadState, { kind: 'failed' }>;
    const others = all.filter((x) => x !== failed && x.s.kind === 'failed').map((x) => nodeLabel(x.t));
    return { kind: 'failed', title: `${f.title} (on ${nodeLabel(failed.t)})`, explanation: `${f.explanation}${others.length ? ` It also failed on ${others.join(', ')}.` : ''}` };
  }
  if (all.some((x) => x.s.kind === 'cancelled') && all.every((x) => x.s.kind !== 'downloading' && x.s.kind !== 'checking')) return { kind: 'cancelled' };
  if (all.every((x) => x.s.kind === 'done')) {
    const dir = (all[0]!.s as Extract<DownloadState, { kind: 'done' }>).dir;
    return { kind: 'done', dir: p.cluster.sharedStorage || all.length === 1 ? dir : `${dir} on each of the ${all.length} nodes` };
  }
  const downloading = all.filter((x) => x.s.kind === 'downloading') as { t: ClusterNodeSpec; s: Extract<DownloadState, { kind: 'downloading' }> }[];
  if (downloading.length === 0) {
    const checking = all.find((x) => x.s.kind === 'checking');
    return { kind: 'checking', detail: checking ? (checking.s as Extract<DownloadState, { kind: 'checking' }>).detail : 'Checking the nodes…' };
  }
  const sum = (f: (s: Extract<DownloadState, { kind: 'downloading' }>) => number) => downloading.reduce((n, x) => n + f(x.s), 0);
  const etas = downloading.map((x) => x.s.etaSeconds).filter((e): e is number => e !== undefined);
  const current = downloading.find((x) => x.s.currentFile);
  return {
    kind: 'downloading',
    files: { done: sum((s) => s.files.done), total: sum((s) => s.files.total) },
    bytes: { done: sum((s) => s.bytes.done), total: sum((s) => s.bytes.total) },
    ...(downloading.some((x) => x.s.speed) ? { speed: sum((s) => s.speed ?? 0) } : {}),
    ...(etas.length ? { etaSeconds: Math.max(...etas) } : {}),
    ...(current ? { currentFile: downloading.length > 1 ? `${current.t.host === 'local' ? 'this machine' : current.t.host}: ${current.s.currentFile}` : current.s.currentFile! } : {}),
  };
}
