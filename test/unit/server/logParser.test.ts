// VllmLogParser's contract independent of any one run: the same events however the output is chunked (property
// test over real captures of the fake vllm), bounded memory and no exceptions on hostile input, and the small
// rules (\r handling, ANSI split across chunks, half lines, most-specific diagnosis wins).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { diagnose, specificity } from '../../../src/core/server/diagnosis';
import { MAX_LINE_CHARS, VllmLogParser, type LogEvent } from '../../../src/core/server/logParser';
import { freePort } from '../../emulator/vllm/spawnFake';
import { seededRandom } from '../../support/seededRandom';
import { linesOf, makeModelDir, parseAll, phasesOf, progressOf, randomChunks, startParsed, type ParsedRun } from './fakeRun';

const HEADER = (proc: string, msg: string, level = 'INFO') => `\x1b[0;36m(${proc} pid=7)\x1b[0;0m ${level} 11-28 12:57:05 [x.py:1] ${msg}`;

function feedChunks(chunks: string[], stream?: 'stdout' | 'stderr'): { events: LogEvent[]; parser: VllmLogParser } {
  const parser = new VllmLogParser();
  const events: LogEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c, stream));
  events.push(...parser.end());
  return { events, parser };
}

describe('VllmLogParser: re-chunking (real captures of the fake vllm)', function () {
  this.timeout(60_000);
  const captures = new Map<string, string>();
  let root: string;

  before(async function () {
    this.timeout(60_000);
    let model: string;
    ({ root, model } = makeModelDir());
    const scenarios: [string, string[], Record<string, string>][] = [
      ['good start 0.15.1', [], { KIMI_FAKE_VLLM_VERSION: '0.15.1' }],
      ['kv-cache 0.17.1', [], { KIMI_FAKE_VLLM_FAIL: 'kv-cache', KIMI_FAKE_VLLM_VERSION: '0.17.1' }],
      ['busy GPUs 0.15.1', [], { KIMI_FAKE_GPU_STATE: 'busy' }],
      ['oom', [], { KIMI_FAKE_VLLM_FAIL: 'oom' }],
    ];
    for (const [name, extra, env] of scenarios) {
      const port = await freePort();
      const r: ParsedRun = startParsed(
        ['serve', model, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port), '--tool-call-parser', 'kimi_k2',
          '--reasoning-parser', 'kimi_k2', '--enable-auto-tool-choice', ...extra],
        env,
      );
      try {
        if (!env.KIMI_FAKE_VLLM_FAIL && !env.KIMI_FAKE_GPU_STATE) {
          await r.fake.waitFor(/INFO:\s+Application startup complete\.$/);
          r.fake.signal('SIGINT');
        }
        await r.finish();
        captures.set(name, r.fake.raw);
        // The live chunking of the pipe gave the same events as one big push.
        assert.deepEqual(r.events, parseAll(r.fake.raw).events, `${name}: live chunks vs one push`);
      } finally {
        await r.fake.dispose();
      }
    }
  });

  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('the captures are what the tests need: \\r\\n joins, \\r-refreshed bars, ANSI prefixes, failures', () => {
    const good = captures.get('good start 0.15.1')!;
    assert.match(good, /\r\n/);
    assert.match(good, /\r[^\n]*\r[^\n]*\n/); // a bar refreshed in place
    assert.match(good, /\x1b\[0;36m\(APIServer pid=\d+\)/); // eslint-disable-line no-control-regex
    assert.equal(parseAll(captures.get('kv-cache 0.17.1')!).parser.diagnosis?.code, 'kvCacheTooSmall');
    assert.equal(parseAll(captures.get('busy GPUs 0.15.1')!).parser.diagnosis?.code, 'gpuMemoryBusy');
    assert.equal(parseAll(captures.get('oom')!).parser.diagnosis?.code, 'cudaOutOfMemory');
  });

  it('random chunk sizes (seeded, 300 splits per capture) give identical events', () => {
    for (const [name, raw] of captures) {
      const reference = parseAll(raw).events;
      assert.ok(reference.length > 50);
      for (let seed = 1; seed <= 300; seed++) {
        const chunks = randomChunks(raw, seededRandom(seed * 7919 + name.length));
        assert.deepEqual(feedChunks(chunks).events, reference, `${name}, seed ${seed}`);
      }
    }
  });

  it('one character at a time gives identical events', () => {
    for (const [name, raw] of captures) {
      assert.deepEqual(feedChunks([...raw]).events, parseAll(raw).events, name);
    }
  });

  it('a split right after every "\\r" (the one place where the parser must wait for the next character)', () => {
    for (const [name, raw] of captures) {
      assert.deepEqual(feedChunks(raw.split(/(?<=\r)/)).events, parseAll(raw).events, name);
    }
  });
});

