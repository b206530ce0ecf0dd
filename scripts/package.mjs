#!/usr/bin/env node
// `npm run package`: production build, then a .vsix with @vscode/vsce from the allowlist .vscodeignore.
// Prints the VSIX size and refuses a package that carries tests, the emulator, sources or source maps.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.join(root, `${pkg.name}-${pkg.version}.vsix`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

run(process.execPath, ['esbuild.mjs', '--production']);
// Production bundles carry no source maps; remove stale ones from development builds so nothing can slip in.
for (const f of fs.readdirSync(path.join(root, 'dist'))) if (f.endsWith('.map')) fs.rmSync(path.join(root, 'dist', f));
run(process.execPath, [
  path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'),
  'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out,
]);

const files = listZip(out);
const forbidden = files.filter((f) => /(^|\/)(test|out|src|scripts|node_modules)\/|\.map$|\.ts$|emulator/.test(f.replace(/^extension\//, '')));
if (forbidden.length) {
  console.error(`The VSIX contains files it must not ship:\n  ${forbidden.join('\n  ')}`);
  process.exit(1);
}
// features.js is loaded on first use (src/vscode/lazy.ts): without it the extension would activate and then fail at
// the first Start Server or chat, so its absence is caught here.
const required = {
  'extension/dist/extension.js': 'the extension',
  'extension/dist/features.js': 'the code loaded on first use',
  'extension/dist/webview.js': 'the chat panel',
  'extension/dist/THIRD_PARTY_NOTICES.md': 'the licenses of the bundled packages',
};
const missing = Object.entries(required).filter(([f]) => !files.includes(f));
if (missing.length) {
  console.error(`The VSIX lacks ${missing.map(([f, what]) => `${f.replace(/^extension\//, '')} (${what})`).join(', ')}.`);
  process.exit(1);
}
const bytes = fs.statSync(out).size;
console.log(`${path.basename(out)}: ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB), ${files.length} files`);
for (const f of files) console.log(`  ${f}`);

/** Names in a zip's central directory (no extra dependency needed to read them). */
function listZip(file) {
  const buf = fs.readFileSync(file);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file} is not a zip`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names = [];
  for (let i = 0; i < count; i++) {
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    names.push(buf.toString('utf8', p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}
