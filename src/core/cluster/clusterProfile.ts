// What tells a cluster profile from a single host, its layout and its unreachable nodes in a few words: the little
// the extension needs at activation (status bar, Cluster Nodes view), apart from clusterPlan's command lines.
import type { ServerProfile } from '../config/serverProfile';
import type { ClusterConfig } from './clusterSchema';

export type ClusterProfile = ServerProfile & { cluster: ClusterConfig };

export function isClusterProfile(p: ServerProfile): p is ClusterProfile {
  return p.cluster !== undefined;
}

/** `TP8 × PP2 over Ray` / `DP16 + expert parallel`. */
export function layoutTitle(p: ClusterProfile): string {
  const n = p.cluster.workers.length + 1;
  return p.cluster.layout === 'ray' ? `TP${p.tensorParallelSize} × PP${n} over Ray` : `DP${n * p.cluster.dataParallelSizeLocal} + expert parallel`;
}

/** "1 node unreachable" / "2 nodes unreachable": what the status bar, the chat header and `serve status` add to a
 *  starting or serving cluster's state while some of its nodes cannot be asked over SSH. */
export function unreachableCount(n: number): string {
  return `${n} node${n === 1 ? '' : 's'} unreachable`;
}
