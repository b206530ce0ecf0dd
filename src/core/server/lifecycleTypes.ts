// The contract between the server lifecycle core (ServerManager, src/core/server/serverManager.ts) and its two
// front ends: the VS Code adapters (src/vscode/server/) and the kimi-vllm CLI (src/cli/). Plain types only.
import type { ServerProfile } from '../config/serverProfile';
import type { Diagnosis } from './diagnosis';
import type { Phase } from './logParser';

/** Where a server runs: 'local' or the SSH destination, plus the profile that describes it. */
export interface ServerRef {
  profile: string;
  host: string;
}

/** The SSH link to the host dropped while a server runs there: the server keeps running, the manager is
 *  re-establishing the master connection and the tunnel (with backoff). Present only while that lasts. */
export interface Reconnecting {
  /** ms since epoch when the link was found down. */
  since: number;
  /** Attempts made so far. */
  attempt: number;
  /** The last error, in plain words. */
  reason: string;
}

/** A node of a starting or serving cluster that cannot be asked over SSH now (its link dropped; what runs there is not
 *  touched). Present in the state only while that lasts: the status bar, the chat header and `serve status` say so. */
export interface UnreachableNode {
  index: number;
  /** 'local' or the SSH destination. */
  host: string;
  /** "vs-worker (worker 1)" */
  label: string;
  /** Why, in plain words (the node's detail in the Cluster Nodes view). */
  reason: string;
}

export type LifecycleState =
  | ({ kind: 'stopped' } & ServerRef)
  /** Checking tools and GPUs on the target before anything starts. */
  | ({ kind: 'preflight'; detail: string } & ServerRef)
  | ({
      kind: 'starting';
      phase: Phase;
      /** Shards x/64 while loading weights, graphs n/N while capturing CUDA graphs. */
      progress?: { done: number; total: number };
      pid?: number;
      /** e.g. "8× NVIDIA H200, 140.4 GiB each, all free" */
      gpus?: string;
      /** ms since epoch when start() began. */
      since: number;
      /** The SSH link is down and being re-established (the server keeps loading on the host). */
      reconnecting?: Reconnecting;
      /** A cluster: nodes that cannot be asked over SSH now (see UnreachableNode). */
      unreachableNodes?: UnreachableNode[];
    } & ServerRef)
  | ({
      kind: 'ready';
      /** The URL the client uses: for a remote host, the local end of the SSH tunnel. */
      baseUrl: string;
      modelId: string;
      maxModelLen?: number;
      pid: number;
      gpus?: string;
      /** true when this session found a server an earlier session (or the CLI) started. */
      reattached: boolean;
      /** The SSH link is down and being re-established: the server keeps running on the host, and baseUrl (the
       *  same local port) answers again once the tunnel is back. Still 'ready' — never 'stopped' for a lost link. */
      reconnecting?: Reconnecting;
      /** A transient remark, e.g. "the server needs an API key to list its models". */
      detail?: string;
      /** A cluster: nodes that cannot be asked over SSH now — it still serves ('ready'), with N nodes unreachable. */
      unreachableNodes?: UnreachableNode[];
    } & ServerRef)
  | ({ kind: 'stopping'; pid?: number } & ServerRef)
  | ({ kind: 'failed'; diagnosis: Diagnosis; pid?: number; logTail?: string[] } & ServerRef);

export type DownloadState =
  | { kind: 'idle' }
  | { kind: 'checking'; detail: string }
  | {
      kind: 'downloading';
      files: { done: number; total: number };
      bytes: { done: number; total: number };
      /** bytes per second */
      speed?: number;
      etaSeconds?: number;
      currentFile?: string;
    }
  | { kind: 'done'; dir: string }
  | { kind: 'failed'; title: string; explanation: string }
  | { kind: 'cancelled' };

export interface StopReport {
  /** Which signal ended the server ('INT' | 'TERM' | 'KILL'), or why nothing was stopped. */
  result: 'INT' | 'TERM' | 'KILL' | 'not-running' | 'stale' | 'survived';
  portClosed: boolean;
  /** GPU memory still held by processes after the stop (MiB per GPU index); empty when all was freed. */
  gpuMemoryHeld: Record<number, number>;
  /** One sentence for the user: what was stopped how, or why nothing was. */
  message?: string;
  /** The process (group) that was stopped, when there was one. */
  pid?: number | null;
  /** A cluster: what was stopped and what was checked on each node (head first). */
  nodes?: NodeStopReport[];
}

