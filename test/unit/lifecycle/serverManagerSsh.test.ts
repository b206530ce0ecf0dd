// ServerManager against a real OpenSSH host in its own network namespace with the fake vllm/nvidia-smi on its PATH:
// the tunnel, VS Code closing without stopping the server, reattach, a dropped link, and a clear error for an
// unknown host — the remote half of the lifecycle issue.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import { profileSlug } from '../../../src/core/server/remoteScripts';
import { ServerManager } from '../../../src/core/server/serverManager';
import { SshConnection } from '../../../src/core/server/ssh';
import { freePort, startSshHost, type SshHost } from '../../support/sshHost';
import { emulatorBin, tempDir, waitFor } from '../server/kit';

describe('ServerManager over SSH (real sshd in a network namespace)', function () {
  this.timeout(120_000);
  let host: SshHost;
  let gpuDir: string;
  let controlDir: string;
  const managers: ServerManager[] = [];

  before(async () => {
    host = await startSshHost({ name: 'manager', binDirs: [emulatorBin] });
    gpuDir = tempDir('mgr-ssh-gpus');
    controlDir = fs.mkdtempSync('/tmp/km-');
  });
  afterEach(async () => {
    for (const m of managers.splice(0)) {
      await m.stop().catch(() => undefined);
      await m.dispose();
    }
  });
  after(async () => {
    await host?.stop();
    for (const d of [gpuDir, controlDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  function remoteProfile(name: string, port: number, extra: Record<string, unknown> = {}): ServerProfile {
    fs.mkdirSync(path.join(host.home, 'models', 'Kimi-K2.5'), { recursive: true });
    const dir = path.join(gpuDir, profileSlug(name));
    fs.mkdirSync(dir, { recursive: true });
    return serverProfileSchema.parse({
      name,
      host: host.alias,
      port,
      modelDir: '~/models/Kimi-K2.5',
      env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: dir, KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5' },
      ...extra,
    });
  }

  function manager(p: ServerProfile, destination = host.alias): ServerManager {
    const conn = new SshConnection({ destination, configFile: host.configFile, controlDir, connectTimeoutSec: 5 });
    const m = new ServerManager(p, { runner: conn, freeLocalPort: freePort, pollMs: 100, stopGrace: { intSec: 5, termSec: 3 }, startTimeoutMs: 60_000 });
    managers.push(m);
    return m;
  }

  async function chat(baseUrl: string, modelId: string): Promise<number> {
    const res = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 }),
    });
    await res.text();
    return res.status;
  }

  it('start → tunnel → chat → VS Code closes → a new session reattaches → the link drops and comes back → stop', async () => {
    const p = remoteProfile('Remote A', await freePort());
    const first = manager(p);
    const ready = await first.start();
    assert.ok(ready.kind === 'ready', JSON.stringify(ready));
    assert.match(ready.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.equal(await chat(ready.baseUrl, ready.modelId), 200);

    await first.dispose(); // closing VS Code: the tunnel goes, the server stays
    managers.splice(managers.indexOf(first), 1);
    await assert.rejects(fetch(`${ready.baseUrl}/models`));

    const second = manager(p);
    const again = await second.reattach();
    assert.ok(again.kind === 'ready', JSON.stringify(again));
    assert.equal(again.pid, ready.pid);
    assert.equal(again.reattached, true);
    assert.equal(await chat(again.baseUrl, again.modelId), 200);

    host.dropConnections(); // the SSH link drops: master and tunnel die with it
    const back = await waitFor('the tunnel to come back', async () => {
      const s = second.state;
      if (s.kind !== 'ready') return undefined;
      try {
        return (await chat(s.baseUrl, s.modelId)) === 200 ? s : undefined;
      } catch {
        return undefined;
      }
    }, 30_000, 250);
    assert.equal(back.pid, ready.pid, 'the server itself was never restarted');

    const report = await second.stop();
    assert.equal(report.result, 'INT');
    assert.equal(report.portClosed, true);
  });

  it('an unknown host fails within seconds with a plain message, never hangs', async () => {
    const started = Date.now();
    const m = manager(remoteProfile('Nowhere', await freePort(), { host: 'no-such-host.invalid' }), 'no-such-host.invalid');
    const s = await m.start();
    assert.ok(s.kind === 'failed', JSON.stringify(s));
    assert.match(s.diagnosis.title, /Cannot reach no-such-host\.invalid over SSH/);
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  });
});
