// The activation probe `npm run bench` loads as "extensionTestsPath" inside code-server's REAL extension host
// (VS Code 1.139.1, Node 24). Not mocha, not a test: it measures, writes JSON to $KIMI_BENCH_RESULT and resolves
// (VS Code then reports exit 0 to the harness) or rejects (exit 1, with the error in the JSON too).
//
// KIMI_BENCH_MODE=ab (default) — the extension under development is the baseline (test/bench/baseline). The probe
//   waits until VS Code has activated it (onStartupFinished), takes its REAL ExtensionContext, then for each bundle
//   of $KIMI_BENCH_BUNDLES (JSON [{name, file}], measured in that order):
//     1. copies the bundle to a fresh directory inside the baseline's extension folder (so Node's module cache
//        cannot help, and VS Code's `require('vscode')` interceptor maps it to an extension whose API object
//        already exists — the same object for both bundles),
//     2. times require() (read + compile + evaluation of the whole bundle) and activate(context') where
//        context' is the real context with its own empty `subscriptions` (so both register real commands,
//        status bar items, webview view providers through the real API),
//     3. disposes what activate registered, calls deactivate(), deletes the copy.
// KIMI_BENCH_MODE=insitu — the extension under development is kimi-vllm itself (the unpacked .vsix): wait until VS Code has activated
//   it (onStartupFinished), read its own `exports.activationMs` and VS Code's performance marks around loading and
//   activating it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const BASELINE_ID = 'kimi-bench.bench-baseline';
const KIMI_ID = 'kimi-selfhosted.kimi-vllm';
const ACTIVATION_DEADLINE_MS = 30_000;

interface BundleSpec {
  name: string;
  file: string;
}

export interface BundleMeasure {
  name: string;
  bytes: number;
  /** require(): read + compile + top-level evaluation of the whole bundle. */
  loadMs: number;
  /** activate(context') until it returned (or its promise settled). */
  activateMs: number;
  totalMs: number;
  /** What activate() registered in context'.subscriptions. */
  subscriptions: number;
  /** The bundle's own figure, when activate() returns `{ activationMs }` (kimi-vllm does). */
  ownActivationMs?: number;
  /** kimi-vllm's dist/features.js: its size, whether activate() loaded it, and else what require() of it costs on
   *  first use (measured right after activation). */
  features?: { bytes: number; loadedDuringActivation: boolean; firstUseMs?: number };
}

export interface HostInfo {
  node: string;
  vscode: string;
  appName: string;
  /** Node's on-disk compile cache directory when the extension host enabled it (then repeated loads are cheaper). */
  compileCacheDir?: string;
}

export type ProbeResult =
  | { ok: true; mode: 'ab'; host: HostInfo; measures: BundleMeasure[] }
  | ({ ok: true; mode: 'insitu'; host: HostInfo } & InSitu)
  | { ok: false; mode: string; host: HostInfo; error: string };

/** VS Code's own activation of kimi-vllm, from its extension-host performance marks (Date.now(): 1 ms resolution). */
export interface InSitu {
  /** The extension's own figure: its first statement (after the bundle's imports ran) to the end of activate(). */
  activationMs: number;
  /** require() of dist/extension.js (code/extHost/willLoadExtensionCode → didLoadExtensionCode). */
  vscodeLoadMs?: number;
  /** From the end of require() to the activate() call: VS Code waiting for the ExtensionContext (storage). */
  vscodeContextWaitMs?: number;
  /** activate() (code/extHost/willActivateExtension → didActivateExtension). */
  vscodeActivateMs?: number;
}

interface BaselineApi {
  readonly context: vscode.ExtensionContext;
}

interface LoadedBundle {
  activate?: (context: vscode.ExtensionContext) => unknown;
  deactivate?: () => unknown;
}

function log(message: string): void {
  console.log(`[bench] ${message}`);
}

function hostInfo(): HostInfo {
  // getCompileCacheDir exists from Node 22.8; @types/node here is 20's.
  const mod = require('node:module') as { getCompileCacheDir?: () => string | undefined };
  const compileCacheDir = mod.getCompileCacheDir?.();
  return {
    node: process.version,
    vscode: vscode.version,
    appName: vscode.env.appName,
    ...(compileCacheDir ? { compileCacheDir } : {}),
  };
}

