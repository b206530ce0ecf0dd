// VllmLogParser + diagnose() against the project's fake `vllm serve` run as a real process (test/emulator/bin on
// PATH, its fake nvidia-smi beside it): a successful start on two vLLM versions, and every failure the fake can
// produce. Output is fed live, in the chunks the pipe delivers. Expected numbers are read back from the raw output
// with independent expressions, so the tests check the parser against what vLLM said, not against itself.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { specificity, type Diagnosis } from '../../../src/core/server/diagnosis';
import { VllmLogParser, type LogEvent, type StreamName } from '../../../src/core/server/logParser';
import { FAKE_BIN_DIR, freePort, httpRequest } from '../../emulator/vllm/spawnFake';
import { failuresOf, infoOf, linesOf, makeModelDir, phasesOf, progressOf, startParsed, type ParsedRun } from './fakeRun';

const STARTUP = ['resolving', 'loadingWeights', 'profiling', 'cudaGraphs', 'startingApi', 'ready'];
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

describe('VllmLogParser on the fake vllm serve', function () {
  this.timeout(30_000);
  let root: string;
  let model: string;
  const runs: ParsedRun[] = [];
  const servers: net.Server[] = [];

  before(() => ({ root, model } = makeModelDir()));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  afterEach(async () => {
    await Promise.all(runs.splice(0).map((r) => r.fake.dispose()));
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** The official Kimi-K2.5 command on 127.0.0.1:port. */
  function kimiArgs(port: number, extra: string[] = []): string[] {
    return [
      'serve', model, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port),
      '--tool-call-parser', 'kimi_k2', '--reasoning-parser', 'kimi_k2', '--enable-auto-tool-choice', ...extra,
    ];
  }

  function start(args: string[], env: Record<string, string | undefined> = {}): ParsedRun {
    const r = startParsed(args, env);
    runs.push(r);
    return r;
  }

  /** The raw output with ANSI removed. */
  const plain = (r: ParsedRun) => r.fake.raw.replace(ANSI, '');

  /** Run to the end; the diagnosis must be `code`, and the most specific one: no later failure event replaced it. */
  async function failsWith(r: ParsedRun, code: Diagnosis['code']): Promise<Diagnosis> {
    const exit = await r.finish();
    assert.notEqual(exit.code, 0, 'the fake should fail');
    const d = r.parser.diagnosis;
    assert.ok(d, `no diagnosis; last lines:\n${r.fake.lines.slice(-8).join('\n')}`);
    assert.equal(d.code, code, `diagnosed ${d.code} (${d.title}) from: ${d.line}`);
    const failures = failuresOf(r.events);
    assert.deepEqual(failures.at(-1), d, 'the last failure event is the diagnosis');
    for (let i = 1; i < failures.length; i++) {
      assert.ok(specificity(failures[i].code) > specificity(failures[i - 1].code), 'a failure event only follows a less specific one');
    }
    assert.notEqual(d.line, '');
    assert.ok(linesOf(r.events).includes(d.line), 'the diagnosis quotes a line of the output');
    return d;
  }

  it('a good start (0.15.1): phases in order, shards 0..64 once each, CUDA graphs, facts, stats, clean lines; SIGINT → stopping', async () => {
    const port = await freePort();
    const r = start(kimiArgs(port, ['--max-model-len', '8192']), { KIMI_FAKE_VLLM_STATS_MS: '100', KIMI_FAKE_VLLM_TPS: '2000', KIMI_FAKE_VLLM_TTFT_MS: '1' });
    await r.fake.waitFor(/INFO:\s+Application startup complete\.$/);
    assert.deepEqual(phasesOf(r.events), STARTUP);
    assert.equal(r.parser.phase, 'ready');

    const res = await httpRequest(port, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 }),
    });
    assert.equal(res.status, 200);
    const statsLine = await r.fake.waitFor(/Engine 000: Avg prompt throughput: [1-9]/);
    r.fake.signal('SIGINT');
    assert.deepEqual(await r.finish(), { code: 0, signal: null });

    const raw = plain(r);
    assert.deepEqual(phasesOf(r.events), [...STARTUP, 'stopping']);
    assert.deepEqual(failuresOf(r.events), [], 'a good run has no failure (the engine config line says trust_remote_code=True)');
    assert.deepEqual(progressOf(r.events, 'loadingWeights'), Array.from({ length: 65 }, (_, i) => `${i}/64`), 'the closing 64/64 is deduplicated');
    // CUDA graphs: every state of the \r-refreshed bars, in order, as written.
    const graphStates = [...raw.matchAll(/Capturing CUDA graphs \([^)]*\):\s+\d+%\|[^|]*\| (\d+\/\d+)/g)].map((m) => m[1]);
    assert.ok(graphStates.length >= 4);
    assert.deepEqual(progressOf(r.events, 'cudaGraphs'), graphStates);
    assert.deepEqual(infoOf(r.events), {
      version: '0.15.1',
      architecture: 'KimiK25ForConditionalGeneration',
      maxModelLen: 8192,
      modelPath: model,
      kvCacheTokens: Number(/GPU KV cache size: ([\d,]+) tokens/.exec(raw)![1].replace(/,/g, '')),
      maxConcurrency: Number(/Maximum concurrency for 8,192 tokens per request: ([\d.]+)x/.exec(raw)![1]),
      servedUrl: `http://127.0.0.1:${port}`,
    });
    const stats = r.events.filter((e): e is Extract<LogEvent, { kind: 'stats' }> => e.kind === 'stats');
    const m = /Avg prompt throughput: ([\d.]+) tokens\/s, Avg generation throughput: ([\d.]+) tokens\/s, Running: (\d+) reqs, Waiting: (\d+) reqs, GPU KV cache usage: ([\d.]+)%, Prefix cache hit rate: ([\d.]+)%/.exec(statsLine)!;
    assert.deepEqual(stats.find((s) => s.promptTps === Number(m[1])), {
      kind: 'stats', engine: 0, promptTps: Number(m[1]), genTps: Number(m[2]), running: Number(m[3]), waiting: Number(m[4]),
      kvCachePct: Number(m[5]), prefixHitPct: Number(m[6]),
    });
    assert.equal(r.events.filter((e) => e.kind === 'stats').length, (raw.match(/Avg prompt throughput/g) ?? []).length);
    // Not a stats line: "Engine 000: vllm cache_config_info with initialization after num_gpu_blocks is: N".
    assert.match(raw, /Engine 000: vllm cache_config_info/);
    // The log lines are what a terminal shows: the same as the fake helper's independent rendering.
    assert.deepEqual(linesOf(r.events), r.fake.lines);
    for (const l of linesOf(r.events)) assert.doesNotMatch(l, /[\x00-\x08\x0a-\x1f\x7f]/); // eslint-disable-line no-control-regex
  });

  it('a good start (0.17.1): "Starting vLLM server on …", uncoloured prefix; SIGTERM → stopping', async () => {
    const port = await freePort();
    const r = start(kimiArgs(port), { KIMI_FAKE_VLLM_VERSION: '0.17.1' });
    await r.fake.waitFor(/INFO:\s+Application startup complete\.$/);
    assert.match(r.fake.raw, /Starting vLLM server on http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(r.fake.raw, /\x1b\[/, '0.17 colours only a terminal'); // eslint-disable-line no-control-regex
    r.fake.signal('SIGTERM');
    await r.finish();
    assert.deepEqual(phasesOf(r.events), [...STARTUP, 'stopping']);
    const info = infoOf(r.events);
    assert.equal(info.version, '0.17.1');
    assert.equal(info.servedUrl, `http://127.0.0.1:${port}`);
    assert.equal(info.maxModelLen, 262144);
    assert.equal(r.parser.diagnosis, null);
  });

  it('"Application startup complete." is the only ready marker: not "Waiting for application startup." nor the routes', async () => {
    const port = await freePort();
    const r = start(kimiArgs(port));
    await r.fake.waitFor(/INFO:\s+Waiting for application startup\.$/);
    // Replay everything up to (excluding) the ready line into a fresh parser.
    const upTo = r.fake.raw.slice(0, r.fake.raw.indexOf('Application startup complete.'));
    const p = new VllmLogParser();
    const evs = [...p.push(upTo.slice(0, upTo.lastIndexOf('\n') + 1)), ...p.end()];
    assert.deepEqual(phasesOf(evs), STARTUP.slice(0, -1));
    assert.equal(p.phase, 'startingApi');
    await r.fake.waitFor(/INFO:\s+Application startup complete\.$/);
  });

  it('Ctrl-C while loading is not a failure (KeyboardInterrupt): no diagnosis, phase stays at loadingWeights', async () => {
    const port = await freePort();
    const r = start(kimiArgs(port), { KIMI_FAKE_VLLM_SHARD_MS: '40' });
    await r.fake.waitFor(/checkpoint shards:\s+\d+% Completed \| 3\/64/);
    r.fake.signal('SIGINT');
    const exit = await r.finish();
    assert.equal(exit.signal, 'SIGINT');
    assert.match(r.fake.raw, /KeyboardInterrupt/);
    assert.equal(r.parser.diagnosis, null);
    assert.equal(r.parser.phase, 'loadingWeights');
  });

  describe('failures', () => {
    for (const version of ['0.15.1', '0.17.1']) {
      it(`KV cache too small (${version}): "Set max-model-len to <the estimate in the message>"`, async () => {
        const r = start(kimiArgs(await freePort()), { KIMI_FAKE_VLLM_FAIL: 'kv-cache', KIMI_FAKE_VLLM_VERSION: version });
        const d = await failsWith(r, 'kvCacheTooSmall');
        const raw = plain(r);
        assert.match(raw, version === '0.15.1' ? /the models's max seq len/ : /the model's max seq len .* See https:\/\/docs\.vllm\.ai/);
        const estimate = Number(/the estimated maximum model length is (\d+)\./.exec(raw)![1]);
        assert.ok(estimate > 0 && estimate < 262144);
        assert.deepEqual(d.fix, { label: `Set max-model-len to ${estimate} and restart`, setting: { key: 'maxModelLen', value: estimate } });
        assert.equal(d.title, 'The context length does not fit in GPU memory');
        const [, needed, available] = /\(([\d.]+ GiB) KV cache is needed, which is larger than the available KV cache memory \(([\d.]+ GiB)\)/.exec(raw)!;
        assert.match(d.explanation, new RegExp(`262144 tokens\\) needs ${needed} .* only ${available} is left`));
        assert.equal(r.parser.phase, 'profiling');
        assert.match(raw, /Engine core initialization failed/, 'the generic line came later and did not win');
      });

      it(`no memory for cache blocks (${version}): raise gpu-memory-utilization; Kimi needs ~714 GB`, async () => {
        const r = start(kimiArgs(await freePort()), { KIMI_FAKE_VLLM_FAIL: 'no-cache-blocks', KIMI_FAKE_VLLM_VERSION: version });
        const d = await failsWith(r, 'noCacheBlocks');
        assert.equal(d.title, 'No GPU memory left for the KV cache');
        assert.match(d.explanation, /714 GB/);
        assert.deepEqual(d.fix?.setting, { key: 'gpuMemoryUtilization', value: 0.95 });
      });

      it(`GPUs held by another process (${version}): names the free/total/wanted numbers`, async () => {
        const r = start(kimiArgs(await freePort()), { KIMI_FAKE_GPU_STATE: 'busy', KIMI_FAKE_VLLM_VERSION: version });
        const d = await failsWith(r, 'gpuMemoryBusy');
        const m = /Free memory on device(?: cuda:(\d+))? \(([\d.]+)\/([\d.]+) GiB\) on startup is less than desired GPU memory utilization \(([\d.]+), ([\d.]+) GiB\)/.exec(d.line)!;
        assert.ok(m, d.line);
        assert.equal(m[1] !== undefined, version === '0.17.1', 'cuda:N only in the newer wording');
        const gpu = m[1] ?? /\(Worker_TP(\d+) pid=/.exec(d.line)![1];
        assert.equal(
          d.explanation,
          `GPU ${gpu} has only ${m[2]} GiB free of ${m[3]} GiB, but vLLM wants ${m[5]} GiB on it (gpu-memory-utilization ${m[4]}). ` +
            'Another process holds the rest — often an earlier vLLM server that is still running.',
        );
        assert.equal(d.title, 'The GPUs are already in use');
        assert.match(d.fix!.label, /Stop the other process/);
      });
    }

    it('CUDA out of memory while loading the weights', async () => {
      const r = start(kimiArgs(await freePort()), { KIMI_FAKE_VLLM_FAIL: 'oom' });
      const d = await failsWith(r, 'cudaOutOfMemory');
      const m = /Tried to allocate ([\d.]+ GiB)\. GPU (\d+) has a total capacity of ([\d.]+ GiB) of which ([\d.]+ GiB) is free/.exec(plain(r))!;
      assert.match(d.explanation, new RegExp(`^GPU ${m[2]} \\(${m[3]}\\) ran out of memory when vLLM asked for ${m[1]} more; only ${m[4]} was free\\.`));
      assert.equal(r.parser.phase, 'loadingWeights');
      // The worker's root cause wins over "WorkerProc initialization failed" and "Engine core initialization failed".
      assert.match(plain(r), /Exception: WorkerProc initialization failed/);
    });

    it('engine core initialization failed: the root cause above it (no C compiler for Triton) wins', async () => {
      const r = start(kimiArgs(await freePort()), { KIMI_FAKE_VLLM_FAIL: 'engine-init' });
      const d = await failsWith(r, 'cCompilerMissing');
      assert.equal(d.title, 'No C compiler on the GPU host');
      assert.match(d.fix!.label, /Install gcc/);
    });

    it('vLLM not installed: the shell\'s "command not found" explains venv / conda / commandPrefix', async () => {
      const r = start(kimiArgs(await freePort()), { KIMI_FAKE_VLLM_FAIL: 'not-installed' });
      const d = await failsWith(r, 'vllmNotInstalled');
      assert.equal(d.line, 'bash: vllm: command not found');
      assert.equal((await r.finish()).code, 127);
      for (const w of ['environment.venv', 'environment.conda', 'environment.commandPrefix']) assert.match(d.explanation, new RegExp(w.replace('.', '\\.')));
      assert.equal(r.parser.phase, null);
    });

    it('fewer GPUs than -tp (2 GPUs, -tp 8): suggests tensor-parallel-size 2 and says Kimi needs 8 GPUs of 141 GB', async () => {
      const r = start(kimiArgs(await freePort()), { KIMI_FAKE_GPUS: '2' });
      const d = await failsWith(r, 'notEnoughGpus');
      assert.match(d.line, /World size \(8\) is larger than the number of available GPUs \(2\)/);
      assert.equal(d.title, 'Fewer GPUs than tensor-parallel-size');
      assert.match(d.explanation, /across 8 GPUs, but this host has only 2\. Kimi-K2\.5 needs 8 GPUs of 141 GB/);
      assert.deepEqual(d.fix?.setting, { key: 'tensorParallelSize', value: 2 });
    });

    it('fewer GPUs than -tp with Ray and no Ray cluster: a local Ray instance, the placement-group wait, then the error', async () => {
      // No RAY_ADDRESS and no cluster in this RAY_TMPDIR: vLLM's ray.init() starts a local instance (2 GPUs).
      const r = start(kimiArgs(await freePort(), ['--distributed-executor-backend', 'ray']), {
        KIMI_FAKE_GPUS: '2',
        KIMI_FAKE_VLLM_PG_TIMEOUT_S: '1',
        RAY_TMPDIR: root,
        RAY_ADDRESS: undefined,
      });
      const d = await failsWith(r, 'notEnoughGpus');
      assert.match(d.line, /placement group/);
      assert.match(plain(r), /Started a local Ray instance\./);
      assert.match(plain(r), /ValueError: Cannot provide a placement group requiring 8 GPUs/);
    });

    it('port in use: "Port N is already in use", port from the non-default args, fix = another port', async () => {
      const port = await freePort();
      const blocker = net.createServer();
      servers.push(blocker);
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      const r = start(kimiArgs(port));
      const d = await failsWith(r, 'addressInUse');
      assert.match(d.line, /OSError: \[Errno 98\] Address already in use$/);
      assert.equal(d.title, `Port ${port} is already in use`);
      assert.deepEqual(d.fix, { label: `Use port ${port + 1} instead (or stop the other server on port ${port})`, setting: { key: 'port', value: port + 1 } });
      assert.equal(r.parser.phase, 'resolving');
    });

    it('unknown tool-call parser: lists the valid ones from the message, fix → kimi_k2', async () => {
      const port = await freePort();
      const r = start(['serve', model, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port), '--tool-call-parser', 'kimi', '--enable-auto-tool-choice']);
      const d = await failsWith(r, 'unknownToolCallParser');
      const listed = /chose from \{ ([^}]*) \}/.exec(d.line)![1].split(',');
      assert.ok(listed.includes('kimi_k2') && listed.includes('hermes'));
      assert.equal(d.title, 'Unknown tool-call parser "kimi"');
      assert.match(d.explanation, new RegExp(`It knows: ${listed.join(', ')}\\. Kimi-K2\\.5 uses kimi_k2\\.`));
      assert.deepEqual(d.fix, { label: 'Use the kimi_k2 tool-call parser', setting: { key: 'toolCallParser', value: 'kimi_k2' } });
    });

    it('unknown reasoning parser: fix → kimi_k2', async () => {
      const port = await freePort();
      const r = start(['serve', model, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port), '--reasoning-parser', 'kimi']);
      const d = await failsWith(r, 'unknownReasoningParser');
      assert.equal(d.title, 'Unknown reasoning parser "kimi"');
      assert.deepEqual(d.fix?.setting, { key: 'reasoningParser', value: 'kimi_k2' });
    });

    it('--enable-auto-tool-choice without --tool-call-parser: fix → kimi_k2', async () => {
      const port = await freePort();
      const r = start(['serve', model, '-tp', '8', '--trust-remote-code', '--port', String(port), '--enable-auto-tool-choice']);
      const d = await failsWith(r, 'autoToolChoiceNeedsParser');
      assert.deepEqual(d.fix?.setting, { key: 'toolCallParser', value: 'kimi_k2' });
    });

    for (const target of ['local directory', 'hub id']) {
      it(`missing --trust-remote-code (${target}): fix → trustRemoteCode true`, async () => {
        const port = await freePort();
        const m = target === 'hub id' ? 'moonshotai/Kimi-K2.5' : model;
        const r = start(['serve', m, '-tp', '8', '--host', '127.0.0.1', '--port', String(port)]);
        const d = await failsWith(r, 'trustRemoteCode');
        assert.deepEqual(d.fix, { label: 'Turn on trust-remote-code and restart', setting: { key: 'trustRemoteCode', value: true } });
      });
    }

    it('--enable-reasoning: "removed in vLLM 0.10; reasoning is on with --reasoning-parser"', async () => {
      const r = start(kimiArgs(await freePort(), ['--enable-reasoning']));
      const d = await failsWith(r, 'unrecognizedArguments');
      assert.equal(d.line, 'vllm: error: unrecognized arguments: --enable-reasoning');
      assert.equal((await r.finish()).code, 2);
      assert.equal(d.title, 'vLLM does not know the argument --enable-reasoning');
      assert.match(d.explanation, /removed in vLLM 0\.10; reasoning is on with --reasoning-parser/);
      assert.deepEqual(d.fix?.setting, { key: 'extraArgs', value: { remove: ['--enable-reasoning'] } });
    });

    it('another unrecognized argument is named', async () => {
      const r = start(kimiArgs(await freePort(), ['--frobnicate']));
      const d = await failsWith(r, 'unrecognizedArguments');
      assert.equal(d.title, 'vLLM does not know the argument --frobnicate');
      assert.match(d.explanation, /does not accept --frobnicate/);
    });

    it('an invalid model path', async () => {
      const missing = path.join(root, 'no-such-model');
      const r = start(['serve', missing, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(await freePort())]);
      const d = await failsWith(r, 'invalidModel');
      assert.equal(d.title, `Model not found: ${missing}`);
      assert.match(d.explanation, /modelDir/);
    });

    it('max-model-len beyond the model\'s 262144: fix → 262144', async () => {
      const r = start(kimiArgs(await freePort(), ['--max-model-len', '300000']));
      const d = await failsWith(r, 'maxModelLenTooLong');
      assert.deepEqual(d.fix, { label: 'Set max-model-len to 262144 and restart', setting: { key: 'maxModelLen', value: 262144 } });
    });

    it('8×H100 (80 GB): the weights leave no room for the KV cache', async () => {
      const r = start(kimiArgs(await freePort()), { KIMI_FAKE_GPU_MODEL: 'NVIDIA H100 80GB HBM3' });
      await failsWith(r, 'noCacheBlocks');
    });

    it('no GPU visible (driver not answering): "vLLM found no GPU"', async () => {
      const r = start(kimiArgs(await freePort()), { KIMI_FAKE_NVIDIA_SMI: 'fail' });
      const d = await failsWith(r, 'noGpu');
      assert.match(d.line, /Failed to infer device type/);
    });

    it('a worker dies while serving: the engine stops, the server shuts down', async () => {
      const r = start(kimiArgs(await freePort()));
      await r.fake.waitFor(/INFO:\s+Application startup complete\.$/);
      const worker = /\(Worker_TP3 pid=(\d+)\)/.exec(r.fake.lines.join('\n'))![1];
      process.kill(Number(worker), 'SIGKILL');
      await r.finish();
      const d = r.parser.diagnosis!;
      assert.equal(d.code, 'workerDied');
      assert.match(d.explanation, /^The vLLM worker process VLLM::Worker_TP3 died/);
      assert.deepEqual(phasesOf(r.events), [...STARTUP, 'stopping']);
    });
  });

  describe('stdout and stderr read separately', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child?.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      child = undefined;
    });

    it('keeps one line buffer per stream, tags lines with their stream, and still finds the root cause', async () => {
      const port = await freePort();
      const gpuDir = fs.mkdtempSync(path.join(root, 'gpus-'));
      child = spawn(path.join(FAKE_BIN_DIR, 'vllm'), ['serve', model, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port)], {
        env: {
          ...process.env, PATH: `${FAKE_BIN_DIR}${path.delimiter}${process.env.PATH ?? ''}`, KIMI_FAKE_GPU_DIR: gpuDir,
          KIMI_FAKE_VLLM_SHARD_MS: '1', KIMI_FAKE_VLLM_PHASE_MS: '2', KIMI_FAKE_VLLM_FAIL: 'kv-cache', KIMI_FAKE_VLLM_VERSION: '0.15.1',
          KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_STATE: 'idle', KIMI_FAKE_GPU_MODEL: 'NVIDIA H200',
        },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const parser = new VllmLogParser();
      const events: LogEvent[] = [];
      const raw: Record<StreamName, string> = { stdout: '', stderr: '' };
      for (const stream of ['stdout', 'stderr'] as const) {
        child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
          raw[stream] += chunk;
          events.push(...parser.push(chunk, stream));
        });
      }
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('fake vllm did not exit')), 20_000);
        child!.once('close', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      events.push(...parser.end());
      assert.equal(code, 1);
      assert.equal(parser.diagnosis?.code, 'kvCacheTooSmall');
      const lines = events.filter((e): e is Extract<LogEvent, { kind: 'line' }> => e.kind === 'line');
      for (const stream of ['stdout', 'stderr'] as const) {
        const n = raw[stream].split('\n').length - 1;
        assert.equal(lines.filter((l) => l.stream === stream).length, n, `${stream}: one line event per "\\n"`);
      }
      assert.ok(lines.some((l) => l.stream === 'stderr' && /checkpoint shards/.test(l.text)), 'tqdm is on stderr');
      assert.ok(lines.some((l) => l.stream === 'stdout' && /Loading weights took/.test(l.text)), 'the log is on stdout');
      // Phases never go backwards, even though stderr's shard lines may come after stdout's later lines.
      const phases = phasesOf(events);
      assert.deepEqual(phases, STARTUP.filter((p) => phases.includes(p as never)));
      fs.rmSync(gpuDir, { recursive: true, force: true });
    });
  });
});
