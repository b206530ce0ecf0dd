// The engine's child processes. A real `vllm serve -tp 8` runs an EngineCore process and eight worker processes
// (titles VLLM::EngineCore, VLLM::Worker_TP0 … via setproctitle) in the server's process group. They hold the GPU
// memory; if only the API server is SIGKILLed they live on as orphans and keep it, which is why a lifecycle manager
// must kill the whole process group. The fake spawns real (idle) node processes for them and writes one GPU claim
// per worker, owned by the worker's pid, so the fake nvidia-smi reports the memory exactly while the worker lives.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { defaultGpuDir, writeClaim } from '../nvidiaSmi/claims';

/** Source of a child: takes its title from argv, idles forever. With `ignore`, SIGINT/SIGTERM are ignored too
 *  (KIMI_FAKE_VLLM_IGNORE_SIGTERM: only SIGKILL of the group ends it). */
const CHILD_SRC = [
  'process.title = process.argv[1];',
  "if (process.argv[2] === 'ignore') { process.on('SIGINT', () => {}); process.on('SIGTERM', () => {}); }",
  'setInterval(() => {}, 1 << 30);',
].join('\n');

export interface ChildProc {
  /** `EngineCore_DP0`, `Worker_TP0`: the log prefix name. */
  name: string;
  /** `VLLM::Worker_TP0`: the process title and nvidia-smi process name. */
  title: string;
  pid: number;
  child: ChildProcess;
  /** Physical GPU index (workers only). */
  gpu: number | null;
}

export class ProcessGroup {
  readonly procs: ChildProc[] = [];
  private readonly gpuDir = defaultGpuDir();
  /** The current claim file of each worker pid. */
  private readonly claimFiles = new Map<number, string>();

  constructor(private readonly ignoreSignals: boolean) {}

  /** Spawn one child and wait until it runs (so its pid is real and alive when we print it). */
  async start(name: string, title: string, gpu: number | null): Promise<ChildProc> {
    const child = spawn(process.execPath, ['-e', CHILD_SRC, title, this.ignoreSignals ? 'ignore' : 'normal'], {
      stdio: 'ignore',
      // Same process group as the server: a group kill must reach them, a kill of the server alone must not.
      detached: false,
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    const proc: ChildProc = { name, title, pid: child.pid ?? -1, child, gpu };
    this.procs.push(proc);
    return proc;
  }

  /** Record how much GPU memory a worker holds now (replaces its previous claim file). */
  claim(proc: ChildProc, usedMiB: number): void {
    if (proc.gpu === null || proc.pid <= 0) return;
    const previous = this.claimFiles.get(proc.pid);
    const file = writeClaim(this.gpuDir, {
      owner: proc.pid,
      gpus: [{ index: proc.gpu, pid: proc.pid, processName: proc.title, usedMiB: Math.round(usedMiB) }],
    });
    this.claimFiles.set(proc.pid, file);
    if (previous) fs.rmSync(previous, { force: true });
  }

  releaseClaims(): void {
    for (const file of this.claimFiles.values()) fs.rmSync(file, { force: true });
    this.claimFiles.clear();
  }

  /** Terminate every child and wait until they are gone (SIGKILL after `graceMs`). */
  async stop(graceMs = 2000): Promise<void> {
    const alive = this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    await Promise.all(
      alive.map(
        (p) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
            p.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            p.child.kill(this.ignoreSignals ? 'SIGKILL' : 'SIGTERM');
          }),
      ),
    );
    this.releaseClaims();
  }

  /** Last-resort synchronous cleanup from process 'exit' handlers. */
  killNow(): void {
    for (const p of this.procs) {
      try {
        if (p.child.exitCode === null) p.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.releaseClaims();
  }
}
