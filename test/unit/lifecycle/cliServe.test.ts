// kimi-vllm serve / download / gpus as a real process (dist/cli.js, built by `node esbuild.mjs`) against the fake
// vllm, nvidia-smi and modelscope — locally, and `serve` against a real SSH host.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { profileSlug } from '../../../src/core/server/remoteScripts';
import { CLI, runCli, type CliRun } from '../../support/cliProcess';
import { startSshHost, type SshHost } from '../../support/sshHost';
import { emulatorBin, FAST, freePort, groupMembers, tempDir, waitFor } from './lifecycleKit';

/** kimi-vllm with `home` as its HOME and working folder, and the fake vllm, nvidia-smi and modelscope on its PATH. */
function cli(args: string[], home: string, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  return runCli(args, {
    cwd: home,
    env: { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), PATH: `${emulatorBin}${path.delimiter}${process.env.PATH}`, ...env },
    timeoutMs,
  });
}

const STATUS_KEYS = ['baseUrl', 'maxModelLen', 'model', 'phase', 'pid', 'profile', 'state'];

describe('kimi-vllm serve, download and gpus (real process)', function () {
  this.timeout(60_000);
  let home: string;
  let config: string;

  before(() => {
    assert.ok(fs.existsSync(CLI), 'dist/cli.js is built (node esbuild.mjs)');
  });

  beforeEach(async () => {
    home = tempDir('lc-cli-home');
    fs.mkdirSync(path.join(home, 'models', 'Kimi-K2.5'), { recursive: true });
    fs.mkdirSync(path.join(home, 'gpus'));
    const fake = { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: path.join(home, 'gpus'), ...FAST };
    config = path.join(home, 'servers.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        servers: [
          { name: 'box', port: await freePort(), modelDir: '~/models/Kimi-K2.5', servedModelName: 'Kimi-K2.5', env: fake },
          { name: 'tight', port: await freePort(), modelDir: '~/models/Kimi-K2.5', env: { ...fake, KIMI_FAKE_VLLM_FAIL: 'kv-cache' } },
          { name: 'dl', downloadDir: '~/dl', env: { KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '40000000000' } },
        ],
      }),
    );
  });

  afterEach(async () => {
    await cli(['serve', 'stop', '--config', config, '--profile', 'box'], home).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('serve start exits 0 once ready and leaves the server running; status --json, logs and stop find it', async () => {
    const start = await cli(['serve', 'start', '--config', config, '--profile', 'box'], home);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^ready: Kimi-K2\.5 \(pid \d+\) on 8× NVIDIA H200/m);
    assert.match(start.stderr, /starting: loadingWeights 64\/64/);
    const pid = Number(/pid (\d+)/.exec(start.stdout)![1]);
    assert.ok(groupMembers(pid).length > 0, 'the server outlives the CLI');

    const status = await cli(['serve', 'status', '--config', config, '--profile', 'box', '--json'], home);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.deepEqual(Object.keys(s).sort(), STATUS_KEYS);
    assert.deepEqual({ ...s, baseUrl: undefined }, { state: 'ready', profile: 'box', baseUrl: undefined, pid, phase: 'ready', model: 'Kimi-K2.5', maxModelLen: 262144 });
    assert.equal((await fetch(`${s.baseUrl}/models`)).status, 200);

    const logs = await cli(['serve', 'logs', '--config', config, '--profile', 'box', '--lines', '50'], home);
    assert.equal(logs.code, 0);
    assert.match(logs.stdout, /Application startup complete\./);
    assert.ok(logs.stdout.trim().split('\n').length <= 50);

    const stop = await cli(['serve', 'stop', '--config', config, '--profile', 'box'], home);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^Stopped the server of "box" \(pid \d+\) on this machine with SIGINT; port \d+ is closed; GPU memory is free\.$/m);
    assert.deepEqual(groupMembers(pid), []);
    const after = await cli(['serve', 'status', '--config', config, '--profile', 'box', '--json'], home);
    assert.deepEqual(JSON.parse(after.stdout), { state: 'stopped', profile: 'box', baseUrl: '', pid: null, phase: 'stopped', model: '', maxModelLen: null });
  });

  it('serve status --json while loading says starting with the phase; logs --follow streams until the server ends', async () => {
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('"KIMI_FAKE_VLLM_SHARD_MS":"2"', '"KIMI_FAKE_VLLM_SHARD_MS":"60"'));
    const start = cli(['serve', 'start', '--config', config, '--profile', 'box', '--json'], home);
    const loading = await waitFor(
      'status: starting',
      async () => {
        const r = JSON.parse((await cli(['serve', 'status', '--config', config, '--profile', 'box', '--json'], home)).stdout);
        return r.state === 'starting' && r.phase === 'loadingWeights' ? r : undefined;
      },
      20_000,
      100,
    );
    assert.deepEqual(Object.keys(loading).sort(), STATUS_KEYS);
    assert.ok(Number.isInteger(loading.pid));
    const follow = cli(['serve', 'logs', '--config', config, '--profile', 'box', '--follow', '--lines', '1000'], home);
    const started = await start;
    assert.equal(started.code, 0, started.stderr);
    assert.equal(JSON.parse(started.stdout).state, 'ready');
    const stop = await cli(['serve', 'stop', '--config', config, '--profile', 'box', '--json'], home);
    assert.equal(JSON.parse(stop.stdout).result, 'INT');
    const followed = await follow;
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(followed.stdout, /Application startup complete\./);
    assert.match(followed.stdout, /Shutting down FastAPI HTTP server\./, 'the follow saw the shutdown and then ended');
  });

  it('a failing start exits non-zero with a one-line diagnosis on stderr', async () => {
    const r = await cli(['serve', 'start', '--config', config, '--profile', 'tight'], home);
    assert.equal(r.code, 1);
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.match(last, /^kimi-vllm: The context length does not fit in GPU memory: .*longest context that fits is \d+ tokens.* Fix: Set max-model-len to \d+/);
    const s = JSON.parse((await cli(['serve', 'status', '--config', config, '--profile', 'tight', '--json'], home)).stdout);
    assert.equal(s.state, 'failed');
    assert.equal(s.diagnosis.code, 'kvCacheTooSmall');
  });

  it('serve stop with nothing running says so, exit 0', async () => {
    const r = await cli(['serve', 'stop', '--config', config, '--profile', 'box'], home);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /No server of profile "box" is running on this machine; nothing to stop\./);
  });

  it('gpus --json lists the GPUs of the target and the pre-flight; busy GPUs name their holder', async () => {
    const r = await cli(['gpus', '--config', config, '--json'], home);
    assert.equal(r.code, 0, r.stderr);
    const g = JSON.parse(r.stdout);
    assert.equal(g.host, 'local');
    assert.equal(g.gpus.length, 8);
    assert.equal(g.gpus[0].name, 'NVIDIA H200');
    assert.deepEqual(g.preflight, { ok: true, tensorParallelSize: 8, warnings: [] });
    const busy = await cli(['gpus', '--config', config], home, { KIMI_FAKE_GPU_STATE: 'busy' });
    assert.equal(busy.code, 0);
    assert.match(busy.stdout, /REFUSED — .*pid 568 python3/);
  });

  it('download: a progress line, then the files; --json prints DownloadStates ending in done', async () => {
    const r = await cli(['download', '--config', config, '--profile', 'dl', '--include', 'model-0000[1-2]-*', '--include', 'config.json'], home);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /downloading \d+%: [\d.]+ \w+ of [\d.]+ GiB/);
    assert.match(r.stdout, /downloaded moonshotai\/Kimi-K2\.5 to ~\/dl\/moonshotai\/Kimi-K2\.5 on this machine/);
    assert.ok(fs.existsSync(path.join(home, 'dl', 'moonshotai', 'Kimi-K2.5', 'model-00002-of-000064.safetensors')));
    const j = await cli(['download', '--config', config, '--profile', 'dl', '--include', 'model-0000[3-4]-*', '--json'], home);
    assert.equal(j.code, 0, j.stderr);
    const states = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    assert.equal(states[0]!.kind, 'checking');
    assert.ok(states.some((s) => s.kind === 'downloading'));
    assert.equal(states.at(-1)!.kind, 'done');
  });

  it('a bad --config or flag names the field and the value, exit 2', async () => {
    fs.writeFileSync(config, JSON.stringify({ servers: [{ name: 'x', port: 'eighty' }] }));
    const r = await cli(['serve', 'status', '--config', config], home);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /servers\[0\]\.port: .*got "eighty"/);
    const bad = await cli(['serve', 'start', '--port', '80a'], home);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port must be a whole number, got "80a"/);
    const range = await cli(['serve', 'status', '--port', '70000'], home);
    assert.equal(range.code, 2);
    assert.match(range.stderr, /--port → port: .*\(got 70000\)/);
    const host = await cli(['serve', 'status', '--host', 'bad host;rm'], home);
    assert.equal(host.code, 2);
    assert.match(host.stderr, /--host → host: .*\(got "bad host;rm"\)/);
    const unknown = await cli(['serve', 'start', '--bogus'], home);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option --bogus/);
  });
});

