import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KimiApi } from '../../src/extension';
import { startEmulator } from '../emulator/server';
import type { EmulatorHandle } from '../emulator/types';

const EXT_ID = 'kimi-selfhosted.kimi-vllm';

async function api(): Promise<KimiApi> {
  const ext = vscode.extensions.getExtension<KimiApi>(EXT_ID);
  assert.ok(ext, `${EXT_ID} is installed in the extension host`);
  return ext.isActive ? ext.exports : await ext.activate();
}

async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('kimi').update(key, value, vscode.ConfigurationTarget.Global);
}

describe('the extension in a real VS Code', () => {
  let emulator: EmulatorHandle | undefined;

  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    await setSetting('endpoint.baseUrl', undefined);
    await setSetting('chat.topP', undefined);
    const a = await api();
    await a.services.secrets.setApiKey(undefined);
  });

  it('activates lazily and quickly, and reports its activation time', async function () {
    const ext = vscode.extensions.getExtension<KimiApi>(EXT_ID)!;
    const started = performance.now();
    const exports = ext.isActive ? ext.exports : await ext.activate();
    const wall = performance.now() - started;
    assert.ok(exports.activationMs > 0 && exports.activationMs < 5000, `activationMs ${exports.activationMs}`);
    const out = process.env.KIMI_BENCH_OUT;
    if (out) {
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, JSON.stringify({ activationMs: exports.activationMs, activateCallMs: wall, wasActive: false }));
    }
  });

  it('registers every command declared in package.json', async () => {
    await api();
    const declared: string[] = vscode.extensions.getExtension(EXT_ID)!.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    const all = new Set(await vscode.commands.getCommands(true));
    const missing = declared.filter((c) => !all.has(c));
    assert.deepEqual(missing, []);
  });

  it('sees a ready emulator at the configured base URL, with its model and context length', async () => {
    const a = await api();
    emulator = await startEmulator({ servedModelName: 'kimi-k2.5', maxModelLen: 131072 });
    await setSetting('endpoint.baseUrl', `${emulator.url}/v1`);
    const v = await a.services.status.check();
    assert.equal(v.state, 'ready', JSON.stringify(v));
    assert.equal(v.modelId, 'kimi-k2.5');
    assert.equal(v.maxModelLen, 131072);
    assert.ok(emulator.requests.some((r) => r.path === '/v1/models'), 'the extension asked the server for its models');
  });

  it('says the server is not running when nothing listens, and ready once it is up', async () => {
    const a = await api();
    emulator = await startEmulator();
    const url = `${emulator.url}/v1`;
    await emulator.close();
    await setSetting('endpoint.baseUrl', url);
    const down = await a.services.status.check();
    assert.equal(down.state, 'unreachable', JSON.stringify(down));
    assert.match(down.detail ?? '', /refused/);
    const port = Number(new URL(url).port);
    emulator = await startEmulator({ port });
    const up = await a.services.status.check();
    assert.equal(up.state, 'ready', JSON.stringify(up));
  });

  it('reports a loading server as starting, then ready', async () => {
    const a = await api();
    emulator = await startEmulator({ startLoading: true });
    await setSetting('endpoint.baseUrl', `${emulator.url}/v1`);
    assert.equal((await a.services.status.check()).state, 'starting');
    emulator.markReady();
    assert.equal((await a.services.status.check()).state, 'ready');
  });

  it('asks for an API key the server needs, and uses the one stored in SecretStorage', async () => {
    const a = await api();
    emulator = await startEmulator({ apiKey: 'sk-test-123' });
    await setSetting('endpoint.baseUrl', `${emulator.url}/v1`);
    const locked = await a.services.status.check();
    assert.equal(locked.state, 'unauthorized');
    await a.services.secrets.setApiKey('sk-test-123');
    const open = await a.services.status.check();
    assert.equal(open.state, 'ready', JSON.stringify(open));
    const last = emulator.requests.at(-1)!;
    assert.equal(last.headers.authorization, 'Bearer sk-test-123');
    const settingsText = JSON.stringify(vscode.workspace.getConfiguration('kimi'));
    assert.ok(!settingsText.includes('sk-test-123'), 'the key never lands in settings');
  });

  it('falls back to the default for an invalid setting instead of breaking', async () => {
    const a = await api();
    await setSetting('chat.topP', 'very high');
    await waitFor(() => a.services.config.settings['chat.topP'] === 0.95);
    await setSetting('chat.topP', 0.5);
    await waitFor(() => a.services.config.settings['chat.topP'] === 0.5);
  });
});

/** Waits for a condition that settles through VS Code's configuration events (bounded). */
async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
