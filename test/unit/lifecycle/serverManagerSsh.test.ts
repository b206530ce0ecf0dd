// ServerManager and downloadModel against a real OpenSSH host in its own network namespace, with the fake
// vllm/nvidia-smi/modelscope on its PATH: the tunnel, VS Code closing without stopping the server, reattach, a
// dropped and a wedged link, clear errors for an unknown host and a refused key, the download, hostile values.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import { downloadModel } from '../../../src/core/download/modelDownload';
import { hostShellFor, type HostShellOptions } from '../../../src/core/server/hostShell';
import type { DownloadState, LifecycleState } from '../../../src/core/server/lifecycleTypes';
import { profileSlug } from '../../../src/core/server/remoteScripts';
import { ServerManager } from '../../../src/core/server/serverManager';
import { SshConnection } from '../../../src/core/server/ssh';
import { startSshHost, type SshHost } from '../../support/sshHost';
import { hostile, sentinels } from '../server/kit';
import { chat, emulatorBin, FAST, freePort, groupMembers, stopManagers, tempDir, waitFor, waitForState } from './lifecycleKit';

describe('ServerManager over SSH (real sshd in a network namespace)', function () {
  this.timeout(90_000);
  let host: SshHost;
  let gpuDir: string;
  let controlRoot: string;
  const managers: ServerManager[] = [];

  before(async () => {
    host = await startSshHost({ name: 'manager', binDirs: [emulatorBin] });
    gpuDir = tempDir('lc-ssh-gpus');
    controlRoot = fs.mkdtempSync('/tmp/km-');
    fs.mkdirSync(path.join(host.home, 'models', 'Kimi-K2.5'), { recursive: true });
  });
  afterEach(() => stopManagers(managers));
  after(async () => {
    await host?.stop();
    for (const d of [gpuDir, controlRoot]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  function remoteProfile(name: string, port: number, extra: Record<string, unknown> = {}): ServerProfile {
    const dir = path.join(gpuDir, profileSlug(name));
    fs.mkdirSync(dir, { recursive: true });
    const { env, ...rest } = extra as { env?: Record<string, string> };
    return serverProfileSchema.parse({
      name,
      host: host.alias,
      port,
      modelDir: '~/models/Kimi-K2.5',
      env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: dir, ...FAST, ...env },
      ...rest,
    });
  }

  function shellOptions(extra: HostShellOptions = {}): HostShellOptions {
    return { sshConfigFile: host.configFile, connectTimeoutSec: 5, controlRoot, ...extra };
  }

  function manager(p: ServerProfile, extra: HostShellOptions = {}): ServerManager {
    const m = new ServerManager(p, {
      runner: hostShellFor(p, shellOptions(extra)).runner,
      stopGrace: { intSec: 5, termSec: 3 },
      startTimeoutMs: 60_000,
      healthEveryMs: 1000,
      scriptTimeoutMs: 4000,
      backoffMs: { initial: 200, max: 1000 },
    });
    managers.push(m);
    return m;
  }

  it('start → tunnel → chat → VS Code closes → a new session reattaches → the link drops mid-chat, then wedges, and comes back → stop', async () => {
    // 400 tokens/s: a long answer streams for seconds, so the link can drop in the middle of it.
    const p = remoteProfile('Remote A', await freePort(), { env: { KIMI_FAKE_VLLM_TPS: '400' } });
    const first = manager(p);
    const ready = await first.start({ apiKey: 'sk-remote' });
    assert.ok(ready.kind === 'ready', JSON.stringify(ready));
    assert.match(ready.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.equal(await chat(ready.baseUrl, ready.modelId, 'sk-remote'), 200);

    await first.dispose(); // closing VS Code: the tunnel goes, the server stays
    managers.splice(managers.indexOf(first), 1);
    await assert.rejects(fetch(`${ready.baseUrl}/models`));
    assert.ok(groupMembers(ready.pid).length > 0, 'the server survived the session');

    const second = manager(p);
    const history: LifecycleState[] = [];
    second.onState((s) => history.push(s));
    const again = await second.reattach({ apiKey: 'sk-remote' });
    assert.ok(again.kind === 'ready', JSON.stringify(again));
    assert.equal(again.pid, ready.pid);
    assert.equal(again.reattached, true);
    assert.equal(second.following, 'stream');
    assert.equal(await chat(again.baseUrl, again.modelId, 'sk-remote'), 200);

    // The SSH link drops while an answer streams: master, tunnel and log stream die with it. The chat in flight ends
    // at once with an error (no hang); the URL in the state answers again (the same local port, unless the dying
    // master held on to it for too long).
    const streaming = await fetch(`${again.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-remote' },
      body: JSON.stringify({ model: again.modelId, messages: [{ role: 'user', content: 'long-answer:4000' }], stream: true, max_tokens: 8000 }),
    });
    assert.equal(streaming.status, 200);
    const reader = streaming.body!.getReader();
    assert.ok(!(await reader.read()).done, 'the answer is streaming');
    const dropped = Date.now();
    await host.dropConnections();
    const end = await Promise.race([
      (async () => {
        try {
          while (!(await reader.read()).done);
          return 'closed';
        } catch {
          return 'error';
        }
      })(),
      new Promise<string>((resolve) => setTimeout(() => resolve('still streaming'), 20_000)),
    ]);
    assert.notEqual(end, 'still streaming', 'the chat in flight ends when the tunnel goes');
    assert.ok(Date.now() - dropped < 10_000, `it ended ${Date.now() - dropped} ms after the drop`);
    const url = () => (second.state.kind === 'ready' ? second.state.baseUrl : again.baseUrl);
    await waitFor('the tunnel to come back', async () => (await chat(url(), again.modelId, 'sk-remote').catch(() => 0)) === 200, 30_000, 250);

    // The link wedges (no packets): the health check notices, the state says so, and it recovers.
    await host.blockTraffic();
    let wedged: LifecycleState;
    try {
      wedged = await waitForState(second, 'reconnecting', (s) => s.kind === 'ready' && s.reconnecting !== undefined, 30_000);
    } finally {
      await host.unblockTraffic();
    }
    assert.ok(wedged.kind === 'ready' && wedged.reconnecting);
    assert.ok(wedged.reconnecting.attempt >= 1 && wedged.reconnecting.reason.length > 0);
    await waitForState(second, 'the link back', (s) => s.kind === 'ready' && s.reconnecting === undefined, 30_000);
    const back = second.state;
    assert.ok(back.kind === 'ready');
    assert.equal(back.pid, ready.pid, 'the server itself was never restarted');
    assert.equal(second.following, 'stream', 'the log stream came back too');
    assert.equal(await chat(back.baseUrl, back.modelId, 'sk-remote'), 200);
    assert.ok(!history.some((s) => s.kind === 'stopped' || s.kind === 'failed'), history.map((s) => s.kind).join(' '));

    const report = await second.stop();
    assert.equal(report.result, 'INT');
    assert.equal(report.portClosed, true);
    assert.deepEqual(report.gpuMemoryHeld, {});
    assert.deepEqual(groupMembers(ready.pid), []);
  });

  it('over a plain SshConnection (no streaming: the log is polled) a dropped link also comes back', async () => {
    const p = remoteProfile('Remote poll', await freePort());
    const controlDir = fs.mkdtempSync(path.join(controlRoot, 'p-'));
    const m = new ServerManager(p, {
      runner: new SshConnection({ destination: host.alias, configFile: host.configFile, controlDir, connectTimeoutSec: 5 }),
      pollMs: 100,
      stopGrace: { intSec: 5, termSec: 3 },
      healthEveryMs: 1000,
      scriptTimeoutMs: 4000,
      backoffMs: { initial: 200, max: 1000 },
    });
    managers.push(m);
    const ready = await m.start();
    assert.ok(ready.kind === 'ready', JSON.stringify(ready));
    assert.equal(m.following, 'poll');
    await host.dropConnections();
    const url = () => (m.state.kind === 'ready' ? m.state.baseUrl : ready.baseUrl);
    await waitFor('the tunnel to come back', async () => (await chat(url(), ready.modelId).catch(() => 0)) === 200, 30_000, 250);
    assert.equal(m.state.kind, 'ready');
    assert.equal((await m.stop()).result, 'INT');
  });

  it("honours the ssh config: a host behind a ProxyJump, with the key held by ssh-agent (no IdentityFile)", async function () {
    const dir = tempDir('lc-jump');
    let agentPid = 0;
    const savedSock = process.env.SSH_AUTH_SOCK;
    try {
      const sock = path.join(dir, 'agent.sock');
      const out = execFileSync('ssh-agent', ['-a', sock, '-s'], { encoding: 'utf8' });
      agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
      execFileSync('ssh-add', ['-q', host.keyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      process.env.SSH_AUTH_SOCK = sock; // the ssh processes the manager starts inherit it, as from a login session
      const common = ['  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null', '  LogLevel ERROR', `  User ${host.user}`];
      const config = path.join(dir, 'ssh_config');
      fs.writeFileSync(
        config,
        [`Host jumpbox`, `  HostName ${host.address}`, `  Port ${host.port}`, ...common, `Host behind`, `  HostName ${host.address}`, `  Port ${host.port}`, '  ProxyJump jumpbox', ...common, ''].join('\n'),
      );
      const sshdLog = path.join(host.dir, 'sshd.log');
      const before = fs.readFileSync(sshdLog, 'utf8').length;
      const m = manager(remoteProfile('Behind a jump', await freePort(), { host: 'behind' }), { sshConfigFile: config });
      const ready = await m.start();
      assert.ok(ready.kind === 'ready', JSON.stringify(ready).slice(0, 400));
      assert.equal(await chat(ready.baseUrl, ready.modelId), 200);
      const log = fs.readFileSync(sshdLog, 'utf8').slice(before);
      // The jump forwarded a connection to the host (direct-tcpip), and the host's login came through it.
      assert.match(log, /direct-tcpip|Connection from .* port \d+ on /, log.slice(-1500));
      if (host.mode === 'netns') assert.match(log, new RegExp(`Connection from ${host.address.replace(/\./g, '\\.')} port`), 'the second hop starts on the jump host');
      assert.equal((await m.stop()).result, 'INT');
    } finally {
      if (savedSock === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = savedSock;
      if (agentPid > 0) process.kill(agentPid, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown host fails within seconds with a plain message, never hangs', async () => {
    const started = Date.now();
    const m = manager(remoteProfile('Nowhere', await freePort(), { host: 'no-such-host.invalid' }));
    const s = await m.start();
    assert.ok(s.kind === 'failed', JSON.stringify(s));
    assert.match(s.diagnosis.title, /Cannot reach no-such-host\.invalid over SSH/);
    assert.match(s.diagnosis.explanation, /does not resolve|Could not resolve|Cannot find host/);
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
  });

  it('a refused key fails within seconds, saying what to set up (BatchMode, no prompt)', async () => {
    const dir = tempDir('lc-badkey');
    try {
      const key = path.join(dir, 'other_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const config = path.join(dir, 'ssh_config');
      fs.writeFileSync(config, fs.readFileSync(host.configFile, 'utf8').replace(/IdentityFile .*/, `IdentityFile ${key}`));
      const started = Date.now();
      const m = manager(remoteProfile('Bad key', await freePort()), { sshConfigFile: config });
      const s = await m.start();
      assert.ok(s.kind === 'failed', JSON.stringify(s));
      assert.match(s.diagnosis.explanation, /refused the login.*BatchMode/s);
      assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hostile values in every profile field never execute anything, through start and download on the host (sentinel files)', async () => {
    const dir = fs.mkdtempSync('/tmp/lc-hs-');
    try {
      const h = (tag: string) => hostile(dir, tag);
      const port = await freePort();
      const short = `n$(touch ${dir}/n1)\`touch ${dir}/n2\`;x`;
      // Every string that reaches a command line or a script on the host (commandPrefix excepted: it is the user's
      // own shell text); numbers and enums are refused by the schema, the host by the schema and the SSH layer.
      const variants: Record<string, unknown>[] = [
        { name: short, modelDir: h('md'), servedModelName: h('sn').slice(0, 250), extraArgs: [h('xa'), '--x', h('xb')], env: { EVIL: h('ev') } },
        { name: `${short}2`, model: h('mo').slice(0, 250), modelDir: '', downloadDir: h('dd'), toolCallParser: `k$(touch ${dir}/tc)`, reasoningParser: `\`touch ${dir}/rp\`` },
        { name: `${short}3`, bindHost: `127.0.0.1$(touch ${dir}/bh)` },
        { name: `${short}4`, environment: { venv: h('ve'), conda: '', commandPrefix: '' } },
        { name: `${short}5`, environment: { venv: '', conda: `c$(touch ${dir}/co)`, commandPrefix: '' } },
      ];
      for (const v of variants) {
        const m = manager(remoteProfile(v.name as string, port, v));
        const s = await m.start({ apiKey: `k$(touch ${dir}/key)\`touch ${dir}/key2\`` });
        assert.ok(s.kind === 'failed' || s.kind === 'ready', JSON.stringify(s).slice(0, 300));
        await m.stop();
      }
      // The download: hostile model id, download dir and include/exclude patterns.
      const dl = remoteProfile(`${short}6`, port, variants[1]);
      const runner = hostShellFor(dl, shellOptions()).runner;
      try {
        const d = await downloadModel(runner, dl, { include: [h('inc')], exclude: [h('exc')], pollMs: 100, requiredBytes: 0 });
        assert.ok(d.kind === 'failed' || d.kind === 'done', JSON.stringify(d).slice(0, 300));
      } finally {
        await runner.close?.();
      }
      // An ssh config file path is an argument of the local ssh, never shell text: ssh cannot open it, and says so.
      const cf = remoteProfile(`${short}7`, port, { sshConfigFile: path.join(dir, `cfg ${h('cf').replace(/\n/g, ' ')}`) });
      const viaFile = new ServerManager(cf, { runner: hostShellFor(cf, { connectTimeoutSec: 5, controlRoot }).runner });
      managers.push(viaFile);
      const failed = await viaFile.start();
      assert.ok(failed.kind === 'failed', JSON.stringify(failed).slice(0, 300));
      assert.match(failed.diagnosis.explanation, /config/i);
      // A hostile host never gets that far: the settings refuse it, and so does the SSH layer.
      assert.equal(serverProfileSchema.safeParse({ name: 'h', host: `gpu$(touch ${dir}/host)` }).success, false);
      assert.throws(() => hostShellFor({ host: `-oProxyCommand=touch ${dir}/host2` }, { controlRoot }), /not a usable SSH destination/);
      assert.deepEqual(sentinels(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('downloads on the host with progress, and cancels keeping the partial files', async () => {
    const p = remoteProfile('Remote DL', await freePort(), { modelDir: '', downloadDir: '~/dl', env: { KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '40000000000' } });
    const runner = hostShellFor(p, shellOptions()).runner;
    try {
      const states: DownloadState[] = [];
      const done = await downloadModel(runner, p, { include: ['model-0000[1-3]-*', '*.json'], onState: (s) => states.push(s), pollMs: 100 });
      assert.equal(done.kind, 'done', JSON.stringify(done));
      const progress = states.filter((s): s is Extract<DownloadState, { kind: 'downloading' }> => s.kind === 'downloading');
      assert.ok(progress.length > 0);
      assert.ok(progress.every((s, i) => i === 0 || s.bytes.done >= progress[i - 1]!.bytes.done), 'bytes only grow');
      assert.ok(progress.at(-1)!.bytes.done > 20 * 1024 ** 3, JSON.stringify(progress.at(-1)));
      const dir = path.join(host.home, 'dl', 'moonshotai', 'Kimi-K2.5');
      assert.ok(fs.existsSync(path.join(dir, 'model-00003-of-000064.safetensors')));
      assert.ok(fs.existsSync(path.join(dir, 'config.json')));

      const ctrl = new AbortController();
      const slow: ServerProfile = { ...p, env: { ...p.env, KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '3000000000' } };
      const cancelled = await downloadModel(runner, slow, {
        include: ['model-0000[4-6]-*'],
        signal: ctrl.signal,
        pollMs: 100,
        onState: (s) => s.kind === 'downloading' && s.bytes.done > 0 && ctrl.abort(),
      });
      assert.equal(cancelled.kind, 'cancelled', JSON.stringify(cancelled));
      const temp = path.join(dir, '._____temp');
      assert.ok(fs.existsSync(temp) && fs.readdirSync(temp).length > 0, 'partial files kept for a resume');
    } finally {
      await runner.close?.();
    }
  });
});
