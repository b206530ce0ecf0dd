#!/usr/bin/env node
// Writes package.json contributes.configuration from the zod schema in src/core/config/settings.ts
// (the one source of truth). `--check` exits 1 when package.json is out of date instead of writing.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-gen-')), 'settings.cjs');
await esbuild.build({ entryPoints: [path.join(root, 'src/core/config/settingsContribution.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: tmp, logLevel: 'error' });
const { contributedConfiguration } = createRequire(import.meta.url)(tmp);
fs.rmSync(path.dirname(tmp), { recursive: true, force: true });

const pkgPath = path.join(root, 'package.json');
const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'));
const wanted = { title: 'Kimi (self-hosted)', properties: contributedConfiguration() };
const same = JSON.stringify(pkg.contributes?.configuration) === JSON.stringify(wanted);
if (process.argv.includes('--check')) {
  if (!same) {
    console.error('package.json contributes.configuration is out of date: run `node scripts/gen-settings.mjs`.');
    process.exit(1);
  }
  console.log('package.json contributes.configuration matches the zod schema.');
} else if (!same) {
  pkg.contributes = { ...pkg.contributes, configuration: wanted };
  fs.writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n');
  console.log('package.json contributes.configuration updated.');
}
