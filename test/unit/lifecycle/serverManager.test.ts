// ServerManager against the fake `vllm` and `nvidia-smi` as real processes on this machine: pre-flight, detached
// launch, phases from the log, readiness over HTTP, each failure's diagnosis, reattach, and a verified stop.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import type { LifecycleState } from '../../../src/core/server/lifecycleTypes';
import { stateDirFor } from '../../../src/core/server/remoteScripts';
import { ServerManager } from '../../../src/core/server/serverManager';
import { LocalShell } from '../../../src/core/server/ssh';
import { emulatorBin, tempDir, waitFor } from '../server/kit';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Fixture {
  home: string;
  gpuDir: string;
  shell: LocalShell;
  managers: ServerManager[];
}

function fixture(opts: { path?: string } = {}): Fixture {
  const home = tempDir('kimi-mgr-home');
  const gpuDir = path.join(home, 'gpus');
  fs.mkdirSync(path.join(home, 'models', 'Kimi-K2.5'), { recursive: true });
  fs.mkdirSync(gpuDir, { recursive: true });
  const env = { ...process.env, HOME: home, PATH: opts.path ?? `${emulatorBin}${path.delimiter}${process.env.PATH}` };
  return { home, gpuDir, shell: new LocalShell({ env, cwd: home }), managers: [] };
}

function profile(f: Fixture, port: number, extra: Partial<ServerProfile> & { fakeEnv?: Record<string, string> } = {}): ServerProfile {
  const { fakeEnv, ...rest } = extra;
  return serverProfileSchema.parse({
    name: `test-${port}`,
    port,
    modelDir: '~/models/Kimi-K2.5',
    env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: f.gpuDir, KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5', ...fakeEnv },
    ...rest,
  });
}

function manager(f: Fixture, p: ServerProfile): ServerManager {
  const m = new ServerManager(p, { runner: f.shell, freeLocalPort: freePort, pollMs: 100, stopGrace: { intSec: 5, termSec: 3 }, startTimeoutMs: 60_000 });
  f.managers.push(m);
  return m;
}

