// The single-host ServerHandle the extension creates at activation (src/vscode/server/deferredHandle.ts): it must
// behave like a new ServerManager ('stopped', listeners that hear everything later) while loading the lifecycle code
// only when something needs it — and a reattach with nothing to find on this machine must not load it at all.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultProfile, type ServerProfile } from '../../../src/core/config/serverProfile';
import type { LifecycleState, ServerController } from '../../../src/core/server/lifecycleTypes';
import { localStateDir } from '../../../src/core/server/stateDir';
import type { ServerHandle } from '../../../src/vscode/server/controllerFactory';
import { deferredHandle } from '../../../src/vscode/server/deferredHandle';

/** A stand-in for the handle features.js would create: records calls, lets the test drive its events. */
function fakeReal(profile: ServerProfile) {
  const state: { s: LifecycleState } = { s: { kind: 'stopped', profile: profile.name, host: profile.host } };
  const onState = new Set<(s: LifecycleState) => void>();
  const onLog = new Set<(l: string) => void>();
  const calls: string[] = [];
  const ready: LifecycleState = { kind: 'ready', profile: profile.name, host: profile.host, baseUrl: 'http://127.0.0.1:8000/v1', modelId: 'm', pid: 4242, reattached: false };
  const controller: ServerController = {
    profile,
    get state() {
      return state.s;
    },
    onState: (l) => (onState.add(l), () => onState.delete(l)),
    onLog: (l) => (onLog.add(l), () => onLog.delete(l)),
    start: async () => (calls.push('start'), (state.s = ready), onState.forEach((l) => l(ready)), ready),
    reattach: async () => (calls.push('reattach'), state.s),
    stop: async () => (calls.push('stop'), { result: 'not-running' } as never),
    logTail: async () => (calls.push('logTail'), ['a line']),
    dispose: async () => void calls.push('dispose'),
  };
  const handle: ServerHandle = {
    profile,
    controller,
    download: async () => (calls.push('download'), { kind: 'idle' }),
    probeGpus: async () => (calls.push('probeGpus'), '8× H200'),
    dispose: async () => void calls.push('dispose'),
  };
  return { handle, calls, log: (l: string) => onLog.forEach((f) => f(l)) };
}

describe('deferred server handle (lifecycle code loaded on first use)', () => {
  let home: string;
  let savedHome: string | undefined;
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-deferred-'));
    savedHome = process.env.HOME;
    process.env.HOME = home;
  });
  afterEach(() => {
    process.env.HOME = savedHome;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('is stopped and loads nothing until used; a local reattach with no state directory answers stopped without loading', async () => {
    const profile = { ...defaultProfile(), name: 'Local box' };
    let created = 0;
    const h = deferredHandle(profile, (p) => (created++, fakeReal(p).handle));
    assert.deepEqual(h.controller.state, { kind: 'stopped', profile: 'Local box', host: 'local' });
    const s = await h.controller.reattach({});
    assert.equal(s.kind, 'stopped');
    assert.equal(created, 0);
    assert.equal(h.loaded, false);
    await h.dispose();
    assert.equal(created, 0, 'disposing a handle that never loaded loads nothing');
  });

  it('a local profile with a state directory (a server or download ran here) reattaches through the real code', async () => {
    const profile = { ...defaultProfile(), name: 'Ran before' };
    fs.mkdirSync(localStateDir(profile.name), { recursive: true });
    assert.ok(localStateDir(profile.name).startsWith(home), 'the state directory is under $HOME/.kimi-vllm');
    let real: ReturnType<typeof fakeReal> | undefined;
    const h = deferredHandle(profile, (p) => (real = fakeReal(p)).handle);
    await h.controller.reattach({});
    assert.deepEqual(real?.calls, ['reattach']);
  });

  it('a remote profile always reattaches through the real code (the record is on the host)', async () => {
    const profile = { ...defaultProfile(), name: 'GPU box', host: 'gpu@box' };
    let real: ReturnType<typeof fakeReal> | undefined;
    const h = deferredHandle(profile, (p) => (real = fakeReal(p)).handle);
    await h.controller.reattach({});
    assert.deepEqual(real?.calls, ['reattach']);
  });

  it('listeners added before the load hear the states and log lines after it; start, logs, download and GPUs go to the real handle once', async () => {
    const profile = { ...defaultProfile(), name: 'Local box' };
    let created = 0;
    let real: ReturnType<typeof fakeReal> | undefined;
    const h = deferredHandle(profile, (p) => (created++, (real = fakeReal(p)).handle));
    const states: string[] = [];
    const lines: string[] = [];
    const unState = h.controller.onState((s) => states.push(s.kind));
    h.controller.onLog((l) => lines.push(l));
    const s = await h.controller.start({});
    assert.equal(s.kind, 'ready');
    assert.deepEqual(states, ['ready']);
    assert.equal(h.controller.state.kind, 'ready', 'the state is the real controller\'s once loaded');
    real!.log('INFO vllm line');
    assert.deepEqual(lines, ['INFO vllm line']);
    assert.deepEqual(await h.controller.logTail(10), ['a line']);
    assert.equal(await h.probeGpus(), '8× H200');
    await h.download({ signal: new AbortController().signal, onState: () => undefined });
    assert.equal(created, 1);
    assert.deepEqual(real!.calls, ['start', 'logTail', 'probeGpus', 'download']);
    unState();
    await h.controller.stop();
    assert.deepEqual(states, ['ready'], 'an unsubscribed listener hears nothing more');
    await h.dispose();
    assert.ok(real!.calls.includes('dispose'));
  });
});