function withDeadline<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function disposeAll(list: { dispose(): unknown }[]): void {
  for (const d of list.splice(0).reverse()) {
    try {
      d.dispose();
    } catch (e) {
      log(`dispose failed: ${(e as Error).message}`);
    }
  }
}

function parseBundles(): BundleSpec[] {
  const raw = process.env.KIMI_BENCH_BUNDLES;
  if (!raw) throw new Error('KIMI_BENCH_BUNDLES is not set (JSON [{name, file}])');
  const list = JSON.parse(raw) as unknown;
  if (!Array.isArray(list) || list.length === 0) throw new Error(`KIMI_BENCH_BUNDLES must be a non-empty array: ${raw}`);
  return list.map((b: { name?: unknown; file?: unknown }) => {
    if (typeof b.name !== 'string' || typeof b.file !== 'string' || !path.isAbsolute(b.file)) {
      throw new Error(`bad bundle entry ${JSON.stringify(b)}: want {name, file: absolute path}`);
    }
    if (!fs.existsSync(b.file)) throw new Error(`bundle ${b.name} not found: ${b.file}`);
    return { name: b.name, file: b.file };
  });
}

async function measure(spec: BundleSpec, real: vscode.ExtensionContext, copyRoot: string): Promise<BundleMeasure> {
  const dir = fs.mkdtempSync(path.join(copyRoot, `${spec.name}-`));
  const copy = path.join(dir, 'extension.js');
  fs.copyFileSync(spec.file, copy);
  const bytes = fs.statSync(copy).size;
  // kimi-vllm's second bundle (loaded on first use by src/vscode/lazy.ts) travels with it, as in the VSIX.
  const featuresSrc = path.join(path.dirname(spec.file), 'features.js');
  const featuresCopy = path.join(dir, 'features.js');
  const hasFeatures = spec.name !== 'baseline' && fs.existsSync(featuresSrc);
  if (hasFeatures) fs.copyFileSync(featuresSrc, featuresCopy);
  const subscriptions: { dispose(): unknown }[] = [];
  // A shallow wrapper: everything (globalState, secrets, extensionUri, …) comes from the real context through the
  // prototype chain (VS Code's getters are closures, not `this`-based); only `subscriptions` is our own.
  const context = Object.create(real, {
    subscriptions: { value: subscriptions, enumerable: true },
  }) as vscode.ExtensionContext;
  let mod: LoadedBundle | undefined;
  try {
    const t0 = performance.now();
    mod = require(copy) as LoadedBundle;
    const t1 = performance.now();
    if (typeof mod.activate !== 'function') throw new Error(`${spec.name}: the bundle exports no activate()`);
    let ret = mod.activate(context);
    if (isThenable(ret)) ret = await withDeadline(ret, ACTIVATION_DEADLINE_MS, `${spec.name} activate()`);
    const t2 = performance.now();
    const own = (ret as { activationMs?: unknown } | undefined)?.activationMs;
    // Whether activate() itself loaded the second bundle (then its cost is inside activateMs); if not, what loading
    // it costs the first time the user starts a server, opens the chat or asks for an explanation.
    let features: BundleMeasure['features'];
    if (hasFeatures) {
      const duringActivation = require.cache[featuresCopy] !== undefined;
      let firstUseMs: number | undefined;
      if (!duringActivation) {
        const t3 = performance.now();
        require(featuresCopy);
        firstUseMs = performance.now() - t3;
      }
      features = { bytes: fs.statSync(featuresCopy).size, loadedDuringActivation: duringActivation, ...(firstUseMs !== undefined ? { firstUseMs } : {}) };
    }
    const m: BundleMeasure = {
      name: spec.name,
      bytes,
      loadMs: t1 - t0,
      activateMs: t2 - t1,
      totalMs: t2 - t0,
      subscriptions: subscriptions.length,
      ...(typeof own === 'number' ? { ownActivationMs: own } : {}),
      ...(features ? { features } : {}),
    };
    log(`${spec.name}: load ${m.loadMs.toFixed(2)} ms, activate ${m.activateMs.toFixed(2)} ms, ${m.subscriptions} subscriptions`);
    return m;
  } finally {
    disposeAll(subscriptions);
    try {
      await mod?.deactivate?.();
    } catch (e) {
      log(`${spec.name}: deactivate failed: ${(e as Error).message}`);
    }
    delete require.cache[copy];
    delete require.cache[featuresCopy];
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits for VS Code's own activation (onStartupFinished): a condition with a deadline, polled. */
async function waitActive(ext: vscode.Extension<unknown>): Promise<void> {
  const deadline = Date.now() + ACTIVATION_DEADLINE_MS;
  while (!ext.isActive && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (!ext.isActive) throw new Error(`VS Code did not activate ${ext.id} (onStartupFinished) within ${ACTIVATION_DEADLINE_MS} ms`);
}

async function runAb(): Promise<BundleMeasure[]> {
  const bundles = parseBundles();
  const ext = vscode.extensions.getExtension<BaselineApi>(BASELINE_ID);
  if (!ext) throw new Error(`${BASELINE_ID} is not loaded: extensionDevelopmentPath must be out/bench/baseline`);
  // The baseline activates on onStartupFinished, like kimi-vllm: once it is active the workbench has finished
  // starting up (and the other start-up activations have run), so both bundles are measured on a settled host.
  await waitActive(ext);
  const real = ext.exports?.context;
  if (!real?.extensionPath) throw new Error(`${BASELINE_ID} did not return its ExtensionContext`);
  // Give back what VS Code's own activation of the baseline registered, so the measured copy of the baseline can
  // register the same command id again (VS Code refuses duplicates).
  disposeAll(real.subscriptions);
  const copyRoot = path.join(real.extensionPath, 'copies');
  fs.mkdirSync(copyRoot, { recursive: true });
  try {
    const measures: BundleMeasure[] = [];
    for (const b of bundles) measures.push(await measure(b, real, copyRoot));
    return measures;
  } finally {
    fs.rmSync(copyRoot, { recursive: true, force: true });
  }
}

interface PerfMark {
  name: string;
  startTime: number;
}

/** VS Code's performance marks of the extension host (vs/base/common/performance keeps them on globalThis). */
function extHostMarks(): PerfMark[] {
  const pm = (globalThis as { MonacoPerformanceMarks?: { getMarks?: () => PerfMark[] } }).MonacoPerformanceMarks;
  try {
    return pm?.getMarks?.() ?? [];
  } catch {
    return [];
  }
}

async function runInSitu(): Promise<InSitu> {
  const ext = vscode.extensions.getExtension<{ activationMs?: unknown }>(KIMI_ID);
  if (!ext) throw new Error(`${KIMI_ID} is not loaded: extensionDevelopmentPath must be kimi-vllm (the unpacked .vsix or the repo root)`);
  await waitActive(ext);
  const activationMs = ext.exports?.activationMs;
  if (typeof activationMs !== 'number') throw new Error(`${KIMI_ID} exports no numeric activationMs: ${JSON.stringify(ext.exports)}`);
  const marks = extHostMarks();
  const at = (what: string): number | undefined => marks.find((m) => m.name === `code/extHost/${what}/${KIMI_ID}`)?.startTime;
  const span = (from: string, to: string): number | undefined => {
    const a = at(from);
    const b = at(to);
    return a !== undefined && b !== undefined ? b - a : undefined;
  };
  const r: InSitu = { activationMs };
  const load = span('willLoadExtensionCode', 'didLoadExtensionCode');
  const wait = span('didLoadExtensionCode', 'willActivateExtension');
  const act = span('willActivateExtension', 'didActivateExtension');
  if (load !== undefined) r.vscodeLoadMs = load;
  if (wait !== undefined) r.vscodeContextWaitMs = wait;
  if (act !== undefined) r.vscodeActivateMs = act;
  log(`in situ: ${JSON.stringify(r)}`);
  return r;
}

export async function run(): Promise<void> {
  const out = process.env.KIMI_BENCH_RESULT;
  if (!out) throw new Error('KIMI_BENCH_RESULT is not set (the JSON file the probe writes)');
  const mode = process.env.KIMI_BENCH_MODE || 'ab';
  const host = hostInfo();
  let result: ProbeResult;
  try {
    if (mode === 'ab') result = { ok: true, mode, host, measures: await runAb() };
    else if (mode === 'insitu') result = { ok: true, mode, host, ...(await runInSitu()) };
    else throw new Error(`unknown KIMI_BENCH_MODE ${mode}`);
  } catch (e) {
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    fs.writeFileSync(out, JSON.stringify({ ok: false, mode, host, error } satisfies ProbeResult));
    throw e;
  }
  fs.writeFileSync(out, JSON.stringify(result));
}
