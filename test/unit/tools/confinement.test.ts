// Confinement: the traversal corpus against the resolver and the glob checker, secret/ignored files needing
// approval, and the same corpus through the whole loop against the emulator — asserting with sentinel files next
// to the workspace that nothing outside it is ever opened, read or listed, and that no sentinel text ever reaches
// the server.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Confinement, secretReason, workspaceRoots } from '../../../src/core/tools/confinement';
import { ToolError, type ApprovalRequest } from '../../../src/core/tools/types';
import { withEmulator } from '../chat/helpers';
import { ENV_SENTINEL, makeSandbox, recordFsAccess, runLoop, SENTINEL, type Sandbox } from './helpers';

async function refused(c: Confinement, input: unknown, re: RegExp) {
  await assert.rejects(c.resolve(input), (e: unknown) => {
    assert.ok(e instanceof ToolError, `${JSON.stringify(input)}: ${String(e)}`);
    assert.match(e.message, re, JSON.stringify(input));
    assert.match(e.message, /expected|only files inside|symlink loop/, `${JSON.stringify(input)}: the message says what is expected`);
    return true;
  });
}

/** Paths that must never resolve, with what the refusal must say. `O` is the outside folder, `W` the workspace. */
function pathCorpus(sb: Sandbox): [string, RegExp][] {
  return [
    ['..', /contains "\.\."/],
    ['../outside/secret.txt', /contains "\.\."/],
    ['src/../../outside/secret.txt', /contains "\.\."/],
    ['src/./../../outside/secret.txt', /contains "\.\."/],
    ['src/..', /contains "\.\."/],
    ['./../outside', /contains "\.\."/],
    [`${sb.ws}/../outside/secret.txt`, /contains "\.\."/],
    [path.join(sb.outside, 'secret.txt'), /is outside the workspace/],
    [sb.outside, /is outside the workspace/],
    ['/etc/passwd', /is outside the workspace/],
    [`${sb.ws}-evil/secret.txt`, /is outside the workspace/],
    ['link-file', /leads outside the workspace through a symlink/],
    ['link-dir', /leads outside the workspace through a symlink/],
    ['link-dir/secret.txt', /leads outside the workspace through a symlink/],
    ['link-dir/new-file.txt', /leads outside the workspace through a symlink/],
    ['dangling', /symlink whose target does not exist/],
    ['dangling/x', /symlink whose target does not exist/],
    ['%2e%2e/outside/secret.txt', /percent-encoded/],
    ['%2E%2E%2Foutside%2Fsecret.txt', /percent-encoded/],
    ['..%2foutside%2fsecret.txt', /percent-encoded/],
    ['%252e%252e%252foutside', /percent-encoded/],
    ['src%00.ts', /percent-encoded/],
    ['\uff0e\uff0e/outside/secret.txt', /look-alike/],
    ['\u2025/outside/secret.txt', /look-alike/],
    ['..\u2215outside\u2215secret.txt', /look-alike/],
    ['\ufe52\ufe52/outside', /look-alike/],
    ['src\uff0f..\uff0f..\uff0foutside', /look-alike/],
    ['..\\outside\\secret.txt', /backslash/],
    ['src\\..\\..\\outside', /backslash/],
    ['C:\\Windows\\win.ini', /backslash/],
    ['C:/Windows/win.ini', /Windows drive path/],
    ['//server/share/secret.txt', /network \(UNC\) path/],
    ['README.md\u0000../../outside/secret.txt', /NUL byte/],
    ['src/\nindex.ts', /control character/],
    ['~/secret.txt', /starts with "~"/],
    ['~', /starts with "~"/],
    ['file:///etc/passwd', /is a URL/],
    ['', /is empty/],
    ['   ', /is empty/],
  ];
}

const globCorpus: [string, RegExp][] = [
  ['../outside/*', /contains "\.\."/],
  ['../../**', /contains "\.\."/],
  ['**/../outside/*', /contains "\.\."/],
  ['src/**/../../..', /contains "\.\."/],
  ['{..,src}/*', /contains "\.\."/],
  ['{src,..}/**', /contains "\.\."/],
  ['/etc/*', /is absolute/],
  ['/**', /is absolute/],
  ['..\\*', /backslash/],
  ['%2e%2e/*', /percent-encoded/],
  ['\uff0e\uff0e/*', /look-alike/],
  ['C:/**', /Windows drive path/],
  ['~/**', /starts with "~"/],
  ['', /is empty/],
];

