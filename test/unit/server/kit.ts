// Helpers shared by the server-layer tests: waiting on conditions, hostile values, and tiny stand-ins for the
// programs a command reaches (an argv-recording `vllm`, a `conda` that records its -n, a venv activate script).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quote } from '../../../src/core/server/shellQuote';
import { repoRoot } from '../../support/paths';

export const emulatorBin = path.join(repoRoot, 'test', 'emulator', 'bin');

/** Polls `cond` until it returns a truthy value (returned) or the deadline passes (throws, with `what`). */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, timeoutMs = 15_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `kimi-${label}-`));
}

/**
 * A value that runs `touch <sentinel>` in every way a shell could be tricked into it — command substitution,
 * backticks, `;`, `|`, `&&`, a newline, a broken-out single quote — plus spaces, double quotes, backslashes, globs,
 * `$VAR`, `!` and non-ASCII. If anything of it executes, a file `<sentinelDir>/<tag>-N` appears.
 */
export function hostile(sentinelDir: string, tag: string): string {
  const s = (n: number) => path.join(sentinelDir, `${tag}-${n}`);
  return [
    `x $(touch ${s(1)})`,
    `\`touch ${s(2)}\``,
    `; touch ${s(3)};`,
    `| touch ${s(4)}`,
    `&& touch ${s(5)}`,
    `\ntouch ${s(6)}\n`,
    `'; touch ${s(7)}; '`,
    `"$(touch ${s(8)})"`,
    `\\' \\" \\\\ * ? [a] $HOME \${IFS} !! %s ü 模型 ✓`,
  ].join(' ');
}

export function sentinels(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

/** `~` and `~/x` as the target shell expands them (the only expansion the command builder allows). */
export function expandTilde(arg: string, home: string): string {
  if (arg === '~') return home;
  return arg.startsWith('~/') ? `${home}/${arg.slice(2)}` : arg;
}

export interface Recorders {
  /** Put first on PATH: holds `vllm` (argv recorder) and `conda`. */
  binDir: string;
  /** What the recorder `vllm` saw: argv (without argv[0]) and its environment. */
  readVllm(): { argv: string[]; env: Record<string, string> } | null;
  /** The -n value the fake conda got. */
  readCondaName(): string | null;
  /** Creates a venv at `dir` (any characters) whose bin/activate puts binDir on PATH and sets KIMI_VENV_ACTIVE=1. */
  makeVenv(dir: string): void;
}

/** Recorders in `dir`. Shared filesystem: they work for local runs and on the SSH test hosts alike. */
export function makeRecorders(dir: string): Recorders {
  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  const vllmOut = path.join(dir, 'vllm-argv.json');
  const condaOut = path.join(dir, 'conda-name.txt');
  fs.writeFileSync(
    path.join(binDir, 'vllm'),
    `#!/usr/bin/env node\nrequire('fs').writeFileSync(${JSON.stringify(vllmOut)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env }));\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(binDir, 'conda'),
    [
      '#!/bin/sh',
      '# Stand-in for `conda run --no-capture-output -n NAME CMD…`: records NAME, runs CMD.',
      '[ "$1" = run ] || { echo "fake conda: only run" >&2; exit 2; }; shift',
      '[ "$1" = --no-capture-output ] && shift',
      '[ "$1" = -n ] || { echo "fake conda: -n expected, got $1" >&2; exit 2; }',
      `printf '%s' "$2" > ${quote(condaOut)}; shift 2`,
      'exec "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return {
    binDir,
    readVllm: () => (fs.existsSync(vllmOut) ? (JSON.parse(fs.readFileSync(vllmOut, 'utf8')) as { argv: string[]; env: Record<string, string> }) : null),
    readCondaName: () => (fs.existsSync(condaOut) ? fs.readFileSync(condaOut, 'utf8') : null),
    makeVenv: (venv: string) => {
      fs.mkdirSync(path.join(venv, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(venv, 'bin', 'activate'), `PATH=${quote(binDir)}:$PATH\nexport PATH\nKIMI_VENV_ACTIVE=1\nexport KIMI_VENV_ACTIVE\n`);
    },
  };
}

/** Processes (not zombies) whose process group is `pgid`, from this machine's process table. */
export function groupMembers(pgid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=', '-o', 'pgid=', '-o', 'stat='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && Number(f[1]) === pgid && !/^[ZX]/.test(f[2]!))
    .map((f) => Number(f[0]));
}

/** Exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The command line of a process ('' when it is gone or a zombie). */
export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
