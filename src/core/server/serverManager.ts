import * as net from 'node:net';
import type { ServerProfile } from '../config/serverProfile';
import type { FetchLike } from '../ports';
import { diagnose, type Diagnosis } from './diagnosis';
import { endpointUrl, probeEndpoint } from './endpointProbe';
import { interpretNvidiaSmiFailure, NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, preflight, summarizeGpus, type GpuProcess } from './gpuProbe';
import { freeLocalPort as defaultFreeLocalPort, hostShellFor, Utf8Stream, type CommandStream, type HostRunner, type HostShellOptions, type Streamer, type Tunnel } from './hostShell';
import type { LifecycleState, Reconnecting, ServerController, StartOptions, StopReport, Unsubscribe } from './lifecycleTypes';
import { VllmLogParser, type LogEvent } from './logParser';
import {
  parsePortOpen,
  parseStart,
  parseStatus,
  parseStop,
  parseTail,
  parseWhich,
  portOpenScript,
  secretStdin,
  startDetachedScript,
  stateDirFor,
  statusScript,
  stopScript,
  tailScript,
  whichScript,
  type ServerStatus,
} from './remoteScripts';
import { quote, quotePath } from './shellQuote';
import { SshError } from './ssh';
import { API_KEY_ENV, modelPath, serveArgv, shellCommand } from './vllmCommand';
import { settleOnAbort } from '../util/abort';

// Runs one profile's `vllm serve`: pre-flight, a detached launch (so the server outlives VS Code and the CLI), the
// log followed into phases, readiness confirmed over HTTP, and a stop that checks the port and the GPUs. The same
// scripts run on this machine (LocalShell) and on a GPU host (SshConnection): one implementation for both.
//
// Following the log: with a Streamer (hostShellFor gives one) a `tail -c +N -F --pid=PID` streams it as it is
// written — the log's last line reaches the parser within milliseconds, and tail ends when the server does. Without
// one, tailScript is polled every `pollMs` (and statusScript every fifth poll). test/bench/lifecycleBench.ts
// measures both; streaming is the default.
//
// A dropped SSH link never stops or "stops" a server: the state stays 'starting'/'ready' with `reconnecting` set
// while the manager re-establishes the master (the next exec does), the forward on the SAME local port (so baseUrl
// does not change) and the log stream, with backoff (0.5 s doubling to 10 s), until it works or stop()/dispose().

export type { Tunnel } from './hostShell';

export interface ServerManagerDeps {
  /** hostShellFor(profile).runner (streams too), or a LocalShell / SshConnection (then the log is polled).
   *  createServerManager() builds one. */
  runner: HostRunner;
  /** Streams long-running commands on the same host (the log follow). Default: the runner's own stream(). */
  streamer?: Streamer;
  /** A free port on this machine for the tunnel's local end. */
  freeLocalPort?(): Promise<number>;
  fetch?: FetchLike;
  now?: () => number;
  /** 'stream' (default when a streamer exists) or 'poll'. */
  follow?: 'stream' | 'poll';
  /** Poll mode: how often the log is read (default 400 ms). */
  pollMs?: number;
  /** Stop: seconds to wait after SIGINT, then after SIGTERM (default 15 and 10). */
  stopGrace?: { intSec: number; termSec: number };
  /** Give up a start that has not become ready after this long (default 30 min: loading 595 GB takes a while). */
  startTimeoutMs?: number;
  /** While ready: how often /health is checked through the tunnel (default 5 s). */
  healthEveryMs?: number;
  /** Reconnect backoff: first delay and cap (default 500 ms and 10 s). */
  backoffMs?: { initial: number; max: number };
  /** After a stop: how long to wait for the port to close and GPU memory to be released (default 10 s). */
  stopVerifyMs?: number;
  /** Timeout of the short status/log scripts while following (default 20 s): a wedged link is noticed after this. */
  scriptTimeoutMs?: number;
  /** The server's state directory on the host (default stateDirFor(profile.name)); a cluster gives each node its own. */
  stateDir?: string;
  /** The shell text that launches the server (default: the profile's `vllm serve`); a cluster adds its parallel
   *  flags and node environment, known only once the nodes were probed. */
  command?: () => string;
  /** Leave out the tool and GPU checks before the launch (a cluster has checked every node already). */
  skipPreflight?: boolean;
}

const LOG_CHUNK = 256 * 1024;
const TAIL_LINES_ON_FAILURE = 40;
const KEEP_LINES = 500;

/** One server process being followed. */
interface Run {
  pid: number;
  since: number;
  gpus?: string;
  reattached: boolean;
  apiKey?: string;
  parser: VllmLogParser;
  cursor: number;
  logId?: string;
  active: boolean;
  ready: boolean;
  mode: 'stream' | 'poll';
  stream?: CommandStream;
  timers: Set<NodeJS.Timeout>;
  settle(s: LifecycleState): void;
  /** A reconnect loop in progress. */
  relinking?: Promise<void>;
  checkingReady: boolean;
  /** When recent log streams failed (a stream that keeps failing while the host answers → poll instead). */
  streamFailures: number[];
  /** The last shard / CUDA-graph progress seen. */
  progress?: { phase: 'loadingWeights' | 'cudaGraphs'; done: number; total: number };
  /** Serialises log text handling (events are processed in order). */
  chain: Promise<void>;
}

export class ServerManager implements ServerController {
  private current: LifecycleState;
  private readonly stateListeners = new Set<(s: LifecycleState) => void>();
  private readonly logListeners = new Set<(line: string) => void>();
  private readonly stateDir: string;
  private readonly recentLines: string[] = [];
  private readonly runner: HostRunner;
  private readonly streamer: Streamer | undefined;
  private run: Run | undefined;
  private tunnel: { localPort: number } | undefined;
  private starting: Promise<LifecycleState> | undefined;
  /** What `starting` is: a start (launches when nothing runs) or a reattach (only looks for a running server). */
  private startingKind: 'start' | 'reattach' | undefined;
  /** Bumped by every start/reattach/stop: a superseded operation may not change the state any more. */
  private epoch = 0;
  /** GPU processes seen before our launch (pre-flight): not ours, so not "still held" after a stop. */
  private foreignGpuPids = new Set<number>();
  private disposed = false;

