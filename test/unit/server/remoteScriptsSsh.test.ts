// The same lifecycle checks as on this machine, over a real SSH connection to a test host in its own network
// namespace (test/support/sshHost.ts) — plus what only a remote host has: the server outliving the session.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { parseStatus, parseStop, statusScript, stopScript } from '../../../src/core/server/remoteScripts';
import { SshConnection } from '../../../src/core/server/ssh';
import { freePort, startSshHost, type SshHost } from '../../support/sshHost';
import { emulatorBin, tempDir, waitFor } from './kit';
import { fakeProfile, followLog, lifecycleTests, serverLog, startServer, stopAfterEach, type LifecycleTarget } from './lifecycle';

describe('remoteScripts over SSH (real sshd in a network namespace)', function () {
  this.timeout(60_000);
  let host: SshHost;
  let gpuDir: string;
  let controlDir: string;
  let conn: SshConnection;
  const forwards: [number, number][] = [];

  const connect = () => new SshConnection({ destination: host.alias, configFile: host.configFile, controlDir });

  before(async () => {
    host = await startSshHost({ name: 'scripts', binDirs: [emulatorBin] });
    gpuDir = tempDir('ssh-gpus');
    controlDir = fs.mkdtempSync('/tmp/kc-');
    conn = connect();
  });
  afterEach(async () => {
    for (const [local, remote] of forwards.splice(0)) await conn.cancelForward(local, '127.0.0.1', remote).catch(() => {});
  });
  after(async () => {
    await conn?.close();
    await host?.stop();
    for (const d of [gpuDir, controlDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const target = (): LifecycleTarget => ({
    runner: () => conn,
    home: host.home,
    gpuDir,
    // In netns mode the host has its own ports; in loopback mode it shares ours — a port free here is free there.
    freePort: () => freePort(),
    reach: async (port) => {
      const local = await freePort();
      await conn.forward(local, '127.0.0.1', port);
      forwards.push([local, port]);
      return `http://127.0.0.1:${local}`;
    },
  });

  lifecycleTests(target);

  const stopLater = stopAfterEach();

  it('the detached server outlives the SSH session: close the master, reconnect, still running', async () => {
    const t = target();
    const { pid, stateDir } = await startServer(t, fakeProfile(t, 'Survivor', await freePort()));
    stopLater(t, stateDir);
    await followLog(t, stateDir, 'Application startup complete.');
    await conn.close();
    await waitFor('the master to exit', async () => !(await conn.isMasterAlive()), 5000);
    conn = connect();
    const st = parseStatus((await conn.exec(statusScript({ stateDir }))).stdout);
    assert.deepEqual([st.state, st.pid], ['running', pid], serverLog(t, stateDir));
    const stop = parseStop((await conn.exec(stopScript({ stateDir, graceIntSec: 15, graceTermSec: 5 }), { timeoutMs: 30_000 })).stdout);
    assert.deepEqual(stop, { result: 'INT', pid }, serverLog(t, stateDir));
  });
});
