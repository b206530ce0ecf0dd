// kimi-vllm (dist/cli.js, built by `node esbuild.mjs`) as a real process, for the tests that drive the CLI.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from './paths';

export const CLI = path.join(repoRoot, 'dist', 'cli.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Over this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Killed (and the promise rejected, with its stderr) when it has not finished by then. */
  timeoutMs: number;
}

/** Runs `kimi-vllm …args` to its end and resolves with its exit code and output. */
export function runCli(args: string[], opts: CliOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kimi-vllm ${args.join(' ')} did not finish in ${opts.timeoutMs} ms; stderr: ${stderr}`));
    }, opts.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
