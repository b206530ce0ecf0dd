// SshConnection against a real OpenSSH server (test/support/sshHost.ts): multiplexed exec, its cost against fresh
// connections, port forwarding, recovery after a dropped link, and the failures users meet, each classified in
// seconds.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { SshConnection, SshError } from '../../../src/core/server/ssh';
import { quote } from '../../../src/core/server/shellQuote';
import { repoRoot } from '../../support/paths';
import { freePort, isolatedClientNetwork, startSshHost, type SshHost } from '../../support/sshHost';
import { hostile, sentinels, tempDir, waitFor } from './kit';

function runSsh(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const v = await f();
  return [v, Number(process.hrtime.bigint() - t0) / 1e6];
}

async function expectSshError(p: Promise<unknown>, kind: string, withinMs: number): Promise<SshError> {
  const [err, ms] = await timed(async () => {
    try {
      await p;
    } catch (e) {
      return e;
    }
    return undefined;
  });
  assert.ok(err instanceof SshError, `expected an SshError, got ${String(err)}`);
  assert.equal(err.kind, kind, `${err.kind}: ${err.message}\n${err.stderr}`);
  assert.ok(ms < withinMs, `classified after ${Math.round(ms)} ms (limit ${withinMs})`);
  return err;
}

describe('SshConnection against a real sshd', function () {
  this.timeout(60_000);
  let host: SshHost;
  let dir: string;
  const controlDirs: string[] = [];
  const conns: SshConnection[] = [];
  const children: ChildProcess[] = [];

  const newControlDir = () => {
    const d = fs.mkdtempSync('/tmp/kc-');
    controlDirs.push(d);
    return d;
  };
  const connect = (over: Partial<ConstructorParameters<typeof SshConnection>[0]> = {}) => {
    const c = new SshConnection({ destination: host.alias, configFile: host.configFile, controlDir: newControlDir(), ...over });
    conns.push(c);
    return c;
  };

  before(async () => {
    host = await startSshHost({ name: 'real' });
    dir = tempDir('sshreal');
  });
  after(async () => {
    for (const c of conns) await c.close();
    for (const ch of children) ch.kill('SIGKILL');
    await host?.unblockTraffic().catch(() => {});
    await host?.stop();
    for (const d of [dir, ...controlDirs]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('exec runs sh -c on the host, with its HOME, its network, stdin and exit status', async () => {
    const c = connect();
    const r = await c.exec('printf "%s|%s" "$HOME" "${SSH_CONNECTION##* }"; read -r line; printf "|%s" "$line"; exit 7', { stdin: 'from stdin\n' });
    assert.equal(r.code, 7);
    assert.equal(r.stdout, `${host.home}|${host.port}|from stdin`);
    if (host.mode === 'netns') assert.equal((await c.exec('echo "$SSH_CONNECTION"')).stdout.split(' ')[2], host.address);
  });

  it('a hostile script reaches the host byte for byte, through the login shell and sh, and runs nothing else', async () => {
    const sent = path.join(dir, 'sentinels');
    fs.mkdirSync(sent);
    const c = connect();
    for (let i = 0; i < 3; i++) {
      const value = hostile(sent, `x${i}`);
      assert.equal((await c.exec(`printf '%s' ${quote(value)}`)).stdout, value);
    }
    assert.equal((await c.exec("printf '%s' 'plain one-liner'")).stdout, 'plain one-liner');
    assert.deepEqual(sentinels(sent), []);
  });

  it('20 commands through the master vs 20 fresh ssh connections (numbers for docs/BENCHMARKS.md)', async () => {
    const c = connect();
    await c.exec('true'); // master up
    const [, masterMs] = await timed(async () => {
      for (let i = 0; i < 20; i++) assert.equal((await c.exec('true')).code, 0);
    });
    const fresh = ['-F', host.configFile, '-o', 'BatchMode=yes', '-o', 'ControlPath=none', host.alias, 'sh -c true'];
    const [, freshMs] = await timed(async () => {
      for (let i = 0; i < 20; i++) assert.equal(await runSsh(fresh), 0);
    });
    const result = { mode: host.mode, runs: 20, masterTotalMs: Math.round(masterMs), masterPerCallMs: +(masterMs / 20).toFixed(1), freshTotalMs: Math.round(freshMs), freshPerCallMs: +(freshMs / 20).toFixed(1) };
    console.log(`      ssh bench: ${JSON.stringify(result)}`);
    fs.mkdirSync(path.join(repoRoot, 'test-results'), { recursive: true });
    fs.writeFileSync(path.join(repoRoot, 'test-results', 'ssh-bench.json'), JSON.stringify(result, null, 2) + '\n');
    assert.ok(masterMs < freshMs, 'the master saves the connection setup');
  });

  async function startHttpServerOnHost(): Promise<number> {
    // A tiny HTTP server bound to 127.0.0.1 INSIDE the host's network namespace.
    const port = await freePort();
    const src = `require('http').createServer((q, s) => s.end('hello from the host ' + q.url)).listen(${port}, '127.0.0.1', () => console.log('listening'));`;
    const argv = host.inHost([process.execPath, '-e', src]);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
      child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    return port;
  }

  it('forwards a local port to a server on the host and fetches through the tunnel; cancel closes it', async () => {
    const remotePort = await startHttpServerOnHost();
    if (host.mode === 'netns') await assert.rejects(fetch(`http://127.0.0.1:${remotePort}/`), 'the server is not reachable from here directly');
    const c = connect();
    const local = await freePort();
    await c.forward(local, '127.0.0.1', remotePort);
    assert.equal(await (await fetch(`http://127.0.0.1:${local}/x`)).text(), 'hello from the host /x');
    await c.cancelForward(local, '127.0.0.1', remotePort);
    // A NEW connection is refused (fetch would reuse its kept-alive one, which a cancel leaves open).
    await waitFor('the forward to close', async () => !(await canConnect(local)), 5000);
  });

  it('after a dropped link the next exec and forward recover', async () => {
    const remotePort = await startHttpServerOnHost();
    const c = connect();
    assert.equal((await c.exec('echo before')).stdout, 'before\n');
    const local = await freePort();
    await c.forward(local, '127.0.0.1', remotePort);
    assert.ok((await host.dropConnections()) >= 1, 'an established session was killed');
    await waitFor('the tunnel to die with the link', async () => !(await canConnect(local)), 10_000);
    const [r, ms] = await timed(() => c.exec('echo after'));
    assert.equal(r.stdout, 'after\n');
    assert.ok(ms < 10_000, `recovered in ${Math.round(ms)} ms`);
    await c.forward(local, '127.0.0.1', remotePort);
    assert.equal(await (await fetch(`http://127.0.0.1:${local}/again`)).text(), 'hello from the host /again');
  });

  it('unknown host → "unresolved" at once (the client runs where no DNS server can answer)', async () => {
    const client = await isolatedClientNetwork();
    try {
      const c = connect({ destination: 'no-such-gpu-host.invalid', configFile: '/dev/null', spawn: client.spawn });
      const e = await expectSshError(c.exec('true'), 'unresolved', 5000);
      assert.match(e.message, /no-such-gpu-host\.invalid/);
    } finally {
      client.stop();
    }
  });

  it('refused port → "refused" at once', async () => {
    const c = connect({ destination: `${host.user}@${host.address}:1`, configFile: '/dev/null', identityFile: host.keyFile });
    await expectSshError(c.exec('true'), 'refused', 5000);
  });

  it('a key the host does not accept → "auth", telling the user to set up key auth (nothing prompts)', async () => {
    const wrongKey = path.join(dir, 'wrong_ed25519');
    await new Promise<void>((resolve, reject) =>
      spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey], { stdio: 'ignore' }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ssh-keygen ${code}`)))),
    );
    const cfg = path.join(dir, 'wrong-key.config');
    fs.writeFileSync(cfg, fs.readFileSync(host.configFile, 'utf8').replace(host.keyFile, wrongKey));
    const c = connect({ configFile: cfg });
    const e = await expectSshError(c.exec('true'), 'auth', 5000);
    assert.match(e.message, /ssh-copy-id/);
    assert.match(e.message, /never prompts/);
  });

  it('an unknown host key with strict checking → "hostKeyUnknown"; a changed one → "hostKeyChanged"', async () => {
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHosts, '');
    const strict = (file: string) => {
      const cfg = path.join(dir, `strict-${path.basename(file)}.config`);
      fs.writeFileSync(cfg, fs.readFileSync(host.configFile, 'utf8').replace('StrictHostKeyChecking no', 'StrictHostKeyChecking yes').replace('/dev/null', file));
      return cfg;
    };
    await expectSshError(connect({ configFile: strict(knownHosts) }).exec('true'), 'hostKeyUnknown', 5000);
    const otherKey = fs.readFileSync(`${host.keyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const changed = path.join(dir, 'known_hosts_changed');
    fs.writeFileSync(changed, `[${host.address}]:${host.port} ${otherKey}\n`);
    const e = await expectSshError(connect({ configFile: strict(changed) }).exec('true'), 'hostKeyChanged', 5000);
    assert.match(e.message, /ssh-keygen -R/);
  });

  it('no answer from the host → "timeout" after ConnectTimeout; a command on a stalled link stops at its timeout', async () => {
    const live = connect();
    assert.equal((await live.exec('echo up')).stdout, 'up\n');
    await host.blockTraffic();
    try {
      await expectSshError(connect({ connectTimeoutSec: 2 }).exec('true'), 'timeout', 8000);
      await expectSshError(live.exec('echo stalled', { timeoutMs: 1500 }), 'timeout', 6000);
    } finally {
      await host.unblockTraffic();
    }
    assert.equal((await live.exec('echo back', { timeoutMs: 20_000 })).stdout, 'back\n', 'the link is back');
  });
});
