// Starts a throw-away code-server (VS Code 1.139.1 with a real Node extension host) for integration and e2e tests.
// Facts behind every flag: docs/testing-in-real-vscode.md. Each server gets a fresh state dir (profile, extensions,
// config, log) under os.tmpdir(), a free port on 127.0.0.1, and Node 24 first on PATH (code-server's extension
// host does not start on Node 20). stop() kills the whole process group and removes the state dir; servers still
// running when this process exits (test failure, exception, Ctrl-C) are killed synchronously by an exit hook.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The repository root (this file compiles to out/test/harness/codeServer.js). */
export const REPO_ROOT: string = path.resolve(__dirname, '..', '..', '..');

export interface TestVscodePaths {
  root: string;
  node24Pkg: string;
  node24Bin: string;
  codeServerDir: string;
  codeServerBin: string;
  marker: string;
}

interface TestVscodeModule {
  paths(): TestVscodePaths;
  isInstalled(): boolean;
  ensureInstalled(log?: (m: string) => void): TestVscodePaths;
  CODE_SERVER_VERSION: string;
}

let testVscodeModule: Promise<TestVscodeModule> | undefined;
function loadTestVscode(): Promise<TestVscodeModule> {
  // module "node16" keeps a dynamic import() of a non-literal specifier as a real import() in CJS output,
  // which is how CommonJS loads the ESM scripts/lib/testVscode.mjs.
  const url = pathToFileURL(path.join(REPO_ROOT, 'scripts', 'lib', 'testVscode.mjs')).href;
  testVscodeModule ??= import(url) as Promise<TestVscodeModule>;
  return testVscodeModule;
}

/** Installs Node 24 + code-server into the cache if needed (about 2.5 min the first time; instant afterwards). */
export async function ensureTestVscode(): Promise<TestVscodePaths> {
  const mod = await loadTestVscode();
  if (!mod.isInstalled()) {
    process.stderr.write(`[harness] the test VS Code (code-server ${mod.CODE_SERVER_VERSION}) is not installed yet; installing (about 2.5 minutes)…\n`);
  }
  return mod.ensureInstalled((m) => process.stderr.write(m + '\n'));
}

export interface StartCodeServerOptions {
  /** Folder the workbench will open (only used as the server's cwd here; the browser URL selects the folder). */
  workspace: string;
  /** Not a server option (code-server ignores it there); recorded so callers can build the payload URL. */
  extensionDevelopmentPath?: string;
  /** Merged over the quiet default User/settings.json. */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server and therefore for the extension host. */
  env?: Record<string, string>;
  /** How long to wait for GET /healthz (default 60 s). */
  startTimeoutMs?: number;
  /** Leave Workspace Trust on (no --disable-workspace-trust): with the quiet settings (no start-up prompt) the folder
   *  opens in Restricted Mode. Default false: every folder is trusted. */
  workspaceTrust?: boolean;
}

export interface CodeServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Fresh per run; removed by stop(). Holds user/, exts/, config.yaml and code-server.log. */
  stateDir: string;
  pid: number;
  workspace: string;
  extensionDevelopmentPath?: string;
  /** code-server's stdout+stderr (inside stateDir, so read it before stop()). */
  logFile: string;
  /** The last `lines` lines of code-server's log ('' once stopped). */
  logTail(lines?: number): string;
  /** Kills the process group (SIGTERM, then SIGKILL after 5 s) and removes the state dir. Idempotent. */
  stop(): Promise<void>;
}

export const QUIET_SETTINGS: Readonly<Record<string, unknown>> = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'workbench.enableExperiments': false,
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'chat.disableAIFeatures': true,
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.openRepositoryInParentFolders': 'never',
};

// ---- process-exit safety net ---------------------------------------------------------------------------------

interface Live {
  pid: number;
  stateDir: string;
}
const live = new Set<Live>();
/** Temp dirs (workspaces) to remove if the process exits before their owner does. */
const tempDirs = new Set<string>();
let hooksInstalled = false;

function killGroupSync(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function killAllSync(): void {
  for (const s of live) {
    killGroupSync(s.pid, 'SIGKILL');
    try {
      fs.rmSync(s.stateDir, { recursive: true, force: true });
    } catch {
      /* best effort at exit */
    }
  }
  live.clear();
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort at exit */
    }
  }
  tempDirs.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync();
      // Keep the conventional exit status unless someone else (mocha, playwright) handles the signal too.
      if (process.listenerCount(sig) === 0) process.exit(128 + (os.constants.signals[sig] ?? 1));
    });
  }
}

// ---- helpers ---------------------------------------------------------------------------------------------------

/** A free TCP port on 127.0.0.1 (the OS picks it; tiny race until code-server binds it, retried by the caller). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

function httpOk(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function tail(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return cond();
}

/** Environment for code-server: ours minus anything that would make it reuse another instance or change auth. */
function serverEnv(node24Bin: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VSCODE_|CODE_SERVER_|CS_|ELECTRON_)/.test(k)) continue;
    if (['PASSWORD', 'HASHED_PASSWORD', 'GITHUB_TOKEN', 'PORT', 'NODE_OPTIONS', 'KIMI_TEST_COUNTS'].includes(k)) continue;
    env[k] = v;
  }
  Object.assign(env, extra ?? {});
  env.PATH = `${node24Bin}${path.delimiter}${env.PATH ?? ''}`;
  return env;
}

