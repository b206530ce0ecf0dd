// Runs one of the fake tools (test/emulator/bin/*) as a real child process and collects what it printed.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';

export interface ToolResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export const binDir = path.join(repoRoot, 'test', 'emulator', 'bin');

/** The caller's environment without anything that configures the fakes (or the real modelscope), plus `env`. */
export function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(KIMI_FAKE_|MODELSCOPE_|PYTHONUNBUFFERED$|COLUMNS$|LINES$|DEFAULT_MAX_WORKERS$)/.test(k)) base[k] = v;
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Called with the stderr received so far after every chunk (e.g. to send a signal at the right moment). */
  onStderr?: (soFar: string, child: ChildProcess) => void;
  /** Kill the child and fail if it runs longer than this. Default 15 s. */
  timeoutMs?: number;
}

export function runTool(tool: 'nvidia-smi' | 'modelscope', args: string[], opts: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binDir, tool), args, { env: cleanEnv(opts.env ?? {}), cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onStderr?.(stderr, child);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${tool} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 15000} ms; stderr so far:\n${stderr.slice(-2000)}`));
    }, opts.timeoutMs ?? 15000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close' (not 'exit') so every byte of both pipes has been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