describe('ServerManager on this machine (fake vllm + nvidia-smi as real processes)', function () {
  this.timeout(90_000);
  let f: Fixture;

  beforeEach(() => {
    f = fixture();
  });

  afterEach(async () => {
    for (const m of f.managers) {
      await m.stop().catch(() => undefined);
      await m.dispose();
    }
    fs.rmSync(f.home, { recursive: true, force: true });
  });

  it('starts: pre-flight → phases with shard progress → ready over HTTP; a chat answers; stop frees port and GPUs', async () => {
    const port = await freePort();
    const m = manager(f, profile(f, port));
    const seen: LifecycleState[] = [];
    m.onState((s) => seen.push(s));
    const lines: string[] = [];
    m.onLog((l) => lines.push(l));

    const ready = await m.start({ apiKey: 'sk-local-1' });
    assert.equal(ready.kind, 'ready', JSON.stringify(ready));
    assert.ok(ready.kind === 'ready');
    assert.equal(ready.baseUrl, `http://127.0.0.1:${port}/v1`);
    assert.match(ready.modelId, /Kimi-K2\.5$/);
    assert.equal(ready.maxModelLen, 262144);
    assert.match(ready.gpus ?? '', /8× NVIDIA H200/);
    assert.equal(ready.reattached, false);

    const kinds = seen.map((s) => (s.kind === 'starting' ? `starting:${s.phase}` : s.kind));
    assert.equal(kinds[0], 'preflight');
    for (const phase of ['starting:resolving', 'starting:loadingWeights', 'starting:cudaGraphs']) assert.ok(kinds.includes(phase), `${phase} in ${kinds.join(' ')}`);
    const progress = seen.filter((s) => s.kind === 'starting' && s.phase === 'loadingWeights' && s.progress).map((s) => (s as { progress: { done: number; total: number } }).progress);
    assert.ok(progress.length > 0 && progress.at(-1)!.total === 64, JSON.stringify(progress.slice(-3)));
    assert.ok(lines.some((l) => l.includes('Application startup complete.')));

    // The API key reached vLLM without a command line: the server refuses requests without it.
    const body = JSON.stringify({ model: ready.modelId, messages: [{ role: 'user', content: 'hello' }], max_tokens: 20 });
    const denied = await fetch(`${ready.baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(denied.status, 401);
    const answer = await fetch(`${ready.baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-local-1' }, body });
    assert.equal(answer.status, 200);
    assert.ok(((await answer.json()) as { choices: unknown[] }).choices.length === 1);

    const report = await m.stop();
    assert.equal(report.result, 'INT');
    assert.equal(report.portClosed, true);
    assert.deepEqual(report.gpuMemoryHeld, {});
    assert.equal(m.state.kind, 'stopped');
    await assert.rejects(fetch(`${ready.baseUrl}/models`));
  });

  it('a second start returns the running server; a new manager (a new VS Code session) reattaches to it', async () => {
    const port = await freePort();
    const p = profile(f, port);
    const first = manager(f, p);
    const a = await first.start();
    assert.equal(a.kind, 'ready');
    const again = await first.start();
    assert.equal(again.kind === 'ready' && again.pid, a.kind === 'ready' && a.pid);
    await first.dispose(); // VS Code closed: the server keeps running

    const second = manager(f, p);
    const b = await second.reattach();
    assert.equal(b.kind, 'ready', JSON.stringify(b));
    assert.ok(b.kind === 'ready' && a.kind === 'ready');
    assert.equal(b.pid, a.pid);
    assert.equal(b.reattached, true);
    assert.equal((await second.stop()).result, 'INT');
  });

  it('stopping when nothing runs says so', async () => {
    const m = manager(f, profile(f, await freePort()));
    assert.equal((await m.stop()).result, 'not-running');
    assert.equal((await m.reattach()).kind, 'stopped');
  });

  it('KV cache too small → failed with the estimated length as a one-click fix', async () => {
    const m = manager(f, profile(f, await freePort(), { fakeEnv: { KIMI_FAKE_VLLM_FAIL: 'kv-cache' } }));
    const s = await m.start();
    assert.equal(s.kind, 'failed', JSON.stringify(s));
    assert.ok(s.kind === 'failed');
    assert.equal(s.diagnosis.code, 'kvCacheTooSmall');
    assert.equal(s.diagnosis.fix?.setting?.key, 'maxModelLen');
    assert.ok(Number(s.diagnosis.fix?.setting?.value) > 1000 && Number(s.diagnosis.fix?.setting?.value) < 262144);
    assert.ok((s.logTail ?? []).length > 0);
  });

  it('busy GPUs are refused before anything starts, naming the process that holds them', async () => {
    const m = manager(f, profile(f, await freePort(), { fakeEnv: { KIMI_FAKE_GPU_STATE: 'busy' } }));
    const s = await m.start();
    assert.ok(s.kind === 'failed', JSON.stringify(s));
    assert.equal(s.diagnosis.code, 'gpuMemoryBusy');
    assert.match(s.diagnosis.explanation, /568/);
    assert.ok(!fs.existsSync(path.join(f.home, stateDirFor(m.profile.name).replace(/^~\//, ''), 'server.pid')), 'nothing was launched');
  });

  it('more tensor-parallel ranks than GPUs are refused before launch', async () => {
    const m = manager(f, profile(f, await freePort(), { fakeEnv: { KIMI_FAKE_GPUS: '2' } }));
    const s = await m.start();
    assert.ok(s.kind === 'failed');
    assert.equal(s.diagnosis.code, 'notEnoughGpus');
    assert.match(s.diagnosis.explanation, /2 GPUs/);
  });

  it('vllm missing from PATH → a diagnosis pointing at the venv / conda / prefix settings', async () => {
    const bare = tempDir('kimi-mgr-bin');
    fs.symlinkSync(path.join(emulatorBin, 'nvidia-smi'), path.join(bare, 'nvidia-smi'));
    f = fixture({ path: `${bare}${path.delimiter}/usr/bin${path.delimiter}/bin` });
    const m = manager(f, profile(f, await freePort()));
    const s = await m.start();
    assert.ok(s.kind === 'failed', JSON.stringify(s));
    assert.equal(s.diagnosis.code, 'vllmNotInstalled');
    fs.rmSync(bare, { recursive: true, force: true });
  });

  it('port already taken → addressInUse', async () => {
    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const m = manager(f, profile(f, port));
      const s = await m.start();
      assert.ok(s.kind === 'failed', JSON.stringify(s));
      assert.equal(s.diagnosis.code, 'addressInUse');
    } finally {
      blocker.close();
    }
  });

  it('a server that ignores SIGINT and SIGTERM is killed with SIGKILL, and its GPUs are freed', async () => {
    const m = manager(f, profile(f, await freePort(), { fakeEnv: { KIMI_FAKE_VLLM_IGNORE_SIGTERM: '1' } }));
    assert.equal((await m.start()).kind, 'ready');
    const report = await m.stop();
    assert.equal(report.result, 'KILL');
    assert.equal(report.portClosed, true);
    await waitFor('GPU memory released', async () => {
      const again = await m.stop();
      return again.result === 'not-running' && Object.keys(again.gpuMemoryHeld).length === 0;
    }, 15_000, 200);
  });
});