// ---- the server ------------------------------------------------------------------------------------------------

export async function startCodeServer(opts: StartCodeServerOptions): Promise<CodeServer> {
  const p = await ensureTestVscode();
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(p, opts);
    } catch (e) {
      lastError = e as Error;
      // Only a lost race for the port is worth another try.
      if (!/EADDRINUSE/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error('code-server did not start');
}

async function startOnce(p: TestVscodePaths, opts: StartCodeServerOptions): Promise<CodeServer> {
  installExitHooks();
  const port = await freePort();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-code-server-'));
  const userDir = path.join(stateDir, 'user');
  const extsDir = path.join(stateDir, 'exts');
  const configFile = path.join(stateDir, 'config.yaml');
  const logFile = path.join(stateDir, 'code-server.log');
  fs.mkdirSync(path.join(userDir, 'User'), { recursive: true });
  fs.mkdirSync(extsDir, { recursive: true });
  fs.writeFileSync(
    path.join(userDir, 'User', 'settings.json'),
    JSON.stringify({
      ...QUIET_SETTINGS,
      // Trust on, never asked at start-up: the folder opens in Restricted Mode.
      ...(opts.workspaceTrust ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always' } : {}),
      ...(opts.settings ?? {}),
    }, null, 2),
  );
  // The workbench is always a *remote* window under code-server, and a remote window ignores "machine"-scoped
  // settings from User settings ("cannot be applied in this window"); it reads them from the remote's
  // Machine/settings.json. So the caller's settings go there too.
  if (opts.settings && Object.keys(opts.settings).length) {
    fs.mkdirSync(path.join(userDir, 'Machine'), { recursive: true });
    fs.writeFileSync(path.join(userDir, 'Machine', 'settings.json'), JSON.stringify(opts.settings, null, 2));
  }
  // Our own config file, so a ~/.config/code-server/config.yaml (password, cert, …) never leaks in.
  fs.writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);

  const args = [
    p.codeServerBin,
    '--config', configFile,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    ...(opts.workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--ignore-last-opened',
    '--user-data-dir', userDir,
    '--extensions-dir', extsDir,
    '--vscode-option', 'enable-smoke-test-driver',
    '--reconnection-grace-time', '1',
  ];
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(path.join(p.node24Bin, 'node'), args, {
    cwd: fs.existsSync(opts.workspace) ? opts.workspace : stateDir,
    env: serverEnv(p.node24Bin, opts.env),
    stdio: ['ignore', logFd, logFd],
    detached: true, // its own process group, so stop() can take the extension host and its children with it
  });
  fs.closeSync(logFd);
  if (child.pid === undefined) {
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw new Error(`could not spawn code-server (${path.join(p.node24Bin, 'node')} ${p.codeServerBin})`);
  }
  const pid = child.pid;
  const entry: Live = { pid, stateDir };
  live.add(entry);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}`;
  });
  child.once('error', (e) => {
    exited = `failed: ${e.message}`;
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      killGroupSync(pid, 'SIGTERM');
      if (!(await waitFor(() => !isAlive(pid), 5000))) {
        killGroupSync(pid, 'SIGKILL');
        await waitFor(() => !isAlive(pid), 3000);
      }
      live.delete(entry);
      if (process.env.KIMI_TEST_KEEP_STATE) {
        process.stderr.write(`[harness] kept code-server state (KIMI_TEST_KEEP_STATE): ${stateDir}\n`);
      } else {
        fs.rmSync(stateDir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
      }
    })();
    return stopped;
  };

  const url = `http://127.0.0.1:${port}`;
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let healthy = false;
  while (Date.now() < deadline && !exited) {
    if (await httpOk(`${url}/healthz`, 1000)) {
      healthy = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!healthy) {
    const why = exited ? `code-server ${exited} before answering` : `code-server did not answer GET /healthz within ${timeoutMs} ms`;
    const logText = tail(logFile, 40);
    await stop();
    throw new Error(`${why} (port ${port}). Last lines of its log:\n${logText || '(empty)'}`);
  }

  return {
    url,
    port,
    stateDir,
    pid,
    workspace: opts.workspace,
    extensionDevelopmentPath: opts.extensionDevelopmentPath,
    logFile,
    logTail: (lines = 40) => tail(logFile, lines),
    stop,
  };
}

/**
 * Copies test/fixtures/<fixture> (default: the sample workspace) to <fresh temp dir>/sample-workspace (a stable
 * folder name keeps screenshots comparable) and returns that path. Remove it with removeTempWorkspace().
 */
export function createTempWorkspace(fixture = 'workspace'): string {
  const src = path.join(REPO_ROOT, 'test', 'fixtures', fixture);
  if (!fs.existsSync(src)) throw new Error(`fixture workspace missing: ${src}`);
  const parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-test-workspace-')));
  installExitHooks();
  tempDirs.add(parent);
  const dir = path.join(parent, 'sample-workspace');
  fs.cpSync(src, dir, { recursive: true });
  return dir;
}

/** Removes a workspace made by createTempWorkspace() (and its temp parent). */
export function removeTempWorkspace(dir: string): void {
  const parent = path.dirname(dir);
  const ours = path.basename(parent).startsWith('kimi-test-workspace-') && path.dirname(parent) === fs.realpathSync(os.tmpdir());
  fs.rmSync(ours ? parent : dir, { recursive: true, force: true });
  tempDirs.delete(parent);
}
