#!/usr/bin/env node
// `npm run emulator -- --port 8000 [flags]`: the project's vLLM emulator, standalone (built on demand).
// Flags: node out/test/emulator/cli.js --help
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'out', 'test', 'emulator', 'cli.js');
const src = path.join(root, 'test', 'emulator');
const newest = (dir) => Math.max(...fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => fs.statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs));
if (!fs.existsSync(cli) || newest(src) > fs.statSync(cli).mtimeMs) {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.test.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const r = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