describe('VllmLogParser: line assembly', () => {
  it('strips ANSI split across chunks and the process prefix stays in the line text', () => {
    const { events } = feedChunks(['\x1b[0;3', '6m(APIServer pid=7)\x1b[0', ';0m INFO 11-28 12:57:05 [model.py:547] Resolved architecture: KimiK25ForConditionalGeneration\n']);
    assert.deepEqual(events, [
      { kind: 'line', text: '(APIServer pid=7) INFO 11-28 12:57:05 [model.py:547] Resolved architecture: KimiK25ForConditionalGeneration' },
      { kind: 'phase', phase: 'resolving' },
      { kind: 'info', key: 'architecture', value: 'KimiK25ForConditionalGeneration' },
    ]);
  });

  it('"\\r\\n" joins of multi-line records are line ends, even when the chunk ends between "\\r" and "\\n"', () => {
    const text = `${HEADER('EngineCore_DP0', 'EngineCore failed to start.', 'ERROR')}\r\n${HEADER('EngineCore_DP0', 'Traceback (most recent call last):', 'ERROR')}\n`;
    const cut = text.indexOf('\r\n') + 1;
    const { events } = feedChunks([text.slice(0, cut), text.slice(cut)]);
    assert.deepEqual(linesOf(events), [
      '(EngineCore_DP0 pid=7) ERROR 11-28 12:57:05 [x.py:1] EngineCore failed to start.',
      '(EngineCore_DP0 pid=7) ERROR 11-28 12:57:05 [x.py:1] Traceback (most recent call last):',
    ]);
  });

  it('a bar refreshed with "\\r" reports each state as soon as its segment is complete; the logged line is the final state', () => {
    const bar = (n: number) => `Capturing CUDA graphs (decode, FULL): ${String(Math.round((n / 35) * 100)).padStart(3)}%|██        | ${n}/35 [00:01<00:02,  9.12it/s]`;
    const parser = new VllmLogParser();
    const first = parser.push(`(Worker_TP0 pid=7) \r${bar(0)}\r${bar(9)}\r`);
    assert.deepEqual(first, [
      { kind: 'phase', phase: 'cudaGraphs' },
      { kind: 'progress', phase: 'cudaGraphs', done: 0, total: 35 },
    ]);
    assert.deepEqual(parser.push(`${bar(18)}`), [{ kind: 'progress', phase: 'cudaGraphs', done: 9, total: 35 }]);
    assert.deepEqual(parser.push(`\r${bar(35)}\n`), [
      { kind: 'progress', phase: 'cudaGraphs', done: 18, total: 35 },
      { kind: 'line', text: `(Worker_TP0 pid=7) ${bar(35)}` },
      { kind: 'progress', phase: 'cudaGraphs', done: 35, total: 35 },
    ]);
  });

  it('shard progress: repeats are dropped, progress of a phase already left is ignored', () => {
    const shard = (n: number) => `(Worker_TP0 pid=7) \rLoading safetensors checkpoint shards: ${String(Math.round((n / 64) * 100)).padStart(3)}% Completed | ${n}/64 [00:06<06:31,  6.22s/it]\n`;
    const { events } = parseAll(shard(63) + shard(64) + shard(64) + `${HEADER('Worker_TP0', 'Available KV cache memory: 41.20 GiB')}\n` + shard(64));
    assert.deepEqual(progressOf(events, 'loadingWeights'), ['63/64', '64/64']);
    assert.deepEqual(phasesOf(events), ['loadingWeights', 'profiling']);
  });

  it('a half line is completed by end(); a half ready-marker is not the ready marker', () => {
    const p = new VllmLogParser();
    assert.deepEqual(p.push('(APIServer pid=7) INFO:     Application startup compl'), []);
    assert.deepEqual(phasesOf(p.end()), []);
    const q = new VllmLogParser();
    assert.deepEqual(q.push('(APIServer pid=7) INFO:     Application startup complete.'), []);
    assert.deepEqual(q.end(), [
      { kind: 'line', text: '(APIServer pid=7) INFO:     Application startup complete.' },
      { kind: 'phase', phase: 'ready' },
    ]);
    // A trailing "\r" at the very end is a line end too.
    assert.deepEqual(linesOf(feedChunks(['abc\r']).events), ['abc']);
  });

  it('Waiting for application startup. and the vLLM-side routes are startingApi, never ready', () => {
    const { events } = parseAll(
      [
        HEADER('APIServer', 'Starting vLLM API server 0 on http://127.0.0.1:8000'),
        HEADER('APIServer', 'Route: /health, Methods: GET'),
        '(APIServer pid=7) INFO:     Started server process [7]',
        '(APIServer pid=7) INFO:     Waiting for application startup.',
      ].join('\n') + '\n',
    );
    assert.deepEqual(phasesOf(events), ['startingApi']);
  });

  it('stats lines of older releases (no prefix cache field) still parse; "Engine 000: vllm cache_config_info" is not stats', () => {
    const { events } = parseAll(
      HEADER('APIServer', 'Engine 000: vllm cache_config_info with initialization after num_gpu_blocks is: 11789') + '\n' +
        HEADER('APIServer', 'Avg prompt throughput: 1.0 tokens/s') + '\n' +
        HEADER('APIServer', 'Engine 001: Avg prompt throughput: 512.3 tokens/s, Avg generation throughput: 88.1 tokens/s, Running: 1 reqs, Swapped: 0 reqs, Pending: 0 reqs, Waiting: 2 reqs, GPU KV cache usage: 0.4%, CPU KV cache usage: 0.0%.') + '\n',
    );
    assert.deepEqual(events.filter((e) => e.kind === 'stats'), [
      { kind: 'stats', engine: 1, promptTps: 512.3, genTps: 88.1, running: 1, waiting: 2, kvCachePct: 0.4, prefixHitPct: null },
    ]);
  });

  it('per-stream buffers: interleaved halves of stdout and stderr lines do not mix', () => {
    const p = new VllmLogParser();
    const ev = [
      ...p.push('(APIServer pid=7) INFO 11-28 12:57:05 [x.py:1] Resolved arch', 'stdout'),
      ...p.push('(Worker_TP0 pid=8) \rLoading safetensors checkpoint shards:   2% Completed | 1/', 'stderr'),
      ...p.push('itecture: K\n', 'stdout'),
      ...p.push('64 [00:05<05:10,  4.93s/it]\n', 'stderr'),
    ];
    assert.deepEqual(
      ev.filter((e) => e.kind === 'line'),
      [
        { kind: 'line', text: '(APIServer pid=7) INFO 11-28 12:57:05 [x.py:1] Resolved architecture: K', stream: 'stdout' },
        { kind: 'line', text: '(Worker_TP0 pid=8) Loading safetensors checkpoint shards:   2% Completed | 1/64 [00:05<05:10,  4.93s/it]', stream: 'stderr' },
      ],
    );
  });
});

