// ServerManager against the fake `vllm` and `nvidia-smi` as real processes on this machine: pre-flight, detached
// launch, phases from the (streamed or polled) log, readiness over HTTP, each failure's diagnosis, reattach, a
// verified stop, and hostile profile values.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { downloadModel } from '../../../src/core/download/modelDownload';
import type { LifecycleState } from '../../../src/core/server/lifecycleTypes';
import { stateDirFor } from '../../../src/core/server/remoteScripts';
import { hostile, sentinels } from '../server/kit';
import { chat, emulatorBin, freePort, groupMembers, liveClaims, localFixture, tempDir, waitFor, waitForState, type LocalFixture } from './lifecycleKit';

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function pidFile(f: LocalFixture, profileName: string): string {
  return path.join(f.home, stateDirFor(profileName).replace(/^~\//, ''), 'server.pid');
}

describe('ServerManager on this machine (fake vllm + nvidia-smi as real processes)', function () {
  this.timeout(60_000);
  let f: LocalFixture;

  beforeEach(() => {
    f = localFixture();
  });
  afterEach(async () => {
    await f.cleanup();
  });

  it('start → pre-flight → phases with shard progress → ready; a chat answers through baseUrl; stop: group gone, port closed, GPU claims gone', async () => {
    const port = await freePort();
    const m = f.manager(f.profile(port));
    const seen: LifecycleState[] = [];
    m.onState((s) => seen.push(s));
    const lines: string[] = [];
    m.onLog((l) => lines.push(l));

    const ready = await m.start({ apiKey: 'sk-local-1' });
    assert.ok(ready.kind === 'ready', JSON.stringify(ready));
    assert.equal(ready.baseUrl, `http://127.0.0.1:${port}/v1`);
    assert.match(ready.modelId, /Kimi-K2\.5$/);
    assert.equal(ready.maxModelLen, 262144);
    assert.match(ready.gpus ?? '', /^8× NVIDIA H200, 140\.4 GiB each, all free$/);
    assert.equal(ready.reattached, false);
    assert.equal(m.following, 'stream', 'the log is streamed (tail -F), not polled');

    const kinds = seen.map((s) => (s.kind === 'starting' ? `starting:${s.phase}` : s.kind));
    assert.equal(kinds[0], 'preflight');
    assert.ok(seen.some((s) => s.kind === 'preflight' && /8× NVIDIA H200/.test(s.detail)), 'the GPUs are shown during the start');
    for (const phase of ['starting:resolving', 'starting:loadingWeights', 'starting:cudaGraphs']) assert.ok(kinds.includes(phase), `${phase} in ${kinds.join(' ')}`);
    const shards = seen.filter((s) => s.kind === 'starting' && s.phase === 'loadingWeights' && s.progress).map((s) => (s as { progress: { done: number; total: number } }).progress);
    assert.ok(shards.length > 0 && shards.at(-1)!.total === 64 && shards.at(-1)!.done === 64, JSON.stringify(shards.slice(-3)));
    assert.ok(lines.some((l) => l.includes('Application startup complete.')));

    // The API key reached vLLM without a command line: the server refuses requests without it.
    assert.equal(await chat(ready.baseUrl, ready.modelId), 401);
    assert.equal(await chat(ready.baseUrl, ready.modelId, 'sk-local-1'), 200);
    assert.ok(groupMembers(ready.pid).length >= 3, 'the server runs as its own process group (API server, engine, workers)');
    assert.ok(liveClaims(f.gpuDir).length > 0, 'the fake GPUs are held while it runs');

    const report = await m.stop();
    assert.equal(report.result, 'INT');
    assert.equal(report.portClosed, true);
    assert.deepEqual(report.gpuMemoryHeld, {});
    assert.match(report.message ?? '', /Stopped the server .* with SIGINT; port \d+ is closed; GPU memory is free\./);
    assert.equal(m.state.kind, 'stopped');
    assert.deepEqual(groupMembers(ready.pid), [], 'no process of the group is left');
    assert.equal(await portAccepts(port), false);
    assert.deepEqual(liveClaims(f.gpuDir), []);
    assert.ok(!fs.existsSync(pidFile(f, m.profile.name)), 'the pid file is gone');
  });

  it('start twice → one server; a second manager (a new VS Code session, polling the log) reattaches and stops it', async () => {
    const p = f.profile(await freePort());
    const first = f.manager(p);
    const [a, b] = await Promise.all([first.start(), first.start()]);
    assert.ok(a.kind === 'ready' && b.kind === 'ready', JSON.stringify([a, b]));
    assert.equal(a.pid, b.pid);
    const again = await first.start();
    assert.equal(again.kind === 'ready' && again.pid, a.pid);
    // A second manager's start finds the running server instead of launching another.
    const other = f.manager(p);
    const c = await other.start();
    assert.ok(c.kind === 'ready', JSON.stringify(c));
    assert.equal(c.pid, a.pid);
    assert.equal(c.reattached, true);
    await other.dispose();
    await first.dispose(); // VS Code closed: the server keeps running
    assert.ok(groupMembers(a.pid).length > 0);

    const second = f.manager(p, { runner: f.shell() }); // a plain LocalShell: the log is polled
    const lines: string[] = [];
    second.onLog((l) => lines.push(l));
    const s = await second.reattach();
    assert.ok(s.kind === 'ready', JSON.stringify(s));
    assert.equal(s.pid, a.pid);
    assert.equal(s.reattached, true);
    assert.equal(s.maxModelLen, 262144);
    assert.equal(second.following, 'poll');
    assert.ok(lines.some((l) => l.includes('Application startup complete.')), 'the recent log is replayed to the new session');
    assert.equal((await second.stop()).result, 'INT');
  });

  it('start() while a reattach is looking: launches when it finds nothing, reports the server it finds, and a stop meanwhile cancels it', async () => {
    const p = f.profile(await freePort());
    const m = f.manager(p);
    const looking = m.reattach(); // activation looks for a server an earlier session left…
    const started = await m.start(); // …while the user already clicked Start
    assert.equal((await looking).kind, 'stopped', 'the reattach found nothing');
    assert.ok(started.kind === 'ready', JSON.stringify(started));
    assert.equal(started.reattached, false, 'start launched a server');
    assert.ok(groupMembers(started.pid).length > 0);
    await m.dispose(); // the session ends, the server keeps running

    const next = f.manager(p);
    const found = next.reattach();
    const again = await next.start();
    assert.ok(again.kind === 'ready', JSON.stringify(again));
    assert.equal(again.pid, started.pid, 'the running server, not a second one');
    assert.equal(again.reattached, true, 'reported as already running');
    assert.equal(((await found) as { pid?: number }).pid, started.pid);
    assert.equal(fs.readFileSync(pidFile(f, p.name), 'utf8').split(' ')[0], String(started.pid));
    assert.equal((await next.stop()).result, 'INT');

    const other = f.manager(f.profile(await freePort()));
    const look = other.reattach();
    const start = other.start();
    await other.stop();
    await look;
    const end = await start;
    assert.notEqual(end.kind, 'ready', JSON.stringify(end));
    assert.equal(other.state.kind, 'stopped');
    assert.ok(!fs.existsSync(pidFile(f, other.profile.name)), 'nothing was launched after the stop');
  });

  it('a server still loading is reattached in its phase, and stop() during the start ends both', async () => {
    const p = f.profile(await freePort(), { fakeEnv: { KIMI_FAKE_VLLM_SHARD_MS: '150' } });
    const first = f.manager(p);
    const starting = first.start();
    const loading = await waitForState(first, 'loading weights', (s) => s.kind === 'starting' && s.phase === 'loadingWeights' && (s.progress?.done ?? 0) >= 3);
    await first.dispose();
    assert.equal((await starting).kind, 'starting', 'dispose settles a pending start without stopping the server');

    const second = f.manager(p);
    const reattaching = second.reattach();
    const found = await waitForState(second, 'the phase recovered from the log', (s) => s.kind === 'starting' && s.phase === 'loadingWeights');
    assert.ok(found.kind === 'starting' && loading.kind === 'starting');
    assert.equal(found.pid, loading.pid);
    assert.ok((found.progress?.done ?? 0) >= 3, JSON.stringify(found));
    const report = await second.stop();
    assert.equal(report.result, 'INT');
    assert.equal((await reattaching).kind, 'stopped');
    assert.equal(second.state.kind, 'stopped');
    assert.deepEqual(groupMembers(found.pid!), []);
  });

  it('stop with nothing running → not-running with a clear message; reattach → stopped', async () => {
    const m = f.manager(f.profile(await freePort()));
    const r = await m.stop();
    assert.equal(r.result, 'not-running');
    assert.match(r.message ?? '', /^No server of profile "test-\d+" is running on this machine; nothing to stop\.$/);
    assert.equal((await m.reattach()).kind, 'stopped');
  });

  for (const [mode, code] of [
    ['kv-cache', 'kvCacheTooSmall'],
    ['no-cache-blocks', 'noCacheBlocks'],
    ['oom', 'cudaOutOfMemory'],
    ['engine-init', 'cCompilerMissing'],
    ['not-installed', 'vllmNotInstalled'],
  ] as const) {
    it(`KIMI_FAKE_VLLM_FAIL=${mode} → failed: ${code}, with the log tail`, async () => {
      const m = f.manager(f.profile(await freePort(), { fakeEnv: { KIMI_FAKE_VLLM_FAIL: mode } }));
      const s = await m.start();
      assert.ok(s.kind === 'failed', JSON.stringify(s));
      assert.equal(s.diagnosis.code, code, JSON.stringify(s.diagnosis));
      assert.ok((s.logTail ?? []).length > 0 && (s.logTail ?? []).length <= 40);
      if (mode === 'kv-cache') {
        assert.equal(s.diagnosis.fix?.setting?.key, 'maxModelLen');
        const v = Number(s.diagnosis.fix?.setting?.value);
        assert.ok(v > 1000 && v < 262144, String(v));
        assert.match(s.diagnosis.fix?.label ?? '', new RegExp(`${v}`));
      }
      assert.deepEqual(liveClaims(f.gpuDir), [], 'a failed server holds no GPU');
    });
  }

  it('busy GPUs are refused by the pre-flight, naming pid 568 python3; nothing is launched', async () => {
    const m = f.manager(f.profile(await freePort(), { fakeEnv: { KIMI_FAKE_GPU_STATE: 'busy' } }));
    const s = await m.start();
    assert.ok(s.kind === 'failed', JSON.stringify(s));
    assert.equal(s.diagnosis.code, 'gpuMemoryBusy');
    assert.match(s.diagnosis.explanation, /pid 568 python3/);
    assert.ok(!fs.existsSync(pidFile(f, m.profile.name)), 'nothing was launched');
  });

  it('more tensor-parallel ranks than GPUs are refused before launch, with the fix', async () => {
    const m = f.manager(f.profile(await freePort(), { fakeEnv: { KIMI_FAKE_GPUS: '2' } }));
    const s = await m.start();
    assert.ok(s.kind === 'failed', JSON.stringify(s));
    assert.equal(s.diagnosis.code, 'notEnoughGpus');
    assert.match(s.diagnosis.explanation, /2 GPUs .*asks for 8/);
    assert.deepEqual(s.diagnosis.fix?.setting, { key: 'tensorParallelSize', value: 2 });
    assert.ok(!fs.existsSync(pidFile(f, m.profile.name)));
  });

  it('vllm missing from PATH → vllmNotInstalled pointing at venv / conda / commandPrefix', async () => {
    const bare = tempDir('lc-bin');
    try {
      fs.symlinkSync(path.join(emulatorBin, 'nvidia-smi'), path.join(bare, 'nvidia-smi'));
      const g = localFixture({ path: `${bare}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}/usr/bin${path.delimiter}/bin` });
      try {
        const s = await g.manager(g.profile(await freePort())).start();
        assert.ok(s.kind === 'failed', JSON.stringify(s));
        assert.equal(s.diagnosis.code, 'vllmNotInstalled');
        assert.match(s.diagnosis.title, /on this machine/);
        assert.match(s.diagnosis.explanation, /environment\.venv.*environment\.conda.*environment\.commandPrefix/s);
      } finally {
        await g.cleanup();
      }
    } finally {
      fs.rmSync(bare, { recursive: true, force: true });
    }
  });

  it('port already taken → addressInUse', async () => {
    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const s = await f.manager(f.profile(port)).start();
      assert.ok(s.kind === 'failed', JSON.stringify(s));
      assert.equal(s.diagnosis.code, 'addressInUse');
    } finally {
      blocker.close();
    }
  });

  it('a server that ignores SIGINT and SIGTERM is killed with SIGKILL; its group and GPU claims are gone', async () => {
    const m = f.manager(f.profile(await freePort(), { fakeEnv: { KIMI_FAKE_VLLM_IGNORE_SIGTERM: '1' } }), { stopGrace: { intSec: 1, termSec: 1 } });
    const ready = await m.start();
    assert.ok(ready.kind === 'ready', JSON.stringify(ready));
    const report = await m.stop();
    assert.equal(report.result, 'KILL');
    assert.equal(report.portClosed, true);
    assert.deepEqual(report.gpuMemoryHeld, {});
    assert.deepEqual(groupMembers(ready.pid), []);
    await waitFor('GPU claims released', () => liveClaims(f.gpuDir).length === 0, 10_000, 100);
  });

  it('a server killed behind its back → failed (stopped by itself); one stopped by another process → stopped', async () => {
    const m = f.manager(f.profile(await freePort()));
    const a = await m.start();
    assert.ok(a.kind === 'ready');
    process.kill(-a.pid, 'SIGKILL');
    const failed = await waitForState(m, 'failed', (s) => s.kind === 'failed', 10_000);
    assert.ok(failed.kind === 'failed');
    assert.match(failed.diagnosis.title, /stopped by itself/);

    const b = await m.start();
    assert.ok(b.kind === 'ready', JSON.stringify(b));
    const other = f.manager(m.profile); // e.g. `kimi-vllm serve stop` in a terminal
    assert.equal((await other.stop()).result, 'INT');
    await waitForState(m, 'stopped', (s) => s.kind === 'stopped', 10_000);
  });

  it('hostile values in every profile field never execute anything (sentinel files), through start and download', async () => {
    const dir = fs.mkdtempSync('/tmp/lc-h-');
    try {
      const h = (tag: string) => hostile(dir, tag);
      const short = `n$(touch ${dir}/n1)\`touch ${dir}/n2\`;x`;
      const port = await freePort();
      // Everything that reaches a command line or a script: the run gets as far as it can and fails somewhere.
      const variants: Record<string, unknown>[] = [
        { name: short, modelDir: h('md'), servedModelName: h('sn').slice(0, 250), extraArgs: [h('xa'), '--x', h('xb')], env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: f.gpuDir, ...{ EVIL: h('ev') } } },
        { name: `${short}2`, model: h('mo').slice(0, 250), modelDir: '', downloadDir: h('dd'), toolCallParser: `k$(touch ${dir}/tc)`, reasoningParser: `\`touch ${dir}/rp\`` },
        { name: `${short}3`, bindHost: `127.0.0.1$(touch ${dir}/bh)`, env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: f.gpuDir } },
        { name: `${short}4`, environment: { venv: h('ve'), conda: '', commandPrefix: '' } },
        { name: `${short}5`, environment: { venv: '', conda: `c$(touch ${dir}/co)`, commandPrefix: '' } },
      ];
      for (const v of variants) {
        const m = f.manager(f.profile(port, v));
        const s = await m.start({ apiKey: `k$(touch ${dir}/key)\`touch ${dir}/key2\`` });
        assert.ok(s.kind === 'failed' || s.kind === 'ready', JSON.stringify(s).slice(0, 300));
        await m.stop();
      }
      // The download: hostile model id, download dir and include/exclude patterns.
      const d = await downloadModel(f.shell(), f.profile(port, variants[1]), { include: [h('inc')], exclude: [h('exc')], pollMs: 100, requiredBytes: 0 });
      assert.ok(d.kind === 'failed' || d.kind === 'done', JSON.stringify(d).slice(0, 300));
      assert.deepEqual(sentinels(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
