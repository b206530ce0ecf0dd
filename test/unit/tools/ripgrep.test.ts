// ripgrep as the workspace ports use it (src/core/tools/ripgrep.ts): globs with folders in them (rg matches them
// against the paths it prints, so it runs inside each root), several roots sharing one result budget, the file
// listing behind find_files in VS Code, and where a VS Code installation keeps its rg.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeWorkspace } from '../../../src/core/tools/nodeWorkspace';
import { bundledRipgrepCandidates, findBundledRipgrep, listFilesWithRipgrep, runRipgrep } from '../../../src/core/tools/ripgrep';
import { makeSandbox, type Sandbox } from './helpers';

describe('ripgrep', () => {
  let sb: Sandbox;
  const signal = new AbortController().signal;
  beforeEach(() => {
    sb = makeSandbox();
  });
  afterEach(() => sb.cleanup());

  it('search_text: an include glob with a folder ("src/**", "src/lib/*.ts") matches; results are absolute paths', async () => {
    for (const include of ['src/**', 'src/lib/*.ts', '**/math.ts']) {
      const r = await runRipgrep({ roots: [sb.ws], query: 'a + b', isRegex: false, include, maxResults: 10, signal });
      assert.deepEqual(r.matches, [{ path: path.join(sb.ws, 'src', 'lib', 'math.ts'), line: 2, text: '  return a + b;' }], include);
    }
    const none = await runRipgrep({ roots: [sb.ws], query: 'a + b', isRegex: false, include: 'docs/**', maxResults: 10, signal });
    assert.deepEqual(none, { matches: [], truncated: false });
  });

  it('several roots are searched in order and share maxResults; more than maxResults → truncated', async () => {
    const second = fs.mkdtempSync(path.join(path.dirname(sb.ws), 'second-'));
    fs.writeFileSync(path.join(second, 'notes.md'), 'add one\nadd two\n');
    const all = await runRipgrep({ roots: [sb.ws, second], query: 'add', isRegex: false, maxResults: 100, signal });
    assert.equal(all.matches.length, 6);
    const files = all.matches.map((m) => path.relative(path.dirname(sb.ws), m.path));
    assert.deepEqual(files, ['ws/docs/guide.md', 'ws/src/index.ts', 'ws/src/index.ts', 'ws/src/lib/math.ts', `${path.basename(second)}/notes.md`, `${path.basename(second)}/notes.md`]);
    assert.equal(all.truncated, false);
    const capped = await runRipgrep({ roots: [sb.ws, second], query: 'add', isRegex: false, maxResults: 5, signal });
    assert.deepEqual([capped.matches.length, capped.truncated], [5, true]);
    const exact = await runRipgrep({ roots: [sb.ws, second], query: 'add', isRegex: false, maxResults: 6, signal });
    assert.deepEqual([exact.matches.length, exact.truncated], [6, false]);
  });

  it('an include glob does not bring back what .gitignore hides (rg\'s --glob overrides it; the port\'s check does not)', async () => {
    const port = new NodeWorkspace({ roots: [sb.ws] });
    const q = { roots: [sb.ws], query: 'add', isRegex: false, maxResults: 10, signal };
    assert.deepEqual((await runRipgrep({ ...q, include: '**/*.log' })).matches.map((m) => path.basename(m.path)), ['debug.log'], 'rg alone');
    assert.deepEqual(await runRipgrep({ ...q, include: '**/*.log', keep: port.searchable }), { matches: [], truncated: false });
    assert.deepEqual(await runRipgrep({ ...q, include: 'build/**', keep: port.searchable }), { matches: [], truncated: false });
  });

  it('find_files listing: the glob with folders, .gitignore respected, hidden files listed, .git and excludes left out, symlinks not followed', async () => {
    fs.mkdirSync(path.join(sb.ws, '.git'));
    fs.writeFileSync(path.join(sb.ws, '.git', 'config'), '[core]\n');
    fs.writeFileSync(path.join(sb.ws, 'src', 'index.snap'), 'x\n');
    const port = new NodeWorkspace({ roots: [sb.ws] });
    const list = async (glob: string, excludeGlobs: string[] = [], maxResults = 100) =>
      listFilesWithRipgrep({ roots: [sb.ws], glob, excludeGlobs, maxResults, keep: port.searchable, signal });
    const rel = (files: string[]) => files.map((f) => path.relative(sb.ws, f));
    assert.deepEqual(rel((await list('src/**/*.ts')).files), ['src/index.ts', 'src/lib/math.ts']);
    assert.deepEqual(rel((await list('**')).files).filter((f) => !f.startsWith('src/') && !f.startsWith('docs/')),
      ['.env', '.gitignore', 'README.md', 'package.json']);
    assert.deepEqual(rel((await list('src/**', ['**/*.snap'])).files), ['src/index.ts', 'src/lib/math.ts']);
    assert.deepEqual(rel((await list('link-dir/**')).files), [], 'the symlink to the outside folder is not followed');
    assert.deepEqual(rel((await list('build/**')).files), [], '.gitignore');
    const capped = await list('**', [], 3);
    assert.deepEqual([capped.files.length, capped.truncated], [3, true]);
  });

  it('a missing rg is a clear error naming what needs it', async () => {
    await assert.rejects(listFilesWithRipgrep({ rgPath: path.join(sb.ws, 'no-rg'), roots: [sb.ws], glob: '**', maxResults: 5, signal }), /^ToolError: find_files needs ripgrep \(`.*no-rg`\), which is not installed or not on PATH/);
    await assert.rejects(runRipgrep({ rgPath: path.join(sb.ws, 'no-rg'), roots: [sb.ws], query: 'x', isRegex: false, maxResults: 5, signal }), /^ToolError: search_text needs ripgrep/);
  });

  it('VS Code\'s rg: @vscode/ripgrep, then @vscode/ripgrep-universal/<platform>-<arch>, in node_modules then node_modules.asar.unpacked', () => {
    assert.deepEqual(bundledRipgrepCandidates('/app', 'linux', 'x64'), [
      '/app/node_modules/@vscode/ripgrep/bin/rg',
      '/app/node_modules/@vscode/ripgrep-universal/bin/linux-x64/rg',
      '/app/node_modules.asar.unpacked/@vscode/ripgrep/bin/rg',
      '/app/node_modules.asar.unpacked/@vscode/ripgrep-universal/bin/linux-x64/rg',
    ]);
    assert.equal(bundledRipgrepCandidates('/app', 'win32', 'arm64')[1], path.join('/app', 'node_modules', '@vscode', 'ripgrep-universal', 'bin', 'win32-arm64', 'rg.exe'));
    // The first that can run wins; none → undefined (rg on PATH is used).
    const app = path.join(sb.ws, 'app');
    const universal = path.join(app, 'node_modules', '@vscode', 'ripgrep-universal', 'bin', `${process.platform}-${process.arch}`, 'rg');
    assert.equal(findBundledRipgrep(app), undefined);
    fs.mkdirSync(path.dirname(universal), { recursive: true });
    fs.writeFileSync(universal, '#!/bin/sh\n', { mode: 0o644 });
    assert.equal(findBundledRipgrep(app), process.platform === 'win32' ? universal : undefined, 'not executable');
    fs.chmodSync(universal, 0o755);
    assert.equal(findBundledRipgrep(app), universal);
  });
});
