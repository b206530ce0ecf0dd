import * as net from 'node:net';
import type { ServerProfile } from '../config/serverProfile';
import type { FetchLike } from '../ports';
import { diagnose, type Diagnosis } from './diagnosis';
import { endpointUrl, probeEndpoint } from './endpointProbe';
import { interpretNvidiaSmiFailure, NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, preflight, summarizeGpus } from './gpuProbe';
import type { LifecycleState, ServerController, StartOptions, StopReport, Unsubscribe } from './lifecycleTypes';
import { VllmLogParser } from './logParser';
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
} from './remoteScripts';
import { SshError, type ShellRunner } from './ssh';
import { API_KEY_ENV, serveArgv, shellCommand } from './vllmCommand';

// Runs one profile's `vllm serve`: pre-flight, a detached launch (so the server outlives VS Code and the CLI), the
// log followed into phases, readiness confirmed over HTTP, and a stop that checks the port and the GPUs. The same
// scripts run on this machine (LocalShell) and on a GPU host (SshConnection): one implementation for both.

/** What the manager needs from a remote host beyond running scripts. */
export interface Tunnel {
  /** Forwards 127.0.0.1:localPort here to remoteHost:remotePort as seen from the host. */
  forward(localPort: number, remoteHost: string, remotePort: number): Promise<void>;
  cancelForward(localPort: number, remoteHost: string, remotePort: number): Promise<void>;
}

export interface ServerManagerDeps {
  /** LocalShell for host 'local', SshConnection otherwise. */
  runner: ShellRunner & Partial<Tunnel> & { close?(): Promise<void> };
  /** A free port on this machine for the tunnel's local end. */
  freeLocalPort(): Promise<number>;
  fetch?: FetchLike;
  now?: () => number;
  /** How often the log is read while starting/serving (default 400 ms). */
  pollMs?: number;
  /** Stop: seconds to wait after SIGINT, then after SIGTERM (default 15 and 10). */
  stopGrace?: { intSec: number; termSec: number };
  /** Give up a start that has not become ready after this long (default 30 min: loading 595 GB takes a while). */
  startTimeoutMs?: number;
}

const LOG_CHUNK = 256 * 1024;
const TAIL_LINES_ON_FAILURE = 40;

export class ServerManager implements ServerController {
  private current: LifecycleState;
  private readonly stateListeners = new Set<(s: LifecycleState) => void>();
  private readonly logListeners = new Set<(line: string) => void>();
  private readonly stateDir: string;
  private readonly recentLines: string[] = [];
  private follow: { stop: () => void; done: Promise<void> } | undefined;
  private tunnel: { localPort: number } | undefined;
  private starting: Promise<LifecycleState> | undefined;
  private disposed = false;

  constructor(
    readonly profile: ServerProfile,
    private readonly deps: ServerManagerDeps,
  ) {
    this.stateDir = stateDirFor(profile.name);
    this.current = { kind: 'stopped', ...this.ref() };
  }

  get state(): LifecycleState {
    return this.current;
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
    this.starting ??= this.doStart(opts).finally(() => (this.starting = undefined));
    return this.starting;
  }