describe('VllmLogParser: the most specific diagnosis wins', () => {
  const generic = `${HEADER('APIServer', '', 'ERROR')}RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}`;
  const root = `${HEADER('EngineCore_DP0', '', 'ERROR')}ValueError: No available memory for the cache blocks. Try increasing \`gpu_memory_utilization\` when initializing the engine.`;

  it('root cause first, generic after: one failure event, the root cause', () => {
    const { events, parser } = parseAll(`${root}\n${root}\n${generic}\n`);
    assert.deepEqual(events.filter((e) => e.kind === 'failure').map((e) => (e.kind === 'failure' ? e.diagnosis.code : '')), ['noCacheBlocks']);
    assert.equal(parser.diagnosis?.code, 'noCacheBlocks');
  });

  it('generic first (streams read separately), root cause later: a second, more specific event replaces it', () => {
    const { events, parser } = parseAll(`${generic}\n${root}\n`);
    assert.deepEqual(events.filter((e) => e.kind === 'failure').map((e) => (e.kind === 'failure' ? e.diagnosis.code : '')), ['engineInitFailed', 'noCacheBlocks']);
    assert.equal(parser.diagnosis?.code, 'noCacheBlocks');
  });

  it('an unknown root cause: the generic diagnosis quotes the last error line before it', () => {
    const { parser } = parseAll(
      `(EngineCore_DP0 pid=7) RuntimeError: NCCL error in: /pytorch/torch/csrc/distributed/c10d/NCCLUtils.cpp:77, unhandled system error\n` +
        `(EngineCore_DP0 pid=7) Exception: WorkerProc initialization failed due to an exception in a background process. See stack trace for root cause.\n${generic}\n`,
    );
    assert.equal(parser.diagnosis?.code, 'workerFailed');
    assert.match(parser.diagnosis!.explanation, /The last error before it was: RuntimeError: NCCL error in: .*unhandled system error$/);
  });

  it('the port of "address in use" comes from the non-default args; absent there it is vLLM\'s default 8000', () => {
    const inUse = '(APIServer pid=7) OSError: [Errno 98] Address already in use\n';
    assert.equal(parseAll(`${HEADER('APIServer', "non-default args: {'model_tag': 'm', 'port': 9001}")}\n${inUse}`).parser.diagnosis?.title, 'Port 9001 is already in use');
    assert.equal(parseAll(`${HEADER('APIServer', "non-default args: {'model_tag': 'm'}")}\n${inUse}`).parser.diagnosis?.title, 'Port 8000 is already in use');
    assert.equal(parseAll(inUse).parser.diagnosis?.title, 'The port is already in use');
  });

  it('gpu-memory-utilization from the non-default args: at 0.95 the fix no longer suggests raising it', () => {
    const d = parseAll(`${HEADER('APIServer', "non-default args: {'gpu_memory_utilization': 0.95}")}\n${root}\n`).parser.diagnosis!;
    assert.equal(d.fix?.setting, undefined);
    assert.match(d.fix!.label, /Lower max-model-len, or use GPUs with more memory/);
  });
});

