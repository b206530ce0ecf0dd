// The workspace tools over the CLI's NodeWorkspace (and, for the VS Code-only tools, over a fake port shaped like
// the coming VS Code adapter): each tool's output format, caps and error messages; ripgrep; edits and commands.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Confinement } from '../../../src/core/tools/confinement';
import { globToRegExp } from '../../../src/core/tools/glob';
import { parseGitignore } from '../../../src/core/tools/ignore';
import { NodeWorkspace, type NodeWorkspaceOptions } from '../../../src/core/tools/nodeWorkspace';
import { createToolRegistry } from '../../../src/core/tools/registry';
import { ripgrepArgs } from '../../../src/core/tools/ripgrep';
import {
  DEFAULT_LIMITS,
  ToolError,
  type ApprovalRequest,
  type DiagnosticInfo,
  type OpenEditorInfo,
  type SelectionInfo,
  type SymbolInfo,
  type ToolLimits,
  type WorkspacePort,
} from '../../../src/core/tools/types';
import { makeSandbox, type Json, type Sandbox } from './helpers';

const registry = createToolRegistry();

/** Run one tool the way the loop does (validation, context, ToolError → `error: …`). */
async function call(port: WorkspacePort, name: string, args: Json, limits: Partial<ToolLimits> = {}): Promise<string> {
  const v = registry.validate(name, JSON.stringify(args));
  if (!v.ok) return v.error;
  const ctrl = new AbortController();
  try {
    return await v.tool.run(v.args as never, {
      port,
      confinement: new Confinement(port.roots, { ...(port.excludes ? { excludes: port.excludes } : {}) }),
      signal: ctrl.signal,
      limits: { ...DEFAULT_LIMITS, ...limits },
      offers: (tool) => registry.get(tool) !== undefined,
      approve: async (req) => (await port.requestApproval(req, ctrl.signal)) === 'accept',
    });
  } catch (e) {
    if (e instanceof ToolError) return `error: ${e.message}`;
    throw e;
  }
}

