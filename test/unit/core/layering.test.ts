import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|tsx|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

/** Every module specifier a file imports, requires or dynamically imports. */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[\w*{}\s,]+\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?[\w*{}\s,]+\s+from\s+['"]([^'"]+)['"]/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) specs.push(m[1]!);
  return specs;
}

describe('layering', () => {
  it('the import scanner sees every import form (so the checks below can fail)', () => {
    const sample = [
      "import * as vscode from 'vscode';",
      'import type { X } from "vscode";',
      "const v = require('vscode');",
      "const w = await import('vscode');",
      "import v2 = require('vscode');",
      "export { y } from 'vscode';",
    ].join('\n');
    assert.equal(importsOf(sample).filter((s) => s === 'vscode').length, 6);
  });

  it('nothing under src/core imports vscode', () => {
    const offenders = sourceFiles(path.join(repoRoot, 'src/core')).filter((f) => importsOf(fs.readFileSync(f, 'utf8')).includes('vscode'));
    assert.deepEqual(offenders.map((f) => path.relative(repoRoot, f)), []);
  });

  it('src/core never imports from the VS Code adapters, the webview or the CLI', () => {
    const bad: string[] = [];
    for (const f of sourceFiles(path.join(repoRoot, 'src/core'))) {
      for (const spec of importsOf(fs.readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(path.join(repoRoot, 'src'), path.resolve(path.dirname(f), spec));
        if (/^(vscode|webview|cli)(\/|$)/.test(target)) bad.push(`${path.relative(repoRoot, f)} → ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('the webview imports only src/shared, its own files and the browser libraries of the markdown renderer', () => {
    // The markdown renderer's libraries (README, "Dependencies") — browser code, only under src/webview/markdown/.
    const browserLibs = /^(marked|dompurify|highlight\.js\/lib\/(core|languages\/[a-z0-9-]+))$/;
    const deps = Object.keys((JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const bad: string[] = [];
    for (const f of sourceFiles(path.join(repoRoot, 'src/webview'))) {
      const rel = path.relative(repoRoot, f);
      for (const spec of importsOf(fs.readFileSync(f, 'utf8'))) {
        const target = spec.startsWith('.') ? path.relative(path.join(repoRoot, 'src'), path.resolve(path.dirname(f), spec)) : '';
        const local = /^(webview|shared)(\/|$)/.test(target.split(path.sep).join('/'));
        const lib = rel.startsWith(path.join('src', 'webview', 'markdown') + path.sep) && browserLibs.test(spec) && deps.includes(spec.split('/')[0]!);
        if (!local && !lib) bad.push(`${rel} → ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('only src/vscode and src/extension.ts import vscode', () => {
    const bad = sourceFiles(path.join(repoRoot, 'src'))
      .filter((f) => importsOf(fs.readFileSync(f, 'utf8')).includes('vscode'))
      .map((f) => path.relative(repoRoot, f))
      .filter((f) => !f.startsWith('src/vscode/') && f !== 'src/extension.ts');
    assert.deepEqual(bad, []);
  });

  it('src/ uses zod/mini, never classic zod (450 KB that would slow activation)', () => {
    const bad = sourceFiles(path.join(repoRoot, 'src'))
      .filter((f) => importsOf(fs.readFileSync(f, 'utf8')).some((s) => s === 'zod' || s === 'zod/v4' || s === 'zod/v4/classic'))
      .map((f) => path.relative(repoRoot, f));
    assert.deepEqual(bad, []);
  });
});
