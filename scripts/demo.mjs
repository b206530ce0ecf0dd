#!/usr/bin/env node
// `npm run demo`: install what is needed, build, then run test/harness/demo.ts (the fake vLLM + code-server).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!fs.existsSync(path.join(root, 'node_modules', '.package-lock.json'))) sh('npm', ['ci', '--no-audit', '--no-fund']);
if (!fs.existsSync('/usr/bin/chromium') && process.getuid?.() === 0) {
  // Not needed to run the demo (you open the URL in your own browser), only for the tests; say so instead of installing.
  console.log('(Tip: `npm test` also needs Debian\'s chromium and libkrb5-dev — .ci/run installs them.)');
}
sh(process.execPath, ['esbuild.mjs']);
sh('npx', ['tsc', '-p', 'tsconfig.test.json']);
const r = spawnSync(process.execPath, [path.join(root, 'out', 'test', 'harness', 'demo.js')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
