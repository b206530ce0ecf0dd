// Test helper: run the fake `vllm` as a real child process, the way the extension will run the real one, and watch
// its output line by line. stdout and stderr are merged through one pipe (`2>&1`), so the order of lines is the
// order the process wrote them. The child leads its own process group; `killGroup()` ends it and every
// EngineCore/worker process, like a lifecycle manager must.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const FAKE_BIN_DIR = path.resolve(__dirname, '../../../../test/emulator/bin');

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** What a terminal shows for a line holding "\r": the decoration prefix, then the text after the last "\r"
 *  (`(Worker_TP0 pid=1) \rLoading …` → `(Worker_TP0 pid=1) Loading …`; a \r-refreshed tqdm bar → its final state;
 *  the "\r" that vLLM's NewLineFormatter puts before each "\n" of a multi-line record → dropped). */
export function displayed(line: string): string {
  const trimmed = line.replace(/\r+$/, '');
  if (!trimmed.includes('\r')) return trimmed;
  const parts = trimmed.split('\r');
  const prefix = /^\([\w]+ pid=\d+\) $/.test(parts[0]) ? parts[0] : '';
  const last = [...parts].reverse().find((p) => p !== '' && p !== prefix) ?? '';
  return prefix + last;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface FakeVllmOptions {
  env?: Record<string, string | undefined>;
  /** Directory for fake GPU claims (a fresh temp dir when omitted). */
  gpuDir?: string;
}

export class FakeVllm {
  readonly child: ChildProcess;
  /** Raw bytes as written. */
  raw = '';
  /** Complete lines: ANSI colours removed, a leading "\r" (tqdm) and trailing "\r" (log line joins) dropped. */
  readonly lines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  readonly gpuDir: string;
  private partial = '';
  private readonly listeners = new Set<() => void>();
  private exitInfo: ExitInfo | null = null;

  constructor(args: string[], opts: FakeVllmOptions = {}) {
    this.gpuDir = opts.gpuDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-fake-gpus-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${FAKE_BIN_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
      KIMI_FAKE_GPU_DIR: this.gpuDir,
      KIMI_FAKE_VLLM_SHARD_MS: '1',
      KIMI_FAKE_VLLM_PHASE_MS: '2',
      ...opts.env,
    };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    this.child = spawn('sh', ['-c', 'exec vllm "$@" 2>&1', 'vllm', ...args], {
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.raw += chunk;
      this.partial += chunk;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl).replace(ANSI, '');
        this.partial = this.partial.slice(nl + 1);
        this.lines.push(displayed(line));
      }
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.notify();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves with the first line matching `re` (already seen or still to come). Rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs = 15_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.lines.find((l) => re.test(l));
        if (hit !== undefined) return done(() => resolve(hit));
        if (this.exitInfo) {
          return done(() => reject(new Error(`fake vllm exited (${JSON.stringify(this.exitInfo)}) before ${re}; last lines:\n${this.lines.slice(-15).join('\n')}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timeout waiting for ${re}; last lines:\n${this.lines.slice(-15).join('\n')}`))), timeoutMs);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        fn();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Waits for exit (bounded). */
  async exit(timeoutMs = 15_000): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`fake vllm did not exit within ${timeoutMs} ms; last lines:\n${this.lines.slice(-10).join('\n')}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }

  /** SIGKILL the whole process group (the server and any EngineCore/worker left). */
  killGroup(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* group already gone */
    }
  }

  /** pids printed in `(Worker_TP3 pid=N)` prefixes. */
  workerPids(): number[] {
    const pids = new Set<number>();
    for (const l of this.lines) {
      const m = /^\((?:Worker\w*|EngineCore_DP\d+) pid=(\d+)\)/.exec(l);
      if (m) pids.add(Number(m[1]));
    }
    return [...pids];
  }

  /** Best-effort full cleanup for afterEach: kill the group, remove the temp GPU dir. */
  async dispose(): Promise<void> {
    this.killGroup();
    for (const pid of this.workerPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (!this.exitInfo) await this.exit(5000).catch(() => undefined);
    fs.rmSync(this.gpuDir, { recursive: true, force: true });
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A port that was free a moment ago (listen on 0, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** One HTTP request to 127.0.0.1:port; rejects on connection errors (refused, reset). */
export function httpRequest(
  port: number,
  urlPath: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method: opts.method ?? 'GET', headers: opts.headers, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(opts.body);
  });
}

/** Resolves when nothing accepts connections on the port any more (bounded polling of a TCP connect). */
export async function portClosed(port: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (!open) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
