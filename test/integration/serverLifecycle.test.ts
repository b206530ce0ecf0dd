// The server lifecycle inside a real VS Code extension host: the extension's own commands drive the fake `vllm`
// (test/emulator/bin, a real process tree on this machine) through the real ServerManager.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { serverProfileSchema, type ServerProfile } from '../../src/core/config/serverProfile';
import type { DownloadState, LifecycleState } from '../../src/core/server/lifecycleTypes';
import { stateDirFor } from '../../src/core/server/remoteScripts';
import { ServerManager } from '../../src/core/server/serverManager';
import { LocalShell } from '../../src/core/server/ssh';
import { chatServerView, statusBarModel } from '../../src/vscode/server/presentation';
import type { ServerService } from '../../src/vscode/server/serverService';
import type { ServerView } from '../../src/shared/protocol';
import { api, cfg, freePort } from './extensionKit';

const repoRoot = process.env.KIMI_REPO_ROOT ?? path.resolve(__dirname, '../../..');
const fakeBin = path.join(repoRoot, 'test', 'emulator', 'bin');

/** Resolves with the first state (now or later) that satisfies `pred`; fails after `timeoutMs` naming the last. */
function waitForState(server: ServerService, pred: (s: LifecycleState) => boolean, what: string, timeoutMs = 30_000): Promise<LifecycleState> {
  if (pred(server.state)) return Promise.resolve(server.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no ${what} within ${timeoutMs} ms; last state ${JSON.stringify(server.state).slice(0, 400)}`));
    }, timeoutMs);
    const sub = server.onDidChange((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('server lifecycle in the extension (fake vllm as a real process)', function () {
  this.timeout(120_000);
  let tmp: string;
  let seq = 0;
  const used: string[] = [];

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-int-server-'));
    fs.mkdirSync(path.join(tmp, 'model'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'gpus'), { recursive: true });
  });

  afterEach(async () => {
    const a = await api();
    if (a.server.state.kind !== 'stopped') await a.server.stop().catch(() => undefined);
    await cfg().update('servers', undefined, vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', undefined, vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.runningProfile.name === 'This machine', 'the default profile again');
    fs.rmSync(tmp, { recursive: true, force: true });
    // The per-profile state dirs (log, no pid file once stopped) in ~/.kimi-vllm.
    for (const name of used.splice(0)) for (const dir of [stateDirFor(name), `${stateDirFor(name)}-download`]) fs.rmSync(dir.replace(/^~/, os.homedir()), { recursive: true, force: true });
  });

  /** A profile running the fake tools from this repo with fast timings, on its own port and fake GPUs. */
  function fakeProfileJson(name: string, port: number, fakeEnv: Record<string, string> = {}): Record<string, unknown> {
    return {
      name,
      port,
      modelDir: path.join(tmp, 'model'),
      servedModelName: 'Kimi-K2.5',
      environment: { commandPrefix: `env PATH=${fakeBin}:$PATH` },
      env: {
        KIMI_FAKE_GPUS: '8',
        KIMI_FAKE_GPU_DIR: path.join(tmp, 'gpus'),
        KIMI_FAKE_VLLM_SHARD_MS: '2',
        KIMI_FAKE_VLLM_PHASE_MS: '5',
        MODELSCOPE_CACHE: path.join(tmp, 'ms-cache'),
        ...fakeEnv,
      },
    };
  }

  async function useProfile(fakeEnv: Record<string, string> = {}): Promise<string> {
    const name = `int-${process.pid}-${++seq}`;
    used.push(name);
    await cfg().update('servers', [fakeProfileJson(name, await freePort(), fakeEnv)], vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
    const a = await api();
    await waitFor(() => a.server.runningProfile.name === name, `the service to follow profile ${name}`);
    return name;
  }

  it('Kimi: Start Server → ready with the model; chat base URL, status check and log terminal follow; Kimi: Stop Server → stopped', async () => {
    const a = await api();
    const name = await useProfile();
    const phases: string[] = [];
    const sub = a.server.onDidChange((s) => phases.push(s.kind === 'starting' ? `starting:${s.phase}` : s.kind));
    const result = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    sub.dispose();
    assert.equal(result.kind, 'ready', JSON.stringify(result).slice(0, 600));
    assert.ok(result.kind === 'ready');
    assert.equal(result.profile, name);
    assert.equal(result.modelId, 'Kimi-K2.5');
    assert.equal(result.maxModelLen, 262144);
    assert.match(result.gpus ?? '', /^8× NVIDIA H200/);
    for (const p of ['preflight', 'starting:loadingWeights', 'starting:cudaGraphs', 'ready']) assert.ok(phases.includes(p), `${p} in ${phases.join(' ')}`);

    assert.equal(a.server.currentBaseUrl(), result.baseUrl, 'the chat talks to the managed server');
    const view = await a.services.status.check();
    assert.equal(view.state, 'ready');
    assert.equal(view.baseUrl, result.baseUrl);
    assert.ok(a.server.terminal.lineCount > 20, `the server terminal got the log (${a.server.terminal.lineCount} lines)`);

    const pid = result.pid;
    assert.ok(alive(pid));
    const stopped = (await vscode.commands.executeCommand('kimi.stopServer')) as LifecycleState;
    assert.equal(stopped.kind, 'stopped');
    assert.equal(alive(pid), false, 'the server process is gone');
    assert.equal(a.server.currentBaseUrl(), a.services.config.settings['endpoint.baseUrl']);
  });

  it('a KV-cache failure carries its fix; applying it writes max-model-len into kimi.servers and the next start is ready', async () => {
    const a = await api();
    const name = await useProfile({ KIMI_FAKE_VLLM_FAIL: 'kv-cache' });
    const result = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    assert.ok(result.kind === 'failed', JSON.stringify(result).slice(0, 600));
    assert.equal(result.diagnosis.code, 'kvCacheTooSmall');
    const fix = result.diagnosis.fix;
    assert.ok(fix?.setting, 'the diagnosis has a setting to apply');
    assert.equal(fix.setting.key, 'maxModelLen');
    assert.match(fix.label, /^Set max-model-len to \d+ and restart$/);
    assert.equal(a.server.state.kind, 'failed', 'the failed state stays for the status bar and the chat header');

    await a.server.applyFix(fix);
    const saved = (cfg().get<{ name: string; maxModelLen?: number }[]>('servers') ?? []).find((p) => p.name === name);
    assert.equal(saved?.maxModelLen, fix.setting.value, 'kimi.servers holds the fixed max-model-len');
    assert.equal(a.server.runningProfile.maxModelLen, fix.setting.value, 'the service uses the fixed profile');

    const again = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    assert.ok(again.kind === 'ready', JSON.stringify(again).slice(0, 600));
    assert.equal(again.maxModelLen, fix.setting.value, 'the server now runs with the length the fix chose');
  });

  it('the fix for the implicit default profile creates an explicit kimi.servers entry', async () => {
    const a = await api();
    assert.equal(a.server.isImplicitProfile(), true);
    await a.server.applyFix({ label: 'Set gpu-memory-utilization to 0.85 and restart', setting: { key: 'gpuMemoryUtilization', value: 0.85 } });
    assert.deepEqual(cfg().get('servers'), [{ name: 'This machine', gpuMemoryUtilization: 0.85 }]);
    assert.equal(a.server.runningProfile.gpuMemoryUtilization, 0.85);
    assert.equal(a.server.runningProfile.tensorParallelSize, 8, 'everything else keeps the official defaults');
  });

  it('Stop Server during loading cancels the start: the process tree is gone, the state is stopped', async () => {
    const a = await api();
    await useProfile({ KIMI_FAKE_VLLM_SHARD_MS: '100' });
    const starting = a.server.start();
    const loading = await waitForState(a.server, (s) => s.kind === 'starting' && s.phase === 'loadingWeights', 'loading weights');
    const pid = (loading as { pid?: number }).pid!;
    assert.ok(alive(pid));
    const stopped = (await vscode.commands.executeCommand('kimi.stopServer')) as LifecycleState;
    assert.equal(stopped.kind, 'stopped');
    await starting;
    assert.equal(a.server.state.kind, 'stopped');
    assert.equal(alive(pid), false);
  });

  it('Cancel on the start notification stops the launch and reports that nothing is left running', async () => {
    const a = await api();
    await useProfile({ KIMI_FAKE_VLLM_SHARD_MS: '100' });
    const cancel = new vscode.CancellationTokenSource();
    const messages: string[] = [];
    const progress: string[] = [];
    const w = vscode.window as unknown as Record<string, unknown>;
    const original = { withProgress: w.withProgress, showInformationMessage: w.showInformationMessage };
    // The notification as a person sees it: its messages recorded, its Cancel button pressed once weights load.
    w.withProgress = (_o: unknown, task: (p: { report(v: { message?: string }): void }, t: vscode.CancellationToken) => unknown) =>
      task({ report: (v) => v.message && progress.push(v.message) }, cancel.token);
    w.showInformationMessage = (m: string) => {
      messages.push(m);
      return Promise.resolve(undefined);
    };
    try {
      const loading = waitForState(a.server, (s) => s.kind === 'starting' && s.phase === 'loadingWeights' && (s.progress?.done ?? 0) > 0, 'loading weights');
      const started = vscode.commands.executeCommand('kimi.startServer') as Thenable<LifecycleState>;
      const pid = ((await loading) as { pid: number }).pid;
      cancel.cancel();
      const end = await started;
      assert.equal(end.kind, 'stopped', JSON.stringify(end).slice(0, 300));
      assert.equal(alive(pid), false, 'the launched server was stopped');
      assert.ok(progress.some((m) => /^Loading weights \d+\/64 · 8× H200$/.test(m)), JSON.stringify(progress.slice(0, 8)));
      assert.ok(messages.some((m) => /was cancelled; nothing is left running/.test(m)), JSON.stringify(messages));
    } finally {
      Object.assign(w, original);
    }
  });

  it('changing the running profile offers "Restart server now"; the restart brings the server up with the new settings', async () => {
    const a = await api();
    await useProfile();
    const ready = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    assert.equal(ready.kind, 'ready');
    // Answer the extension's prompt the way a person would (the test shares the extension's vscode API object).
    const asked: string[] = [];
    const original = vscode.window.showInformationMessage;
    (vscode.window as { showInformationMessage: unknown }).showInformationMessage = (message: string, ...items: unknown[]) => {
      asked.push(message);
      return Promise.resolve(items.includes('Restart server now') ? 'Restart server now' : undefined);
    };
    try {
      const servers = cfg().get<Record<string, unknown>[]>('servers')!;
      await cfg().update('servers', [{ ...servers[0], maxModelLen: 131072 }], vscode.ConfigurationTarget.Global);
      await waitFor(() => a.server.profile().maxModelLen === 131072, 'the settings to change');
      const restarted = await waitForState(a.server, (s) => s.kind === 'ready' && s.maxModelLen === 131072, 'the restarted server');
      assert.ok(restarted.kind === 'ready' && ready.kind === 'ready');
      assert.notEqual(restarted.pid, ready.pid, 'a new server process');
      assert.equal(alive(ready.pid), false, 'the old one is gone');
      assert.ok(asked.some((m) => /settings of the running server .* changed/.test(m)), JSON.stringify(asked));
    } finally {
      (vscode.window as { showInformationMessage: unknown }).showInformationMessage = original;
    }
  });

  it('while a server runs, a changed profile does not orphan it; after Stop the new definition is used', async () => {
    const a = await api();
    const name = await useProfile();
    const ready = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    assert.equal(ready.kind, 'ready');
    const servers = cfg().get<Record<string, unknown>[]>('servers')!;
    await cfg().update('servers', [{ ...servers[0], maxModelLen: 131072 }], vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.profile().maxModelLen === 131072, 'the settings to change');
    assert.equal(a.server.runningProfile.maxModelLen, 0, 'the running server keeps the definition it was started with');
    assert.equal(a.server.state.kind, 'ready');
    await vscode.commands.executeCommand('kimi.stopServer');
    const again = (await vscode.commands.executeCommand('kimi.startServer', name)) as LifecycleState;
    assert.ok(again.kind === 'ready', JSON.stringify(again).slice(0, 400));
    assert.equal(again.maxModelLen, 131072);
  });

  it('reattaches to a server started outside this window (e.g. the CLI) when its profile becomes active', async () => {
    const a = await api();
    const name = `int-${process.pid}-outside-${++seq}`;
    used.push(name);
    const json = fakeProfileJson(name, await freePort());
    const profile: ServerProfile = serverProfileSchema.parse(json);
    const outside = new ServerManager(profile, { runner: new LocalShell(), freeLocalPort: freePort });
    const first = await outside.start();
    assert.equal(first.kind, 'ready', JSON.stringify(first).slice(0, 400));
    await outside.dispose(); // like the CLI exiting: the server keeps running

    await cfg().update('servers', [json], vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
    const found = await waitForState(a.server, (s) => s.kind === 'ready' && s.profile === name, 'the reattached server');
    assert.ok(found.kind === 'ready');
    assert.equal(found.reattached, true);
    assert.equal(found.pid, (first as { pid: number }).pid);
    const stopped = (await vscode.commands.executeCommand('kimi.stopServer')) as LifecycleState;
    assert.equal(stopped.kind, 'stopped');
    assert.equal(alive(found.pid), false);
  });

  it('Start Server while the extension still looks for a running server: the one it finds is reported as already running, none is launched', async () => {
    const a = await api();
    const name = `int-${process.pid}-race-${++seq}`;
    used.push(name);
    const json = fakeProfileJson(name, await freePort());
    const outside = new ServerManager(serverProfileSchema.parse(json), { runner: new LocalShell(), freeLocalPort: freePort });
    const first = await outside.start();
    assert.ok(first.kind === 'ready', JSON.stringify(first).slice(0, 400));
    await outside.dispose();

    const messages: string[] = [];
    const original = vscode.window.showInformationMessage;
    (vscode.window as { showInformationMessage: unknown }).showInformationMessage = (m: string) => {
      messages.push(m);
      return Promise.resolve(undefined);
    };
    try {
      // The profile becomes active (the extension starts looking for its server) and Start is pressed at once.
      await cfg().update('servers', [json], vscode.ConfigurationTarget.Global);
      await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
      await waitFor(() => a.server.runningProfile.name === name, `the service to follow profile ${name}`);
      const result = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
      assert.ok(result.kind === 'ready', JSON.stringify(result).slice(0, 400));
      assert.equal(result.pid, first.pid, 'the server that was running, not a second one');
      assert.ok(messages.some((m) => new RegExp(`"${name}" (was|is) already running`).test(m)), JSON.stringify(messages));
      assert.equal(fs.readFileSync(path.join(stateDirFor(name).replace(/^~/, os.homedir()), 'server.pid'), 'utf8').split(' ')[0], String(first.pid));
    } finally {
      (vscode.window as { showInformationMessage: unknown }).showInformationMessage = original;
    }
  });

  it('Download Model runs modelscope on the host with include patterns and reports bytes until done', async () => {
    const a = await api();
    await useProfile();
    const states: DownloadState[] = [];
    const sub = a.server.onDidChangeDownload((d) => states.push(d));
    const end = await a.server.runDownload(a.server.profile(), { include: ['*.json'] }, new AbortController().signal);
    sub.dispose();
    assert.equal(end.kind, 'done', JSON.stringify(end));
    assert.ok(states.some((d) => d.kind === 'checking'));
    assert.ok(fs.readdirSync(path.join(tmp, 'model')).some((f) => f.endsWith('.json')), 'json files landed in the model dir');
    assert.ok(!fs.readdirSync(path.join(tmp, 'model')).some((f) => f.endsWith('.safetensors')), 'only what was included');
    assert.equal(a.server.download.kind, 'done');
  });
});

describe('what the status bar and the chat header say for each state', () => {
  const ref = { profile: 'GPU box', host: 'gpu-box' };
  const endpoint: ServerView = { state: 'unreachable', baseUrl: 'http://127.0.0.1:8000/v1', detail: 'nothing is listening there (connection refused)' };
  const idle = { kind: 'idle' } as const;
  const text = (managed: LifecycleState, download: DownloadState = idle, externalEndpoint = false, ep = endpoint) =>
    statusBarModel({ managed, download, endpoint: ep, externalEndpoint }).text.replace(/^\$\([\w~-]+\) /, '');

  it('stopped, or "no server" at a URL the user configured; an external ready server shows its model', () => {
    assert.equal(text({ kind: 'stopped', ...ref }), 'Kimi: stopped');
    assert.equal(text({ kind: 'stopped', ...ref }, idle, true), 'Kimi: no server');
    assert.equal(text({ kind: 'stopped', ...ref }, idle, true, { state: 'ready', baseUrl: 'http://x/v1', modelId: '/m/Kimi-K2.5' }), 'Kimi: ready · Kimi-K2.5');
  });

  it('starting with the phase and its progress, ready with model and GPUs, failed with the reason', () => {
    assert.equal(text({ kind: 'preflight', detail: 'Checking the GPUs…', ...ref }), 'Kimi: starting: pre-flight checks');
    assert.equal(text({ kind: 'starting', phase: 'loadingWeights', progress: { done: 12, total: 64 }, since: 0, ...ref }), 'Kimi: starting: loading weights 12/64');
    assert.equal(text({ kind: 'starting', phase: 'cudaGraphs', since: 0, ...ref }), 'Kimi: starting: capturing CUDA graphs');
    assert.equal(
      text({ kind: 'ready', baseUrl: 'http://127.0.0.1:40001/v1', modelId: 'Kimi-K2.5', pid: 1, gpus: '8× NVIDIA H200, 140.4 GiB each, all free', reattached: false, ...ref }),
      'Kimi: ready · Kimi-K2.5 · 8× H200',
    );
    const failed: LifecycleState = { kind: 'failed', diagnosis: { code: 'kvCacheTooSmall', title: 'The context length does not fit in GPU memory', explanation: '…', line: '' }, ...ref };
    assert.equal(text(failed), 'Kimi: failed: The context length does not fit in GPU memory');
    assert.equal(statusBarModel({ managed: failed, download: idle, endpoint, externalEndpoint: false }).tone, 'error');
  });

  it('downloading n% while no server runs, with bytes, speed and ETA in the tooltip and the chat header', () => {
    const d: DownloadState = { kind: 'downloading', files: { done: 3, total: 64 }, bytes: { done: 250e9, total: 595e9 }, speed: 250e6, etaSeconds: 1380 };
    assert.equal(text({ kind: 'stopped', ...ref }, d), 'Kimi: downloading 42%');
    const m = statusBarModel({ managed: { kind: 'stopped', ...ref }, download: d, endpoint, externalEndpoint: false });
    assert.match(m.tooltip, /Download: 250 GB of 595 GB · 3\/64 files · 250 MB\/s · 23 min left/);
    const view = chatServerView(endpoint, { kind: 'stopped', ...ref }, d);
    assert.deepEqual(view.download, { text: '250 GB of 595 GB · 3/64 files · 250 MB/s · 23 min left', percent: 42 });
  });

  it('the chat header carries the phase of a starting server and the diagnosis (with its fix) of a failed one', () => {
    const starting = chatServerView(endpoint, { kind: 'starting', phase: 'loadingWeights', progress: { done: 5, total: 64 }, since: 0, ...ref }, idle);
    assert.equal(starting.state, 'starting');
    assert.equal(starting.managed?.phase, 'Loading weights 5/64');
    const failed = chatServerView(endpoint, {
      kind: 'failed',
      diagnosis: { code: 'kvCacheTooSmall', title: 'T', explanation: 'E', line: '', fix: { label: 'Set max-model-len to 157248 and restart', setting: { key: 'maxModelLen', value: 157248 } } },
      ...ref,
    }, idle);
    assert.equal(failed.state, 'failed');
    assert.deepEqual(failed.managed?.diagnosis, { title: 'T', explanation: 'E', fixLabel: 'Set max-model-len to 157248 and restart' });
  });
});

/** Waits for a condition that settles through VS Code's configuration events (bounded). */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
