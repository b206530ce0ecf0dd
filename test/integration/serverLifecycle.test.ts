import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LifecycleState } from '../../src/core/server/lifecycleTypes';
import type { KimiApi } from '../../src/extension';
import { applyFix } from '../../src/vscode/server/startFlow';

const EXT_ID = 'kimi-selfhosted.kimi-vllm';
const repoRoot = process.env.KIMI_REPO_ROOT ?? path.resolve(__dirname, '../../..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function api(): Promise<KimiApi> {
  const ext = vscode.extensions.getExtension<KimiApi>(EXT_ID)!;
  return ext.isActive ? ext.exports : await ext.activate();
}

describe('server lifecycle from the command palette (fake vllm as a real process)', function () {
  this.timeout(120_000);
  let tmp: string;
  const cfg = () => vscode.workspace.getConfiguration('kimi');

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-int-server-'));
    fs.mkdirSync(path.join(tmp, 'model'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'gpus'), { recursive: true });
  });

  afterEach(async () => {
    const a = await api();
    await a.services.server.stop().catch(() => undefined);
    await cfg().update('servers', undefined, vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', undefined, vscode.ConfigurationTarget.Global);
    a.services.server.switchIfProfileChanged();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function useProfile(name: string, port: number, fakeEnv: Record<string, string> = {}): Promise<void> {
    await cfg().update('servers', [{
      name,
      port,
      modelDir: path.join(tmp, 'model'),
      environment: { commandPrefix: `env PATH=${path.join(repoRoot, 'test', 'emulator', 'bin')}:$PATH` },
      env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: path.join(tmp, 'gpus'), KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5', ...fakeEnv },
    }], vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
    const a = await api();
    a.services.server.switchIfProfileChanged();
    assert.equal(a.services.server.profile().name, name);
  }

  it('Kimi: Start Server → ready with the model; the status check follows; Kimi: Stop Server → stopped', async () => {
    const a = await api();
    const port = await freePort();
    await useProfile(`int-${process.pid}-ok`, port);
    const states: string[] = [];
    const sub = a.services.server.onDidChange((s) => states.push(s.kind === 'starting' ? `starting:${s.phase}` : s.kind));
    const result = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    sub.dispose();
    assert.equal(result.kind, 'ready', JSON.stringify(result));
    assert.ok(states.includes('starting:loadingWeights'), states.join(' '));
    const view = await a.services.status.check();
    assert.equal(view.state, 'ready');
    assert.equal(view.baseUrl, `http://127.0.0.1:${port}/v1`);
    assert.equal(view.maxModelLen, 262144);

    await vscode.commands.executeCommand('kimi.stopServer');
    assert.equal(a.services.server.state.kind, 'stopped');
    const after = await a.services.status.check();
    assert.notEqual(after.state, 'ready');
  });

  it('a KV-cache failure carries its fix; applying it writes max-model-len into the profile', async () => {
    const a = await api();
    const name = `int-${process.pid}-kv`;
    await useProfile(name, await freePort(), { KIMI_FAKE_VLLM_FAIL: 'kv-cache' });
    const result = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    assert.ok(result.kind === 'failed', JSON.stringify(result));
    assert.equal(result.diagnosis.code, 'kvCacheTooSmall');
    const fix = result.diagnosis.fix!.setting!;
    await applyFix(a.services, fix.key, fix.value);
    const saved = (cfg().get<{ name: string; maxModelLen?: number }[]>('servers') ?? []).find((p) => p.name === name);
    assert.equal(saved?.maxModelLen, fix.value);
    assert.equal(a.services.server.profile().maxModelLen, fix.value);
  });
});