describe('VllmLogParser + diagnose: hostile input', function () {
  this.timeout(30_000);

  it('a megabyte line without a newline: memory stays under the cap, the line is cut and marked', () => {
    const p = new VllmLogParser();
    const block = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 16; i++) {
      assert.deepEqual(p.push(block), []);
      assert.ok(p.pendingChars <= MAX_LINE_CHARS, `pending ${p.pendingChars}`);
    }
    const ev = p.push('tail\nnext line\n');
    assert.equal(ev.length, 2);
    assert.equal(ev[0].kind === 'line' && ev[0].text, 'x'.repeat(MAX_LINE_CHARS) + ' …[line truncated]');
    assert.equal(ev[1].kind === 'line' && ev[1].text, 'next line');
    assert.equal(p.pendingChars, 0);
  });

  it('megabytes of "\\r" refreshes without a newline stay bounded; the final state is logged', () => {
    const p = new VllmLogParser({ maxLineChars: 4096 });
    let progress = 0;
    for (let i = 0; i < 2000; i++) {
      const seg = `Capturing CUDA graphs (decode, FULL):  50%|█████     | ${i % 35}/35 [00:01<00:02,  9.12it/s]` + 'y'.repeat(1000) + '\r';
      progress += p.push(seg).filter((e) => e.kind === 'progress').length;
      assert.ok(p.pendingChars <= 3 * 4096);
    }
    assert.ok(progress > 0 && progress <= 2000);
    const ev = p.push('\n');
    assert.equal(ev.filter((e) => e.kind === 'line').length, 1);
  });

  it('NULs, control characters, broken ANSI and lone surrogates never throw; lines come out clean and chunking-invariant', () => {
    const rnd = seededRandom(42);
    const alphabet = ['\x00', '\x1b', '[', ']', '0', ';', '3', '6', 'm', '\r', '\n', '\r\n', '\x07', '\x7f', '\ud83d', '\ude00', 'é', ' ', 'A', '(', ')',
      'APIServer pid=1', 'INFO:     ', 'Error: ', 'Free memory on device (', 'checkpoint shards: 5% Completed | ', '1/64', '|', '\t'];
    for (let round = 0; round < 30; round++) {
      let text = '';
      const n = 200 + Math.floor(rnd() * 3000);
      for (let i = 0; i < n; i++) text += alphabet[Math.floor(rnd() * alphabet.length)];
      const whole = parseAll(text).events;
      assert.deepEqual(feedChunks(randomChunks(text, rnd)).events, whole);
      for (const l of linesOf(whole)) assert.doesNotMatch(l, /[\x00-\x08\x0a-\x1f\x7f]/); // eslint-disable-line no-control-regex
    }
  });

  it('non-string chunks are ignored rather than thrown on', () => {
    const p = new VllmLogParser();
    assert.deepEqual(p.push(undefined as unknown as string), []);
    assert.deepEqual(p.push(42 as unknown as string), []);
    assert.equal(diagnose(undefined as unknown as string), null);
    assert.equal(diagnose(null as unknown as string), null);
  });

  it('lines built to make regular expressions backtrack are diagnosed fast', () => {
    const baits = [
      "Worker failed with error '".repeat(3000),
      'a'.repeat(60_000) + 'is not a local folder and is not a valid model identifier',
      'checkpoint shards: 5%'.repeat(3000),
      'Free memory on device ('.repeat(3000) + '1.0/2.0 GiB',
      '(' + '1'.repeat(60_000) + ' KV cache is needed max seq len (5)',
      "('".repeat(30_000) + 'address already in use',
      'version 1.1 '.repeat(5000) + 'x',
      'spawn ' + 'v'.repeat(60_000) + 'vllm',
      'invalid tool call parser: '.repeat(2000) + '(chose from {',
      'Error: '.repeat(10_000),
      '\x1b]'.repeat(20_000),
      '\x1b['.repeat(20_000) + '0',
    ];
    for (const bait of baits) {
      const started = Date.now();
      diagnose(bait);
      diagnose(bait.repeat(20)); // over the cap: cut first
      const p = new VllmLogParser();
      p.push(`(APIServer pid=1) ERROR 11-28 12:57:05 [x.py:1] ${bait}\n`);
      p.push(`${bait}\r${bait}\r\n`);
      p.end();
      const ms = Date.now() - started;
      assert.ok(ms < 1500, `${ms} ms for ${JSON.stringify(bait.slice(0, 40))}…`);
    }
  });

  it('a huge chunk of many lines is handled in linear time', () => {
    const line = `${HEADER('Worker_TP0', 'Loading weights took 414.15 seconds')}\n`;
    const big = line.repeat(100_000); // ~8 MB
    const started = Date.now();
    const { events } = parseAll(big);
    assert.equal(linesOf(events).length, 100_000);
    assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
  });
});

