// The fake `vllm` as a real child process (test/emulator/bin/vllm on PATH, the fake nvidia-smi beside it): startup
// log order, readiness, serving, failures, signals, orphaned workers. Every test waits for lines or exit events
// with bounded timeouts and kills the process group afterwards.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLiveClaims } from '../../emulator/nvidiaSmi/claims';
import { FAKE_BIN_DIR, FakeVllm, freePort, httpRequest, isAlive, portClosed } from '../../emulator/vllm/spawnFake';

const ENGINE_FAILED = 'RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}';

describe('fake vllm: as a process', function () {
  this.timeout(30_000);
  let tmp: string;
  let model: string;
  const running: FakeVllm[] = [];

  function start(args: string[], env: Record<string, string | undefined> = {}): FakeVllm {
    const f = new FakeVllm(args, { env });
    running.push(f);
    return f;
  }

  /** The usual Kimi command on 127.0.0.1:port. */
  function kimi(port: number, extra: string[] = [], env: Record<string, string | undefined> = {}): FakeVllm {
    return start(['serve', model, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port), ...extra], env);
  }

  function lastLine(f: FakeVllm): string {
    return f.lines.filter((l) => l.trim() !== '').at(-1) ?? '';
  }

  function nvidiaSmiUsedMiB(gpuDir: string, env: Record<string, string> = {}): number[] {
    const out = execFileSync(path.join(FAKE_BIN_DIR, 'nvidia-smi'), ['--query-gpu=index,memory.used', '--format=csv,noheader,nounits'], {
      env: { ...process.env, KIMI_FAKE_GPU_DIR: gpuDir, ...env },
      encoding: 'utf8',
    });
    return out.trim().split('\n').map((l) => Number(l.split(',')[1]));
  }

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-vllm-test-'));
    model = path.join(tmp, 'moonshotai', 'Kimi-K2.5');
    fs.mkdirSync(model, { recursive: true });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((f) => f.dispose()));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('--version prints KIMI_FAKE_VLLM_VERSION (default 0.15.1); not-installed mode is the shell\'s 127', async () => {
    const v = start(['--version']);
    assert.deepEqual(await v.exit(), { code: 0, signal: null });
    assert.deepEqual(v.lines, ['0.15.1']);
    const v2 = start(['--version'], { KIMI_FAKE_VLLM_VERSION: '0.16.0' });
    await v2.exit();
    assert.deepEqual(v2.lines, ['0.16.0']);
    const missing = start(['serve', model], { KIMI_FAKE_VLLM_FAIL: 'not-installed' });
    assert.deepEqual(await missing.exit(), { code: 127, signal: null });
    assert.deepEqual(missing.lines, ['bash: vllm: command not found']);
  });

  it('starts up in vLLM\'s log order, refuses /health while loading, answers 200 from "Application startup complete.", serves chat, SIGINT shuts down cleanly', async () => {
    const port = await freePort();
    // Slower shards so the loading phase is long enough to probe.
    const f = kimi(port, ['--max-model-len', '8192', '--reasoning-parser', 'kimi_k2', '--tool-call-parser', 'kimi_k2', '--enable-auto-tool-choice'], {
      KIMI_FAKE_VLLM_SHARD_MS: '40',
    });
    await f.waitFor(/Loading safetensors checkpoint shards:\s+\d+% Completed \| 3\/64/);
    await assert.rejects(httpRequest(port, '/health'), 'nothing answers while the engine loads');

    const ready = await f.waitFor(/INFO:\s+Application startup complete\.$/);
    assert.match(ready, /^\(APIServer pid=\d+\) INFO: {5}Application startup complete\.$/);
    const health = await httpRequest(port, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body, '');

    // The markers, in order.
    const markers: RegExp[] = [
      /^\(APIServer pid=\d+\) INFO \d\d-\d\d \d\d:\d\d:\d\d \[[\w.]+:\d+\]\s+▄▄ ▄█ █ {5}█ {5}█ ▀▄▀ █ {2}version 0\.15\.1$/,
      /\(APIServer pid=\d+\) INFO .* non-default args: \{'model_tag': /,
      /\(APIServer pid=\d+\) INFO .* Resolved architecture: KimiK25ForConditionalGeneration$/,
      /\(APIServer pid=\d+\) INFO .* Using max model len 8192$/,
      /\(EngineCore_DP0 pid=\d+\) INFO .* Initializing a V1 LLM engine \(v0\.15\.1\) with config: model='/,
      /\(Worker_TP0 pid=\d+\) INFO .* Starting to load model .*Kimi-K2\.5\.\.\.$/,
      /\(Worker_TP0 pid=\d+\) Loading safetensors checkpoint shards: {3}0% Completed \| 0\/64 \[00:00<\?, \?it\/s\]$/,
      /\(Worker_TP0 pid=\d+\) Loading safetensors checkpoint shards: 100% Completed \| 64\/64 /,
      /\(Worker_TP0 pid=\d+\) INFO .* Loading weights took \d+\.\d\d seconds$/,
      /\(Worker_TP0 pid=\d+\) INFO .* Model loading took 72\.41 GiB memory and \d+\.\d\d seconds$/,
      /\(Worker_TP0 pid=\d+\) INFO .* Available KV cache memory: \d+\.\d\d GiB$/,
      /\(EngineCore_DP0 pid=\d+\) INFO .* GPU KV cache size: [\d,]+ tokens$/,
      /\(EngineCore_DP0 pid=\d+\) INFO .* Maximum concurrency for 8,192 tokens per request: \d+\.\d\dx$/,
      /\(Worker_TP0 pid=\d+\) .*Capturing CUDA graphs \(mixed prefill-decode, PIECEWISE\): 100%\|██████████\| 51\/51/,
      /\(EngineCore_DP0 pid=\d+\) INFO .* init engine \(profile, create kv cache, warmup model\) took \d+\.\d\d seconds$/,
      new RegExp(`\\(APIServer pid=\\d+\\) INFO .* Starting vLLM API server 0 on http://127\\.0\\.0\\.1:${port}$`),
      /\(APIServer pid=\d+\) INFO .* Available routes are:$/,
      /\(APIServer pid=\d+\) INFO .* Route: \/v1\/chat\/completions, Methods: POST$/,
      new RegExp(`\\(APIServer pid=${f.pid}\\) INFO: {5}Started server process \\[${f.pid}\\]$`),
      /INFO: {5}Waiting for application startup\.$/,
      /INFO: {5}Application startup complete\.$/,
    ];
    let at = -1;
    for (const m of markers) {
      const idx = f.lines.findIndex((l, i) => i > at && m.test(l));
      assert.ok(idx > at, `marker ${m} not found after line ${at}:\n${f.lines.slice(Math.max(0, at - 2), at + 3).join('\n')}`);
      at = idx;
    }

    // Shards: 0/64, then 1/64 … 64/64 in order, then the closing 64/64 again.
    const shards = f.lines
      .map((l) => /Loading safetensors checkpoint shards:\s+\d+% Completed \| (\d+)\/64/.exec(l)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number);
    assert.deepEqual(shards, [...Array.from({ length: 65 }, (_, i) => i), 64]);

    // KV numbers agree: concurrency = tokens / max len.
    const tokens = Number(/GPU KV cache size: ([\d,]+) tokens/.exec(f.lines.join('\n'))![1].replace(/,/g, ''));
    const conc = Number(/Maximum concurrency for 8,192 tokens per request: ([\d.]+)x/.exec(f.lines.join('\n'))![1]);
    assert.equal(conc, Number((tokens / 8192).toFixed(2)));

    // Serving through the emulator; the access log goes to the output.
    const chat = await httpRequest(port, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 64 }),
    });
    assert.equal(chat.status, 200);
    const body = JSON.parse(chat.body) as { model: string; choices: { message: { content: string | null } }[] };
    assert.equal(body.model, model);
    assert.equal(typeof body.choices[0].message.content, 'string');
    await f.waitFor(/INFO: {5}127\.0\.0\.1:\d+ - "POST \/v1\/chat\/completions HTTP\/1\.1" 200 OK$/);
    assert.equal(JSON.parse((await httpRequest(port, '/version')).body).version, '0.15.1');

    // GPU memory is held by the eight workers while loaded.
    const used = nvidiaSmiUsedMiB(f.gpuDir);
    assert.equal(used.length, 8);
    for (const mib of used) assert.ok(mib > 0.85 * 143771, `GPU memory used ${mib} MiB`);
    const workers = f.workerPids();
    assert.equal(workers.length, 9, 'EngineCore_DP0 + Worker_TP0..7');

    f.signal('SIGINT');
    assert.deepEqual(await f.exit(), { code: 0, signal: null });
    const tail = f.lines.slice(-4);
    assert.match(tail[0], /^\(APIServer pid=\d+\) INFO .* \[launcher\.py:\d+\] Shutting down FastAPI HTTP server\.$/);
    assert.deepEqual(tail.slice(1).map((l) => l.replace(/^\(APIServer pid=\d+\) /, '')), [
      'INFO:     Shutting down',
      'INFO:     Waiting for application shutdown.',
      'INFO:     Application shutdown complete.',
    ]);
    assert.ok(await portClosed(port));
    for (const pid of workers) assert.equal(isAlive(pid), false, `worker ${pid} still alive`);
    assert.deepEqual(readLiveClaims(f.gpuDir), []);
    assert.deepEqual(fs.readdirSync(path.join(f.gpuDir, 'claims')), []);
  });

  it('accepts the seed tutorial command verbatim (VLLM_USE_MODELSCOPE=true, underscores) and SIGTERM stops it cleanly', async () => {
    const port = await freePort();
    const f = start(
      ['serve', model, '-tp', '8', '--max_model_len', '8192', '--trust-remote-code', '--tool-call-parser', 'kimi_k2', '--reasoning-parser', 'kimi_k2', '--host', '127.0.0.1', '--port', String(port)],
      { VLLM_USE_MODELSCOPE: 'true' },
    );
    await f.waitFor(/Application startup complete\./);
    assert.ok(f.lines.some((l) => l.includes(`non-default args: {'model_tag': '${model}', 'host': '127.0.0.1', 'port': ${port}, 'tool_call_parser': 'kimi_k2', 'model': '${model}', 'trust_remote_code': True, 'max_model_len': 8192, 'reasoning_parser': 'kimi_k2', 'tensor_parallel_size': 8}`)));
    assert.equal((await httpRequest(port, '/health')).status, 200);
    const workers = f.workerPids();
    f.signal('SIGTERM');
    assert.deepEqual(await f.exit(), { code: 0, signal: null });
    assert.match(f.lines.at(-4)!, /Shutting down FastAPI HTTP server\.$/);
    assert.match(f.lines.at(-1)!, /INFO: {5}Application shutdown complete\.$/);
    assert.ok(await portClosed(port));
    for (const pid of workers) assert.equal(isAlive(pid), false);
    assert.deepEqual(readLiveClaims(f.gpuDir), []);
  });

  it('resolves hub ids through ModelScope when VLLM_USE_MODELSCOPE=true, and prints a 0.17+ start line', async () => {
    const port = await freePort();
    const f = start(['serve', 'moonshotai/Kimi-K2.5', '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port), '--served-model-name', 'kimi'], {
      VLLM_USE_MODELSCOPE: 'true',
      KIMI_FAKE_VLLM_VERSION: '0.17.1',
    });
    await f.waitFor(/Application startup complete\./);
    assert.ok(f.lines.some((l) => /Downloading Model from https:\/\/www\.modelscope\.cn to directory: .*\/models\/moonshotai\/Kimi-K2___5$/.test(l)));
    assert.ok(f.lines.some((l) => l.endsWith(`Starting vLLM server on http://127.0.0.1:${port}`)));
    const models = JSON.parse((await httpRequest(port, '/v1/models')).body) as { data: { id: string }[] };
    assert.equal(models.data[0].id, 'kimi');
  });

  it('reads 100K-style --max-model-len (K = 1024) into "Using max model len" and the concurrency line', async () => {
    const port = await freePort();
    const f = kimi(port, ['--max-model-len', '100K']);
    await f.waitFor(/Application startup complete\./);
    assert.ok(f.lines.some((l) => l.endsWith('Using max model len 102400')));
    assert.ok(f.lines.some((l) => /Maximum concurrency for 102,400 tokens per request: \d+\.\d\dx$/.test(l)));
  });

  it('rejects --enable-reasoning with argparse\'s wording on stderr, exit 2, before starting anything', async () => {
    const f = start(['serve', model, '--enable-reasoning', '--reasoning-parser', 'kimi_k2']);
    assert.deepEqual(await f.exit(), { code: 2, signal: null });
    assert.deepEqual(f.lines, [
      'usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...',
      'vllm: error: unrecognized arguments: --enable-reasoning',
    ]);
  });

  it('refuses -tp larger than the GPU count the way vLLM\'s ParallelConfig does, and releases the port', async () => {
    const port = await freePort();
    const f = start(['serve', model, '-tp', '16', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(port)]);
    assert.deepEqual(await f.exit(), { code: 1, signal: null });
    const text = f.lines.join('\n');
    assert.match(text, /pydantic_core\._pydantic_core\.ValidationError: 1 validation error for ParallelConfig\n.*  Value error, World size \(16\) is larger than the number of available GPUs \(8\) in this node\. If this is intentional and you are using:/);
    assert.match(lastLine(f), /For further information visit https:\/\/errors\.pydantic\.dev\//);
    assert.ok(await portClosed(port));
  });

  it('fails with vLLM\'s free-memory ValueError, numbers from nvidia-smi, when the GPUs are busy', async () => {
    const port = await freePort();
    const f = kimi(port, [], { KIMI_FAKE_GPU_STATE: 'busy' });
    assert.deepEqual(await f.exit(), { code: 1, signal: null });
    assert.equal(lastLine(f), `(APIServer pid=${f.pid}) ${ENGINE_FAILED}`);
    // What nvidia-smi reports for GPU 0 with the worker's CUDA context (0.61 GiB) counted, as torch's snapshot does.
    const out = execFileSync(path.join(FAKE_BIN_DIR, 'nvidia-smi'), ['--query-gpu=index,memory.total,memory.free', '--format=csv,noheader,nounits'], {
      env: { ...process.env, KIMI_FAKE_GPU_DIR: f.gpuDir, KIMI_FAKE_GPU_STATE: 'busy' },
      encoding: 'utf8',
    });
    const [, totalMiB, freeMiB] = out.split('\n')[0].split(',').map((x) => Number(x.trim()));
    const round2 = (x: number) => String(Math.round(x * 100) / 100);
    const free = round2((freeMiB - 0.61 * 1024) / 1024);
    const expected = `ValueError: Free memory on device (${free}/${round2(totalMiB / 1024)} GiB) on startup is less than desired GPU memory utilization (0.9, ${round2((0.9 * totalMiB) / 1024)} GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.`;
    assert.ok(
      f.lines.some((l) => /^\(Worker_TP0 pid=\d+\) ERROR .* \[multiproc_executor\.py:\d+\] /.test(l) && l.endsWith(expected)),
      `expected ${expected}`,
    );
    assert.ok(f.lines.some((l) => l.endsWith('Exception: WorkerProc initialization failed due to an exception in a background process. See stack trace for root cause.')));
    assert.ok(await portClosed(port));
    assert.deepEqual(readLiveClaims(f.gpuDir), []);
  });

  const failModes: { mode: string; rootCause: RegExp }[] = [
    {
      mode: 'kv-cache',
      rootCause: /\(EngineCore_DP0 pid=\d+\) ValueError: To serve at least one request with the models's max seq len \(262144\), \(17\.16 GiB KV cache is needed, which is larger than the available KV cache memory \(10\.29 GiB\)\. Based on the available memory, the estimated maximum model length is 157248\. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine\.$/,
    },
    { mode: 'no-cache-blocks', rootCause: /\(EngineCore_DP0 pid=\d+\) ValueError: No available memory for the cache blocks\. Try increasing `gpu_memory_utilization` when initializing the engine\.$/ },
    { mode: 'oom', rootCause: /\(Worker_TP0 pid=\d+\) ERROR .* torch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate 1\.75 GiB\. GPU 0 has a total capacity of 140\.40 GiB/ },
    { mode: 'engine-init', rootCause: /\(Worker_TP0 pid=\d+\) ERROR .* RuntimeError: Failed to find C compiler\. Please specify via CC environment variable or set triton\.knobs\.build\.impl\.$/ },
  ];
  for (const { mode, rootCause } of failModes) {
    it(`KIMI_FAKE_VLLM_FAIL=${mode}: root cause, then "${ENGINE_FAILED}" as the last line, exit 1, nothing left behind`, async () => {
      const port = await freePort();
      const f = kimi(port, [], { KIMI_FAKE_VLLM_FAIL: mode });
      assert.deepEqual(await f.exit(), { code: 1, signal: null });
      assert.ok(f.lines.some((l) => rootCause.test(l)), `root cause ${rootCause}`);
      assert.equal(lastLine(f), `(APIServer pid=${f.pid}) ${ENGINE_FAILED}`);
      assert.ok(await portClosed(port));
      for (const pid of f.workerPids()) assert.equal(isAlive(pid), false);
      assert.deepEqual(fs.readdirSync(path.join(f.gpuDir, 'claims')), []);
    });
  }

  it('kv-cache mode starts when --max-model-len is at the estimated maximum', async () => {
    const port = await freePort();
    const f = kimi(port, ['--max-model-len', '157248'], { KIMI_FAKE_VLLM_FAIL: 'kv-cache' });
    await f.waitFor(/Application startup complete\./);
    assert.ok(f.lines.some((l) => l.endsWith('GPU KV cache size: 157,248 tokens')));
    assert.ok(f.lines.some((l) => l.endsWith('Maximum concurrency for 157,248 tokens per request: 1.00x')));
  });

  it('reports a port in use as OSError [Errno 98] right after the banner, exit 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const f = kimi(port);
      assert.deepEqual(await f.exit(), { code: 1, signal: null });
      assert.equal(lastLine(f), `(APIServer pid=${f.pid}) OSError: [Errno 98] Address already in use`);
      assert.ok(!f.lines.some((l) => l.includes('Resolved architecture')), 'the port is bound before the engine config');
      assert.equal(f.workerPids().length, 0);
    } finally {
      blocker.close();
    }
  });

  it('rejects unknown parsers with vLLM\'s KeyError, and --enable-auto-tool-choice without a parser with its TypeError', async () => {
    const tool = start(['serve', model, '--enable-auto-tool-choice', '--tool-call-parser', 'kimi', '--port', String(await freePort())]);
    assert.deepEqual(await tool.exit(), { code: 1, signal: null });
    assert.match(lastLine(tool), /^\(APIServer pid=\d+\) KeyError: 'invalid tool call parser: kimi \(chose from \{ deepseek_v3,.*,kimi_k2,.*hermes|hermes.*kimi_k2.* \}\)'$/);
    const reasoning = start(['serve', model, '--reasoning-parser', 'kimi', '--port', String(await freePort())]);
    assert.deepEqual(await reasoning.exit(), { code: 1, signal: null });
    assert.match(lastLine(reasoning), /^\(APIServer pid=\d+\) KeyError: 'invalid reasoning parser: kimi \(chose from \{ .*kimi_k2.* \}\)'$/);
    const noParser = start(['serve', model, '--enable-auto-tool-choice']);
    assert.deepEqual(await noParser.exit(), { code: 1, signal: null });
    assert.equal(lastLine(noParser), 'TypeError: Error: --enable-auto-tool-choice requires --tool-call-parser');
    assert.equal(noParser.lines[0], 'Traceback (most recent call last):');
  });

  it('without --trust-remote-code fails with transformers\' custom-code error inside a ModelConfig ValidationError', async () => {
    const port = await freePort();
    const f = start(['serve', model, '-tp', '8', '--host', '127.0.0.1', '--port', String(port)]);
    assert.deepEqual(await f.exit(), { code: 1, signal: null });
    const text = f.lines.join('\n');
    assert.ok(text.includes('pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig'));
    assert.ok(text.includes(`Value error, The repository ${model} contains custom code which must be executed to correctly load the model.`));
    assert.ok(text.includes('Please pass the argument `trust_remote_code=True` to allow custom code to be run.'));
    const missing = start(['serve', path.join(tmp, 'no-such-model'), '--trust-remote-code', '--port', String(await freePort())]);
    assert.deepEqual(await missing.exit(), { code: 1, signal: null });
    assert.ok(missing.lines.some((l) => l.endsWith(`Value error, Invalid repository ID or local directory specified: '${path.join(tmp, 'no-such-model')}'.`)));
  });

  it('SIGINT while loading aborts like a KeyboardInterrupt: traceback, killed by SIGINT, workers and claims gone, port closed', async () => {
    const port = await freePort();
    const f = kimi(port, [], { KIMI_FAKE_VLLM_SHARD_MS: '60' });
    await f.waitFor(/Loading safetensors checkpoint shards:\s+\d+% Completed \| 2\/64/);
    const workers = f.workerPids();
    f.signal('SIGINT');
    assert.deepEqual(await f.exit(), { code: null, signal: 'SIGINT' });
    assert.equal(lastLine(f), `(APIServer pid=${f.pid}) KeyboardInterrupt`);
    for (const pid of workers) assert.equal(isAlive(pid), false);
    assert.deepEqual(fs.readdirSync(path.join(f.gpuDir, 'claims')), []);
    assert.ok(await portClosed(port));
  });

  it('SIGKILL of the server alone leaves the workers (and their GPU memory) behind until the group is killed', async () => {
    const port = await freePort();
    const f = kimi(port);
    await f.waitFor(/Application startup complete\./);
    const workers = f.workerPids();
    f.signal('SIGKILL');
    assert.deepEqual(await f.exit(), { code: null, signal: 'SIGKILL' });
    assert.ok(await portClosed(port), 'the API server is gone');
    for (const pid of workers) assert.equal(isAlive(pid), true, `orphan ${pid} should survive`);
    assert.equal(readLiveClaims(f.gpuDir).length, 8, 'each orphaned worker still holds its GPU');
    for (const mib of nvidiaSmiUsedMiB(f.gpuDir)) assert.ok(mib > 0.85 * 143771);

    f.killGroup();
    const deadline = Date.now() + 5000;
    while (workers.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const pid of workers) assert.equal(isAlive(pid), false, `worker ${pid} survived the group kill`);
    assert.deepEqual(readLiveClaims(f.gpuDir), []);
    for (const mib of nvidiaSmiUsedMiB(f.gpuDir)) assert.equal(mib, 0);
  });

  it('KIMI_FAKE_VLLM_IGNORE_SIGTERM=1 ignores SIGTERM and SIGINT; only SIGKILL of the group ends it', async () => {
    const port = await freePort();
    const f = kimi(port, [], { KIMI_FAKE_VLLM_IGNORE_SIGTERM: '1' });
    await f.waitFor(/Application startup complete\./);
    const workers = f.workerPids();
    f.signal('SIGTERM');
    f.signal('SIGINT');
    // A request served after both signals proves the server is still up and did not start shutting down.
    assert.equal((await httpRequest(port, '/health')).status, 200);
    assert.equal((await httpRequest(port, '/health')).status, 200);
    assert.ok(!f.lines.some((l) => l.includes('Shutting down')));
    process.kill(-f.pid, 'SIGTERM');
    assert.equal((await httpRequest(port, '/health')).status, 200);
    for (const pid of workers) assert.equal(isAlive(pid), true);
    f.killGroup();
    assert.deepEqual(await f.exit(), { code: null, signal: 'SIGKILL' });
    const deadline = Date.now() + 5000;
    while (workers.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const pid of workers) assert.equal(isAlive(pid), false);
  });

  it('prints help for `vllm --help` and `vllm serve --help`', async () => {
    const top = start(['--help']);
    assert.deepEqual(await top.exit(), { code: 0, signal: null });
    assert.equal(top.lines[0], 'usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...');
    const serve = start(['serve', '--help']);
    assert.deepEqual(await serve.exit(), { code: 0, signal: null });
    assert.equal(serve.lines[0], 'usage: vllm serve [model_tag] [options]');
    const flag = start(['serve', '--help=max-model-len']);
    await flag.exit();
    assert.ok(flag.lines.some((l) => l.includes('--max-model-len')));
  });
});
