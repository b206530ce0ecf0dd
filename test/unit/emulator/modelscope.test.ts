// The fake `modelscope download`, run as a real process through test/emulator/bin/modelscope.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOWNLOAD_USAGE, TOP_USAGE } from '../../emulator/modelscope/args';
import { diskBytesFor, diskSize, expectedContent, KIMI_K25_FILES, shardName, type RepoFile } from '../../emulator/modelscope/repo';
import { formatMeter } from '../../emulator/modelscope/tqdm';
import { runTool, type RunOptions, type ToolResult } from './spawnTool';

const MODEL = 'moonshotai/Kimi-K2.5';
const SCALE = 1_000_000;
const GiB = 1024 ** 3;
const TEMP = '._____temp';
const LOG_PREFIX = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - modelscope - /;

const repoFile = (p: string): RepoFile => {
  const f = KIMI_K25_FILES.find((x) => x.path === p);
  if (!f) throw new Error(`no ${p} in the fake repo`);
  return f;
};

/** Every regular file under `dir` (relative paths), leaving out modelscope's own bookkeeping. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === TEMP || e.name === '.mv') continue;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}

/** tqdm output split into the states it drew: by '\r' and '\n', cursor movements removed. */
function progressLines(stderr: string): string[] {
  return stderr.replace(/\x1b\[A/g, '').split(/[\r\n]/).map((l) => l.trimEnd()).filter(Boolean);
}

const OVERALL = /^Processing (\d+) items: +(\d+)%\|([ ▏▎▍▌▋▊▉█]{10})\| (\S+)\/(\S+) \[(\d\d:\d\d)<(\?|\d\d:\d\d), (\S+)\]$/;
const PER_FILE = /^Downloading \[(.+?)\]: +(\d+)%\|([ ▏▎▍▌▋▊▉█]{10})\| (\S+)\/(\S+) \[(\d\d:\d\d)<(\?|\d\d:\d\d), (\S+)\]$/;

/** Inverse of tqdm's format_sizeof with a 1024 divisor: "9.79G" → bytes (± rounding). */
function parseSize(s: string): number {
  const m = /^([\d.]+)([kMGT]?)$/.exec(s);
  if (!m) throw new Error(`not a tqdm size: ${s}`);
  return Number(m[1]) * 1024 ** ' kMGT'.indexOf(m[2] || ' ');
}

/** The bar cells tqdm draws for a fraction with a 10-cell bar. */
function barFor(frac: number): string {
  const blocks = ' ▏▎▍▌▋▊▉█';
  const cells = Math.trunc(frac * 10 * 8);
  const full = Math.floor(cells / 8);
  return full >= 10 ? '█'.repeat(10) : '█'.repeat(full) + blocks[cells % 8] + ' '.repeat(10 - full - 1);
}

describe('fake modelscope download', function () {
  this.slow(4000);
  let tmp: string;
  const ms = (args: string[], opts: RunOptions = {}): Promise<ToolResult> =>
    runTool('modelscope', args, { ...opts, env: { HOME: tmp, ...opts.env } });

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-fake-modelscope-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('the fake repository', () => {
    it('has 78 files: 64 six-digit-total shards of 9.3–9.8G (595 GiB in all) plus config, tokenizer, code and docs', () => {
      assert.equal(KIMI_K25_FILES.length, 78);
      const shards = KIMI_K25_FILES.filter((f) => /^model-\d{5}-of-000064\.safetensors$/.test(f.path));
      assert.equal(shards.length, 64);
      assert.equal(shards[0]!.path, 'model-00001-of-000064.safetensors');
      const total = shards.reduce((s, f) => s + f.size, 0);
      assert.equal(Math.round(total / GiB), 595);
      for (const f of shards.slice(1, -1)) assert.ok(f.size >= 9.3 * GiB && f.size <= 9.8 * GiB, `${f.path}: ${f.size / GiB} GiB`);
      for (const p of ['config.json', 'tokenizer_config.json', 'tiktoken.model', 'chat_template.jinja', 'model.safetensors.index.json',
        'README.md', 'LICENSE', 'modeling_kimi_k25.py', 'configuration_kimi_k25.py', 'docs/deploy_guidance.md']) repoFile(p);
      assert.deepEqual(JSON.parse(repoFile('config.json').content!.toString()).architectures, ['KimiK25ForConditionalGeneration']);
    });

    it("formats progress exactly like tqdm (bar cells, unit scaling with 1024, [elapsed<remaining, rate])", () => {
      // thread_executor's bar: unit_scale=True with a 1024 divisor, so counts read 9.00/78.0.
      assert.equal(formatMeter({ n: 9, total: 78, elapsed: 190, ncols: undefined, prefix: 'Processing 78 items', unit: 'it', unitScale: true, rate: 9 / 190, unitDivisor: 1024, initial: 0 }),
        'Processing 78 items:  12%|█▏        | 9.00/78.0 [03:10<24:16, 21.1s/it]');
      const total = Math.round(9.79 * GiB);
      assert.equal(formatMeter({ n: Math.round(4.41 * GiB), total, elapsed: 41, prefix: 'Downloading [model-00009-of-000064.safetensors]', unit: 'B', unitScale: true, rate: 107e6, unitDivisor: 1024, initial: 0 }),
        'Downloading [model-00009-of-000064.safetensors]:  45%|████▌     | 4.41G/9.79G [00:41<00:53, 107MB/s]');
      // Before the first measurement there is no rate; at the end the bar is full.
      assert.equal(formatMeter({ n: 0, total: 1067, elapsed: 0, prefix: 'Downloading [LICENSE]', unit: 'B', unitScale: true, rate: null, unitDivisor: 1024, initial: 0 }),
        'Downloading [LICENSE]:   0%|          | 0.00/1.04k [00:00<?, ?B/s]');
      assert.equal(formatMeter({ n: 734, total: 734, elapsed: 0.5, prefix: 'Downloading [chat_template.jinja]', unit: 'B', unitScale: true, rate: null, unitDivisor: 1024, initial: 0 }),
        'Downloading [chat_template.jinja]: 100%|██████████| 734/734 [00:00<00:00, 1.47kB/s]');
      // With a known terminal width the bar stretches to fill it.
      const wide = formatMeter({ n: 1, total: 2, elapsed: 1, ncols: 60, prefix: 'x', unit: 'it', unitScale: false, rate: null, unitDivisor: 1000, initial: 0 });
      assert.equal([...wide].length, 60);
      assert.match(wide, /^x:  50%\|█+ +\| 1\/2 \[00:01<00:01,  1\.00it\/s\]$/);
    });
  });

  it('downloads the whole model into --local_dir with the real output and scaled files', async () => {
    const dir = path.join(tmp, 'Kimi-K2.5');
    const r = await ms(['download', '--model', MODEL, '--local_dir', dir]);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    // stdout (print): the banner, where it goes, and the CLI's closing line.
    assert.match(r.stdout, /^\n _   \.-'\)/);
    assert.ok(r.stdout.includes(`\nDownloading Model from https://www.modelscope.cn to directory: ${dir}\n`));
    assert.ok(r.stdout.endsWith(`\nSuccessfully Downloaded from model ${MODEL}.\n\n`));
    // stderr: modelscope's log lines around tqdm's bars.
    const lines = progressLines(r.stderr);
    const logs = lines.filter((l) => LOG_PREFIX.test(l)).map((l) => l.replace(LOG_PREFIX, ''));
    assert.deepEqual(logs, [
      'INFO - Got 78 files, start to download ...',
      `INFO - Download model '${MODEL}' successfully.`,
      'INFO - Target directory already exists, skipping creation.',
    ]);
    // Every file, with its disk size at the default scale (big files ÷ 1e6, small ones in full) and content.
    assert.deepEqual(listFiles(dir), KIMI_K25_FILES.map((f) => f.path).sort());
    for (const f of KIMI_K25_FILES) assert.equal(fs.statSync(path.join(dir, f.path)).size, diskSize(f, SCALE), f.path);
    const shard9 = repoFile(shardName(9));
    assert.equal(fs.statSync(path.join(dir, shard9.path)).size, Math.ceil(shard9.size / SCALE));
    assert.ok(fs.readFileSync(path.join(dir, shard9.path)).equals(expectedContent(shard9, SCALE)));
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).architectures, ['KimiK25ForConditionalGeneration']);
    assert.deepEqual(fs.readdirSync(path.join(dir, TEMP)).filter((n) => fs.statSync(path.join(dir, TEMP, n)).isFile()), []);
    assert.equal(fs.readFileSync(path.join(dir, '.mv'), 'utf8'), 'Revision:master,CreatedAt:1769500800');
  });

  it('progress lines parse: the overall bar counts 78 items, per-file bars show real sizes and reach 100%', async () => {
    const dir = path.join(tmp, 'm');
    const r = await ms(['download', '--model', MODEL, '--local_dir', dir]);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const lines = progressLines(r.stderr).filter((l) => !LOG_PREFIX.test(l));
    const overall = lines.filter((l) => l.startsWith('Processing')).map((l) => {
      const m = OVERALL.exec(l);
      assert.ok(m, `overall line parses: ${JSON.stringify(l)}`);
      return m;
    });
    assert.equal(overall[0]![0], 'Processing 78 items:   0%|          | 0.00/78.0 [00:00<?, ?it/s]');
    assert.equal(overall.at(-1)![2], '100');
    assert.equal(overall.at(-1)![4], '78.0');
    const seen = new Map<string, { pct: number[]; total: string; last: string }>();
    for (const l of lines.filter((x) => x.startsWith('Downloading ['))) {
      const m = PER_FILE.exec(l);
      assert.ok(m, `per-file line parses: ${JSON.stringify(l)}`);
      const [, name, pct, cells, done, total] = m;
      const file = repoFile(name!);
      // Real sizes (not the scaled ones on disk), in tqdm's binary units with three significant digits.
      assert.ok(Math.abs(parseSize(total!) - file.size) <= file.size * 0.006 + 1, `${name}: ${total} vs ${file.size}`);
      const frac = parseSize(done!) / parseSize(total!);
      assert.ok(Math.abs(Number(pct) - frac * 100) <= 1.5, `${l}`);
      // The cells agree with the fraction: full blocks, at most one partial block, then blanks.
      assert.match(cells!, /^█*[ ▏▎▍▌▋▊▉]? *$/, l);
      assert.ok(Math.abs([...cells!].filter((c) => c === '█').length - [...barFor(frac)].filter((c) => c === '█').length) <= 1, l);
      // tqdm rounds the percentage ({percentage:3.0f}) but floors the bar: 9.47G/9.48G reads "100%|█████████▉|",
      // so only a finished file has a full bar.
      if (cells === '██████████') assert.ok(pct === '100' && done === total, l);
      const entry = seen.get(name!) ?? { pct: [], total: total!, last: '' };
      entry.pct.push(Number(pct));
      entry.last = `${cells}|${done}`;
      seen.set(name!, entry);
    }
    assert.equal(seen.size, 78);
    for (const [name, { pct, total, last }] of seen) {
      assert.deepEqual([...pct].sort((a, b) => a - b), pct, `${name} never goes backwards`);
      assert.equal(pct.at(-1), 100, `${name} finishes`);
      assert.equal(last, `██████████|${total}`, `${name}: the last bar is full and shows the whole size`);
    }
    assert.equal(seen.get('model-00009-of-000064.safetensors')!.total, '9.79G');
    assert.equal(seen.get('README.md')!.total, '24.0k');
  });

  it('a terminal width from COLUMNS/LINES stretches the bars to COLUMNS-1, as tqdm does', async () => {
    const r = await ms(['download', '--model', MODEL, '--local_dir', path.join(tmp, 'w'), '--include', '*.json'], { env: { COLUMNS: '100', LINES: '40' } });
    assert.equal(r.code, 0);
    const bars = progressLines(r.stderr).filter((l) => l.startsWith('Downloading [') || l.startsWith('Processing'));
    assert.ok(bars.length > 0);
    for (const l of bars) assert.equal([...l].length, 99, l);
  });

  it('--cache_dir stores under <cache>/moonshotai/Kimi-K2___5 and links Kimi-K2.5 to it', async () => {
    const cache = path.join(tmp, 'cache');
    const r = await ms(['download', '--model', MODEL, '--cache_dir', cache, '--include', '*.json']);
    assert.equal(r.code, 0, r.stderr);
    const printed = path.join(cache, 'moonshotai', 'Kimi-K2.5');
    const store = path.join(cache, 'moonshotai', 'Kimi-K2___5');
    assert.ok(r.stdout.includes(`Downloading Model from https://www.modelscope.cn to directory: ${printed}\n`));
    assert.deepEqual(listFiles(store), ['config.json', 'configuration.json', 'generation_config.json', 'model.safetensors.index.json', 'tokenizer_config.json']);
    assert.equal(fs.realpathSync(printed), fs.realpathSync(store));
    assert.ok(fs.lstatSync(printed).isSymbolicLink());
    assert.ok(fs.existsSync(path.join(cache, TEMP, 'moonshotai', 'Kimi-K2.5')), 'the temp folder of a cache download');
    assert.match(r.stderr, new RegExp(`INFO - Creating symbolic link \\[${printed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\]\\.\n`));
  });

  it('without a directory: $MODELSCOPE_CACHE/models/…, else ~/.cache/modelscope/hub/models/…', async () => {
    const viaEnv = path.join(tmp, 'mscache');
    let r = await ms(['download', '--model', MODEL, 'config.json', 'generation_config.json'], { env: { MODELSCOPE_CACHE: viaEnv } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(path.join(viaEnv, 'models', 'moonshotai', 'Kimi-K2___5')), ['config.json', 'generation_config.json']);
    r = await ms(['download', '--model', MODEL, '--include', 'LICENSE']);
    assert.equal(r.code, 0, r.stderr);
    const home = path.join(tmp, '.cache', 'modelscope', 'hub', 'models', 'moonshotai');
    assert.deepEqual(listFiles(path.join(home, 'Kimi-K2___5')), ['LICENSE']);
    assert.ok(r.stdout.includes(`to directory: ${path.join(home, 'Kimi-K2.5')}\n`));
  });

  it('--include/--exclude globs (fnmatch, comma lists) and explicit FILE arguments select files', async () => {
    const dir = path.join(tmp, 'sel');
    let r = await ms(['download', '--model', MODEL, '--local_dir', dir, '--include', '*.json', '--exclude', 'model.safetensors.index.json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /INFO - Got 4 files, start to download \.\.\./);
    assert.deepEqual(listFiles(dir), ['config.json', 'configuration.json', 'generation_config.json', 'tokenizer_config.json']);

    // modelscope also applies every exclude pattern that is a valid regex with re.search() to the base name:
    // "model-*" (regex: "model" then any dashes) therefore drops tiktoken.model and the index file as well.
    const dir2 = path.join(tmp, 'sel2');
    r = await ms(['download', '--model', MODEL, '--local_dir', dir2, '--exclude', 'model-*,*.py', 'docs/*']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(dir2), ['LICENSE', 'README.md', 'chat_template.jinja', 'config.json', 'configuration.json',
      'generation_config.json', 'tokenizer_config.json']);
    const dir2b = path.join(tmp, 'sel2b');
    r = await ms(['download', '--model', MODEL, '--local_dir', dir2b, '--exclude', 'model-0*', '*.py', 'docs/', '--include', '*.model,*.json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(dir2b), ['config.json', 'configuration.json', 'generation_config.json', 'model.safetensors.index.json',
      'tiktoken.model', 'tokenizer_config.json']);

    const dir3 = path.join(tmp, 'sel3');
    r = await ms(['download', '--model', MODEL, 'tiktoken.model', 'docs/deploy_guidance.md', '--local_dir', dir3]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(dir3), ['docs/deploy_guidance.md', 'tiktoken.model']);
    assert.equal(fs.statSync(path.join(dir3, 'tiktoken.model')).size, diskSize(repoFile('tiktoken.model'), SCALE));

    // One FILE: modelscope's single-file path — no snapshot line, no overall bar.
    const dir4 = path.join(tmp, 'sel4');
    r = await ms(['download', '--model', MODEL, 'config.json', '--local_dir', dir4]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(dir4), ['config.json']);
    assert.ok(!r.stdout.includes('Downloading Model from'));
    assert.ok(!r.stderr.includes('Processing'));
    assert.ok(r.stdout.endsWith(`\nSuccessfully Downloaded from model ${MODEL}.\n\n`));
  });

  it('resumes after a network drop: finished files are skipped, the partial one continues from its size', async () => {
    const dir = path.join(tmp, 'resume');
    const [s1, s2, s3] = [1, 2, 3].map((i) => repoFile(shardName(i))) as [RepoFile, RepoFile, RepoFile];
    const failAfter = s1.size + Math.floor(s2.size * 0.4);
    const args = ['download', '--model', MODEL, '--local_dir', dir, '--include', 'model-0000[1-3]-of-*', '--max-workers', '1'];
    const first = await ms(args, { env: { KIMI_FAKE_MODELSCOPE_FAIL: 'network-drop', KIMI_FAKE_MODELSCOPE_FAIL_AFTER_BYTES: String(failAfter) } });
    assert.equal(first.code, 1);
    const remaining = s2.size - (failAfter - s1.size);
    assert.ok(first.stderr.includes(`urllib3.exceptions.ProtocolError: ('Connection broken: IncompleteRead(0 bytes read, ${remaining} more expected)'`));
    assert.ok(first.stderr.includes('requests.exceptions.ChunkedEncodingError: '));
    assert.ok(first.stderr.endsWith(`urllib3.exceptions.MaxRetryError: None: Max retries exceeded with url: https://www.modelscope.cn/api/v1/models/${MODEL}/repo?Revision=master&FilePath=${s2.path} ` +
      `(Caused by ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(0 bytes read, ${remaining} more expected)', IncompleteRead(0 bytes read, ${remaining} more expected))))\n`));
    assert.ok(!first.stdout.includes('Successfully'));
    // Shard 1 is in place, shard 2 is a partial file in the temp folder holding exactly the bytes received.
    assert.deepEqual(listFiles(dir), [s1.path]);
    const partial = fs.readFileSync(path.join(dir, TEMP, s2.path));
    assert.equal(partial.length, diskBytesFor(s2, SCALE, failAfter - s1.size));
    assert.ok(partial.length > 0 && partial.equals(expectedContent(s2, SCALE).subarray(0, partial.length)));
    const s1Mtime = fs.statSync(path.join(dir, s1.path)).mtimeMs;

    const second = await ms(args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /INFO - Got 2 files, start to download \.\.\./);
    assert.ok(!second.stderr.includes(`Downloading [${s1.path}]`), 'the finished shard is not fetched again');
    assert.equal(fs.statSync(path.join(dir, s1.path)).mtimeMs, s1Mtime);
    // Shard 2's bar starts from what was already there (40 %), never from a fresh 0 % of progress after that.
    const s2pcts = progressLines(second.stderr).filter((l) => l.startsWith(`Downloading [${s2.path}]`)).map((l) => Number(PER_FILE.exec(l)![2]));
    assert.equal(s2pcts[0], 0, 'the bar is drawn before the partial size is read');
    assert.ok(s2pcts.slice(1).every((p) => p >= 40), `continued from 40 %: ${s2pcts.join(',')}`);
    for (const f of [s1, s2, s3]) assert.ok(fs.readFileSync(path.join(dir, f.path)).equals(expectedContent(f, SCALE)), `${f.path} content`);
    assert.deepEqual(fs.readdirSync(path.join(dir, TEMP)), []);
  });

  it('disk full: a Python traceback with OSError [Errno 28], exit 1, the partial file kept', async () => {
    const dir = path.join(tmp, 'full');
    const r = await ms(['download', '--model', MODEL, '--local_dir', dir, '--include', 'model-0001*'],
      { env: { KIMI_FAKE_MODELSCOPE_FAIL: 'disk-full', KIMI_FAKE_MODELSCOPE_FAIL_AFTER_BYTES: String(30 * GiB) } });
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes('Traceback (most recent call last):\n'));
    assert.ok(r.stderr.includes('\nOSError: [Errno 28] No space left on device\n\nThe above exception was the direct cause of the following exception:\n'));
    assert.match(r.stderr, /urllib3\.exceptions\.MaxRetryError: None: Max retries exceeded with url: https:\/\/www\.modelscope\.cn\/api\/v1\/models\/moonshotai\/Kimi-K2\.5\/repo\?Revision=master&FilePath=model-0001\d-of-000064\.safetensors \(Caused by OSError\(28, 'No space left on device'\)\)\n$/);
    const partials = fs.readdirSync(path.join(dir, TEMP)).map((n) => fs.statSync(path.join(dir, TEMP, n)).size);
    assert.ok(partials.some((s) => s > 0), 'partial files stay in the temp folder');
  });

  it('an unknown model: the hub answers 404 on both sites, exit 1', async () => {
    const r = await ms(['download', '--model', 'moonshotai/Kimi-K9', '--local_dir', path.join(tmp, 'x')]);
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n');
    assert.match(lines[0]!, /^\S+ \S+ - modelscope - WARNING - Repo moonshotai\/Kimi-K9 not exists on https:\/\/www\.modelscope\.cn, will try on alternative endpoint https:\/\/www\.modelscope\.ai\.$/);
    assert.match(lines[1]!, /^\S+ \S+ - modelscope - ERROR - Repo moonshotai\/Kimi-K9 not exists on either https:\/\/www\.modelscope\.cn or https:\/\/www\.modelscope\.ai$/);
    assert.equal(lines[2], 'Traceback (most recent call last):');
    assert.ok(r.stderr.endsWith('\nrequests.exceptions.HTTPError: <Response [404]>\n'));
    assert.ok(!r.stdout.includes('Downloading Model from'));
    // KIMI_FAKE_MODELSCOPE_FAIL=unknown-model makes even the real id unknown.
    const forced = await ms(['download', '--model', MODEL, '--local_dir', path.join(tmp, 'y')], { env: { KIMI_FAKE_MODELSCOPE_FAIL: 'unknown-model' } });
    assert.equal(forced.code, 1);
    assert.ok(forced.stderr.includes(`Repo ${MODEL} not exists on either`));
  });

  it('argparse errors: unknown flags, bad values, --help', async () => {
    let r = await ms(['download', '--model', MODEL, '--local-dir', '/x']);
    assert.deepEqual([r.code, r.stderr], [2, `${TOP_USAGE}ModelScope Command Line tool: error: unrecognized arguments: --local-dir\n`]);
    r = await ms(['download', '--model', MODEL, '--max-workers', 'many']);
    assert.deepEqual([r.code, r.stderr], [2, `${DOWNLOAD_USAGE}modelscope <command> [<args>] download: error: argument --max-workers: invalid int value: 'many'\n`]);
    r = await ms(['download', '--model', MODEL, '--dataset', 'x/y']);
    assert.deepEqual([r.code, r.stderr], [2, `${DOWNLOAD_USAGE}modelscope <command> [<args>] download: error: argument --dataset: not allowed with argument --model\n`]);
    r = await ms(['download', '--help']);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.includes(`${DOWNLOAD_USAGE}\npositional arguments:\n`));
    assert.ok(r.stdout.includes('  --local_dir LOCAL_DIR\n'));
    // Abbreviations of real options are accepted, as argparse allows.
    r = await ms(['download', '--model', MODEL, '--local', path.join(tmp, 'abbrev'), '--inc', 'LICENSE']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(path.join(tmp, 'abbrev')), ['LICENSE']);
  });

  it('Ctrl-C: KeyboardInterrupt traceback, ends by SIGINT (status 130 in a shell), partial files kept', async () => {
    const dir = path.join(tmp, 'int');
    let sent = false;
    const r = await ms(['download', '--model', MODEL, '--local_dir', dir], {
      env: { KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: String(4 * GiB) },
      onStderr: (soFar, child) => {
        // Interrupt once a shard has visibly made progress.
        if (!sent && /Downloading \[model-\d{5}-of-000064\.safetensors\]: +\d+%\|.{10}\| (?!0\.00\/)/.test(soFar)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.ok(sent, 'saw progress before interrupting');
    assert.deepEqual([r.code, r.signal], [null, 'SIGINT']);
    assert.ok(r.stderr.endsWith('    waiter.acquire()\nKeyboardInterrupt\n'), r.stderr.slice(-500));
    assert.ok(r.stdout.includes('Downloading Model from'), 'buffered stdout is flushed before the re-raised signal');
    const partials = fs.readdirSync(path.join(dir, TEMP)).filter((n) => n.startsWith('model-'));
    assert.ok(partials.some((n) => fs.statSync(path.join(dir, TEMP, n)).size > 0), 'partial shards stay for a resume');
    assert.ok(!listFiles(dir).some((n) => n.startsWith('model-')), 'no shard finished');
  });
});
