// Files over read_file's size limit (8 MiB): a line range is streamed from the disk — lines before it read past,
// reading stopped right after it, the output capped like any read — while a whole read is still refused with advice
// that names only tools the model has. Real files in a temp folder, the real NodeWorkspace, the tools as the loop
// runs them.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Confinement } from '../../../src/core/tools/confinement';
import { NodeWorkspace } from '../../../src/core/tools/nodeWorkspace';
import { createToolRegistry, type ToolRegistry } from '../../../src/core/tools/registry';
import { DEFAULT_LIMITS, ToolError, type ConfinedPath, type WorkspacePort } from '../../../src/core/tools/types';
import { makeSandbox, type Json, type Sandbox } from './helpers';

/** Run one tool the way the loop does (validation, context, ToolError → `error: …`). */
async function call(port: WorkspacePort, name: string, args: Json, registry: ToolRegistry = createToolRegistry()): Promise<string> {
  const v = registry.validate(name, JSON.stringify(args));
  if (!v.ok) return v.error;
  const ctrl = new AbortController();
  try {
    return await v.tool.run(v.args as never, {
      port,
      confinement: new Confinement(port.roots),
      signal: ctrl.signal,
      limits: DEFAULT_LIMITS,
      offers: (tool) => registry.get(tool) !== undefined,
      approve: async (req) => (await port.requestApproval(req, ctrl.signal)) === 'accept',
    });
  } catch (e) {
    if (e instanceof ToolError) return `error: ${e.message}`;
    throw e;
  }
}

const LINES = 100_000;
/** Line i (1-based) of the generated files: two-byte and four-byte characters, so that 64 KiB chunk borders fall inside
 *  characters. */
const lineOf = (i: number) => `row ${i} ${'é'.repeat(40)} 🙂 end`;

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

