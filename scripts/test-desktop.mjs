#!/usr/bin/env node
// `npm run test:desktop`: the SAME integration suite (out/test/integration) inside VS Code desktop, via
// @vscode/test-electron. For developer machines with internet access: it downloads VS Code (into .vscode-test/).
// Machines without it (CI boxes like ours) use `npm run test:integration`, which runs the suite in code-server.
//
//   node scripts/test-desktop.mjs [--grep PATTERN]
//   KIMI_VSCODE_VERSION=stable node scripts/test-desktop.mjs     (default 1.139.1, the version code-server bundles)
//
// On Linux without a display, run it under `xvfb-run -a`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const grepIdx = args.indexOf('--grep');
const grep = grepIdx >= 0 ? args[grepIdx + 1] : undefined;
const version = process.env.KIMI_VSCODE_VERSION || '1.139.1';

function step(name, cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\n${name} failed`);
    process.exit(1);
  }
}

step('build', 'node', ['esbuild.mjs']);
step('build:test', 'npx', ['tsc', '-p', 'tsconfig.test.json']);

let vscodeExecutablePath;
try {
  vscodeExecutablePath = await downloadAndUnzipVSCode({ version, cachePath: path.join(root, '.vscode-test'), timeout: 60_000 });
} catch (e) {
  console.error(
    `\n[test:desktop] could not download VS Code ${version}: ${e?.message ?? e}\n` +
      '  @vscode/test-electron needs internet access to update.code.visualstudio.com.\n' +
      '  Without it, run the same suite in a real VS Code extension host via code-server: npm run test:integration\n',
  );
  process.exit(1);
}

const workspaceParent = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-test-workspace-'));
const workspace = path.join(workspaceParent, 'sample-workspace');
fs.cpSync(path.join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-vscode-desktop-'));
const countsFile = path.join(os.tmpdir(), `kimi-test-counts-desktop-${process.pid}.json`);
fs.rmSync(countsFile, { force: true });

let status = 1;
try {
  status = await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out', 'test', 'integration', 'index.js'),
    launchArgs: [
      workspace,
      '--disable-extensions',
      '--disable-workspace-trust',
      '--skip-welcome',
      '--skip-release-notes',
      '--user-data-dir',
      userDataDir,
    ],
    extensionTestsEnv: {
      KIMI_TEST_COUNTS: countsFile,
      KIMI_TEST_WORKSPACE: workspace,
      KIMI_REPO_ROOT: root,
      ...(grep ? { KIMI_TEST_GREP: grep } : {}),
    },
  });
} catch (e) {
  // runTests rejects (TestRunFailedError) when VS Code exits non-zero.
  console.error(`\n[test:desktop] ${e?.message ?? e}`);
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    console.error('[test:desktop] no display: on Linux run it as `xvfb-run -a npm run test:desktop`');
  }
  status = 1;
} finally {
  fs.rmSync(workspaceParent, { recursive: true, force: true });
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

let counts = { passed: 0, failed: 0, pending: 0, failures: [] };
try {
  counts = JSON.parse(fs.readFileSync(countsFile, 'utf8'));
} catch {
  /* VS Code died before the reporter wrote anything */
}
fs.rmSync(countsFile, { force: true });
const zero = counts.passed + counts.failed === 0;
console.log(`\ndesktop integration (VS Code ${version}): ${counts.passed} passed, ${counts.failed} failed${counts.pending ? `, ${counts.pending} pending` : ''}${zero ? ' — ran ZERO tests' : ''}`);
for (const f of counts.failures) console.log(`  ✗ ${f}`);
process.exit(status !== 0 || zero || counts.failed > 0 ? 1 : 0);
