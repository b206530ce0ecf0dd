#!/usr/bin/env node
// `npm test`: builds, then runs the three tiers — unit (plain Node), integration (inside a real VS Code
// extension host: code-server), e2e (headless Chromium driving that VS Code) — and prints each tier's counts.
// A tier that runs zero tests fails the run. `node scripts/test.mjs unit` runs one tier.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const allTiers = ['unit', 'integration', 'e2e'];
const args = process.argv.slice(2);
const tiers = args.filter((a) => allTiers.includes(a));
const selected = tiers.length ? tiers : allTiers;
const grepIdx = args.indexOf('--grep');
const grep = grepIdx >= 0 ? args[grepIdx + 1] : undefined;

function sh(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', ...opts });
  return r.status ?? 1;
}

function step(name, cmd, cmdArgs) {
  if (sh(cmd, cmdArgs) !== 0) {
    console.error(`\n${name} failed`);
    process.exit(1);
  }
}

step('build', 'node', ['esbuild.mjs']);
step('build:test', 'npx', ['tsc', '-p', 'tsconfig.test.json']);
// esbuild does not type-check: the browser code (webview, and the test pages that load it) is checked here.
step('typecheck:webview', 'npx', ['tsc', '--noEmit', '-p', 'src/webview/tsconfig.json']);
step('typecheck:browser-tests', 'npx', ['tsc', '--noEmit', '-p', 'test/browser/tsconfig.json']);

const mochaBin = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const reporter = path.join(root, 'out', 'test', 'support', 'countingReporter.js');

function runTier(tier) {
  const countsFile = path.join(os.tmpdir(), `kimi-test-counts-${tier}-${process.pid}.json`);
  fs.rmSync(countsFile, { force: true });
  const env = { ...process.env, KIMI_TEST_COUNTS: countsFile };
  let status;
  if (tier === 'unit') {
    status = sh(process.execPath, [mochaBin, '--reporter', reporter, '--timeout', '20000', '--recursive',
      ...(grep ? ['--grep', grep] : []), 'out/test/unit'], { env });
  } else if (tier === 'integration') {
    status = sh(process.execPath, [path.join(root, 'out', 'test', 'harness', 'runIntegration.js'), ...(grep ? ['--grep', grep] : [])], { env });
  } else {
    status = sh(process.execPath, [mochaBin, '--reporter', reporter, '--timeout', '120000', '--recursive',
      ...(grep ? ['--grep', grep] : []), 'out/test/e2e'], { env });
  }
  let counts = { passed: 0, failed: 0, pending: 0, failures: [] };
  try {
    counts = JSON.parse(fs.readFileSync(countsFile, 'utf8'));
  } catch {
    /* the tier died before reporting: counted as zero tests */
  }
  fs.rmSync(countsFile, { force: true });
  return { tier, status, ...counts };
}

const results = [];
for (const tier of selected) {
  console.log(`\n=== ${tier} tests ===`);
  results.push(runTier(tier));
}

console.log('\n=== summary ===');
let failed = false;
let totalPassed = 0;
let totalFailed = 0;
for (const r of results) {
  const zero = r.passed + r.failed === 0;
  console.log(`${r.tier}: ${r.passed} passed, ${r.failed} failed${r.pending ? `, ${r.pending} pending` : ''}${zero ? ' — ran ZERO tests' : ''}${r.status !== 0 && r.failed === 0 ? ` — exited ${r.status}` : ''}`);
  for (const f of r.failures) console.log(`  ✗ ${f}`);
  if (zero || r.failed > 0 || r.status !== 0 || r.pending > 0) failed = true;
  totalPassed += r.passed;
  totalFailed += r.failed;
}
console.log(`${totalPassed} passed, ${totalFailed} failed`);
process.exit(failed ? 1 : 0);