describe('kimi-vllm serve against an SSH host (real sshd)', function () {
  this.timeout(60_000);
  let host: SshHost;
  let home: string;
  let config: string;
  let env: Record<string, string>;

  before(async () => {
    host = await startSshHost({ name: 'cli', binDirs: [emulatorBin] });
    home = tempDir('lc-cli-ssh');
    fs.mkdirSync(path.join(host.home, 'models', 'Kimi-K2.5'), { recursive: true });
    const gpus = path.join(home, 'gpus', profileSlug('gpu box'));
    fs.mkdirSync(gpus, { recursive: true });
    config = path.join(home, 'servers.json');
    fs.writeFileSync(
      config,
      JSON.stringify({ servers: [{ name: 'gpu box', host: host.alias, port: await freePort(), modelDir: '~/models/Kimi-K2.5', env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: gpus, ...FAST } }] }),
    );
    env = { KIMI_VLLM_SSH_CONFIG: host.configFile };
  });
  after(async () => {
    if (config) await cli(['serve', 'stop', '--config', config], home, env).catch(() => undefined);
    await host?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('start leaves the server running on the host and prints the ssh -L command that reaches it; status and stop find it', async () => {
    const start = await cli(['serve', 'start', '--config', config], home, env);
    assert.equal(start.code, 0, start.stderr);
    const command = /^ {2}(ssh .*)$/m.exec(start.stdout)?.[1];
    assert.ok(command, start.stdout);
    const status = JSON.parse((await cli(['serve', 'status', '--config', config, '--json'], home, env)).stdout);
    assert.equal(status.state, 'ready');
    assert.equal(status.tunnel, command);

    // What a user does after the CLI exited: run the printed tunnel, then use the printed URL.
    const argv = command.split(' ').slice(1).map((a) => a.replace(/^'(.*)'$/, '$1'));
    const tunnel = spawn('ssh', ['-o', 'ExitOnForwardFailure=yes', ...argv], { stdio: 'ignore' });
    try {
      const models = await waitFor('the tunnel', async () => {
        const res = await fetch(`${status.baseUrl}/models`).catch(() => undefined);
        return res?.status === 200 ? ((await res.json()) as { data: { id: string }[] }) : undefined;
      }, 15_000, 200);
      assert.match(models.data[0]!.id, /Kimi-K2\.5$/);
    } finally {
      tunnel.kill();
    }
    const stop = await cli(['serve', 'stop', '--config', config], home, env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`Stopped the server of "gpu box" \\(pid ${status.pid}\\) on ${host.alias} with SIGINT`));
  });
});
