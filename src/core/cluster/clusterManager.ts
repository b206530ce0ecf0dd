// Runs one cluster profile: Kimi-K2.5 served by vLLM from several GPU hosts, with vLLM's and Ray's own multi-node
// mechanisms (docs/vllm-kimi-protocol.md §6) — the extension orchestrates, it does not distribute anything itself.
//
//   pre-flight  every node, in parallel, over its own connection: tools, GPUs and their free memory, one vLLM (and
//               Ray) version, the model at the same path, addresses and interfaces, a layout that holds the model;
//               then the head listens on the port the workers need and every worker connects to it. Any problem
//               refuses the start before anything runs, naming the node and the numbers.
//   start       ray: `ray start --head` (detached, --block), every worker's `ray start --address=HEAD:PORT` (each
//               checked first from the worker), `ray status` until every node and GPU is there, then `vllm serve … -pp
//               N --distributed-executor-backend ray` on the head. dp: the head's `vllm serve --data-parallel-…`, then
//               every worker's headless one. The head's vLLM is a ServerManager (log → phases, readiness over HTTP,
//               the tunnel, reattach), every other process a NodeProcess whose log is followed: a node whose process
//               ends during the start (or later) stops the whole cluster, and the diagnosis names it.
//   stop        the head's vLLM (INT → TERM → KILL), the workers' processes, the head's Ray; then every node is
//               checked: no cluster process, no held GPU memory, the ports closed.
//   reattach    like a single host: the head's vLLM is found by its pid file, the workers' processes by theirs.
import { ServerManager, type ServerManagerDeps } from '../server/serverManager';
import type { Diagnosis } from '../server/diagnosis';
import { NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, summarizeGpus } from '../server/gpuProbe';
import type { HostRunner } from '../server/hostShell';
import type {
  ClusterController,
  ClusterNodeStatus,
  LifecycleState,
  NodeStopReport,
  StartOptions,
  StopReport,
  UnreachableNode,
  Unsubscribe,
} from '../server/lifecycleTypes';
import { parsePortOpen, portOpenScript } from '../server/remoteScripts';
import { SshError } from '../server/ssh';
import { shellCommand } from '../server/vllmCommand';
import {
  clusterNodes,
  clusterServeCommand,
  gpusPerNode,
  hostPort,
  layoutTitle,
  nodeLabel,
  nodeProfile,
  nodeStateDir,
  rayCommand,
  type ClusterNodeSpec,
  type ClusterProfile,
  type NodeNet,
} from './clusterPlan';
import { combineProblems, evaluateCluster } from './clusterPreflight';
import { lastErrorLine, NodeProcess, NodeProcessError, type NodeFollow } from './nodeProcess';
import { connectScript, listenerScript, nodeFactsScript, parseConnect, parseNodeFacts, parseRayStatus, rayStatusCommand, type NodeFacts } from './nodeScripts';
import { settleOnAbort } from '../util/abort';

export interface ClusterManagerDeps extends Omit<ServerManagerDeps, 'runner' | 'streamer' | 'stateDir' | 'command' | 'skipPreflight'> {
  /** The runner of a host ('local' or an SSH destination): one per host, reused for everything there. */
  runnerFor(host: string): HostRunner;
  /** ray: how long `ray start` may take on a node, and the Ray cluster to show every node (default 120 s). */
  joinTimeoutMs?: number;
}

interface Watch {
  node: number;
  what: 'vllm' | 'ray';
  follow: NodeFollow;
}

export class ClusterManager implements ClusterController {
  readonly profile: ClusterProfile;
  private readonly specs: ClusterNodeSpec[];
  private readonly head: ServerManager;
  private current: LifecycleState;
  private nodeStates: ClusterNodeStatus[];
  private readonly stateListeners = new Set<(s: LifecycleState) => void>();
  private readonly logListeners = new Set<(line: string) => void>();
  private readonly nodeListeners = new Set<(n: readonly ClusterNodeStatus[]) => void>();
  private readonly nodeLogListeners = new Set<(node: number, line: string) => void>();
  private epoch = 0;
  private starting: Promise<LifecycleState> | undefined;
  private stopping: Promise<StopReport> | undefined;
  private nets: NodeNet[] | undefined;
  private headCommand: string | undefined;
  private foreignPids: Set<number>[] = [];
  private watches: Watch[] = [];
  /** The head's ServerManager state is the cluster's while this is true (from its launch / reattach on). */
  private followingHead = false;
  /** A failure handled already (one node's failure, then the others' consequences, is reported once). */
  private failing = false;
  private gpuSummary: string | undefined;
  private disposed = false;
  /** Launch scripts in flight: a stop waits for them, so that nothing it should stop starts after it looked. */
  private readonly launches = new Set<Promise<unknown>>();
  /** The handling of the head's vLLM failing (attributing it to a node, stopping the cluster). */
  private headFailure: Promise<void> | undefined;
  /** Links found down while the cluster runs, by who noticed ("<node>/ray", "<node>/vllm", "0/head"): the node is shown
   *  'unreachable' with the reason until its link answers again (its processes are not touched). */
  private readonly lostLinks = new Map<string, { node: number; reason: string }>();

  constructor(
    profile: ClusterProfile,
    private readonly deps: ClusterManagerDeps,
  ) {
    this.profile = profile;
    this.specs = clusterNodes(profile);
    const headSpec = this.specs[0]!;
    const headRunner = this.runner(headSpec);
    this.head = new ServerManager(nodeProfile(profile, headSpec), {
      ...deps,
      runner: { ...bind(headRunner), close: async () => {} },
      stateDir: nodeStateDir(profile, headSpec, 'vllm'),
      skipPreflight: true,
      command: () => {
        if (!this.headCommand) throw new Error('the cluster was not prepared (no node addresses yet)');
        return this.headCommand;
      },
    });
    this.current = { kind: 'stopped', ...this.ref() };
    this.nodeStates = this.specs.map((n) => ({ index: n.index, role: n.role, host: n.host, state: 'stopped' }));
    this.head.onState((s) => this.onHeadState(s));
    this.head.onLog((line) => {
      for (const l of this.logListeners) l(line);
      this.nodeLine(0, line);
    });
  }

  get state(): LifecycleState {
    return this.current;
  }

  get nodes(): readonly ClusterNodeStatus[] {
    return this.shownNodes();
  }