describe('confinement', () => {
  let sb: Sandbox;
  let c: Confinement;
  beforeEach(() => {
    sb = makeSandbox();
    c = new Confinement(workspaceRoots([sb.ws]));
  });
  afterEach(() => sb.cleanup());

  it('refuses every path of the traversal corpus with a clear error (what is wrong, what is expected)', async () => {
    for (const [input, re] of pathCorpus(sb)) await refused(c, input, re);
    await refused(c, 42, /must be a string/);
  });

  it('accepts paths inside: relative, ./, trailing /, absolute inside, a symlink that stays inside, a file to create', async () => {
    assert.equal((await c.resolve('README.md')).absolute, path.join(sb.ws, 'README.md'));
    assert.equal((await c.resolve('./src//index.ts')).display, 'src/index.ts');
    assert.equal((await c.resolve('src/')).display, 'src');
    assert.equal((await c.resolve('.')).display, '.');
    assert.equal((await c.resolve(' README.md ')).display, 'README.md');
    assert.equal((await c.resolve(path.join(sb.ws, 'src', 'index.ts'))).display, 'src/index.ts');
    const link = await c.resolve('math-link.ts');
    assert.equal(link.absolute, path.join(sb.ws, 'src', 'lib', 'math.ts'));
    assert.equal(link.display, 'src/lib/math.ts');
    const created = await c.resolve('notes/deep/new.txt');
    assert.equal(created.exists, false);
    assert.equal(created.absolute, path.join(sb.ws, 'notes', 'deep', 'new.txt'));
    await assert.rejects(c.resolve('README.md/x'), /"README\.md" is a file, not a folder/);
    assert.equal((await c.resolve('my file %zz.txt')).display, 'my file %zz.txt', 'a % that is not an encoding is fine');
  });

  it('a symlink loop is refused, not followed forever', async () => {
    fs.symlinkSync(path.join(sb.ws, 'loop-b'), path.join(sb.ws, 'loop-a'));
    fs.symlinkSync(path.join(sb.ws, 'loop-a'), path.join(sb.ws, 'loop-b'));
    await refused(c, 'loop-a', /symlink loop|symlink whose target does not exist/);
  });

  it('globs: the corpus is refused; globs without "/" match at any depth', () => {
    for (const [g, re] of globCorpus) {
      assert.throws(() => c.normalizeGlob(g), (e: unknown) => e instanceof ToolError && re.test(e.message) && /expected/.test(e.message), g);
    }
    assert.equal(c.normalizeGlob('*.ts'), '**/*.ts');
    assert.equal(c.normalizeGlob('./src/**/*.ts'), 'src/**/*.ts');
    assert.equal(c.normalizeGlob('.'), '**');
    assert.equal(c.normalizeGlob('src/..foo/*'), 'src/..foo/*', '".." inside a name is not a segment');
  });

  it('multi-root: paths may start with a root name; each root confines on its own', async () => {
    const other = path.join(path.dirname(sb.ws), 'api');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'server.ts'), 'x');
    const m = new Confinement(workspaceRoots([sb.ws, other]));
    assert.equal((await m.resolve('api/server.ts')).absolute, path.join(other, 'server.ts'));
    assert.equal((await m.resolve('api/server.ts')).display, 'api/server.ts');
    assert.equal((await m.resolve('README.md')).display, 'ws/README.md');
    assert.equal((await m.resolve(path.join(other, 'server.ts'))).root.name, 'api');
    await refused(m, 'api/../outside/secret.txt', /contains "\.\."/);
    await refused(m, path.join(sb.outside, 'secret.txt'), /is outside the workspace/);
  });

  it('secret-looking files, .git internals, .gitignore\'d and excluded files need approval to read', async () => {
    for (const name of ['.env', '.env.local', 'config/.env.production', 'server.pem', 'tls/private.key', 'id_rsa', 'id_ed25519.pub', 'credentials', 'credentials.json',
      '.npmrc', '.pypirc', '.netrc', '.git-credentials', 'secrets.yaml', 'prod.tfvars', 'service-account-prod.json', '.ssh/config', '.aws/config', 'deploy/.docker/config.json']) {
      assert.ok(secretReason(name), name);
    }
    for (const name of ['README.md', 'src/keyboard.ts', 'environment.ts', 'docs/credentials-guide.md', 'monkey', 'src/secretary.ts', '.gitignore', '.github/workflows/ci.yml']) {
      assert.equal(secretReason(name), undefined, name);
    }
    fs.writeFileSync(path.join(sb.ws, '.gitignore'), 'build/\n*.log\n!keep.log\n/rooted.txt\ndocs/**/*.tmp\n');
    fs.mkdirSync(path.join(sb.ws, 'src', 'gen'), { recursive: true });
    fs.writeFileSync(path.join(sb.ws, 'src', '.gitignore'), 'gen/\n');
    const k = new Confinement(workspaceRoots([sb.ws]), { excludes: ['**/*.snap'] });
    const kind = async (p: string) => k.sensitivity(await k.resolve(p))?.kind;
    assert.equal(await kind('.env'), 'secret');
    assert.equal(await kind('.git/config'), 'git');
    assert.equal(await kind('build/out.js'), 'ignored');
    assert.match(k.sensitivity(await k.resolve('build/out.js'))!.reason, /ignored by \.gitignore \(rule "build\/"\)/);
    assert.equal(await kind('debug.log'), 'ignored');
    assert.equal(await kind('keep.log'), undefined, 'negated');
    assert.equal(await kind('rooted.txt'), 'ignored');
    assert.equal(await kind('src/rooted.txt'), undefined, 'anchored to the root');
    assert.equal(await kind('docs/a/b/x.tmp'), 'ignored');
    assert.equal(await kind('src/gen/x.ts'), 'ignored', 'a nested .gitignore applies below its folder');
    assert.match(k.sensitivity(await k.resolve('src/gen/x.ts'))!.reason, /src\/\.gitignore \(rule "gen\/"\)/);
    assert.equal(await kind('gen/x.ts'), undefined, '…and only there');
    assert.equal(await kind('src/__snapshots__/a.snap'), 'excluded');
    assert.equal(await kind('src/index.ts'), undefined);
  });
});