  reattach(opts: StartOptions = {}): Promise<LifecycleState> {
    if (this.current.kind === 'ready' || this.starting) return this.starting ?? Promise.resolve(this.current);
    this.starting = this.doReattach(opts).finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** One look without following the log (for `kimi-vllm serve status`): stopped, starting (with its phase),
   *  ready (answering over HTTP) or failed (the process ended with a diagnosis in its log). */
  async inspect(opts: StartOptions = {}): Promise<LifecycleState> {
    try {
      const status = parseStatus((await this.exec(statusScript({ stateDir: this.stateDir }), 20_000)).stdout);
      const from = Math.max(0, status.logBytes - LOG_CHUNK);
      const chunk = status.logBytes ? parseTail((await this.exec(tailScript({ stateDir: this.stateDir, offset: from, maxBytes: LOG_CHUNK }), 20_000)).stdoutBuffer, from) : undefined;
      const parser = new VllmLogParser();
      if (chunk) [...parser.push(chunk.text), ...parser.end()];
      if (!status.alive || !status.pid) {
        return status.state === 'exited' && parser.diagnosis ? { kind: 'failed', ...this.ref(), diagnosis: parser.diagnosis } : { kind: 'stopped', ...this.ref() };
      }
      const since = this.now();
      if (parser.phase === 'ready' || parser.phase === 'startingApi') {
        const baseUrl = await this.reachableBaseUrl();
        const probe = await probeEndpoint(baseUrl, { ...(opts.apiKey ? { apiKey: opts.apiKey } : {}), ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}), timeoutMs: 5000 });
        if (probe.kind === 'ready') {
          return { kind: 'ready', ...this.ref(), baseUrl, modelId: probe.modelId, pid: status.pid, reattached: true, ...(probe.maxModelLen ? { maxModelLen: probe.maxModelLen } : {}) };
        }
      }
      return { kind: 'starting', ...this.ref(), phase: parser.phase ?? 'resolving', pid: status.pid, since };
    } catch (err) {
      return { kind: 'failed', ...this.ref(), diagnosis: transportDiagnosis(err, this.profile) };
    }
  }

  async stop(): Promise<StopReport> {
    const pid = 'pid' in this.current ? this.current.pid : undefined;
    this.stopFollowing();
    this.set({ kind: 'stopping', ...this.ref(), ...(pid ? { pid } : {}) });
    const grace = this.deps.stopGrace ?? { intSec: 15, termSec: 10 };
    let result: StopReport['result'];
    try {
      const r = await this.deps.runner.exec(stopScript({ stateDir: this.stateDir, graceIntSec: grace.intSec, graceTermSec: grace.termSec }), {
        timeoutMs: (grace.intSec + grace.termSec + 20) * 1000,
      });
      result = parseStop(r.stdout).result;
    } catch (err) {
      this.set({ kind: 'failed', ...this.ref(), diagnosis: transportDiagnosis(err, this.profile) });
      throw err;
    }
    await this.closeTunnel();
    const portClosed = !(await this.portOpen());
    const gpuMemoryHeld = await this.gpuMemoryHeld();
    this.set({ kind: 'stopped', ...this.ref() });
    return { result, portClosed, gpuMemoryHeld };
  }

  async logTail(lines = 200): Promise<string[]> {
    const status = parseStatus((await this.deps.runner.exec(statusScript({ stateDir: this.stateDir }), { timeoutMs: 15_000 })).stdout);
    const from = Math.max(0, status.logBytes - LOG_CHUNK);
    const chunk = parseTail((await this.deps.runner.exec(tailScript({ stateDir: this.stateDir, offset: from, maxBytes: LOG_CHUNK }), { timeoutMs: 15_000 })).stdoutBuffer, from);
    const parser = new VllmLogParser();
    const all = [...parser.push(chunk.text), ...parser.end()].filter((e) => e.kind === 'line').map((e) => (e as { text: string }).text);
    return all.slice(-lines);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.stopFollowing();
    await this.closeTunnel();
    await this.deps.runner.close?.();
    this.stateListeners.clear();
    this.logListeners.clear();
  }

  // ---- start ------------------------------------------------------------------------------------------------

  private async doStart(opts: StartOptions): Promise<LifecycleState> {
    const since = this.now();
    try {
      this.set({ kind: 'preflight', ...this.ref(), detail: 'Checking that vLLM and the GPUs are there…' });
      const tools = parseWhich((await this.exec(whichScript(this.profile.environment), 30_000)).stdout);
      if (!tools.vllm) return this.fail(diagnoseOrThrow('bash: vllm: command not found'));

      let gpus: string | undefined;
      if (tools['nvidia-smi']) {
        const gpuCheck = await this.checkGpus();
        if ('failure' in gpuCheck) return this.fail(gpuCheck.failure);
        gpus = gpuCheck.summary;
      }

      const command = shellCommand(this.profile, serveArgv(this.profile));
      const secrets = opts.apiKey ? [API_KEY_ENV] : [];
      const r = await this.deps.runner.exec(startDetachedScript({ stateDir: this.stateDir, command, secretEnv: secrets }), {
        timeoutMs: 30_000,
        ...(opts.apiKey ? { stdin: secretStdin(secrets, { [API_KEY_ENV]: opts.apiKey }) } : {}),
      });
      const started = parseStart(r);
      if (started.kind === 'error') return this.fail(genericDiagnosis('The server could not be launched', started.message));
      if (started.kind === 'running') return await this.doReattach(opts);
      this.set({ kind: 'starting', ...this.ref(), phase: 'resolving', pid: started.pid, since, ...(gpus ? { gpus } : {}) });
      return await this.followUntilSettled(started.pid, 0, since, gpus, false, opts);
    } catch (err) {
      return this.fail(transportDiagnosis(err, this.profile));
    }
  }

  private async doReattach(opts: StartOptions): Promise<LifecycleState> {
    const since = this.now();
    try {
      const status = parseStatus((await this.exec(statusScript({ stateDir: this.stateDir }), 20_000)).stdout);
      if (!status.alive || !status.pid) {
        this.set({ kind: 'stopped', ...this.ref() });
        return this.current;
      }
      const from = Math.max(0, status.logBytes - LOG_CHUNK);
      this.set({ kind: 'starting', ...this.ref(), phase: 'resolving', pid: status.pid, since });
      return await this.followUntilSettled(status.pid, from, since, undefined, true, opts);
    } catch (err) {
      return this.fail(transportDiagnosis(err, this.profile));
    }
  }

  /** Follows the log from `offset` until the server is ready (confirmed over HTTP) or has failed. The log keeps
   *  being followed afterwards (stats lines, a worker dying) until stop()/dispose(). */
  private followUntilSettled(pid: number, offset: number, since: number, gpus: string | undefined, reattached: boolean, opts: StartOptions): Promise<LifecycleState> {
    return new Promise<LifecycleState>((resolve) => {
      const parser = new VllmLogParser();
      let settled = false;
      let readyAnnounced = false;
      let checkingHttp = false;
      const settle = (s: LifecycleState): void => {
        if (!settled) {
          settled = true;
          resolve(s);
        }
      };
      const onEvents = async (events: ReturnType<VllmLogParser['push']>): Promise<void> => {
        for (const e of events) {
          if (e.kind === 'line') this.emitLog(e.text);
          else if (this.current.kind === 'starting' && e.kind === 'phase' && e.phase !== 'ready' && e.phase !== 'stopping') {
            this.set({ ...this.current, phase: e.phase, progress: undefined } as LifecycleState);
          } else if (this.current.kind === 'starting' && e.kind === 'progress') {
            this.set({ ...this.current, phase: e.phase, progress: { done: e.done, total: e.total } });
          }
        }
      };
      const checkReady = async (): Promise<boolean> => {
        if (checkingHttp || readyAnnounced) return readyAnnounced;
        checkingHttp = true;
        try {
          const baseUrl = await this.reachableBaseUrl();
          const probe = await probeEndpoint(baseUrl, { ...(opts.apiKey ? { apiKey: opts.apiKey } : {}), ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}), timeoutMs: 5000 });
          if (probe.kind !== 'ready') return false;
          readyAnnounced = true;
          const maxModelLen = probe.maxModelLen ?? numberInfo(parser, 'maxModelLen');
          const state: LifecycleState = {
            kind: 'ready',
            ...this.ref(),
            baseUrl,
            modelId: probe.modelId,
            pid,
            reattached,
            ...(maxModelLen ? { maxModelLen } : {}),
            ...(gpus ? { gpus } : {}),
          };
          this.set(state);
          settle(state);
          return true;
        } finally {
          checkingHttp = false;
        }
      };

      let cursor = offset;
      let logId: string | undefined;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      let wake: (() => void) | undefined;
      const pollMs = this.deps.pollMs ?? 400;
      const deadline = since + (this.deps.startTimeoutMs ?? 30 * 60_000);
      let polls = 0;

      const loop = async (): Promise<void> => {
        while (!stopped && !this.disposed) {
          polls++;
          try {
            const r = await this.deps.runner.exec(tailScript({ stateDir: this.stateDir, offset: cursor, maxBytes: LOG_CHUNK, ...(logId ? { logId } : {}) }), { timeoutMs: 20_000 });
            const chunk = parseTail(r.stdoutBuffer, cursor);
            cursor = chunk.nextOffset;
            logId = chunk.logId;
            if (chunk.text) await onEvents(parser.push(chunk.text));
            const diagnosis = parser.diagnosis;
            if (!readyAnnounced && (parser.phase === 'ready' || (polls % 5 === 0 && (parser.phase === 'startingApi' || reattached)))) await checkReady();
            // Every few polls (and at once after a failure line), see whether the process is still there.
            if (diagnosis || polls % 5 === 0) {
              const status = parseStatus((await this.deps.runner.exec(statusScript({ stateDir: this.stateDir }), { timeoutMs: 20_000 })).stdout);
              if (!status.alive) {
                // Read what is left of the log before judging.
                const rest = parseTail((await this.deps.runner.exec(tailScript({ stateDir: this.stateDir, offset: cursor, maxBytes: LOG_CHUNK }), { timeoutMs: 20_000 })).stdoutBuffer, cursor);
                await onEvents([...parser.push(rest.text), ...parser.end()]);
                const d = parser.diagnosis ?? genericDiagnosis('The server stopped by itself', this.recentLines.at(-1) ?? 'it printed nothing');
                const failed = this.fail(d, pid);
                stopped = true;
                settle(failed);
                break;
              }
            }
            if (!readyAnnounced && this.now() > deadline) {
              settle(this.fail(genericDiagnosis('The server did not become ready in time', `Still "${parser.phase ?? 'starting'}" after ${Math.round((this.now() - since) / 60000)} minutes; it keeps running — see the log.`), pid));
              break;
            }
          } catch (err) {
            if (!readyAnnounced) {
              settle(this.fail(transportDiagnosis(err, this.profile), pid));
              break;
            }
            // Serving, and the link dropped: the server keeps running; reconnect on the next round (the SSH
            // connection re-establishes its master by itself) and reopen the tunnel.
            this.tunnel = undefined;
          }
          // A dropped link takes the master and its forward with it (the next exec quietly makes a new master):
          // notice by the tunnel's local end refusing connections, and forward again.
          if (readyAnnounced && this.tunnel && !(await listening(this.tunnel.localPort))) this.tunnel = undefined;
          if (readyAnnounced && !this.tunnel && this.deps.runner.forward && this.profile.host !== 'local') {
            try {
              const baseUrl = await this.reachableBaseUrl();
              if (this.current.kind === 'ready') this.set({ ...this.current, baseUrl });
            } catch {
              /* next round */
            }
          }
          await new Promise<void>((r) => {
            wake = r;
            timer = setTimeout(r, readyAnnounced ? pollMs * 5 : pollMs);
          });
        }
      };
      const done = loop().catch((err) => settle(this.fail(transportDiagnosis(err, this.profile), pid)));
      this.follow = {
        stop: () => {
          stopped = true;
          if (timer) clearTimeout(timer);
          wake?.();
          settle(this.current);
        },
        done,
      };
    });
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  /** The base URL a client here uses: direct for a local server, the local end of a tunnel for a remote one. */
  private async reachableBaseUrl(): Promise<string> {
    const p = this.profile;
    if (p.host === 'local') {
      const host = p.bindHost === '0.0.0.0' || p.bindHost === '::' ? '127.0.0.1' : p.bindHost;
      return endpointUrl(`http://${host.includes(':') ? `[${host}]` : host}:${p.port}`, 'v1');
    }
    if (!this.deps.runner.forward) throw new Error('this connection cannot forward ports');
    if (!this.tunnel) {
      const localPort = await this.deps.freeLocalPort();
      const remoteHost = p.bindHost === '0.0.0.0' ? '127.0.0.1' : p.bindHost;
      await this.deps.runner.forward(localPort, remoteHost, p.port);
      this.tunnel = { localPort };
    }
    return `http://127.0.0.1:${this.tunnel.localPort}/v1`;
  }

  private async closeTunnel(): Promise<void> {
    const t = this.tunnel;
    this.tunnel = undefined;
    if (!t || !this.deps.runner.cancelForward) return;
    const remoteHost = this.profile.bindHost === '0.0.0.0' ? '127.0.0.1' : this.profile.bindHost;
    await this.deps.runner.cancelForward(t.localPort, remoteHost, this.profile.port).catch(() => undefined);
  }

  private async checkGpus(): Promise<{ summary: string } | { failure: Diagnosis }> {
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
      const code = gpus.length < this.profile.tensorParallelSize ? 'notEnoughGpus' : 'gpuMemoryBusy';
      return { failure: { code, title: 'The GPUs are not ready for this server', explanation: result.reason, line: result.summary } };
    }
    return { summary: result.summary || summarizeGpus(gpus, processes) };
  }

  private async portOpen(): Promise<boolean> {
    try {
      const host = this.profile.bindHost === '0.0.0.0' ? '127.0.0.1' : this.profile.bindHost;
      return parsePortOpen((await this.exec(portOpenScript(host, this.profile.port), 15_000)).stdout).open;
    } catch {
      return false;
    }
  }

  /** MiB still used per GPU index after a stop (empty when nothing is held or nvidia-smi is absent). */
  private async gpuMemoryHeld(): Promise<Record<number, number>> {
    try {
      const q = await this.exec(shellCommand(this.profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), 30_000);
      if (q.code !== 0) return {};
      const held: Record<number, number> = {};
      const gpus = parseGpuQuery((await this.exec(shellCommand(this.profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), 30_000)).stdout);
      for (const p of parseComputeApps(q.stdout)) {
        const gpu = gpus.find((g) => g.uuid === p.gpuUuid);
        if (gpu) held[gpu.index] = (held[gpu.index] ?? 0) + (p.usedMiB ?? 0);
      }
      return held;
    } catch {
      return {};
    }
  }

  private exec(script: string, timeoutMs: number) {
    return this.deps.runner.exec(script, { timeoutMs });
  }

  private stopFollowing(): void {
    this.follow?.stop();
    this.follow = undefined;
  }

  private fail(diagnosis: Diagnosis, pid?: number): LifecycleState {
    const state: LifecycleState = { kind: 'failed', ...this.ref(), diagnosis, ...(pid ? { pid } : {}), logTail: this.recentLines.slice(-TAIL_LINES_ON_FAILURE) };
    this.set(state);
    return state;
  }

  private emitLog(line: string): void {
    this.recentLines.push(line);
    if (this.recentLines.length > 500) this.recentLines.splice(0, this.recentLines.length - 500);
    for (const l of this.logListeners) l(line);
  }

  private set(s: LifecycleState): void {
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

function diagnoseOrThrow(line: string): Diagnosis {
  const d = diagnose(line);
  if (!d) throw new Error(`no diagnosis for ${line}`);
  return d;
}

function genericDiagnosis(title: string, explanation: string): Diagnosis {
  return { code: 'engineInitFailed', title, explanation, line: explanation.slice(0, 500) };
}

/** An SSH or local-shell failure, in the same plain words the SSH layer chose. */
export function transportDiagnosis(err: unknown, profile: ServerProfile): Diagnosis {
  if (err instanceof SshError) {
    return { code: 'engineInitFailed', title: profile.host === 'local' ? 'A local command failed' : `Cannot reach ${profile.host} over SSH`, explanation: err.message, line: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'engineInitFailed', title: 'The server could not be managed', explanation: message, line: message.slice(0, 500) };
}