export interface NodeStopReport {
  host: string;
  role: 'head' | 'worker';
  /** What was stopped there: "vLLM (SIGINT)", "Ray (SIGINT)". Empty when nothing ran. */
  stopped: string[];
  /** GPU memory still held by processes after the stop (MiB per GPU index). */
  gpuMemoryHeld: Record<number, number>;
  /** Processes or ports still there after the stop, in words ("port 6379 is still open"); empty when clean. */
  leftovers: string[];
  /** The node could not be reached or checked. */
  error?: string;
}

/** One host of a cluster, as the tree view and `serve status --json` show it. 'unreachable': it cannot be asked over
 *  SSH — refused at pre-flight, or its link dropped while the cluster runs (then `detail` says "SSH link lost" and the
 *  node shows its own state again once the link answers). 'unchecked': a Stop could not reach it — what ran there may
 *  still run; it stays so (a fact about that Stop, never a claim about now) until a Stop or Start reaches it. */
export type NodeState = 'stopped' | 'checking' | 'starting' | 'running' | 'ready' | 'failed' | 'stopping' | 'unreachable' | 'unchecked';

export interface ClusterNodeStatus {
  index: number;
  role: 'head' | 'worker';
  /** 'local' or the SSH destination. */
  host: string;
  /** The address the other nodes reach it at, once known. */
  ip?: string;
  /** "8× NVIDIA H100 80GB HBM3, 79.6 GiB each, all free", once probed. */
  gpus?: string;
  state: NodeState;
  /** What runs there or what it is doing: "Ray joined; vLLM loading weights 12/64". */
  detail?: string;
  /** The last line of its log (ANSI removed). */
  lastLine?: string;
  /** Processes of the cluster on it (process-group ids). */
  pids?: { vllm?: number; ray?: number };
}

export interface StartOptions {
  /** From SecretStorage / --api-key / KIMI_API_KEY; never on a command line. */
  apiKey?: string;
  /** Stops WAITING: before the launch nothing is launched (resolves 'stopped'); after it, start() resolves with
   *  the current 'starting' state and the server keeps loading (stop() stops it). */
  signal?: AbortSignal;
}

export type Unsubscribe = () => void;

/** One per profile in use. Implemented in src/core/server/serverManager.ts. */
export interface ServerController {
  readonly profile: ServerProfile;
  readonly state: LifecycleState;
  onState(listener: (s: LifecycleState) => void): Unsubscribe;
  /** Every log line of the server (clean text, in order), for a terminal/output view. */
  onLog(listener: (line: string) => void): Unsubscribe;
  /** Pre-flight, launch detached, follow the log, confirm with /health and /v1/models. Resolves with 'ready' or
   *  'failed' (never throws for server failures). A second start while one runs returns the running state; a
   *  start during a reattach waits for it and launches only when it found no server (never a second server). */
  start(opts?: StartOptions): Promise<LifecycleState>;
  /** Finds a server started earlier (another VS Code session, the CLI); reopens the tunnel and the log. */
  reattach(opts?: StartOptions): Promise<LifecycleState>;
  /** SIGINT → SIGTERM → SIGKILL of the process group; then checks the port and GPU memory. */
  stop(): Promise<StopReport>;
  /** The last `lines` lines of the server log. */
  logTail(lines?: number): Promise<string[]>;
  /** Stops following logs and closes tunnels/SSH masters; never stops the server itself. */
  dispose(): Promise<void>;
}

/** A server spread over several hosts (src/core/cluster/clusterManager.ts): its state is the head's (the API
 *  server), plus the nodes. */
export interface ClusterController extends ServerController {
  readonly nodes: readonly ClusterNodeStatus[];
  onNodes(listener: (nodes: readonly ClusterNodeStatus[]) => void): Unsubscribe;
  /** Every log line of every node: the head's vLLM (also through onLog), the workers' Ray or headless vLLM. */
  onNodeLog(listener: (node: number, line: string) => void): Unsubscribe;
  /** The last `lines` lines of one node's log (the head: its vLLM; a worker: its Ray or headless vLLM). */
  nodeLogTail(node: number, lines?: number): Promise<string[]>;
}

export function isClusterController(c: ServerController): c is ClusterController {
  return Array.isArray((c as Partial<ClusterController>).nodes) && typeof (c as Partial<ClusterController>).onNodes === 'function';
}