describe('confinement through the loop (emulator): nothing outside the workspace is ever read', function () {
  let sb: Sandbox;
  beforeEach(() => {
    sb = makeSandbox();
  });
  afterEach(() => sb.cleanup());

  it('the whole corpus as tool calls: every path call is an error result, globs and searches find nothing outside, no sentinel reaches the server, no outside file is opened or listed', async () => {
    const outsideBefore = fs.readdirSync(sb.outside).sort();
    const paths = pathCorpus(sb).map(([p]) => p);
    const calls = [
      ...paths.map((p) => ({ name: 'read_file', arguments: { path: p } })),
      ...paths.map((p) => ({ name: 'list_directory', arguments: { path: p } })),
      ...globCorpus.map(([g]) => ({ name: 'find_files', arguments: { glob: g } })),
      { name: 'find_files', arguments: { glob: '**/*' } },
      { name: 'find_files', arguments: { glob: 'link-dir/**' } },
      { name: 'find_files', arguments: { glob: '*secret*' } },
      { name: 'search_text', arguments: { query: 'SENTINEL' } },
      { name: 'search_text', arguments: { query: 'SENTINEL', include: 'link-dir/**' } },
      { name: 'search_text', arguments: { query: 'SENTINEL', include: '.env' } },
      { name: 'search_text', arguments: { query: 'S.NTINEL', isRegex: true, include: '**' } },
      ...globCorpus.map(([g]) => ({ name: 'search_text', arguments: { query: 'SENTINEL', include: g } })),
      ...paths.map((p) => ({ name: 'propose_edit', arguments: { path: p, newText: 'pwned' } })),
      ...paths.map((p) => ({ name: 'run_command', arguments: { command: 'cat secret.txt', cwd: p } })),
      { name: 'read_file', arguments: { path: '.env' } },
    ];
    const approvals: ApprovalRequest[] = [];
    await withEmulator({ script: [{ thinking: 'Probe.', toolCalls: calls }, { answer: 'done' }] }, async (h) => {
      const { value: run, paths: touched } = await recordFsAccess(() =>
        runLoop(h, 'probe', { ws: sb.ws, workspace: { approve: async (r) => (approvals.push(r), r.kind === 'sensitiveRead' ? 'reject' : 'accept') } }));
      const { result, bodies } = run;
      assert.equal(result.toolCalls.length, calls.length);
      const byName = (n: string) => result.toolCalls.filter((c) => c.name === n);
      for (const c of [...byName('read_file'), ...byName('list_directory'), ...byName('propose_edit'), ...byName('run_command')]) {
        assert.equal(c.status, 'error', `${c.name} ${c.arguments} → ${c.result}`);
        assert.match(c.result!, /^error: /);
      }
      for (const c of byName('find_files').slice(0, globCorpus.length)) assert.equal(c.status, 'error', `${c.arguments} → ${c.result}`);
      for (const c of byName('search_text').slice(4)) assert.equal(c.status, 'error', `${c.arguments} → ${c.result}`);
      const all = byName('find_files').at(-3)!.result!;
      assert.ok(all.includes('src/index.ts') && !all.includes('link-dir') && !all.includes('link-file') && !all.includes('secret.txt'), all);
      assert.equal(byName('find_files').at(-2)!.result, 'No files match "link-dir/**".');
      assert.equal(byName('find_files').at(-1)!.result, 'No files match "**/*secret*".');
      for (const c of byName('search_text').slice(0, 4)) assert.match(c.result!, /^No matches for /, c.result);
      // Approvals: only the .env read was ever asked for (refused); no edit or command reached the user.
      assert.deepEqual(approvals.map((a) => a.kind), ['sensitiveRead']);
      assert.match(result.toolCalls.at(-1)!.result!, /^error: the user did not allow reading \.env \(it looks like a secret/);

      // Nothing of the outside (or of the refused .env) went to the server, in any request.
      for (const r of h.requests) {
        assert.ok(!r.rawBody.includes(SENTINEL), 'outside sentinel sent to the server');
        assert.ok(!r.rawBody.includes(ENV_SENTINEL), '.env sentinel sent to the server');
      }
      assert.equal(bodies.length, 2);
      // Nothing outside was opened, read or listed (realpath/lstat of the refused paths is all the resolver does).
      const outsideTouched = touched.filter((p) => path.resolve(p).startsWith(sb.outside));
      assert.deepEqual(outsideTouched, []);
      assert.ok(touched.some((p) => p.startsWith(sb.ws)), 'the instrumentation saw the workspace reads');
      // And nothing was written there.
      assert.deepEqual(fs.readdirSync(sb.outside).sort(), outsideBefore);
      assert.equal(fs.readFileSync(path.join(sb.outside, 'secret.txt'), 'utf8'), `${SENTINEL}\n`);
    });
  });

  it('reading a secret-looking or ignored file: refused without approval (and without --yes in the CLI port), read once accepted', async () => {
    await withEmulator({ script: [
      { toolCalls: [{ name: 'read_file', arguments: { path: '.env' } }, { name: 'read_file', arguments: { path: 'build/out.js' } }] },
      { answer: 'a' },
      { toolCalls: [{ name: 'read_file', arguments: { path: '.env' } }, { name: 'read_file', arguments: { path: 'build/out.js' } }] },
      { answer: 'b' },
    ] }, async (h) => {
      const cli = await runLoop(h, 'x', { ws: sb.ws });
      assert.match(cli.result.toolCalls[0]!.result!, /^error: reading \.env needs the user's approval because it looks like a secret \(environment files .*\); the kimi-vllm CLI reads such files only with --yes$/);
      assert.match(cli.result.toolCalls[1]!.result!, /^error: reading build\/out\.js needs the user's approval because it is ignored by \.gitignore \(rule "build\/"\)/);
      assert.ok(!h.requests.some((r) => r.rawBody.includes(ENV_SENTINEL)));
      const asked: ApprovalRequest[] = [];
      const ok = await runLoop(h, 'y', { ws: sb.ws, workspace: { approve: async (r) => (asked.push(r), 'accept') } });
      // The two reads run concurrently: each is asked once, in whichever order they reach the approval.
      assert.deepEqual(asked.map((a) => a.kind === 'sensitiveRead' && a.path.display).sort(), ['.env', 'build/out.js']);
      assert.match(ok.result.toolCalls[0]!.result!, new RegExp(ENV_SENTINEL));
      assert.match(ok.result.toolCalls[1]!.result!, /console\.log\("built add"\)/);
    });
  });
});