describe('read_file of a file over the 8 MiB read limit: line ranges streamed', function () {
  this.timeout(30_000);
  let sb: Sandbox;
  let ws: NodeWorkspace;
  let hugeBytes: number;

  before(() => {
    sb = makeSandbox();
    ws = new NodeWorkspace({ roots: [sb.ws] });
    const lf = Array.from({ length: LINES }, (_, i) => lineOf(i + 1)).join('\n') + '\n';
    fs.writeFileSync(path.join(sb.ws, 'huge.txt'), lf);
    fs.writeFileSync(path.join(sb.ws, 'huge-crlf.txt'), lf.replace(/\n/g, '\r\n'));
    hugeBytes = fs.statSync(path.join(sb.ws, 'huge.txt')).size;
    assert.ok(hugeBytes > DEFAULT_LIMITS.maxReadBytes, `${hugeBytes} bytes`);
  });
  after(() => sb.cleanup());

  it('a range in the middle: exactly those lines, numbered, and a header saying more follow', async () => {
    const out = await call(ws, 'read_file', { path: 'huge.txt', startLine: 50_000, endLine: 50_002 });
    assert.equal(out, `huge.txt (lines 50000-50002; more lines follow in this ${(hugeBytes / 1024 / 1024).toFixed(1)} MB file)\n` +
      `50000: ${lineOf(50_000)}\n50001: ${lineOf(50_001)}\n50002: ${lineOf(50_002)}`);
  });

  it('a range at the very end, and one past it: the file\'s line count is known then', async () => {
    assert.equal(await call(ws, 'read_file', { path: 'huge.txt', startLine: LINES - 1, endLine: LINES + 50 }),
      `huge.txt (lines 99999-100000 of 100000)\n 99999: ${lineOf(LINES - 1)}\n100000: ${lineOf(LINES)}`);
    assert.equal(await call(ws, 'read_file', { path: 'huge.txt', startLine: LINES }), `huge.txt (lines 100000-100000 of 100000)\n100000: ${lineOf(LINES)}`);
    // Beyond the end: the same error as for a small file.
    assert.equal(await call(ws, 'read_file', { path: 'huge.txt', startLine: LINES + 1, endLine: LINES + 10 }),
      'error: huge.txt has 100000 lines; expected startLine between 1 and 100000');
  });

  it('CRLF lines: no \\r in the text, the same line numbers', async () => {
    assert.equal(await call(ws, 'read_file', { path: 'huge-crlf.txt', startLine: 1, endLine: 2 }),
      `huge-crlf.txt (lines 1-2; more lines follow in this ${(fs.statSync(path.join(sb.ws, 'huge-crlf.txt')).size / 1024 / 1024).toFixed(1)} MB file)\n1: ${lineOf(1)}\n2: ${lineOf(2)}`);
    assert.equal(await call(ws, 'read_file', { path: 'huge-crlf.txt', startLine: LINES, endLine: LINES }),
      `huge-crlf.txt (lines 100000-100000 of 100000)\n100000: ${lineOf(LINES)}`);
  });

  it('every line streamed intact across 64 KiB chunk borders (multi-byte characters split between reads)', async () => {
    const p = await new Confinement(ws.roots).resolve('huge.txt');
    let n = 0;
    for await (const line of ws.readLines(p, { maxLineChars: 4096, signal: new AbortController().signal })) {
      n++;
      if (line !== lineOf(n)) assert.fail(`line ${n}: ${JSON.stringify(line)}`);
    }
    assert.equal(n, LINES);
  });

  it('reading stops right after the range, and the file is closed', async () => {
    let pulled = 0;
    class Counting extends NodeWorkspace {
      override async *readLines(p: ConfinedPath, opts: { maxLineChars: number; signal: AbortSignal }): AsyncGenerator<string> {
        for await (const l of super.readLines(p, opts)) {
          pulled++;
          yield l;
        }
      }
    }
    const counting = new Counting({ roots: [sb.ws] });
    const fds = openFds();
    assert.match(await call(counting, 'read_file', { path: 'huge.txt', startLine: 10, endLine: 12 }), /^huge\.txt \(lines 10-12; more lines follow/);
    assert.equal(pulled, 13, 'lines 1-12 and the one after the range, not the other 99,987');
    assert.equal(openFds(), fds, 'no file left open');
  });

  it('without endLine the result is capped like any read, with a note saying where to read on', async () => {
    const out = await call(ws, 'read_file', { path: 'huge.txt', startLine: 70_000 });
    assert.ok(out.length <= DEFAULT_LIMITS.maxResultChars, `${out.length} characters`);
    const m = /^huge\.txt \(lines 70000-(\d+); more lines follow in this [\d.]+ MB file\)\n70000: /.exec(out);
    assert.ok(m, out.slice(0, 200));
    const last = Number(m[1]);
    assert.ok(last > 70_100 && last < LINES, String(last));
    assert.ok(out.endsWith(`\n${last}: ${lineOf(last)}\n[truncated: showing lines 70000-${last}; call read_file with startLine ${last + 1} to read on]`), out.slice(-300));
  });

  it('a whole read is still refused, with the advice to read a range (and how to find lines, by the tools offered)', async () => {
    const size = `${(hugeBytes / 1024 / 1024).toFixed(1)} MB`;
    assert.equal(await call(ws, 'read_file', { path: 'huge.txt' }),
      `error: huge.txt is ${size}, more than the 8.0 MB read_file can read whole; read a part of it with startLine and endLine ` +
      '(e.g. startLine 1, endLine 200); search_text skips files over 2.0 MB, so to find lines in it use run_command ' +
      '(e.g. grep -n PATTERN huge.txt), which the user approves');
    // The CLI without --yes: no run_command to offer.
    const readOnly = new NodeWorkspace({ roots: [sb.ws] });
    assert.equal(await call(readOnly, 'read_file', { path: 'huge.txt' }, createToolRegistry({ writeTools: false })),
      `error: huge.txt is ${size}, more than the 8.0 MB read_file can read whole; read a part of it with startLine and endLine ` +
      '(e.g. startLine 1, endLine 200); search_text skips files over 2.0 MB, so to find lines in it ask the user to run a ' +
      'command (e.g. grep -n PATTERN huge.txt) and tell you its output (run_command is not available here); the user can ' +
      'start kimi-vllm chat again with --yes, which lets you run commands (and write edits) without asking them');
  });

  it('one 9 MB line: cut for the result, not kept whole; a huge binary file: the binary error', async () => {
    fs.writeFileSync(path.join(sb.ws, 'one-line.min.js'), 'z'.repeat(9 * 1024 * 1024));
    assert.equal(await call(ws, 'read_file', { path: 'one-line.min.js', startLine: 1, endLine: 1 }),
      `one-line.min.js (lines 1-1 of 1)\n1: ${'z'.repeat(2000)} …[line cut at 2000 characters]`);
    fs.writeFileSync(path.join(sb.ws, 'disk.img'), Buffer.alloc(9 * 1024 * 1024));
    assert.equal(await call(ws, 'read_file', { path: 'disk.img', startLine: 1, endLine: 5 }),
      'error: disk.img looks like a binary file (it contains NUL bytes); read_file works on text files only');
  });
});

describe('search_text and files over its 2 MB limit: skipped, and the result says so', function () {
  this.timeout(30_000);
  let sb: Sandbox;
  let ws: NodeWorkspace;
  const big = (rel: string, mb: number, text = 'needle in a big file\n') => {
    fs.mkdirSync(path.dirname(path.join(sb.ws, rel)), { recursive: true });
    fs.writeFileSync(path.join(sb.ws, rel), Buffer.concat([Buffer.from(text), Buffer.alloc(mb * 1024 * 1024, 'filler line\n')]));
  };

  beforeEach(() => {
    sb = makeSandbox();
    ws = new NodeWorkspace({ roots: [sb.ws] });
  });
  afterEach(() => sb.cleanup());

  it('an include naming a big file: not a bare "No matches" but which file was skipped, its size, and how to look inside', async () => {
    big('data/dump.sql', 3);
    assert.equal(await call(ws, 'search_text', { query: 'needle', include: 'data/dump.sql' }),
      'No matches for "needle" in files matching "data/dump.sql".\n' +
      '[not searched: 1 file over 2.0 MB, which search_text skips — data/dump.sql (3.0 MB). read_file with startLine and endLine ' +
      'reads any part of it; to find the lines you need in it, use run_command (e.g. grep -nF needle data/dump.sql), which the user approves]');
  });

  it('matches in the small files and a note on the big ones: a few names, then how many more; a regex gets grep -E, quoted', async () => {
    for (let i = 1; i <= 7; i++) big(`logs/part${i}.txt`, 2 + (i % 2));
    fs.writeFileSync(path.join(sb.ws, 'notes.md'), "the needle's eye\n");
    assert.equal(await call(ws, 'search_text', { query: "needle's", isRegex: true }),
      '1 match for "needle\'s":\nnotes.md:1: the needle\'s eye\n' +
      '[not searched: 7 files over 2.0 MB, which search_text skips — logs/part1.txt (3.0 MB), logs/part2.txt (2.0 MB), ' +
      'logs/part3.txt (3.0 MB), logs/part4.txt (2.0 MB), logs/part5.txt (3.0 MB) and 2 more. read_file with startLine and endLine ' +
      'reads any part of them; to find the lines you need in them, use run_command (e.g. grep -nE \'needle\'\\\'\'s\' logs/part1.txt), ' +
      'which the user approves]');
  });

  it('without run_command (the CLI without --yes) the note sends the model to the user, naming --yes', async () => {
    big('data/dump.sql', 3);
    assert.equal(await call(ws, 'search_text', { query: 'needle', include: '*.sql' }, createToolRegistry({ writeTools: false })),
      'No matches for "needle" in files matching "**/*.sql".\n' +
      '[not searched: 1 file over 2.0 MB, which search_text skips — data/dump.sql (3.0 MB). read_file with startLine and endLine ' +
      'reads any part of it; to find the lines you need in it, ask the user to run a command (e.g. grep -nF needle data/dump.sql) ' +
      'and tell you its output (run_command is not available here); the user can start kimi-vllm chat again with --yes, which ' +
      'lets you run commands (and write edits) without asking them]');
  });

  it('big files the search would not look at anyway are not named: ignored, secret-looking, outside the include', async () => {
    big('build/bundle.js', 3); // build/ is .gitignore'd
    big('debug.big.log', 3); // *.log too
    big('.env.production', 3);
    big('data/dump.sql', 3);
    assert.equal(await call(ws, 'search_text', { query: 'needle', include: '*.js' }), 'No matches for "needle" in files matching "**/*.js".');
    assert.equal(await call(ws, 'search_text', { query: 'no such text' }), 'No matches for "no such text".\n' +
      '[not searched: 1 file over 2.0 MB, which search_text skips — data/dump.sql (3.0 MB). read_file with startLine and endLine ' +
      'reads any part of it; to find the lines you need in it, use run_command (e.g. grep -nF \'no such text\' data/dump.sql), which the user approves]');
  });

  it('the next search soon after re-checks the large files it remembers: one deleted and one cut down are no longer named', async () => {
    big('data/a.sql', 3);
    big('data/b.sql', 3);
    big('data/c.sql', 3);
    assert.match(await call(ws, 'search_text', { query: 'nowhere' }), /\[not searched: 3 files over 2\.0 MB, which search_text skips — data\/a\.sql \(3\.0 MB\), data\/b\.sql \(3\.0 MB\), data\/c\.sql \(3\.0 MB\)\. /);
    fs.rmSync(path.join(sb.ws, 'data/a.sql'));
    fs.writeFileSync(path.join(sb.ws, 'data/b.sql'), 'needle, now small\n');
    fs.appendFileSync(path.join(sb.ws, 'data/c.sql'), Buffer.alloc(1024 * 1024, 'more\n'));
    assert.equal(await call(ws, 'search_text', { query: 'needle' }), '1 match for "needle":\ndata/b.sql:1: needle, now small\n' +
      '[not searched: 1 file over 2.0 MB, which search_text skips — data/c.sql (4.0 MB). read_file with startLine and endLine ' +
      'reads any part of it; to find the lines you need in it, use run_command (e.g. grep -nF needle data/c.sql), which the user approves]');
  });

  it('a big file made just after a search: named at once when the include names it, and after a command of the model\'s', async () => {
    assert.equal(await call(ws, 'search_text', { query: 'needle' }), 'No matches for "needle".');
    big('data/new.sql', 3);
    // Named by the include: listed afresh.
    assert.match(await call(ws, 'search_text', { query: 'needle', include: 'data/*.sql' }), /\n\[not searched: 1 file over 2\.0 MB, which search_text skips — data\/new\.sql \(3\.0 MB\)\. /);
    // A command the model ran (here, one that writes another big file) makes a search without include look again.
    const yes = new NodeWorkspace({ roots: [sb.ws], yes: true });
    assert.match(await call(yes, 'run_command', { command: 'head -c 3000000 /dev/zero | tr "\\0" x > made.txt' }), /exit code 0/);
    assert.match(await call(yes, 'search_text', { query: 'needle' }), /\n\[not searched: 2 files over 2\.0 MB, which search_text skips — data\/new\.sql \(3\.0 MB\), made\.txt \(2\.9 MB\)\. /);
  });

  it('a capped result does not look for skipped files (it has matches enough; the search stays as fast)', async () => {
    big('data/dump.sql', 3);
    const out = await call(ws, 'search_text', { query: 'a', maxResults: 2 });
    assert.match(out, /^2\+ matches for "a":\n/);
    assert.ok(!out.includes('not searched'), out);
  });
});