  constructor(
    readonly profile: ServerProfile,
    private readonly deps: ServerManagerDeps,
  ) {
    this.stateDir = deps.stateDir ?? stateDirFor(profile.name);
    this.runner = deps.runner;
    this.streamer = deps.streamer ?? (typeof deps.runner.stream === 'function' ? (deps.runner as Streamer) : undefined);
    this.current = { kind: 'stopped', ...this.ref() };
  }

  get state(): LifecycleState {
    return this.current;
  }

  /** How the log of the server being followed is read: streamed (`tail -F`) or polled; undefined when none is. */
  get following(): 'stream' | 'poll' | undefined {
    return this.run?.active ? this.run.mode : undefined;
  }

  onState(listener: (s: LifecycleState) => void): Unsubscribe {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onLog(listener: (line: string) => void): Unsubscribe {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  start(opts: StartOptions = {}): Promise<LifecycleState> {
    if (this.current.kind === 'ready') return Promise.resolve(this.current);
    if (this.starting && this.startingKind === 'reattach') {
      // A reattach is looking for a running server: wait for its answer, then start only if it found none (a
      // server it found is the answer — never a second one next to it). A stop() or dispose() meanwhile (a new
      // epoch) or the caller's signal cancels the start.
      const epoch = this.epoch;
      const next = (): Promise<LifecycleState> | LifecycleState =>
        epoch !== this.epoch || this.disposed || opts.signal?.aborted ? this.current : this.start(opts);
      const after = this.starting.then(next, next);
      return withSignal(after, opts.signal, () => this.current);
    }
    if (!this.starting) {
      const epoch = ++this.epoch;
      this.begin('start', this.doStart(opts, epoch));
    }
    return withSignal(this.starting!, opts.signal, () => this.current);
  }

  reattach(opts: StartOptions = {}): Promise<LifecycleState> {
    if (this.current.kind === 'ready') return Promise.resolve(this.current);
    if (!this.starting) {
      const epoch = ++this.epoch;
      this.begin('reattach', this.doReattach(opts, epoch));
    }
    return withSignal(this.starting!, opts.signal, () => this.current);
  }

  private begin(kind: 'start' | 'reattach', op: Promise<LifecycleState>): void {
    const p: Promise<LifecycleState> = op.finally(() => {
      if (this.starting === p) {
        this.starting = undefined;
        this.startingKind = undefined;
      }
    });
    this.starting = p;
    this.startingKind = kind;
  }

  async stop(): Promise<StopReport> {
    const epoch = ++this.epoch;
    const pending = this.starting;
    const pid = 'pid' in this.current ? this.current.pid : undefined;
    // A start/reattach waiting on this run resolves with the outcome of the stop.
    const runs = [this.detachRun()];
    this.set({ kind: 'stopping', ...this.ref(), ...(pid ? { pid } : {}) });
    // A start still in its pre-flight or launch steps sees the new epoch at its next step and returns.
    if (pending && !runs[0]) await Promise.race([pending.catch(() => undefined), delay(45_000)]);
    runs.push(this.detachRun());
    const settle = (s: LifecycleState) => runs.forEach((r) => r?.settle(s));
    const grace = this.deps.stopGrace ?? { intSec: 15, termSec: 10 };
    let stopped: ReturnType<typeof parseStop>;
    try {
      const r = await this.runner.exec(stopScript({ stateDir: this.stateDir, graceIntSec: grace.intSec, graceTermSec: grace.termSec }), {
        timeoutMs: (grace.intSec + grace.termSec + 25) * 1000,
      });
      stopped = parseStop(r.stdout);
    } catch (err) {
      const failed = this.failedState(transportDiagnosis(err, this.profile), pid);
      this.setIf(epoch, failed);
      settle(failed);
      throw err;
    }
    await this.closeTunnel();
    const verifyMs = this.deps.stopVerifyMs ?? 10_000;
    const signalled = stopped.result === 'INT' || stopped.result === 'TERM' || stopped.result === 'KILL' || stopped.result === 'survived';
    const portClosed = await this.waitPortClosed(signalled ? verifyMs : 0);
    const gpuMemoryHeld = await this.waitGpusFreed(signalled ? verifyMs : 0);
    const final: LifecycleState = { kind: 'stopped', ...this.ref() };
    this.setIf(epoch, final);
    settle(final);
    this.foreignGpuPids = new Set();
    return { result: stopped.result, portClosed, gpuMemoryHeld, pid: stopped.pid, message: this.stopMessage(stopped.result, stopped.pid, portClosed, gpuMemoryHeld) };
  }

  async logTail(lines = 200): Promise<string[]> {
    const status = await this.status();
    const from = Math.max(0, status.logBytes - LOG_CHUNK);
    const chunk = parseTail((await this.runner.exec(tailScript({ stateDir: this.stateDir, offset: from, maxBytes: LOG_CHUNK }), { timeoutMs: 20_000 })).stdoutBuffer, from);
    const parser = new VllmLogParser();
    const text = from > 0 ? chunk.text.slice(chunk.text.indexOf('\n') + 1) : chunk.text; // drop a cut first line
    return linesOf([...parser.push(text), ...parser.end()]).slice(-lines);
  }

  /**
   * Streams log lines written from now on (after the last `backlog` lines, which are delivered first) until the
   * server exits or `signal` aborts. Nothing else changes (no state, no tunnel): for `kimi-vllm serve logs -f`.
   */
  async followLog(onLine: (line: string) => void, opts: { signal?: AbortSignal; backlog?: number } = {}): Promise<void> {
    const status = await this.status();
    const from = Math.max(0, status.logBytes - LOG_CHUNK);
    const chunk = parseTail((await this.runner.exec(tailScript({ stateDir: this.stateDir, offset: from, maxBytes: LOG_CHUNK }), { timeoutMs: 20_000 })).stdoutBuffer, from);
    const backlogParser = new VllmLogParser();
    const text = from > 0 ? chunk.text.slice(chunk.text.indexOf('\n') + 1) : chunk.text;
    for (const l of linesOf([...backlogParser.push(text), ...backlogParser.end()]).slice(-(opts.backlog ?? 50))) onLine(l);
    if (!status.alive || !status.pid || opts.signal?.aborted) return;
    const parser = new VllmLogParser();
    if (this.streamer && this.deps.follow !== 'poll') {
      const utf8 = new Utf8Stream();
      const s = this.streamer.stream(followScript(this.stateDir, chunk.nextOffset, status.pid), {
        onStdout: (d) => linesOf(parser.push(utf8.push(d))).forEach(onLine),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const end = await s.done;
      linesOf([...parser.push(utf8.end()), ...parser.end()]).forEach(onLine);
      if (end.error && !end.cancelled) throw end.error;
      return;
    }
    let cursor = chunk.nextOffset;
    while (!opts.signal?.aborted) {
      const next = parseTail((await this.runner.exec(tailScript({ stateDir: this.stateDir, offset: cursor, maxBytes: LOG_CHUNK }), { timeoutMs: 20_000 })).stdoutBuffer, cursor);
      cursor = next.nextOffset;
      linesOf(parser.push(next.text)).forEach(onLine);
      if (!next.text && !(await this.status()).alive) break;
      await delay(this.deps.pollMs ?? 400, opts.signal);
    }
    linesOf(parser.end()).forEach(onLine);
  }

  /**
   * One look at the server without following it (for `kimi-vllm serve status`): the pid file, the phase and facts
   * from the last 256 KiB of log, and — when the log says it is up, or it answers — /v1/models (through a temporary
   * tunnel for a remote host). Sets and returns the state; while this manager follows a server it returns the
   * current state instead.
   */
  async inspect(opts: { apiKey?: string } = {}): Promise<LifecycleState> {
    // While this manager starts or follows a server it knows better than one look: never disturb that.
    if (this.run || this.starting) return this.current;
    const epoch = this.epoch;
    try {
      const status = await this.status();
      const parser = new VllmLogParser();
      const progress = await this.replayLog(parser, status.logBytes, false);
      if (!status.alive || !status.pid) return this.setIf(epoch, this.notRunningState(status, parser));
      const base: Run = this.newRun(status.pid, this.now(), true, opts.apiKey, parser, status.logBytes, () => {});
      if (progress) base.progress = progress;
      let probeState: LifecycleState | undefined;
      try {
        const baseUrl = await this.reachableBaseUrl();
        const probe = await probeEndpoint(baseUrl, { ...(opts.apiKey ? { apiKey: opts.apiKey } : {}), ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}), timeoutMs: 3000 });
        if (probe.kind === 'ready' || probe.kind === 'unauthorized') probeState = this.readyState(base, baseUrl, probe);
      } finally {
        await this.closeTunnel();
      }
      if (probeState) return this.setIf(epoch, probeState);
      return this.setIf(epoch, this.startingState(base));
    } catch (err) {
      return this.setIf(epoch, this.failedState(transportDiagnosis(err, this.profile)));
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.epoch++;
    this.endRun();
    await this.closeTunnel();
    await this.runner.close?.();
    this.stateListeners.clear();
    this.logListeners.clear();
  }

  // ---- start ------------------------------------------------------------------------------------------------

  private async doStart(opts: StartOptions, epoch: number): Promise<LifecycleState> {
    const since = this.now();
    // Aborting the caller's signal before the launch cancels the start (nothing is launched).
    const onAbort = () => {
      if (epoch === this.epoch && this.current.kind === 'preflight') {
        this.epoch++;
        this.set({ kind: 'stopped', ...this.ref() });
      }
    };
    if (opts.signal?.aborted) return this.current;
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.doStartSteps(opts, epoch, since);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async doStartSteps(opts: StartOptions, epoch: number, since: number): Promise<LifecycleState> {
    const where = this.profile.host === 'local' ? 'this machine' : this.profile.host;
    try {
      if (epoch !== this.epoch) return this.current;
      this.set({ kind: 'preflight', ...this.ref(), detail: `Checking vLLM and the GPUs on ${where}…` });
      let command: string;
      try {
        command = this.deps.command ? this.deps.command() : shellCommand(this.profile, serveArgv(this.profile));
      } catch (err) {
        return this.failIf(epoch, { code: 'invalidArgument', title: 'The server profile cannot be launched', explanation: errorMessage(err), line: errorMessage(err) });
      }
      // Already running (started by another session, the CLI, or a second start here): follow it, no pre-flight
      // (its own GPU use would fail the check) and no second server.
      const existing = await this.status();
      if (epoch !== this.epoch) return this.current;
      if (existing.alive) return await this.doReattach(opts, epoch);
      let gpus: string | undefined;
      if (!this.deps.skipPreflight) {
        const tools = parseWhich((await this.exec(whichScript(this.profile.environment, ['vllm', 'nvidia-smi']), 30_000)).stdout, ['vllm', 'nvidia-smi']);
        if (epoch !== this.epoch) return this.current;
        if (!tools.vllm) {
          const d = diagnose('bash: vllm: command not found')!;
          return this.failIf(epoch, { ...d, title: `vLLM is not installed on ${where} (not on PATH there)` });
        }
        if (!tools['nvidia-smi']) {
          const f = interpretNvidiaSmiFailure(127, 'nvidia-smi: command not found');
          return this.failIf(epoch, { code: 'noGpu', title: f.title, explanation: `${f.explanation} (looked on ${where}, inside the profile's environment)`, line: 'nvidia-smi: command not found' });
        }
        const gpuCheck = await this.checkGpus();
        if (epoch !== this.epoch) return this.current;
        if ('failure' in gpuCheck) return this.failIf(epoch, gpuCheck.failure);
        gpus = gpuCheck.summary;
        this.foreignGpuPids = new Set(gpuCheck.processes.map((p) => p.pid));
        if (epoch !== this.epoch) return this.current;
        this.set({ kind: 'preflight', ...this.ref(), detail: `GPUs on ${where}: ${gpus}. Launching vLLM…` });
      }

      const secrets = opts.apiKey ? [API_KEY_ENV] : [];
      const r = await this.runner.exec(startDetachedScript({ stateDir: this.stateDir, command, secretEnv: secrets }), {
        timeoutMs: 30_000,
        ...(opts.apiKey ? { stdin: secretStdin(secrets, { [API_KEY_ENV]: opts.apiKey }) } : {}),
      });
      const started = parseStart(r);
      if (started.kind === 'error') return this.failIf(epoch, genericDiagnosis('The server could not be launched', started.message));
      if (epoch !== this.epoch) return this.current; // stop() came meanwhile: it stops what was launched
      if (started.kind === 'running') return await this.doReattach(opts, epoch);
      const run = this.newRun(started.pid, since, false, opts.apiKey, new VllmLogParser(), 0, () => {});
      if (gpus) run.gpus = gpus;
      this.recentLines.length = 0;
      return await this.follow(run, epoch);
    } catch (err) {
      return this.failIf(epoch, transportDiagnosis(err, this.profile));
    }
  }

  private async doReattach(opts: StartOptions, epoch: number): Promise<LifecycleState> {
    const since = this.now();
    try {
      const status = await this.status();
      if (epoch !== this.epoch) return this.current;
      const parser = new VllmLogParser();
      if (!status.alive || !status.pid) {
        await this.replayLog(parser, status.logBytes, false);
        return this.setIf(epoch, this.notRunningState(status, parser));
      }
      this.recentLines.length = 0;
      const progress = await this.replayLog(parser, status.logBytes, true);
      const run = this.newRun(status.pid, since, true, opts.apiKey, parser, status.logBytes, () => {});
      if (progress) run.progress = progress;
      run.gpus = await this.gpuSummary().catch(() => undefined);
      return await this.follow(run, epoch);
    } catch (err) {
      return this.failIf(epoch, transportDiagnosis(err, this.profile));
    }
  }

  /** Reads the last 256 KiB of the log into `parser` (phase, facts, diagnosis); `emit`: also to onLog. */
  private async replayLog(parser: VllmLogParser, logBytes: number, emit: boolean): Promise<Run['progress']> {
    if (logBytes <= 0) return undefined;
    const from = Math.max(0, logBytes - LOG_CHUNK);
    const chunk = parseTail((await this.exec(tailScript({ stateDir: this.stateDir, offset: from, maxBytes: LOG_CHUNK }), 20_000)).stdoutBuffer, from);
    const text = from > 0 ? chunk.text.slice(chunk.text.indexOf('\n') + 1) : chunk.text;
    const events = parser.push(text);
    if (emit) for (const l of linesOf(events)) this.emitLog(l);
    const last = events.filter((e): e is Extract<LogEvent, { kind: 'progress' }> => e.kind === 'progress').at(-1);
    return last && last.phase === parser.phase ? { phase: last.phase, done: last.done, total: last.total } : undefined;
  }

  private notRunningState(status: ServerStatus, parser: VllmLogParser): LifecycleState {
    // It ended by itself (the pid file is still there): say why, unless it was shut down cleanly.
    if (status.state === 'exited' && parser.phase !== 'stopping') {
      linesOf(parser.end());
      const d = parser.diagnosis;
      if (d) return this.failedState(d);
    }
    return { kind: 'stopped', ...this.ref() };
  }

  private newRun(pid: number, since: number, reattached: boolean, apiKey: string | undefined, parser: VllmLogParser, cursor: number, settle: (s: LifecycleState) => void): Run {
    return {
      pid,
      since,
      reattached,
      ...(apiKey ? { apiKey } : {}),
      parser,
      cursor,
      active: true,
      ready: false,
      mode: this.streamer && this.deps.follow !== 'poll' ? 'stream' : 'poll',
      timers: new Set(),
      streamFailures: [],
      settle,
      checkingReady: false,
      chain: Promise.resolve(),
    };
  }

  /** Follows `run` until it is ready (confirmed over HTTP), failed or stopped; keeps following afterwards (stats,
   *  a worker dying, a dropped link) until stop()/dispose(). */
  private follow(run: Run, epoch: number): Promise<LifecycleState> {
    this.endRun();
    return new Promise<LifecycleState>((resolve) => {
      let settled = false;
      run.settle = (s) => {
        if (!settled) {
          settled = true;
          resolve(s);
        }
      };
      this.run = run;
      if (epoch !== this.epoch) {
        run.active = false;
        run.settle(this.current);
        return;
      }
      this.set(this.startingState(run));
      // The tunnel first (remote): it is ready when the server is, so readiness costs no extra round trip.
      void this.reachableBaseUrl().catch(() => undefined);
      if (run.mode === 'stream') this.startStream(run);
      else void this.pollLoop(run);
      // Readiness does not depend on the log alone: once the API server is starting (or for a server found
      // running), /v1/models is asked every half second.
      this.every(run, 500, () => {
        if (!run.ready && (run.reattached || run.parser.phase === 'startingApi' || run.parser.phase === 'ready')) void this.checkReady(run);
      });
      if (run.reattached && run.parser.phase === 'ready') void this.checkReady(run);
      const timeout = this.deps.startTimeoutMs ?? 30 * 60_000;
      this.after(run, timeout, () => {
        if (run.ready || !run.active) return;
        run.settle(
          this.fail(
            genericDiagnosis(
              'The server did not become ready in time',
              `Still "${run.parser.phase ?? 'starting'}" after ${Math.round((this.now() - run.since) / 60000)} minutes; it keeps running on the host — see the log, or stop it.`,
            ),
            run.pid,
          ),
        );
      });
    });
  }

  // ---- following the log --------------------------------------------------------------------------------------

  private startStream(run: Run): void {
    if (!this.streamer || !run.active) return;
    const utf8 = new Utf8Stream();
    const startOffset = run.cursor;
    const stream = this.streamer.stream(followScript(this.stateDir, startOffset, run.pid), {
      onStdout: (d) => {
        run.cursor = startOffset + utf8.bytes + d.length;
        const text = utf8.push(d);
        if (text) this.feed(run, text);
      },
    });
    run.stream = stream;
    void stream.done.then(async (end) => {
      if (run.stream === stream) run.stream = undefined;
      if (!run.active || end.cancelled) return;
      const rest = utf8.end();
      if (rest) this.feed(run, rest);
      await run.chain;
      if (end.error) {
        // The link dropped (or ssh failed): the server is not concerned. Re-establish and stream again — unless
        // streams keep failing while the host answers (e.g. sshd refuses more sessions): then poll.
        const now = this.now();
        run.streamFailures = [...run.streamFailures.filter((t) => now - t < 30_000), now];
        await this.relink(run, end.error.message);
        if (!run.active || run.stream || run.mode !== 'stream') return;
        if (run.streamFailures.length >= 3) {
          run.mode = 'poll';
          void this.pollLoop(run);
        } else this.startStream(run);
        return;
      }
      // tail ended: the server process is gone (--pid), or tail itself failed.
      await this.checkGone(run);
    });
  }

  private async pollLoop(run: Run): Promise<void> {
    const pollMs = this.deps.pollMs ?? 400;
    let polls = 0;
    while (run.active) {
      polls++;
      try {
        const r = await this.runner.exec(tailScript({ stateDir: this.stateDir, offset: run.cursor, maxBytes: LOG_CHUNK, ...(run.logId ? { logId: run.logId } : {}) }), { timeoutMs: this.deps.scriptTimeoutMs ?? 20_000 });
        if (!run.active) return;
        const chunk = parseTail(r.stdoutBuffer, run.cursor);
        run.cursor = chunk.nextOffset;
        run.logId = chunk.logId;
        if (chunk.text) this.feed(run, chunk.text);
        await run.chain;
        if (run.parser.diagnosis || polls % 5 === 0) {
          if (await this.checkGone(run)) return;
        }
      } catch (err) {
        if (!run.active) return;
        await this.relink(run, errorMessage(err));
      }
      await delay(run.ready ? pollMs * 3 : pollMs);
    }
  }

  /** Feeds log text to the parser; events are handled in order. */
  private feed(run: Run, text: string): void {
    const events = run.parser.push(text);
    run.chain = run.chain.then(() => this.onEvents(run, events));
  }

  private async onEvents(run: Run, events: LogEvent[]): Promise<void> {
    for (const e of events) {
      if (e.kind === 'line') this.emitLog(e.text);
      if (!run.active || run.ready || this.current.kind !== 'starting') continue;
      if (e.kind === 'phase' && e.phase === 'ready') void this.checkReady(run);
      else if (e.kind === 'phase' && e.phase !== 'stopping') this.set({ ...this.current, phase: e.phase, progress: undefined } as LifecycleState);
      else if (e.kind === 'progress') {
        run.progress = { phase: e.phase, done: e.done, total: e.total };
        this.set({ ...this.current, phase: e.phase, progress: { done: e.done, total: e.total } });
      }
    }
  }

  /** Is the server process gone? Then read the rest of the log and settle as failed (or stopped). */
  private async checkGone(run: Run): Promise<boolean> {
    let status: ServerStatus;
    try {
      status = await this.status();
    } catch (err) {
      if (run.active) void this.relink(run, errorMessage(err));
      return false;
    }
    if (!run.active) return true;
    if (status.alive && status.pid === run.pid) {
      // tail ended although the server runs (e.g. a tail without --pid / -F): poll from here on.
      if (run.mode === 'stream') {
        run.mode = 'poll';
        void this.pollLoop(run);
      }
      return false;
    }
    try {
      const rest = parseTail((await this.exec(tailScript({ stateDir: this.stateDir, offset: run.cursor, maxBytes: LOG_CHUNK }), 20_000)).stdoutBuffer, run.cursor);
      if (rest.text && !rest.reset) this.feed(run, rest.text);
    } catch {
      /* judge with what we have */
    }
    const tail = run.parser.end();
    run.chain = run.chain.then(() => this.onEvents(run, tail));
    await run.chain;
    if (!run.active) return true;
    run.active = false;
    this.clearTimers(run);
    await this.closeTunnel();
    // Stopped by someone else (the CLI, another window: the pid file is gone) or shut down cleanly.
    if (status.state === 'none' || status.pid !== run.pid || (run.parser.phase === 'stopping' && !run.parser.diagnosis)) {
      const s: LifecycleState = { kind: 'stopped', ...this.ref() };
      this.set(s);
      run.settle(s);
      return true;
    }
    const d =
      run.parser.diagnosis ??
      genericDiagnosis(run.ready ? 'The server stopped by itself' : 'The server exited during startup', lastErrorLine(this.recentLines) ?? 'It printed nothing that explains why; see the log.');
    run.settle(this.fail(d, run.pid));
    return true;
  }

  // ---- readiness ----------------------------------------------------------------------------------------------

  private async checkReady(run: Run): Promise<void> {
    if (run.checkingReady || run.ready || !run.active) return;
    run.checkingReady = true;
    try {
      const baseUrl = await this.reachableBaseUrl();
      const probe = await probeEndpoint(baseUrl, { ...(run.apiKey ? { apiKey: run.apiKey } : {}), ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}), timeoutMs: 3000 });
      if (!run.active || run.ready || (probe.kind !== 'ready' && probe.kind !== 'unauthorized')) return;
      run.ready = true;
      const state = this.readyState(run, baseUrl, probe);
      this.set(state);
      run.settle(state);
      this.every(run, this.deps.healthEveryMs ?? 5000, () => void this.checkHealth(run));
    } catch {
      /* the tunnel is not up yet; the next round retries */
    } finally {
      run.checkingReady = false;
    }
  }

  private readyState(run: Run, baseUrl: string, probe: Awaited<ReturnType<typeof probeEndpoint>>): LifecycleState {
    const maxModelLen = (probe.kind === 'ready' ? probe.maxModelLen : undefined) ?? numberInfo(run.parser, 'maxModelLen');
    const modelId = probe.kind === 'ready' ? probe.modelId : this.profile.servedModelName || modelPath(this.profile);
    return {
      kind: 'ready',
      ...this.ref(),
      baseUrl,
      modelId,
      pid: run.pid,
      reattached: run.reattached,
      ...(maxModelLen ? { maxModelLen } : {}),
      ...(run.gpus ? { gpus: run.gpus } : {}),
      ...(probe.kind === 'unauthorized' ? { detail: `The server needs an API key to list its models (${probe.detail}).` } : {}),
    };
  }

  private startingState(run: Run): LifecycleState {
    const p = run.parser;
    const phase = p.phase === null || p.phase === 'ready' || p.phase === 'stopping' ? (p.phase === 'ready' ? 'startingApi' : 'resolving') : p.phase;
    const progress = run.progress && run.progress.phase === phase ? { done: run.progress.done, total: run.progress.total } : undefined;
    return { kind: 'starting', ...this.ref(), phase, ...(progress ? { progress } : {}), pid: run.pid, since: run.since, ...(run.gpus ? { gpus: run.gpus } : {}) };
  }

  private async checkHealth(run: Run): Promise<void> {
    if (!run.active || !run.ready || run.relinking || !this.tunnelOrLocal()) return;
    const doFetch = this.deps.fetch ?? (globalThis.fetch as unknown as FetchLike);
    const current = this.current;
    if (current.kind !== 'ready') return;
    const ok = await this.healthOk(current.baseUrl, doFetch);
    if (ok || !run.active) return;
    if (this.profile.host === 'local') await this.checkGone(run);
    else await this.relink(run, 'the tunnel to the server stopped answering');
  }

  /** GET /health answers 200 within 3 s. */
  private async healthOk(baseUrl: string, doFetch: FetchLike): Promise<boolean> {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 3000);
    try {
      const res = await doFetch(endpointUrl(baseUrl.replace(/\/v1\/?$/, ''), 'health'), { signal: ctrl.signal });
      await res.text().catch(() => '');
      return res.status === 200;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the forward still leads to the server: for a ready server /health through it (a wedged old master can
   *  keep accepting on the port while forwarding nothing), before that a listener on the port. */
  private async forwardWorks(port: number): Promise<boolean> {
    const current = this.current;
    if (current.kind === 'ready') return this.healthOk(current.baseUrl, this.deps.fetch ?? (globalThis.fetch as unknown as FetchLike));
    return listening(port);
  }

  private tunnelOrLocal(): boolean {
    return this.profile.host === 'local' || this.tunnel !== undefined;
  }

  // ---- a dropped link ---------------------------------------------------------------------------------------

  /** Re-establishes the master, the forward (same local port) and the log stream, with backoff. */
  private relink(run: Run, reason: string): Promise<void> {
    if (run.relinking) return run.relinking;
    const since = this.now();
    const backoff = this.deps.backoffMs ?? { initial: 500, max: 10_000 };
    run.relinking = (async () => {
      let attempt = 0;
      let wait = backoff.initial;
      let lastReason = reason;
      while (run.active) {
        attempt++;
        try {
          const status = await this.status();
          if (!run.active) return;
          if (!status.alive || status.pid !== run.pid) {
            this.clearReconnecting();
            run.relinking = undefined;
            await this.checkGone(run);
            return;
          }
          if (this.profile.host !== 'local') {
            if (this.tunnel && !(await this.forwardWorks(this.tunnel.localPort))) await this.reforward(attempt);
            else if (!this.tunnel) await this.reachableBaseUrl();
          }
          if (run.mode === 'stream' && !run.stream) this.startStream(run);
          this.clearReconnecting();
          return;
        } catch (err) {
          lastReason = errorMessage(err);
          if (!run.active) return;
          const r: Reconnecting = { since, attempt, reason: lastReason };
          if (this.current.kind === 'ready' || this.current.kind === 'starting') this.set({ ...this.current, reconnecting: r });
          await delay(wait);
          wait = Math.min(backoff.max, wait * 2);
        }
      }
    })().finally(() => {
      run.relinking = undefined;
    });
    return run.relinking;
  }

  private clearReconnecting(): void {
    const c = this.current;
    if ((c.kind === 'ready' || c.kind === 'starting') && c.reconnecting) {
      const { reconnecting: _gone, ...rest } = c;
      this.set(rest as LifecycleState);
    }
  }

  /** The forward again on the same local port, so baseUrl stays valid. Right after a drop the dying master may
   *  still hold that port: the first attempts retry it (with the backoff); then a new port is taken, and the
   *  'ready' state gets the new baseUrl. */
  private async reforward(attempt: number): Promise<void> {
    const t = this.tunnel;
    if (!t || !this.runner.forward) return;
    try {
      await this.runner.forward(t.localPort, this.remoteBindHost(), this.profile.port);
    } catch (err) {
      if (!(err instanceof SshError) || err.kind !== 'forward' || attempt < 4) throw err;
      this.tunnel = undefined;
      await this.reachableBaseUrl();
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  /** The base URL a client here uses: direct for a local server, the local end of a tunnel for a remote one. */
  private async reachableBaseUrl(): Promise<string> {
    const p = this.profile;
    if (p.host === 'local') {
      const host = p.bindHost === '0.0.0.0' ? '127.0.0.1' : p.bindHost === '::' ? '::1' : p.bindHost;
      return `http://${host.includes(':') ? `[${host}]` : host}:${p.port}/v1`;
    }
    const fwd = this.runner as Partial<Tunnel>;
    if (!fwd.forward) throw new Error('this connection cannot forward ports');
    if (!this.tunnel) {
      const localPort = await (this.deps.freeLocalPort ?? defaultFreeLocalPort)();
      await fwd.forward.call(this.runner, localPort, this.remoteBindHost(), p.port);
      this.tunnel = { localPort };
      // A new local port while ready (the old one was taken after a drop): the state carries the new URL.
      const url = `http://127.0.0.1:${localPort}/v1`;
      if (this.current.kind === 'ready' && this.current.baseUrl !== url) this.set({ ...this.current, baseUrl: url });
    }
    return `http://127.0.0.1:${this.tunnel.localPort}/v1`;
  }

  private remoteBindHost(): string {
    const h = this.profile.bindHost;
    return h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '::1' : h;
  }

  private async closeTunnel(): Promise<void> {
    const t = this.tunnel;
    this.tunnel = undefined;
    if (!t || !this.runner.cancelForward) return;
    await this.runner.cancelForward(t.localPort, this.remoteBindHost(), this.profile.port).catch(() => undefined);
  }

  private async checkGpus(): Promise<{ summary: string; processes: GpuProcess[] } | { failure: Diagnosis }> {
    const q = await this.exec(shellCommand(this.profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), 30_000);
    if (q.code !== 0) {
      const f = interpretNvidiaSmiFailure(q.code, q.stdout + q.stderr);
      return { failure: { code: 'noGpu', title: f.title, explanation: f.explanation, line: lastLine(q.stdout + q.stderr) } };
    }
    const apps = await this.exec(shellCommand(this.profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), 30_000);
    const gpus = parseGpuQuery(q.stdout);
    const processes = apps.code === 0 ? parseComputeApps(apps.stdout) : [];
    const result = preflight({ gpus, processes, tensorParallelSize: this.profile.tensorParallelSize, gpuMemoryUtilization: this.profile.gpuMemoryUtilization });
    if (!result.ok) {
      const enough = gpus.length >= this.profile.tensorParallelSize;
      return {
        failure: {
          code: enough ? 'gpuMemoryBusy' : 'notEnoughGpus',
          title: enough ? 'The GPUs are busy: not enough free memory for this server' : 'Not enough GPUs for this server',
          explanation: result.reason,
          line: result.summary,
          ...(enough ? {} : { fix: { label: `Set tensor-parallel-size to ${gpus.length}`, setting: { key: 'tensorParallelSize' as const, value: gpus.length } } }),
        },
      };
    }
    return { summary: result.summary || summarizeGpus(gpus, processes), processes };
  }

  private async gpuSummary(): Promise<string | undefined> {
    const q = await this.exec(shellCommand(this.profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), 20_000);
    if (q.code !== 0) return undefined;
    return summarizeGpus(parseGpuQuery(q.stdout));
  }

  private async waitPortClosed(withinMs: number): Promise<boolean> {
    const deadline = this.now() + withinMs;
    for (;;) {
      const open = await this.portOpen();
      if (!open) return true;
      if (this.now() >= deadline) return false;
      await delay(200);
    }
  }

  private async portOpen(): Promise<boolean> {
    try {
      return parsePortOpen((await this.exec(portOpenScript(this.remoteBindHost(), this.profile.port), 15_000)).stdout).open;
    } catch {
      return false;
    }
  }

  private async waitGpusFreed(withinMs: number): Promise<Record<number, number>> {
    const deadline = this.now() + withinMs;
    for (;;) {
      const held = await this.gpuMemoryHeld();
      if (Object.keys(held).length === 0 || this.now() >= deadline) return held;
      await delay(250);
    }
  }

  /** MiB still used per GPU index by processes on the GPUs this server used (the first tensor-parallel-size ones),
   *  leaving out processes that were there before our launch. Empty when nvidia-smi is absent. */
  private async gpuMemoryHeld(): Promise<Record<number, number>> {
    try {
      const apps = await this.exec(shellCommand(this.profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), 30_000);
      if (apps.code !== 0) return {};
      const processes = parseComputeApps(apps.stdout).filter((p) => !this.foreignGpuPids.has(p.pid));
      if (processes.length === 0) return {};
      const gpus = parseGpuQuery((await this.exec(shellCommand(this.profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), 30_000)).stdout);
      const used = new Set(gpus.map((g) => g.index).sort((a, b) => a - b).slice(0, this.profile.tensorParallelSize));
      const held: Record<number, number> = {};
      for (const p of processes) {
        const gpu = gpus.find((g) => g.uuid === p.gpuUuid);
        if (gpu && used.has(gpu.index)) held[gpu.index] = (held[gpu.index] ?? 0) + (p.usedMiB ?? 0);
      }
      return held;
    } catch {
      return {};
    }
  }

  private stopMessage(result: StopReport['result'], pid: number | null, portClosed: boolean, held: Record<number, number>): string {
    const where = this.profile.host === 'local' ? 'this machine' : this.profile.host;
    const name = `"${this.profile.name}"`;
    const gpus = Object.entries(held).map(([i, mib]) => `GPU ${i}: ${Math.round(mib)} MiB`).join(', ');
    const checks = `${portClosed ? `port ${this.profile.port} is closed` : `port ${this.profile.port} is STILL OPEN`}${gpus ? `; GPU memory is still held (${gpus})` : '; GPU memory is free'}`;
    switch (result) {
      case 'not-running':
        return `No server of profile ${name} is running on ${where}; nothing to stop.`;
      case 'stale':
        return `The recorded server of ${name} (pid ${pid ?? '?'}) no longer exists on ${where} (its pid belongs to another process now); nothing was signalled.`;
      case 'survived':
        return `The server of ${name} (pid ${pid ?? '?'}) on ${where} survived SIGINT, SIGTERM and SIGKILL (stuck in the GPU driver?); ${checks}. Check the host.`;
      default:
        return `Stopped the server of ${name} (pid ${pid ?? '?'}) on ${where} with SIG${result}; ${checks}.`;
    }
  }

  private status(): Promise<ServerStatus> {
    return this.exec(statusScript({ stateDir: this.stateDir }), this.deps.scriptTimeoutMs ?? 20_000).then((r) => parseStatus(r.stdout));
  }

  private exec(script: string, timeoutMs: number) {
    return this.runner.exec(script, { timeoutMs });
  }

  private every(run: Run, ms: number, fn: () => void): void {
    const t = setInterval(() => {
      if (run.active) fn();
    }, ms);
    run.timers.add(t);
  }

  private after(run: Run, ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    run.timers.add(t);
  }

  private clearTimers(run: Run): void {
    for (const t of run.timers) clearInterval(t);
    run.timers.clear();
  }

  /** Stops following (the server keeps running) and settles a pending start with the current state. */
  private endRun(): void {
    this.detachRun()?.settle(this.current);
  }

  /** Stops following; the caller settles the run's pending start. */
  private detachRun(): Run | undefined {
    const run = this.run;
    this.run = undefined;
    if (!run) return undefined;
    run.active = false;
    this.clearTimers(run);
    run.stream?.kill();
    run.stream = undefined;
    return run;
  }

  private fail(diagnosis: Diagnosis, pid?: number): LifecycleState {
    const state = this.failedState(diagnosis, pid);
    this.set(state);
    return state;
  }

  private failedState(diagnosis: Diagnosis, pid?: number): LifecycleState {
    return { kind: 'failed', ...this.ref(), diagnosis, ...(pid ? { pid } : {}), logTail: this.recentLines.slice(-TAIL_LINES_ON_FAILURE) };
  }

  private failIf(epoch: number, diagnosis: Diagnosis): LifecycleState {
    return this.setIf(epoch, this.failedState(diagnosis));
  }

  private setIf(epoch: number, s: LifecycleState): LifecycleState {
    if (epoch !== this.epoch) return this.current;
    this.set(s);
    return s;
  }

  private emitLog(line: string): void {
    this.recentLines.push(line);
    if (this.recentLines.length > KEEP_LINES) this.recentLines.splice(0, this.recentLines.length - KEEP_LINES);
    for (const l of this.logListeners) l(line);
  }

  private set(s: LifecycleState): void {
    if (this.disposed) return;
    this.current = s;
    for (const l of this.stateListeners) l(s);
  }

  private ref(): { profile: string; host: string } {
    return { profile: this.profile.name, host: this.profile.host };
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** A ServerManager for `profile` over hostShellFor (LocalShell, or SSH with a private control dir; both stream).
 *  dispose() closes that shell (the SSH master) — never the server. */
export function createServerManager(profile: ServerProfile, deps: Omit<ServerManagerDeps, 'runner' | 'streamer'> & { hostShell?: HostShellOptions } = {}): ServerManager {
  const { hostShell, ...rest } = deps;
  return new ServerManager(profile, { ...rest, runner: hostShellFor(profile, hostShell).runner });
}

/** `tail -F` of the server log from byte `offset`, ending when process `pid` does (checked every 0.5 s). */
export function followScript(stateDir: string, offset: number, pid: number): string {
  const from = Math.max(0, Math.floor(offset)) + 1;
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${pid} is not a server pid`);
  return `exec tail -c +${from} -F -s 0.5 --pid=${pid} -- ${quotePath(stateDir)}/${quote('server.log')} 2>/dev/null`;
}

function linesOf(events: LogEvent[]): string[] {
  return events.filter((e): e is Extract<LogEvent, { kind: 'line' }> => e.kind === 'line').map((e) => e.text);
}

function withSignal(p: Promise<LifecycleState>, signal: AbortSignal | undefined, current: () => LifecycleState): Promise<LifecycleState> {
  return signal ? settleOnAbort(p, signal, current) : p;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

/** Does something accept connections on 127.0.0.1:port (here)? */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function numberInfo(parser: VllmLogParser, key: 'maxModelLen'): number | undefined {
  const v = parser.info.get(key);
  return typeof v === 'number' ? v : undefined;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.slice(0, 500) ?? '';
}

/** The last line that looks like an error (a Python exception, ERROR, "error:"), else the last line. */
function lastErrorLine(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 200; i--) {
    const l = lines[i]!;
    if (/(?:Error|Exception)(?::|\b)|\bERROR\b|error:|Traceback|Killed/.test(l)) return l.trim().slice(0, 500);
  }
  return lines.at(-1)?.trim().slice(0, 500);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function genericDiagnosis(title: string, explanation: string): Diagnosis {
  return { code: 'engineInitFailed', title, explanation, line: explanation.slice(0, 500) };
}

/** An SSH or local-shell failure, in the same plain words the SSH layer chose. */
export function transportDiagnosis(err: unknown, profile: ServerProfile): Diagnosis {
  if (err instanceof SshError) {
    return { code: 'engineInitFailed', title: profile.host === 'local' ? 'A local command failed' : `Cannot reach ${profile.host} over SSH`, explanation: err.message, line: err.message };
  }
  const message = errorMessage(err);
  return { code: 'engineInitFailed', title: 'The server could not be managed', explanation: message, line: message.slice(0, 500) };
}