describe('workspace tools over NodeWorkspace', () => {
  let sb: Sandbox;
  let ws: NodeWorkspace;
  const port = (o: Partial<NodeWorkspaceOptions> = {}) => new NodeWorkspace({ roots: [sb.ws], ...o });
  beforeEach(() => {
    sb = makeSandbox();
    ws = port();
  });
  afterEach(() => sb.cleanup());

  it('NodeWorkspace refuses a missing folder or a file as the workspace', () => {
    assert.throws(() => new NodeWorkspace({ roots: [path.join(sb.ws, 'nope')] }), /the workspace folder .*nope does not exist/);
    assert.throws(() => new NodeWorkspace({ roots: [path.join(sb.ws, 'README.md')] }), /is not a folder/);
  });

  describe('read_file', () => {
    it('line ranges, the end clamped, numbers right-aligned', async () => {
      fs.writeFileSync(path.join(sb.ws, 'ten.txt'), Array.from({ length: 12 }, (_, i) => `row ${i + 1}`).join('\n') + '\n');
      assert.equal(await call(ws, 'read_file', { path: 'ten.txt', startLine: 9, endLine: 10 }), 'ten.txt (lines 9-10 of 12)\n 9: row 9\n10: row 10');
      assert.equal(await call(ws, 'read_file', { path: 'ten.txt', startLine: 11, endLine: 99 }), 'ten.txt (lines 11-12 of 12)\n11: row 11\n12: row 12');
      assert.equal(await call(ws, 'read_file', { path: 'ten.txt', startLine: 13 }), 'error: ten.txt has 12 lines; expected startLine between 1 and 12');
    });

    it('CRLF, a BOM, an empty file, an overlong line', async () => {
      fs.writeFileSync(path.join(sb.ws, 'crlf.txt'), '\ufeffa\r\nb\r\n');
      assert.equal(await call(ws, 'read_file', { path: 'crlf.txt' }), 'crlf.txt (lines 1-2 of 2)\n1: a\n2: b');
      fs.writeFileSync(path.join(sb.ws, 'empty.txt'), '');
      assert.equal(await call(ws, 'read_file', { path: 'empty.txt' }), 'empty.txt is empty (0 lines).');
      fs.writeFileSync(path.join(sb.ws, 'min.js'), 'z'.repeat(5000));
      assert.match(await call(ws, 'read_file', { path: 'min.js' }), /^min\.js \(lines 1-1 of 1\)\n1: z{2000} …\[line cut at 2000 characters\]$/);
    });

    it('folders, binaries, too-large files and missing files are clear errors', async () => {
      assert.equal(await call(ws, 'read_file', { path: 'src' }), 'error: src is a folder, not a file; use list_directory to see what is in it');
      fs.writeFileSync(path.join(sb.ws, 'img.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1]));
      assert.equal(await call(ws, 'read_file', { path: 'img.png' }), 'error: img.png looks like a binary file (it contains NUL bytes); read_file works on text files only');
      fs.writeFileSync(path.join(sb.ws, 'big.txt'), 'x'.repeat(3000));
      assert.equal(await call(ws, 'read_file', { path: 'big.txt' }, { maxReadBytes: 2048 }), 'error: big.txt is 2.9 KB, more than the 2.0 KB read_file can read whole; read a part of it with startLine and endLine (e.g. startLine 1, endLine 200), and use search_text to find the lines you need');
      assert.equal(await call(ws, 'read_file', { path: 'big.txt', startLine: 1 }, { maxReadBytes: 2048 }), `big.txt (lines 1-1 of 1)\n1: ${'x'.repeat(2000)} …[line cut at 2000 characters]`);
      assert.match(await call(ws, 'read_file', { path: 'src/nope.ts' }), /^error: no such file: src\/nope\.ts; expected an existing file — use find_files or list_directory/);
    });
  });

  describe('list_directory', () => {
    it('folders first with "/", marks, errors for files and missing folders, a cap', async () => {
      assert.equal(await call(ws, 'list_directory', { path: 'src' }), 'src/ (2 entries)\nlib/\nindex.ts');
      assert.equal(await call(ws, 'list_directory', { path: 'README.md' }), 'error: README.md is a file, not a folder; use read_file to read it');
      assert.match(await call(ws, 'list_directory', { path: 'nope' }), /^error: no such folder: nope; expected an existing folder/);
      fs.mkdirSync(path.join(sb.ws, 'empty'));
      assert.equal(await call(ws, 'list_directory', { path: 'empty' }), 'empty is empty.');
      const many = path.join(sb.ws, 'many');
      fs.mkdirSync(many);
      for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(many, `f${String(i).padStart(2, '0')}.txt`), '');
      const out = await call(ws, 'list_directory', { path: 'many' }, { maxListEntries: 10 });
      assert.match(out, /^many\/ \(30 entries\)\nf00\.txt\n/);
      assert.match(out, /\nf09\.txt\n\[truncated: showing 10 of 30 entries; use find_files with a glob to narrow down\]$/);
      const root = await call(ws, 'list_directory', { path: '.' });
      assert.match(root, /\nmath-link\.ts {2}\(symlink\)\n/);
      assert.match(root, /\ndangling {2}\(broken symlink\)\n/);
      assert.match(root, /\ndebug\.log {2}\(ignored by \.gitignore\)\n/);
    });
  });

  describe('find_files', () => {
    it('globs with **, braces and classes; .gitignore (nested too) and .git skipped; symlinked folders not entered', async () => {
      fs.mkdirSync(path.join(sb.ws, '.git'));
      fs.writeFileSync(path.join(sb.ws, '.git', 'config.ts'), '');
      fs.mkdirSync(path.join(sb.ws, 'src', 'gen'));
      fs.writeFileSync(path.join(sb.ws, 'src', 'gen', 'out.ts'), '');
      fs.writeFileSync(path.join(sb.ws, 'src', '.gitignore'), 'gen/\n');
      fs.symlinkSync(path.join(sb.ws, 'src'), path.join(sb.ws, 'src-link'));
      assert.equal(await call(ws, 'find_files', { glob: 'src/**/*.ts' }), '2 files matching "src/**/*.ts":\nsrc/index.ts\nsrc/lib/math.ts');
      assert.equal(await call(ws, 'find_files', { glob: '*.{md,json}' }), '3 files matching "**/*.{md,json}":\nREADME.md\ndocs/guide.md\npackage.json');
      assert.equal(await call(ws, 'find_files', { glob: 'src/[il]*/*.ts' }), '1 file matching "src/[il]*/*.ts":\nsrc/lib/math.ts');
      assert.equal(await call(ws, 'find_files', { glob: 'package.json' }), '1 file matching "**/package.json":\npackage.json');
      assert.equal(await call(ws, 'find_files', { glob: '*.log' }), 'No files match "**/*.log".');
      assert.equal(await call(ws, 'find_files', { glob: '*.ts' }), '3 files matching "**/*.ts":\nmath-link.ts\nsrc/index.ts\nsrc/lib/math.ts');
    });

    it('capped at maxResults with a note', async () => {
      const dir = path.join(sb.ws, 'gen');
      fs.mkdirSync(dir);
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `m${String(i).padStart(2, '0')}.ts`), '');
      const out = await call(ws, 'find_files', { glob: 'gen/*.ts', maxResults: 5 });
      assert.equal(out, '5+ files matching "gen/*.ts":\ngen/m00.ts\ngen/m01.ts\ngen/m02.ts\ngen/m03.ts\ngen/m04.ts\n[truncated: more than 5 files match; use a narrower glob or a larger maxResults (up to 1000)]');
    });
  });

  describe('search_text (ripgrep)', () => {
    it('plain text (regex characters literal), smart case, regex, include', async () => {
      assert.equal(await call(ws, 'search_text', { query: 'add(2' }), '1 match for "add(2":\nsrc/index.ts:4:   return add(2, 3);');
      assert.equal(await call(ws, 'search_text', { query: 'CALL' }), 'No matches for "CALL".');
      assert.equal(await call(ws, 'search_text', { query: 'call' }), '1 match for "call":\ndocs/guide.md:3: Call add() to add numbers.');
      assert.equal(await call(ws, 'search_text', { query: 'function \\w+\\(', isRegex: true }), '2 matches for "function \\\\w+\\\\(":\nsrc/index.ts:3: export function main(): number {\nsrc/lib/math.ts:1: export function add(a: number, b: number): number {');
      assert.equal(await call(ws, 'search_text', { query: 'add', include: '*.md' }), '1 match for "add" in files matching "**/*.md":\ndocs/guide.md:3: Call add() to add numbers.');
      assert.equal(await call(ws, 'search_text', { query: '-v' }), 'No matches for "-v".', 'a query that looks like a flag is still a query');
    });

    it('an invalid regex is a clear error; a missing rg is a clear error, not a fallback', async () => {
      assert.match(await call(ws, 'search_text', { query: 'add(', isRegex: true }), /^error: the query is not a valid regular expression: regex parse error:[\s\S]*; expected a Rust\/ripgrep regex, or isRegex false for plain text$/);
      const noRg = port({ rgPath: path.join(sb.ws, 'no-such-rg') });
      assert.match(await call(noRg, 'search_text', { query: 'add' }), /^error: search_text needs ripgrep \(`.*no-such-rg`\), which is not installed or not on PATH; install it \(apt-get install ripgrep/);
    });

    it('capped at maxResults with a note; matches in secret-looking files are never shown', async () => {
      const dir = path.join(sb.ws, 'many');
      fs.mkdirSync(dir);
      for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}.txt`), 'needle\nneedle\n');
      const out = await call(ws, 'search_text', { query: 'needle', maxResults: 7 });
      assert.match(out, /^7\+ matches for "needle":\nmany\/f00\.txt:1: needle\nmany\/f00\.txt:2: needle\nmany\/f01\.txt:1: needle\n/);
      assert.match(out, /\n\[truncated: showing the first 7 matches; narrow the query or the include glob, or raise maxResults \(up to 1000\)\]$/);
      fs.writeFileSync(path.join(sb.ws, 'credentials'), 'token=haystack\n');
      fs.writeFileSync(path.join(sb.ws, 'secrets.yaml'), 'haystack: 1\n');
      fs.writeFileSync(path.join(sb.ws, 'notes.txt'), 'haystack\n');
      assert.equal(await call(ws, 'search_text', { query: 'haystack' }), '1 match for "haystack":\nnotes.txt:1: haystack\n[1 match in files outside the workspace or that look like secrets left out]');
    });

    it('rg arguments: no config, hidden files, .gitignore without git, include before the exclusions, query after --regexp', () => {
      const args = ripgrepArgs({ roots: ['/w'], query: '--files', isRegex: false, include: '**/*.ts', excludeGlobs: ['**/*.snap'], maxResults: 5 });
      assert.ok(args.includes('--no-config') && args.includes('--hidden') && args.includes('--no-require-git') && args.includes('--fixed-strings'));
      assert.ok(args.indexOf('**/*.ts') < args.indexOf('!**/*.snap') && args.indexOf('!**/*.snap') < args.indexOf('!.env'));
      assert.deepEqual(args.slice(-4), ['--regexp', '--files', '--', '/w']);
    });
  });

  describe('VS Code-only tools', () => {
    it('in the CLI they say they need VS Code', async () => {
      for (const [name, args] of [['get_diagnostics', {}], ['get_selection', {}], ['get_open_editors', {}], ['get_symbols', { query: 'add' }]] as const) {
        assert.match(await call(ws, name, args), new RegExp(`^error: ${name} is not available in the kimi-vllm CLI: it needs VS Code's language services or editor state\\. Use read_file`));
      }
      assert.match(await call(ws, 'get_symbols', {}), /^error: get_symbols needs a path \(a file's outline\) or a query/);
    });

    it('over a port that has them (the VS Code adapter\'s shape): formatted, confined, sorted', async () => {
      const inside = path.join(sb.ws, 'src', 'index.ts');
      const outsideFile = path.join(sb.outside, 'secret.txt');
      const SENTINEL_MSG = 'outside problem';
      class FakeVsCode extends NodeWorkspace {
        selectionValue: SelectionInfo | undefined;
        override async diagnostics(): Promise<DiagnosticInfo[]> {
          return [
            { path: inside, severity: 'warning', line: 1, column: 10, message: 'unused import', source: 'ts', code: '6133' },
            { path: outsideFile, severity: 'error', line: 1, column: 1, message: SENTINEL_MSG },
            { path: inside, severity: 'error', line: 4, column: 10, message: "Cannot find name 'ad'.", source: 'ts', code: '2304' },
          ];
        }
        override async selection(): Promise<SelectionInfo | undefined> {
          return this.selectionValue;
        }
        override async openEditors(): Promise<OpenEditorInfo[]> {
          return [{ path: outsideFile, active: false, dirty: false }, { path: inside, active: true, dirty: true, language: 'typescript' }, { path: 'Untitled-1', active: false, dirty: true }];
        }
        override async symbols(): Promise<SymbolInfo[]> {
          return [{ name: 'main', kind: 'function', path: inside, line: 3 }, { name: 'leak', kind: 'function', path: outsideFile, line: 1 }];
        }
      }
      const vs = new FakeVsCode({ roots: [sb.ws] });
      assert.equal(await call(vs, 'get_diagnostics', {}), "2 problems in the workspace:\nsrc/index.ts:4:10: error: Cannot find name 'ad'. [ts 2304]\nsrc/index.ts:1:10: warning: unused import [ts 6133]");
      assert.equal(await call(vs, 'get_selection', {}), 'Nothing is selected (no active editor, or an empty selection).');
      vs.selectionValue = { path: inside, startLine: 3, endLine: 4, text: 'export function main(): number {\n  return add(2, 3);', language: 'typescript' };
      assert.equal(await call(vs, 'get_selection', {}), 'Selection in src/index.ts (lines 3-4, typescript):\n3: export function main(): number {\n4:   return add(2, 3);');
      vs.selectionValue = { path: outsideFile, startLine: 1, endLine: 1, text: 'SENTINEL' };
      assert.equal(await call(vs, 'get_selection', {}), 'error: the selection is in a file outside the workspace; ask the user to attach it to the message instead');
      assert.equal(await call(vs, 'get_open_editors', {}), '3 open editors:\nsrc/index.ts (active, unsaved changes, typescript)\n(a file outside the workspace)\nUntitled-1 (unsaved changes)');
      assert.equal(await call(vs, 'get_symbols', { query: 'ma' }), '1 symbol matching "ma":\nfunction main — src/index.ts:3');
    });
  });

  describe('propose_edit', () => {
    const accept = (seen: ApprovalRequest[] = []) => port({ approve: async (r) => (seen.push(r), 'accept') });

    it('replaces text that occurs once; refuses none, several, a no-op; keeps CRLF files CRLF', async () => {
      const w = accept();
      assert.equal(await call(w, 'propose_edit', { path: 'src/lib/math.ts', oldText: 'nope', newText: 'x' }), "error: oldText was not found in src/lib/math.ts; expected text copied exactly from the file (whitespace included, without read_file's line numbers) — read the file again");
      assert.equal(await call(w, 'propose_edit', { path: 'src/lib/math.ts', oldText: 'number', newText: 'bigint' }), 'error: oldText occurs 3 times in src/lib/math.ts; expected it to match exactly once — include more of the surrounding lines');
      assert.equal(await call(w, 'propose_edit', { path: 'src/lib/math.ts', oldText: 'a + b', newText: 'a + b' }), 'error: the edit changes nothing in src/lib/math.ts (newText gives the same content); expected a change');
      assert.equal(await call(w, 'propose_edit', { path: 'missing.ts', oldText: 'a', newText: 'b' }), 'error: missing.ts does not exist; to create it, omit oldText and give the whole content as newText');
      fs.writeFileSync(path.join(sb.ws, 'win.txt'), 'one\r\ntwo\r\nthree\r\n');
      assert.equal(await call(w, 'propose_edit', { path: 'win.txt', oldText: 'one\ntwo', newText: 'uno\ndos' }), 'Applied: win.txt — replaced 2 lines with 2.');
      assert.equal(fs.readFileSync(path.join(sb.ws, 'win.txt'), 'utf8'), 'uno\r\ndos\r\nthree\r\n');
    });

    it('creates a file (and its folders) or rewrites one; the approval carries original and proposed text', async () => {
      const seen: ApprovalRequest[] = [];
      const w = accept(seen);
      assert.equal(await call(w, 'propose_edit', { path: 'notes/2024/todo.md', newText: '- a\n- b\n' }), 'Applied: notes/2024/todo.md — created it (2 lines).');
      assert.equal(fs.readFileSync(path.join(sb.ws, 'notes/2024/todo.md'), 'utf8'), '- a\n- b\n');
      assert.ok(seen[0]!.kind === 'edit' && seen[0]!.original === undefined && seen[0]!.proposed === '- a\n- b\n');
      assert.equal(await call(w, 'propose_edit', { path: 'README.md', newText: '# New\n' }), 'Applied: README.md — rewrote it (3 → 1 lines).');
      assert.ok(seen[1]!.kind === 'edit' && seen[1]!.original === '# Demo project\n\nA small workspace for the tool tests.\n');
      assert.deepEqual(fs.readdirSync(path.join(sb.ws)).filter((n) => n.includes('.kimi-')), [], 'no temp files left');
    });

    it('a file changed while the edit waited for approval is not overwritten', async () => {
      const file = path.join(sb.ws, 'src/lib/math.ts');
      const w = port({ approve: async () => {
        fs.writeFileSync(file, 'changed by the user\n');
        return 'accept';
      } });
      assert.equal(await call(w, 'propose_edit', { path: 'src/lib/math.ts', oldText: 'a + b', newText: 'a - b' }), 'error: src/lib/math.ts changed while the edit waited for approval; the edit was not applied — read the file again and propose a new edit');
      assert.equal(fs.readFileSync(file, 'utf8'), 'changed by the user\n');
    });

    it('without --yes the CLI port refuses, naming --yes; the file is untouched', async () => {
      const before = fs.readFileSync(path.join(sb.ws, 'README.md'));
      assert.equal(await call(ws, 'propose_edit', { path: 'README.md', newText: 'x' }), 'error: propose_edit changes files, which the kimi-vllm CLI allows only with --yes; describe the change in your answer instead');
      assert.ok(fs.readFileSync(path.join(sb.ws, 'README.md')).equals(before));
    });
  });

  describe('run_command', () => {
    it('exit code, output, cwd inside, API keys not passed on', async () => {
      const w = port({ yes: true, env: { ...process.env, KIMI_API_KEY: 'sk-secret', GITHUB_TOKEN: 'ghp', VISIBLE: 'yes' } });
      assert.match(await call(w, 'run_command', { command: 'pwd; echo "[$KIMI_API_KEY][$GITHUB_TOKEN][$VISIBLE]"; exit 3', cwd: 'src' }), new RegExp(`^\\$ pwd; .*\\n\\(in src; exit code 3; \\d+ ms\\)\\n${path.join(sb.ws, 'src')}\\n\\[\\]\\[\\]\\[yes\\]\\n$`));
      assert.match(await call(w, 'run_command', { command: 'echo hi', cwd: 'README.md' }), /^error: cwd README\.md is not an existing folder/);
      assert.match(await call(w, 'run_command', { command: 'echo hi', cwd: 'nope' }), /^error: cwd nope is not an existing folder/);
    });

    it('long output keeps its beginning and end with a note; a timeout stops the command', async () => {
      const w = port({ yes: true });
      const out = await call(w, 'run_command', { command: 'for i in $(seq 1 5000); do echo "line $i"; done' }, { maxCommandOutputChars: 2000 });
      assert.match(out, /\nline 1\nline 2\n/);
      assert.match(out, /\nline 5000\n\n\[truncated: [\d,]+ characters of output left out in the middle\]$/);
      assert.match(out, /\n… \[[\d,]+ characters left out\] …\n/);
      assert.ok(out.length < 2400, String(out.length));
      const started = performance.now();
      const slow = await call(w, 'run_command', { command: 'echo start; sleep 20' }, { commandTimeoutMs: 300 });
      assert.match(slow, /^\$ echo start; sleep 20\n\(in \.; timed out after 300 ms and was stopped; \d+ ms\)\nstart\n$/);
      assert.ok(performance.now() - started < 5000);
    });

    it('without --yes the CLI port refuses, naming --yes; nothing runs', async () => {
      assert.equal(await call(ws, 'run_command', { command: 'touch ran' }), 'error: run_command runs commands, which the kimi-vllm CLI allows only with --yes; tell the user the command to run instead');
      assert.ok(!fs.existsSync(path.join(sb.ws, 'ran')));
    });
  });
});