describe('diagnose: wording variants the fake does not print', () => {
  const cases: [string, string, RegExp?][] = [
    ["ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', 8123): address already in use", 'addressInUse', /^Port 8123 is already in use$/],
    ['zsh: command not found: vllm', 'vllmNotInstalled'],
    ['sh: 1: vllm: not found', 'vllmNotInstalled'],
    ['bash: /opt/venvs/vllm/bin/vllm: No such file or directory', 'vllmNotInstalled'],
    ["env: 'vllm': No such file or directory", 'vllmNotInstalled'],
    ["ModuleNotFoundError: No module named 'vllm'", 'vllmNotInstalled'],
    ['bash: /home/u/.venv/bin/activate: No such file or directory', 'environmentNotFound'],
    ['EnvironmentLocationNotFound: Not a conda environment: /opt/conda/envs/kimi', 'environmentNotFound'],
    ['bash: conda: command not found', 'environmentNotFound', /^conda is not installed/],
    ['torch.AcceleratorError: CUDA error: invalid device ordinal', 'notEnoughGpus'],
    ['torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.', 'cudaOutOfMemory'],
    ["KeyError: 'invalid tool call parser: kimi_k2 (chose from { hermes,mistral })'", 'unknownToolCallParser'],
    ["vllm serve: error: argument --max-model-len: invalid human_readable_int value: 'lots'", 'invalidArgument'],
    ['OSError: foo/bar is not a local folder and is not a valid model identifier listed on https://huggingface.co/models', 'invalidModel', /^Model not found: foo\/bar$/],
    ['vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.', 'workerDied'],
    ["RuntimeError: Worker failed with error 'CUDA out of memory. Tried to allocate 2.00 GiB', please check the stack trace above for the root cause", 'cudaOutOfMemory'],
  ];
  for (const [line, code, title] of cases) {
    it(`${code}: ${line.slice(0, 70)}`, () => {
      const d = diagnose(line);
      assert.equal(d?.code, code, JSON.stringify(d));
      if (title) assert.match(d!.title, title);
    });
  }

  it('several lines passed at once stay apart; ANSI in the line is ignored', () => {
    const d = diagnose('Traceback (most recent call last):\n  File "x.py", line 1\n\x1b[31mvllm: error: unrecognized arguments: --foo\x1b[0m\n');
    assert.equal(d?.code, 'unrecognizedArguments');
    assert.equal(d?.title, 'vLLM does not know the argument --foo');
  });

  it('an old vLLM without kimi_k2 among the parsers: upgrade, no setting', () => {
    const d = diagnose("KeyError: 'invalid tool call parser: kimi_k2 (chose from { hermes,mistral })'")!;
    assert.match(d.explanation, /too old for Kimi-K2\.5/);
    assert.deepEqual(d.fix, { label: 'Upgrade vLLM to 0.15.0 or later on the host' });
  });

  it('healthy lines are not failures (the engine config echoes trust_remote_code=True; paths contain "vllm")', () => {
    for (const line of [
      "(EngineCore_DP0 pid=1) INFO 11-28 12:57:05 [core.py:93] Initializing a V1 LLM engine (v0.15.1) with config: model='/m', trust_remote_code=True, dtype=torch.bfloat16",
      '(APIServer pid=1)   File "/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/cli/main.py", line 73, in main',
      '(APIServer pid=1) INFO:     Application startup complete.',
      '(APIServer pid=1) INFO 11-28 12:57:05 [loggers.py:236] Engine 000: Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 0 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.0%, Prefix cache hit rate: 0.0%',
      '(APIServer pid=1) KeyboardInterrupt: terminated',
    ]) {
      assert.equal(diagnose(line), null, line);
    }
  });

  it('specificity: only "see above" diagnoses are below 2', () => {
    assert.equal(specificity('engineInitFailed'), 0);
    assert.equal(specificity('workerFailed'), 1);
    assert.equal(specificity('workerDied'), 1);
    assert.equal(specificity('kvCacheTooSmall'), 2);
  });
});