  onState(listener: (s: LifecycleState) => void): Unsubscribe {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onLog(listener: (line: string) => void): Unsubscribe {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  onNodes(listener: (n: readonly ClusterNodeStatus[]) => void): Unsubscribe {
    this.nodeListeners.add(listener);
    return () => this.nodeListeners.delete(listener);
  }

  onNodeLog(listener: (node: number, line: string) => void): Unsubscribe {
    this.nodeLogListeners.add(listener);
    return () => this.nodeLogListeners.delete(listener);
  }

  // ---- start --------------------------------------------------------------------------------------------------

  start(opts: StartOptions = {}): Promise<LifecycleState> {
    if (this.current.kind === 'ready') return Promise.resolve(this.current);
    if (this.starting && this.startingKind === 'reattach') {
      // A reattach is looking for a running cluster: its answer first, then a start only if it found none (never a
      // second cluster next to one it found). A stop meanwhile (a new epoch) or the caller's signal cancels it.
      const epoch = this.epoch;
      const next = (): Promise<LifecycleState> | LifecycleState =>
        epoch !== this.epoch || this.disposed || opts.signal?.aborted || this.current.kind === 'ready' ? this.current : this.start(opts);
      return withSignal(this.starting.then(next, next), opts.signal, () => this.current);
    }
    if (!this.starting) this.begin('start', (epoch) => this.doStart(opts, epoch));
    return withSignal(this.starting!, opts.signal, () => this.current);
  }

  reattach(opts: StartOptions = {}): Promise<LifecycleState> {
    if (this.current.kind === 'ready') return Promise.resolve(this.current);
    if (!this.starting) this.begin('reattach', (epoch) => this.doReattach(opts, epoch));
    return withSignal(this.starting!, opts.signal, () => this.current);
  }

  private startingKind: 'start' | 'reattach' | undefined;

  private begin(kind: 'start' | 'reattach', op: (epoch: number) => Promise<LifecycleState>): void {
    const epoch = ++this.epoch;
    const p: Promise<LifecycleState> = op(epoch).finally(() => {
      if (this.starting === p) {
        this.starting = undefined;
        this.startingKind = undefined;
      }
    });
    this.starting = p;
    this.startingKind = kind;
  }

  private async doStart(opts: StartOptions, epoch: number): Promise<LifecycleState> {
    const live = () => epoch === this.epoch && !this.disposed && !opts.signal?.aborted;
    const n = this.specs.length;
    this.failing = false;
    this.set({ kind: 'preflight', ...this.ref(), detail: `Checking the ${n} nodes of "${this.profile.name}"…` });
    this.setNodes(this.specs.map((s) => ({ index: s.index, role: s.role, host: s.host, state: 'checking', detail: 'pre-flight' })));
    // Already running (another window, the CLI, an earlier session): follow it — never a second cluster.
    let headAlive: boolean;
    try {
      headAlive = (await this.process(0, 'vllm').status()).alive;
    } catch (err) {
      return this.refuse(epoch, this.transport(0, err));
    }
    if (!live()) return this.cancelled(epoch);
    if (headAlive) return this.doReattach(opts, epoch);

    // Pre-flight on every node, in parallel.
    const probed = await Promise.all(this.specs.map((s) => this.probe(s)));
    if (!live()) return this.cancelled(epoch);
    const unreachable = probed.map((p, i) => (p instanceof Error ? this.transport(i, p) : undefined)).filter((d): d is Diagnosis => !!d);
    if (unreachable.length > 0) {
      unreachable.forEach((d) => this.patchNode(this.specs.findIndex((s) => s.host === d.node), { state: 'unreachable', detail: d.explanation }));
      return this.refuse(epoch, combineProblems(unreachable));
    }
    const facts = probed as NodeFacts[];
    const pre = evaluateCluster(this.profile, this.specs, facts);
    this.foreignPids = pre.foreignPids;
    this.gpuSummary = pre.summary;
    this.specs.forEach((s, i) => this.patchNode(i, { ...(pre.gpuSummaries[i] ? { gpus: pre.gpuSummaries[i] } : {}), ...(pre.nets[i] ? { ip: pre.nets[i]!.ip } : {}) }));
    if (pre.problems.length > 0) {
      for (const p of pre.problems) {
        const i = this.specs.findIndex((s) => s.host === p.node);
        if (i >= 0) this.patchNode(i, { state: 'failed', detail: p.title });
      }
      return this.refuse(epoch, combineProblems(pre.problems));
    }
    const nets = pre.nets as NodeNet[];
    this.nets = nets;
    // Leftovers of an earlier, broken run (a worker's Ray or headless vLLM without a head): cleared first.
    await this.stopNodeProcesses({ intSec: 5, termSec: 5 }).catch(() => undefined);
    if (!live()) return this.cancelled(epoch);

    // The network: the head listens on the port the workers need, every worker connects to it.
    const port = this.profile.cluster.layout === 'ray' ? this.profile.cluster.rayPort : this.profile.cluster.dpRpcPort;
    this.set({ kind: 'preflight', ...this.ref(), detail: `Checking that every worker reaches the head at ${hostPort(nets[0]!.ip, port)}…` });
    const reach = await this.checkReachability(nets, port);
    if (!live()) return this.cancelled(epoch);
    if (reach) return this.refuse(epoch, reach);

    try {
      this.headCommand = clusterServeCommand(this.profile, this.specs[0]!, nets);
    } catch (err) {
      return this.refuse(epoch, { code: 'invalidArgument', title: 'The cluster profile cannot be launched', explanation: errorMessage(err), line: errorMessage(err) });
    }
    return this.profile.cluster.layout === 'ray' ? this.startRay(opts, epoch, nets) : this.startDp(opts, epoch, nets);
  }

  private async startRay(opts: StartOptions, epoch: number, nets: NodeNet[]): Promise<LifecycleState> {
    const live = () => epoch === this.epoch && !this.disposed && !opts.signal?.aborted;
    const joinMs = this.deps.joinTimeoutMs ?? 120_000;
    const port = this.profile.cluster.rayPort;
    const headAddress = hostPort(nets[0]!.ip, port);
    // 1. Ray on the head.
    this.set({ kind: 'preflight', ...this.ref(), detail: `Starting Ray on ${nodeLabel(this.specs[0]!)} at ${headAddress}…` });
    const headRay = await this.launchRay(0, nets, joinMs, live);
    if (headRay !== true) return headRay;
    // 2. Ray on every worker: each checks the head first.
    this.set({ kind: 'preflight', ...this.ref(), detail: `Starting Ray on ${this.specs.length - 1} worker${this.specs.length > 2 ? 's' : ''}…` });
    const workers = await Promise.all(this.specs.slice(1).map((s) => this.launchRay(s.index, nets, joinMs, live)));
    const failedWorker = workers.find((w): w is LifecycleState => w !== true);
    if (failedWorker) return failedWorker;
    // 3. Ray sees every node and every GPU.
    const wantGpus = gpusPerNode(this.profile) * this.specs.length;
    this.set({ kind: 'preflight', ...this.ref(), detail: `Waiting for Ray to see all ${this.specs.length} nodes (${wantGpus} GPUs)…` });
    const deadline = Date.now() + joinMs;
    let seen = { nodes: 0, gpus: 0 };
    for (;;) {
      if (!live()) return this.cancelled(epoch);
      if (this.failing) return this.current;
      try {
        const r = await this.runner(this.specs[0]!).exec(rayStatusCommand(nodeProfile(this.profile, this.specs[0]!), headAddress), { timeoutMs: 30_000 });
        const st = parseRayStatus(r.stdout);
        if (st) seen = st;
        if (st && st.nodes >= this.specs.length && st.gpus >= wantGpus) break;
      } catch {
        /* retried until the deadline */
      }
      if (Date.now() > deadline) {
        return this.failStart(epoch, {
          code: 'nodeFailed',
          title: `Ray sees ${seen.nodes} of the ${this.specs.length} nodes`,
          explanation: `\`ray status\` on the head shows ${seen.nodes} node${seen.nodes === 1 ? '' : 's'} and ${seen.gpus} GPUs after ${Math.round(joinMs / 1000)} s; ${layoutTitle(this.profile)} needs ${this.specs.length} nodes and ${wantGpus} GPUs.`,
          line: 'ray status',
          node: this.specs[0]!.host,
        });
      }
      await delay(500);
    }
    for (const s of this.specs) this.patchNode(s.index, { state: 'running', detail: 'Ray: joined' });
    // 4. vLLM on the head.
    return this.launchHead(opts, epoch);
  }

  private async startDp(opts: StartOptions, epoch: number, nets: NodeNet[]): Promise<LifecycleState> {
    const live = () => epoch === this.epoch && !this.disposed && !opts.signal?.aborted;
    // The head first (it listens for the other ranks), then every worker's headless engines.
    const headDone = this.launchHead(opts, epoch);
    const launched = await new Promise<boolean>((resolve) => {
      const check = () => {
        const s = this.current;
        if (s.kind === 'starting' && s.pid) return resolve(true);
        if (s.kind === 'failed' || s.kind === 'stopped' || s.kind === 'ready' || !live()) return resolve(false);
        setTimeout(check, 100);
      };
      check();
    });
    if (!launched) return headDone;
    const results = await Promise.all(
      this.specs.slice(1).map(async (s): Promise<true | LifecycleState> => {
        const proc = this.process(s.index, 'vllm');
        this.patchNode(s.index, { state: 'starting', detail: 'vLLM (headless): starting' });
        let command: string;
        try {
          command = clusterServeCommand(this.profile, s, nets);
        } catch (err) {
          return this.failStart(epoch, { code: 'invalidArgument', title: 'The cluster profile cannot be launched', explanation: errorMessage(err), line: errorMessage(err), node: s.host });
        }
        try {
          if (!live()) return this.current;
          const r = await this.track(proc.start(command));
          if (r.kind === 'error') return this.failStart(epoch, { code: 'nodeFailed', title: `vLLM could not be launched on ${nodeLabel(s)}`, explanation: r.message, line: r.message, node: s.host });
          this.patchNode(s.index, { pids: { vllm: r.pid } });
        } catch (err) {
          return this.failStart(epoch, this.transport(s.index, err));
        }
        this.watch(s.index, 'vllm');
        return true;
      }),
    );
    const failed = results.find((r): r is LifecycleState => r !== true);
    if (failed) return failed;
    return headDone;
  }

  /** `ray start` on node `i`, and its "Ray runtime started." (a worker first checks that it reaches the head). */
  private async launchRay(i: number, nets: NodeNet[], joinMs: number, live: () => boolean): Promise<true | LifecycleState> {
    const spec = this.specs[i]!;
    const epoch = this.epoch;
    const proc = this.process(i, 'ray');
    this.patchNode(i, { state: 'starting', detail: 'Ray: starting' });
    try {
      if (i > 0) {
        const c = parseConnect((await this.runner(spec).exec(connectScript(nets[0]!.ip, this.profile.cluster.rayPort), { timeoutMs: 20_000 })).stdout);
        if (c.ok === false) return this.failStart(epoch, this.unreachableHead(spec, nets[0]!.ip, this.profile.cluster.rayPort, c.reason));
      }
      if (!live()) return this.current;
      const r = await this.track(proc.start(rayCommand(this.profile, spec, nets)));
      if (r.kind === 'error') return this.failStart(epoch, { code: 'nodeFailed', title: `Ray could not be launched on ${nodeLabel(spec)}`, explanation: r.message, line: r.message, node: spec.host });
      this.patchNode(i, { pids: { ...this.nodeStates[i]!.pids, ray: r.pid } });
      await proc.waitForLine(/Ray runtime started\./, joinMs, () => !live() || this.failing);
    } catch (err) {
      if (err instanceof NodeProcessError) {
        if (err.kind === 'cancelled') return this.failing ? this.current : this.cancelled(epoch);
        const why = lastErrorLine(err.lastLines) ?? (err.kind === 'timeout' ? `no "Ray runtime started." within ${Math.round(joinMs / 1000)} s` : 'it ended without a message');
        return this.failStart(epoch, { code: 'nodeFailed', title: `Ray did not start on ${nodeLabel(spec)}`, explanation: `\`ray start\` ${err.kind === 'timeout' ? 'did not finish' : 'failed'} there: ${why}`, line: why, node: spec.host });
      }
      return this.failStart(epoch, this.transport(i, err));
    }
    this.patchNode(i, { state: 'running', detail: 'Ray: started' });
    this.watch(i, 'ray');
    return true;
  }

  private async launchHead(opts: StartOptions, epoch: number): Promise<LifecycleState> {
    if (epoch !== this.epoch || this.disposed) return this.current;
    this.followingHead = true;
    this.patchNode(0, { state: 'starting', detail: 'vLLM: launching' });
    const s = await this.head.start({ ...(opts.apiKey ? { apiKey: opts.apiKey } : {}) });
    // The head's end state arrives through onHeadState; a failure there stops the cluster (and resolves below).
    if (s.kind === 'failed') await this.headFailure;
    if (this.failing) await this.settledFailure;
    return this.current;
  }

  // ---- reattach -------------------------------------------------------------------------------------------------

  private async doReattach(opts: StartOptions, epoch: number): Promise<LifecycleState> {
    this.failing = false;
    let alive: { vllm: boolean; ray: boolean; pids: { vllm?: number; ray?: number } }[];
    try {
      alive = await Promise.all(this.specs.map((s) => this.nodeProcesses(s.index)));
    } catch (err) {
      return this.refuse(epoch, this.transport(0, err), false);
    }
    if (epoch !== this.epoch || this.disposed) return this.current;
    const ray = this.profile.cluster.layout === 'ray';
    const expected = (i: number) => (ray ? ['ray', ...(i === 0 ? ['vllm'] : [])] : ['vllm']) as ('vllm' | 'ray')[];
    this.specs.forEach((s, i) => {
      const a = alive[i]!;
      const running = expected(i).filter((w) => a[w]);
      this.patchNode(i, { state: running.length > 0 ? 'running' : 'stopped', pids: a.pids, detail: running.length ? `${running.map((w) => (w === 'ray' ? 'Ray' : 'vLLM')).join(' + ')} running` : 'nothing running' });
    });
    const headVllm = alive[0]!.vllm;
    const anything = alive.some((a) => a.vllm || a.ray);
    if (!headVllm) {
      if (!anything) {
        // Nothing anywhere: the head's log may still say why the last run ended.
        this.followingHead = true;
        return this.head.reattach(opts.apiKey ? { apiKey: opts.apiKey } : {});
      }
      const parts = this.specs.filter((s, i) => alive[i]!.vllm || alive[i]!.ray).map((s) => nodeLabel(s));
      this.set({
        kind: 'failed',
        ...this.ref(),
        diagnosis: {
          code: 'nodeFailed',
          title: `"${this.profile.name}" is only partly running`,
          explanation: `vLLM is not running on the head, but cluster processes still run on ${parts.join(', ')}. Stop the server to clean them up, then start it again.`,
          line: 'partly running',
          node: this.specs[0]!.host,
        },
      });
      return this.current;
    }
    for (const s of this.specs) {
      for (const w of expected(s.index)) if (!(s.index === 0 && w === 'vllm') && alive[s.index]![w]) this.watch(s.index, w);
    }
    this.followingHead = true;
    const s = await this.head.reattach(opts.apiKey ? { apiKey: opts.apiKey } : {});
    if (s.kind === 'ready') {
      // A node that should run something and does not: the cluster cannot be whole.
      const missing = this.specs.find((n) => expected(n.index).some((w) => !(n.index === 0 && w === 'vllm') && !alive[n.index]![w]));
      if (missing) {
        await this.onNodeGone(missing.index, ray ? 'ray' : 'vllm', epoch);
        if (this.failing) await this.settledFailure;
      }
    }
    return this.current;
  }

  // ---- stop -----------------------------------------------------------------------------------------------------

  stop(): Promise<StopReport> {
    if (this.stopping) return this.stopping;
    const p = this.doStop().finally(() => {
      if (this.stopping === p) this.stopping = undefined;
    });
    this.stopping = p;
    return p;
  }

  private async doStop(finalState?: LifecycleState): Promise<StopReport> {
    this.epoch++;
    this.followingHead = false;
    const grace = this.deps.stopGrace ?? { intSec: 15, termSec: 10 };
    const pid = 'pid' in this.current ? this.current.pid : undefined;
    if (!finalState) this.set({ kind: 'stopping', ...this.ref(), ...(pid ? { pid } : {}) });
    for (const s of this.specs) this.patchNode(s.index, { state: 'stopping' });
    const reports: NodeStopReport[] = this.specs.map((s) => ({ host: s.host, role: s.role, stopped: [], gpuMemoryHeld: {}, leftovers: [] }));
    // 1. The head's vLLM (the API server and, with Ray, the driver: its actors on every node go with it).
    let head: StopReport | undefined;
    try {
      head = await this.head.stop();
      if (isSignal(head.result)) reports[0]!.stopped.push(`vLLM (SIG${head.result})`);
      else if (head.result === 'survived') reports[0]!.leftovers.push(`vLLM (pid ${head.pid ?? '?'}) survived SIGKILL`);
      if (!head.portClosed) reports[0]!.leftovers.push(`port ${this.profile.port} is still open`);
    } catch (err) {
      reports[0]!.error = errorMessage(err);
    }
    // A launch on some node may be under way: it finishes first, so that what it started is stopped below.
    await Promise.allSettled([...this.launches]);
    this.endWatches();
    // 2. Every other process of the cluster: the workers' first, the head's Ray last.
    await this.stopNodeProcesses(grace, reports);
    // 3. Check every node.
    await Promise.all(this.specs.map((s) => this.verifyNode(s.index, reports[s.index]!)));
    // A node this stop could not reach is 'unchecked', not 'unreachable': that is what this stop found, and it stays
    // true once the link is back (nothing watches a stopped cluster) — until a Stop or Start reaches the node.
    this.specs.forEach((s, i) => {
      const error = reports[i]!.error;
      this.patchNode(i, error ? { state: 'unchecked', detail: uncheckedDetail(error), pids: {} } : { state: 'stopped', detail: 'nothing running', pids: {} });
    });
    const final = finalState ?? { kind: 'stopped', ...this.ref() };
    this.set(final);
    this.foreignPids = [];
    const anything = reports.some((r) => r.stopped.length > 0);
    const clean = reports.every((r) => r.leftovers.length === 0 && Object.keys(r.gpuMemoryHeld).length === 0 && !r.error);
    const portClosed = !reports.some((r) => r.leftovers.some((l) => /port \d+ is still open/.test(l)));
    const result: StopReport['result'] = head && head.result !== 'not-running' && head.result !== 'stale' ? head.result : anything ? 'INT' : (head?.result ?? 'not-running');
    return {
      result,
      portClosed,
      gpuMemoryHeld: reports[0]!.gpuMemoryHeld,
      pid: head?.pid ?? null,
      nodes: reports,
      message: this.stopMessage(reports, anything, clean),
    };
  }

  /** Stops the cluster's processes on every node except the head's vLLM: workers' first, then the head's Ray. */
  private async stopNodeProcesses(grace: { intSec: number; termSec: number }, reports?: NodeStopReport[]): Promise<void> {
    const ray = this.profile.cluster.layout === 'ray';
    const stopOne = async (i: number, what: 'vllm' | 'ray') => {
      try {
        const r = await this.process(i, what).stop(grace);
        const name = what === 'ray' ? 'Ray' : 'vLLM (headless)';
        if (isSignal(r.result)) reports?.[i]!.stopped.push(`${name} (SIG${r.result})`);
        else if (r.result === 'survived') reports?.[i]!.leftovers.push(`${name} (pid ${r.pid ?? '?'}) survived SIGKILL`);
      } catch (err) {
        if (reports) reports[i]!.error = errorMessage(err);
      }
    };
    await Promise.all(this.specs.slice(1).map((s) => stopOne(s.index, ray ? 'ray' : 'vllm')));
    if (ray) await stopOne(0, 'ray');
  }

  /** After a stop: nothing of the cluster alive on the node, no GPU memory held (but what was there before), the
   *  cluster's ports closed. */
  private async verifyNode(i: number, report: NodeStopReport): Promise<void> {
    if (report.error) return;
    const spec = this.specs[i]!;
    const runner = this.runner(spec);
    const p = nodeProfile(this.profile, spec);
    const deadline = Date.now() + (this.deps.stopVerifyMs ?? 10_000);
    try {
      for (;;) {
        const procs = await this.nodeProcesses(i);
        const held: Record<number, number> = {};
        const apps = await runner.exec(shellCommand(p, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), { timeoutMs: 30_000 });
        if (apps.code === 0) {
          const foreign = this.foreignPids[i] ?? new Set<number>();
          const processes = parseComputeApps(apps.stdout).filter((x) => !foreign.has(x.pid));
          if (processes.length > 0) {
            const gpus = parseGpuQuery((await runner.exec(shellCommand(p, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), { timeoutMs: 30_000 })).stdout);
            for (const x of processes) {
              const g = gpus.find((gg) => gg.uuid === x.gpuUuid);
              if (g) held[g.index] = (held[g.index] ?? 0) + (x.usedMiB ?? 0);
            }
          }
        }
        const leftovers = [...(procs.vllm ? ['vLLM is still running'] : []), ...(procs.ray ? ['Ray is still running'] : [])];
        if (i === 0) {
          const port = this.profile.cluster.layout === 'ray' ? this.profile.cluster.rayPort : this.profile.cluster.dpRpcPort;
          // Known when this session started the cluster (another session's stop relies on the processes being gone: the
          // port alone could belong to something else, Redis's default is Ray's too).
          const ip = this.nets?.[0]?.ip;
          if (ip && parsePortOpen((await runner.exec(portOpenScript(ip, port), { timeoutMs: 15_000 })).stdout).open) leftovers.push(`port ${port} is still open`);
        }
        if ((leftovers.length === 0 && Object.keys(held).length === 0) || Date.now() > deadline) {
          report.leftovers.push(...leftovers);
          report.gpuMemoryHeld = held;
          return;
        }
        await delay(250);
      }
    } catch (err) {
      report.error = errorMessage(err);
    }
  }

  private stopMessage(reports: NodeStopReport[], anything: boolean, clean: boolean): string {
    const name = `"${this.profile.name}"`;
    const nodes = `${this.specs.length} nodes`;
    if (!anything && clean) return `No server of cluster ${name} is running on any of its ${nodes}; nothing to stop.`;
    const stopped = reports.filter((r) => r.stopped.length).map((r) => `${r.host === 'local' ? 'this machine' : r.host}: ${r.stopped.join(', ')}`).join('; ');
    if (clean) return `Stopped cluster ${name} (${stopped}); no Ray or vLLM process and no GPU memory is left on any of its ${nodes}.`;
    const problems = reports
      .map((r) => {
        const gpus = Object.entries(r.gpuMemoryHeld).map(([g, mib]) => `GPU ${g}: ${Math.round(mib)} MiB`);
        const items = [...r.leftovers, ...(gpus.length ? [`GPU memory still held (${gpus.join(', ')})`] : []), ...(r.error ? [`could not be checked: ${r.error.replace(/\.$/, '')}`] : [])];
        return items.length ? `${r.host === 'local' ? 'this machine' : r.host}: ${items.join(', ')}` : '';
      })
      .filter(Boolean)
      .join('; ');
    return `Stopped cluster ${name}${stopped ? ` (${stopped})` : ''}, but: ${problems}. Check those nodes (nvidia-smi, ray status, ss -ltnp).`;
  }

  // ---- failures ---------------------------------------------------------------------------------------------------

  private settledFailure: Promise<void> = Promise.resolve();

  /** A failure during the start: the whole cluster is stopped, then the state is 'failed' with `d`. */
  private failStart(epoch: number, d: Diagnosis): Promise<LifecycleState> {
    if (epoch !== this.epoch && !this.failing) return Promise.resolve(this.current);
    return this.failCluster(d).then(() => this.current);
  }

  private failCluster(d: Diagnosis): Promise<void> {
    if (this.failing) return this.settledFailure;
    this.failing = true;
    const i = this.specs.findIndex((s) => s.host === d.node);
    const explanation = `${d.explanation.replace(/\s*$/, '')} The whole cluster was stopped.`;
    const failed: LifecycleState = { kind: 'failed', ...this.ref(), diagnosis: { ...d, explanation } };
    this.settledFailure = this.doStop(failed).then((report) => {
      if (i >= 0) this.patchNode(i, { state: 'failed', detail: d.title });
      const leftovers = report.nodes?.some((n) => n.leftovers.length || Object.keys(n.gpuMemoryHeld).length);
      if (leftovers) {
        this.set({ ...failed, diagnosis: { ...failed.diagnosis, explanation: `${d.explanation.replace(/\s*$/, '')} Stopping the cluster left something behind: ${report.message}` } } as LifecycleState);
      }
    });
    return this.settledFailure;
  }

  /** The head's vLLM ended (failed): was it because a worker went away? Then that worker is the diagnosis. */
  private async onHeadFailed(d: Diagnosis): Promise<void> {
    if (this.failing) return;
    const ray = this.profile.cluster.layout === 'ray';
    for (const s of this.specs.slice(1)) {
      try {
        const a = await this.nodeProcesses(s.index);
        if (!(ray ? a.ray : a.vllm)) {
          await this.onNodeGone(s.index, ray ? 'ray' : 'vllm', this.epoch, d);
          return;
        }
      } catch (err) {
        await this.failCluster(this.transport(s.index, err));
        return;
      }
    }
    await this.failCluster({ ...d, node: this.specs[0]!.host, title: `${d.title} (on ${nodeLabel(this.specs[0]!)})` });
  }

  /** A node's process ended while the cluster starts or runs. */
  private async onNodeGone(i: number, what: 'vllm' | 'ray', _epoch: number, headSaid?: Diagnosis): Promise<void> {
    if (this.failing || !this.followingHeadOrStarting()) return;
    const spec = this.specs[i]!;
    let lines: string[] = [];
    try {
      lines = await this.process(i, what).tail(60);
    } catch {
      /* the node may be gone altogether */
    }
    const why = explainExit(lines);
    const name = what === 'ray' ? 'Ray' : 'vLLM';
    await this.failCluster({
      code: 'nodeFailed',
      title: `${nodeLabel(spec)} failed: its ${name} process ended`,
      explanation: `${why}${headSaid ? ` The head reported: ${headSaid.title}.` : ''}`,
      line: why.slice(0, 500),
      node: spec.host,
    });
  }

  private followingHeadOrStarting(): boolean {
    return this.followingHead || this.starting !== undefined;
  }

  // ---- the head's state is the cluster's ---------------------------------------------------------------------------

  private onHeadState(s: LifecycleState): void {
    if (!this.followingHead || this.failing) return;
    const ref = this.ref();
    if (s.kind === 'starting' || s.kind === 'ready') this.linkLost(0, 'head', s.reconnecting?.reason);
    else this.linkLost(0, 'head', undefined);
    switch (s.kind) {
      case 'starting':
        this.set({ ...s, ...ref, ...(this.gpuSummary ? { gpus: this.gpuSummary } : {}) });
        this.patchNode(0, { state: 'starting', detail: `vLLM: ${PHASE_WORDS[s.phase] ?? s.phase}${s.progress ? ` ${s.progress.done}/${s.progress.total}` : ''}`, ...(s.pid ? { pids: { ...this.nodeStates[0]!.pids, vllm: s.pid } } : {}) });
        break;
      case 'ready':
        this.set({ ...s, ...ref, ...(this.gpuSummary ? { gpus: this.gpuSummary } : {}) });
        this.specs.forEach((n) =>
          this.patchNode(n.index, {
            state: 'ready',
            ...(n.index === 0
              ? { detail: `vLLM: serving ${s.modelId}`, pids: { ...this.nodeStates[0]!.pids, vllm: s.pid } }
              : { detail: this.profile.cluster.layout === 'ray' ? 'Ray: its GPUs hold vLLM workers' : 'vLLM (headless): serving' }),
          }),
        );
        break;
      case 'failed':
        this.headFailure = this.onHeadFailed(s.diagnosis);
        break;
      case 'stopped':
        // Stopped from elsewhere (the CLI, another window): that stop took the other nodes down too.
        this.followingHead = false;
        this.endWatches();
        this.set({ kind: 'stopped', ...ref });
        for (const n of this.specs) this.patchNode(n.index, { state: 'stopped', detail: 'stopped' });
        break;
      default:
        break;
    }
  }

  // ---- following the other nodes -----------------------------------------------------------------------------------

  private watch(i: number, what: 'vllm' | 'ray'): void {
    if (this.watches.some((w) => w.node === i && w.what === what)) return;
    const epoch = this.epoch;
    const follow = this.process(i, what).follow(
      (line, parser) => {
        this.nodeLine(i, line);
        if (what === 'vllm' && parser.phase && this.nodeStates[i]!.state === 'starting') this.patchNode(i, { detail: `vLLM (headless): ${PHASE_WORDS[parser.phase] ?? parser.phase}` });
      },
      {
        ...(this.deps.pollMs ? { pollMs: this.deps.pollMs } : {}),
        ...(this.deps.backoffMs ? { backoffMs: this.deps.backoffMs } : {}),
        onLink: (lost) => {
          if (epoch === this.epoch) this.linkLost(i, what, lost);
        },
      },
    );
    const w: Watch = { node: i, what, follow };
    this.watches.push(w);
    // What the log said so far, for the node's "last line" (following starts at its end).
    void this.process(i, what)
      .tail(3)
      .then((lines) => {
        const last = lines.at(-1);
        if (last && !this.nodeStates[i]!.lastLine) this.nodeLine(i, last, false);
      }, () => undefined);
    void follow.ended.then(({ stopped }) => {
      this.watches = this.watches.filter((x) => x !== w);
      this.linkLost(i, what, undefined);
      if (stopped || epoch !== this.epoch || this.disposed) return;
      void this.onNodeGone(i, what, epoch);
    });
  }

  private endWatches(): void {
    for (const w of this.watches.splice(0)) w.follow.stop();
    if (this.lostLinks.size === 0) return;
    this.lostLinks.clear();
    this.emitNodes();
  }

  /** A link found down (`reason`) or answering again (undefined) by one of the node's watchers. */
  private linkLost(i: number, who: string, reason: string | undefined): void {
    const key = `${i}/${who}`;
    const had = this.lostLinks.get(key);
    if (reason === undefined) {
      if (had && this.lostLinks.delete(key)) this.emitNodes();
      return;
    }
    if (had?.reason === reason || this.disposed) return;
    this.lostLinks.set(key, { node: i, reason });
    this.emitNodes();
  }

  /** The nodes as shown: a node whose link is down is 'unreachable' with the reason, whatever it was doing. */
  private shownNodes(): ClusterNodeStatus[] {
    if (this.lostLinks.size === 0) return this.nodeStates;
    return this.nodeStates.map((n) => {
      const lost = [...this.lostLinks.values()].find((l) => l.node === n.index);
      if (!lost) return n;
      return { ...n, state: 'unreachable', detail: `SSH link lost, reconnecting (a lost link does not stop what runs there). ${lost.reason}` };
    });
  }

  private nodeLine(i: number, line: string, emit = true): void {
    const clean = line.replace(/^\([\w.-]+ pid=\d+(?:, ip=[\w.:%-]+)?\) /, '').trim();
    if (clean) this.patchNode(i, { lastLine: clean.slice(0, 300) });
    if (emit) for (const l of this.nodeLogListeners) l(i, line);
  }

  // ---- the rest of the controller -----------------------------------------------------------------------------------

  async logTail(lines = 200): Promise<string[]> {
    return this.head.logTail(lines);
  }

  async nodeLogTail(node: number, lines = 200): Promise<string[]> {
    if (node === 0) {
      const v = await this.head.logTail(lines);
      if (v.length > 0 || this.profile.cluster.layout !== 'ray') return v;
      return this.process(0, 'ray').tail(lines);
    }
    if (!this.specs[node]) throw new Error(`the cluster has no node ${node}`);
    return this.process(node, this.profile.cluster.layout === 'ray' ? 'ray' : 'vllm').tail(lines);
  }

  /** `kimi-vllm serve logs --follow` of the head (see ServerManager.followLog). */
  followLog(onLine: (line: string) => void, opts: { signal?: AbortSignal; backlog?: number } = {}): Promise<void> {
    return this.head.followLog(onLine, opts);
  }

  /** The same for any node: its last `backlog` lines, then new ones until its process ends or `signal` aborts. */
  async followNodeLog(node: number, onLine: (line: string) => void, opts: { signal?: AbortSignal; backlog?: number } = {}): Promise<void> {
    if (node === 0) return this.head.followLog(onLine, opts);
    if (!this.specs[node]) throw new Error(`the cluster has no node ${node}`);
    const proc = this.process(node, this.profile.cluster.layout === 'ray' ? 'ray' : 'vllm');
    for (const l of await proc.tail(opts.backlog ?? 50)) onLine(l);
    if (opts.signal?.aborted) return;
    const f = proc.follow((l) => onLine(l), { ...(this.deps.pollMs ? { pollMs: this.deps.pollMs } : {}) });
    opts.signal?.addEventListener('abort', () => f.stop(), { once: true });
    await f.ended;
  }

  /** The index of a node given as its host or its index ('0' is the head). */
  nodeIndex(which: string): number {
    const byHost = this.specs.findIndex((s) => s.host === which);
    if (byHost >= 0) return byHost;
    if (/^\d+$/.test(which) && this.specs[Number(which)]) return Number(which);
    throw new Error(`the cluster "${this.profile.name}" has no node ${JSON.stringify(which)} (its nodes: ${this.specs.map((s, i) => `${i} ${s.host}`).join(', ')})`);
  }

  /**
   * One look at the cluster without following it (`kimi-vllm serve status`): the head's server as ServerManager
   * sees it, and what runs on every node, its GPUs and its last log line.
   */
  async inspect(opts: { apiKey?: string } = {}): Promise<LifecycleState> {
    if (this.starting || this.followingHead) return this.current;
    const ray = this.profile.cluster.layout === 'ray';
    await Promise.all(
      this.specs.map(async (s) => {
        try {
          const a = await this.nodeProcesses(s.index);
          const runner = this.runner(s);
          const q = await runner.exec(shellCommand(nodeProfile(this.profile, s), ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), { timeoutMs: 20_000 });
          const apps = await runner.exec(shellCommand(nodeProfile(this.profile, s), ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), { timeoutMs: 20_000 });
          const gpus = q.code === 0 ? summarizeGpus(parseGpuQuery(q.stdout), apps.code === 0 ? parseComputeApps(apps.stdout) : []) : undefined;
          const what: ('vllm' | 'ray')[] = ray ? (s.index === 0 ? ['ray', 'vllm'] : ['ray']) : ['vllm'];
          const running = what.filter((w) => a[w]);
          const tail = running.length ? await this.process(s.index, s.index === 0 ? 'vllm' : what[0]!).tail(5).catch(() => []) : [];
          const last = tail.at(-1)?.replace(/^\([\w.-]+ pid=\d+(?:, ip=[\w.:%-]+)?\) /, '').trim();
          this.patchNode(s.index, {
            state: running.length === what.length ? 'running' : running.length ? 'failed' : 'stopped',
            detail: running.length ? `${running.map((w) => (w === 'ray' ? 'Ray' : 'vLLM')).join(' + ')} running` : 'nothing running',
            pids: a.pids,
            ...(gpus ? { gpus } : {}),
            ...(last ? { lastLine: last.slice(0, 300) } : {}),
          });
        } catch (err) {
          this.patchNode(s.index, { state: 'unreachable', detail: errorMessage(err) });
        }
      }),
    );
    const s = await this.head.inspect(opts);
    const state: LifecycleState = s.kind === 'ready' || s.kind === 'starting' ? { ...s, ...this.ref() } : { ...s, ...this.ref() };
    if (s.kind === 'ready') for (const n of this.specs) if (this.nodeStates[n.index]!.state === 'running') this.patchNode(n.index, { state: 'ready' });
    this.set(state);
    return this.current; // with the nodes that could not be asked
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.epoch++;
    this.followingHead = false;
    this.endWatches();
    await this.head.dispose();
    const closed = new Set<HostRunner>();
    for (const s of this.specs) {
      const r = this.runner(s);
      if (closed.has(r)) continue;
      closed.add(r);
      await r.close?.().catch(() => undefined);
    }
    this.stateListeners.clear();
    this.logListeners.clear();
    this.nodeListeners.clear();
    this.nodeLogListeners.clear();
  }

  // ---- helpers ----------------------------------------------------------------------------------------------------

  private track<T>(p: Promise<T>): Promise<T> {
    this.launches.add(p);
    void p.finally(() => this.launches.delete(p)).catch(() => undefined);
    return p;
  }

  private runner(spec: ClusterNodeSpec): HostRunner {
    return this.deps.runnerFor(spec.host);
  }

  private process(i: number, what: 'vllm' | 'ray'): NodeProcess {
    const spec = this.specs[i]!;
    return new NodeProcess(this.runner(spec), nodeStateDir(this.profile, spec, what), this.deps.scriptTimeoutMs ?? 20_000);
  }

  private async nodeProcesses(i: number): Promise<{ vllm: boolean; ray: boolean; pids: { vllm?: number; ray?: number } }> {
    const [v, r] = await Promise.all([this.process(i, 'vllm').status(), this.profile.cluster.layout === 'ray' ? this.process(i, 'ray').status() : undefined]);
    return {
      vllm: v.alive,
      ray: r?.alive ?? false,
      pids: { ...(v.alive && v.pid ? { vllm: v.pid } : {}), ...(r?.alive && r.pid ? { ray: r.pid } : {}) },
    };
  }

  private async probe(spec: ClusterNodeSpec): Promise<NodeFacts | Error> {
    try {
      const r = await this.runner(spec).exec(nodeFactsScript(nodeProfile(this.profile, spec), { ray: this.profile.cluster.layout === 'ray' }), { timeoutMs: 60_000 });
      return parseNodeFacts(r.stdout);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** The head listens on `port` for a moment, every worker connects to it (python3 on the head; without it the check
   *  happens during the start, when Ray or vLLM listens there). */
  private async checkReachability(nets: NodeNet[], port: number): Promise<Diagnosis | undefined> {
    const headSpec = this.specs[0]!;
    const runner = this.runner(headSpec);
    if (typeof runner.stream !== 'function') return undefined;
    let out = '';
    let ready!: (v: string) => void;
    const listening = new Promise<string>((r) => (ready = r));
    const stream = runner.stream(listenerScript(nets[0]!.ip, port, 60), {
      onStdout: (d) => {
        out += d.toString('utf8');
        const line = out.split('\n').find((l) => l.startsWith('listen='));
        if (line) ready(line);
      },
    });
    void stream.done.then(() => ready(out.split('\n').find((l) => l.startsWith('listen=')) ?? 'listen=ended'));
    try {
      const line = await Promise.race([listening, delay(15_000).then(() => 'listen=timeout')]);
      if (line === 'listen=nopython' || line === 'listen=ended' || line === 'listen=timeout') return undefined;
      if (line.startsWith('listen=error')) {
        const why = line.slice('listen=error '.length);
        const inUse = /Errno 98|in use/i.test(why);
        return {
          code: inUse ? 'addressInUse' : 'nodeUnreachable',
          title: inUse ? `Port ${port} is already in use on ${nodeLabel(headSpec)}` : `The head cannot listen on ${hostPort(nets[0]!.ip, port)}`,
          explanation: inUse
            ? `Something already listens on ${hostPort(nets[0]!.ip, port)} on the head (${why}) — a Ray or vLLM started outside the extension? Stop it, or choose another ${this.profile.cluster.layout === 'ray' ? 'cluster.rayPort' : 'cluster.dpRpcPort'}.`
            : `Binding ${hostPort(nets[0]!.ip, port)} on the head failed (${why}): ${nets[0]!.ip} is not an address of the head. Set cluster.headIp.`,
          line: why,
          node: headSpec.host,
        };
      }
      const results = await Promise.all(
        this.specs.slice(1).map(async (s) => {
          try {
            const c = parseConnect((await this.runner(s).exec(connectScript(nets[0]!.ip, port), { timeoutMs: 20_000 })).stdout);
            return c.ok === false ? this.unreachableHead(s, nets[0]!.ip, port, c.reason) : undefined;
          } catch (err) {
            return this.transport(s.index, err);
          }
        }),
      );
      const bad = results.filter((r): r is Diagnosis => !!r);
      return bad.length ? combineProblems(bad) : undefined;
    } finally {
      stream.kill();
    }
  }

  private unreachableHead(worker: ClusterNodeSpec, ip: string, port: number, reason: string): Diagnosis {
    const field = this.profile.cluster.layout === 'ray' ? 'cluster.rayPort' : 'cluster.dpRpcPort';
    return {
      code: 'nodeUnreachable',
      title: `${nodeLabel(worker)} cannot reach the head at ${hostPort(ip, port)}`,
      explanation: `A TCP connection from ${worker.host} to ${hostPort(ip, port)} failed: ${reason}. Open port ${port} (${field}) between the nodes, or set cluster.headIp to an address the workers reach.`,
      line: reason,
      node: worker.host,
      fix: { label: `Open port ${port} on the head for the workers, or set cluster.headIp` },
    };
  }

  private transport(i: number, err: unknown): Diagnosis {
    const spec = this.specs[Math.max(0, i)]!;
    const message = errorMessage(err);
    return {
      code: 'nodeUnreachable',
      title: err instanceof SshError || spec.host !== 'local' ? `Cannot reach ${nodeLabel(spec)} over SSH` : `A command failed on ${nodeLabel(spec)}`,
      explanation: message,
      line: message.slice(0, 500),
      node: spec.host,
    };
  }

  /** Refused before anything was launched: no stop needed. */
  private refuse(epoch: number, d: Diagnosis, markNodes = true): LifecycleState {
    if (epoch !== this.epoch) return this.current;
    if (markNodes) {
      for (const s of this.specs) if (this.nodeStates[s.index]!.state === 'checking') this.patchNode(s.index, { state: 'stopped', detail: 'not started' });
    }
    this.set({ kind: 'failed', ...this.ref(), diagnosis: d });
    return this.current;
  }

  private cancelled(epoch: number): LifecycleState {
    if (epoch === this.epoch && this.current.kind === 'preflight') {
      this.set({ kind: 'stopped', ...this.ref() });
      for (const s of this.specs) this.patchNode(s.index, { state: 'stopped', detail: 'not started' });
    }
    return this.current;
  }

  private ref(): { profile: string; host: string } {
    return { profile: this.profile.name, host: this.profile.host };
  }

  private set(s: LifecycleState): void {
    if (this.disposed) return;
    const state = this.withUnreachable(s);
    this.current = state;
    for (const l of this.stateListeners) l(state);
  }

  /** A starting or ready cluster's state names the nodes that cannot be asked now ('ready' with N nodes unreachable);
   *  other states, and a cluster whose nodes all answer, carry no such list. */
  private withUnreachable(s: LifecycleState): LifecycleState {
    if (s.kind !== 'starting' && s.kind !== 'ready') return s;
    const { unreachableNodes: _old, ...rest } = s;
    const down = this.unreachableNodes();
    return down.length ? { ...rest, unreachableNodes: down } : rest;
  }

  private unreachableNodes(): UnreachableNode[] {
    return this.shownNodes()
      .filter((n) => n.state === 'unreachable')
      .map((n) => ({ index: n.index, host: n.host, label: nodeLabel(this.specs[n.index]!), reason: n.detail ?? 'it cannot be asked over SSH' }));
  }

  private setNodes(nodes: ClusterNodeStatus[]): void {
    this.nodeStates = nodes;
    this.emitNodes();
  }

  private emitNodes(): void {
    const shown = this.shownNodes();
    for (const l of this.nodeListeners) l(shown);
    // The state follows: a node's link dropping or answering again changes what the status bar and the chat header say.
    const s = this.current;
    if ((s.kind === 'starting' || s.kind === 'ready') && JSON.stringify(s.unreachableNodes ?? []) !== JSON.stringify(this.unreachableNodes())) this.set(s);
  }

  private patchNode(i: number, patch: Partial<ClusterNodeStatus>): void {
    const cur = this.nodeStates[i];
    if (!cur) return;
    const next = this.nodeStates.slice();
    next[i] = { ...cur, ...patch };
    this.setNodes(next);
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The loading phases in words, for a node's detail line. */
const PHASE_WORDS: Record<string, string> = {
  resolving: 'resolving the model',
  loadingWeights: 'loading weights',
  profiling: 'profiling memory, sizing the KV cache',
  cudaGraphs: 'capturing CUDA graphs',
  startingApi: 'starting the API server',
  ready: 'ready',
  stopping: 'stopping',
};

const ERRORISH = /(?:Error|Exception)(?::|\b)|\bERROR\b|error:|Traceback|Killed|exited unexpectedly|Failed to connect|Timed out/;

/** What the last lines of a node's log say about why its process ended. */
function explainExit(lines: string[]): string {
  const at = lines.findIndex((l) => /Some Ray subprocesses exited unexpectedly/.test(l));
  if (at >= 0) {
    const detail = lines.slice(at + 1, at + 4).map((l) => l.trim()).filter(Boolean).join(' ');
    return `Ray reported: "Some Ray subprocesses exited unexpectedly: ${detail}"`;
  }
  const last = lastErrorLine(lines);
  const error = last !== undefined && ERRORISH.test(last);
  if (!error) {
    return `It ended without an error message: it was killed (out of memory? by someone?) or the host went down.${last ? ` Its last line: ${last}` : ''}`;
  }
  return `Its last words: ${last}`;
}

/** A node a stop could not reach: what that stop found, and what to do (it stays so until a Stop or Start reaches it). */
function uncheckedDetail(error: string): string {
  return `Unreachable during Stop: ${error.replace(/\.\s*$/, '')}. What ran there may still run: Stop again once it is back (Stop checks every node).`;
}

function isSignal(r: StopReport['result']): r is 'INT' | 'TERM' | 'KILL' {
  return r === 'INT' || r === 'TERM' || r === 'KILL';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The runner's methods bound to it (the head's ServerManager gets a copy whose close() does nothing: the cluster
 *  owns the connection). */
function bind(r: HostRunner): HostRunner {
  const out: HostRunner = { exec: r.exec.bind(r) };
  if (r.stream) out.stream = r.stream.bind(r);
  if (r.forward) out.forward = r.forward.bind(r);
  if (r.cancelForward) out.cancelForward = r.cancelForward.bind(r);
  return out;
}

function withSignal(p: Promise<LifecycleState>, signal: AbortSignal | undefined, current: () => LifecycleState): Promise<LifecycleState> {
  return signal ? settleOnAbort(p, signal, current) : p;
}