describe('globs and .gitignore rules', () => {
  it('glob → regex', () => {
    const m = (g: string, p: string) => globToRegExp(g).test(p);
    assert.ok(m('**/*.ts', 'a.ts') && m('**/*.ts', 'a/b/c.ts') && !m('**/*.ts', 'a.tsx'));
    assert.ok(m('src/**', 'src/a/b') && !m('src/**', 'lib/a'));
    assert.ok(m('src/**/test/*.js', 'src/test/a.js') && m('src/**/test/*.js', 'src/x/y/test/a.js'));
    assert.ok(m('*.{js,ts}', 'a.ts') && !m('*.{js,ts}', 'd/a.ts'));
    assert.ok(m('file?.txt', 'file1.txt') && !m('file?.txt', 'file/.txt'));
    assert.ok(m('[!a]*.md', 'b.md') && !m('[!a]*.md', 'a.md'));
    assert.ok(m('a+b(c).txt', 'a+b(c).txt') && !m('a.b', 'axb'), 'regex characters are literal');
  });

  it('.gitignore lines: comments, negation, escapes, folders only, anchoring', () => {
    const rules = parseGitignore('# c\n\n*.log\n!keep.log\n\\#hash\nbuild/\n/top.txt\nsub/*.tmp   \n');
    assert.deepEqual(rules.map((r) => [r.source, r.negate, r.dirOnly]), [
      ['*.log', false, false], ['!keep.log', true, false], ['\\#hash', false, false], ['build/', false, true], ['/top.txt', false, false], ['sub/*.tmp', false, false],
    ]);
    assert.ok(rules[2]!.re.test('#hash') && rules[2]!.re.test('x/#hash'));
    assert.ok(rules[4]!.re.test('top.txt') && !rules[4]!.re.test('a/top.txt'));
    assert.ok(rules[5]!.re.test('sub/a.tmp') && !rules[5]!.re.test('x/sub/a.tmp'));
  });
});
