// Helpers for the tool-calling tests: a temporary workspace next to an "outside" folder holding sentinel files,
// file-system instrumentation (which paths were opened, read or listed), and the loop run against the emulator.
// Not a test file itself.
import * as fs from 'node:fs';
import realFs = require('node:fs');
import * as os from 'node:os';
import * as path from 'node:path';
import type { RequestMessage } from '../../../src/core/chat/types';
import { NodeWorkspace, type NodeWorkspaceOptions } from '../../../src/core/tools/nodeWorkspace';
import { createToolRegistry, type ToolRegistry } from '../../../src/core/tools/registry';
import { runToolLoop, type ToolLoopEvent, type ToolLoopOptions, type ToolLoopResult } from '../../../src/core/tools/toolLoop';
import type { EmulatorServerHandle } from '../../emulator/server';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = any;

export const SENTINEL = 'SENTINEL-OUTSIDE-7f3a9c';
export const ENV_SENTINEL = 'SENTINEL-DOTENV-51be02';

export interface Sandbox {
  /** The workspace root (real path). */
  ws: string;
  /** A folder next to it that must never be read. */
  outside: string;
  cleanup(): void;
}

/** ws/ with a few files, a .gitignore, a .env, symlinks that lead outside (to a folder, a file, nowhere), and
 *  outside/ with sentinel files. */
export function makeSandbox(): Sandbox {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-tools-')));
  const ws = path.join(base, 'ws');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(ws, 'src', 'lib'), { recursive: true });
  fs.mkdirSync(path.join(ws, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(ws, 'build'), { recursive: true });
  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret.txt'), `${SENTINEL}\n`);
  fs.writeFileSync(path.join(outside, 'notes.md'), `# outside ${SENTINEL}\n`);
  fs.writeFileSync(path.join(ws, 'README.md'), '# Demo project\n\nA small workspace for the tool tests.\n');
  fs.writeFileSync(path.join(ws, 'package.json'), '{ "name": "demo", "version": "1.0.0" }\n');
  fs.writeFileSync(path.join(ws, 'src', 'index.ts'), "import { add } from './lib/math';\n\nexport function main(): number {\n  return add(2, 3);\n}\n");
  fs.writeFileSync(path.join(ws, 'src', 'lib', 'math.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n');
  fs.writeFileSync(path.join(ws, 'docs', 'guide.md'), '# Guide\n\nCall add() to add numbers.\n');
  fs.writeFileSync(path.join(ws, '.gitignore'), 'build/\n*.log\n');
  fs.writeFileSync(path.join(ws, 'build', 'out.js'), 'console.log("built add");\n');
  fs.writeFileSync(path.join(ws, 'debug.log'), 'add called\n');
  fs.writeFileSync(path.join(ws, '.env'), `API_KEY=${ENV_SENTINEL}\n`);
  fs.symlinkSync(outside, path.join(ws, 'link-dir'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(ws, 'link-file'));
  fs.symlinkSync(path.join(outside, 'missing.txt'), path.join(ws, 'dangling'));
  fs.symlinkSync(path.join(ws, 'src', 'lib', 'math.ts'), path.join(ws, 'math-link.ts'));
  return { ws, outside, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Records every path the process opens, reads or lists through node:fs while `fn` runs. */
export async function recordFsAccess<T>(fn: () => Promise<T>): Promise<{ value: T; paths: string[] }> {
  const paths: string[] = [];
  // The module object itself (an `import * as` namespace only has getters).
  const p = realFs.promises as Json;
  const f = realFs as Json;
  const patched: [Json, string, Json][] = [];
  const wrap = (obj: Json, name: string) => {
    const orig = obj[name];
    patched.push([obj, name, orig]);
    obj[name] = function (this: unknown, target: unknown, ...rest: unknown[]) {
      if (typeof target === 'string') paths.push(target);
      else if (target instanceof URL) paths.push(target.pathname);
      return orig.call(this, target, ...rest);
    };
  };
  for (const n of ['open', 'readFile', 'readdir', 'opendir']) wrap(p, n);
  for (const n of ['openSync', 'readFileSync', 'readdirSync', 'opendirSync', 'createReadStream']) wrap(f, n);
  try {
    const value = await fn();
    return { value, paths };
  } finally {
    for (const [obj, name, orig] of patched.reverse()) obj[name] = orig;
  }
}

export interface LoopRun {
  result: ToolLoopResult;
  events: ToolLoopEvent[];
  /** The chat-completion request bodies the emulator received, in order. */
  bodies: Json[];
}

/** Run the tool loop against the emulator (with a NodeWorkspace over `ws` unless a port is given). */
export async function runLoop(
  h: EmulatorServerHandle,
  prompt: string,
  opts: Partial<ToolLoopOptions> & { ws?: string; workspace?: Partial<NodeWorkspaceOptions>; registry?: ToolRegistry; messages?: RequestMessage[] } = {},
): Promise<LoopRun> {
  const events: ToolLoopEvent[] = [];
  const port = opts.port ?? (opts.ws ? new NodeWorkspace({ roots: [opts.ws], ...opts.workspace }) : undefined);
  const registry = opts.registry ?? createToolRegistry({ workspace: port !== undefined, demo: port === undefined });
  const before = h.requests.length;
  const result = await runToolLoop({
    chat: { baseUrl: `${h.url}/v1`, model: h.config.servedModelName, mode: 'thinking' },
    messages: opts.messages ?? [{ role: 'user', content: prompt }],
    registry,
    ...(port ? { port } : {}),
    ...(opts.maxRounds !== undefined ? { maxRounds: opts.maxRounds } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.vllmVersion ? { vllmVersion: opts.vllmVersion } : {}),
    onEvent: (e) => {
      events.push(e);
      opts.onEvent?.(e);
    },
  });
  const bodies = h.requests.slice(before).filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as Json);
  return { result, events, bodies };
}

/** The statuses one call went through, in order. */
export function statusesOf(events: ToolLoopEvent[], id: string): string[] {
  return events.flatMap((e) => (e.kind === 'toolCall' && e.call.id === id ? [e.call.status] : []));
}
