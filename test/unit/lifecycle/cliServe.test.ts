// kimi-vllm serve / gpus as a real process (dist/cli.js) against the fake vllm and nvidia-smi.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';
import { emulatorBin, tempDir } from '../server/kit';

const CLI = path.join(repoRoot, 'dist', 'cli.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function cli(args: string[], home: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: home,
      env: { ...process.env, HOME: home, PATH: `${emulatorBin}${path.delimiter}${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kimi-vllm ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('kimi-vllm serve and gpus (real process)', function () {
  this.timeout(120_000);
  let home: string;
  let config: string;

  before(() => {
    assert.ok(fs.existsSync(CLI), 'dist/cli.js is built (node esbuild.mjs)');
  });

  beforeEach(async () => {
    home = tempDir('kimi-cli-home');
    fs.mkdirSync(path.join(home, 'models', 'Kimi-K2.5'), { recursive: true });
    fs.mkdirSync(path.join(home, 'gpus'));
    const fake = { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: path.join(home, 'gpus'), KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5' };
    config = path.join(home, 'servers.json');
    fs.writeFileSync(config, JSON.stringify({
      servers: [
        { name: 'box', port: await freePort(), modelDir: '~/models/Kimi-K2.5', servedModelName: 'Kimi-K2.5', env: fake },
        { name: 'tight', port: await freePort(), modelDir: '~/models/Kimi-K2.5', env: { ...fake, KIMI_FAKE_VLLM_FAIL: 'kv-cache' } },
      ],
    }));
  });

  afterEach(async () => {
    await cli(['serve', 'stop', '--config', config, '--profile', 'box'], home).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('start exits 0 once ready and leaves the server running; status --json, logs and stop find it', async () => {
    const start = await cli(['serve', 'start', '--config', config, '--profile', 'box'], home);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^ready: Kimi-K2\.5 \(pid \d+\) on 8× NVIDIA H200/m);
    assert.match(start.stderr, /starting: loadingWeights 64\/64/);

    const status = await cli(['serve', 'status', '--config', config, '--profile', 'box', '--json'], home);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.deepEqual(Object.keys(s).sort(), ['baseUrl', 'maxModelLen', 'model', 'phase', 'pid', 'profile', 'state']);
    assert.equal(s.state, 'ready');
    assert.equal(s.profile, 'box');
    assert.equal(s.model, 'Kimi-K2.5');
    assert.equal(s.maxModelLen, 262144);
    assert.ok(Number.isInteger(s.pid));
    const models = await fetch(`${s.baseUrl}/models`);
    assert.equal(models.status, 200);

    const logs = await cli(['serve', 'logs', '--config', config, '--profile', 'box', '--lines', '50'], home);
    assert.equal(logs.code, 0);
    assert.match(logs.stdout, /Application startup complete\./);

    const stop = await cli(['serve', 'stop', '--config', config, '--profile', 'box'], home);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /stopped "box" \(SIGINT\); port closed; GPU memory freed/);
    const after = JSON.parse((await cli(['serve', 'status', '--config', config, '--profile', 'box', '--json'], home)).stdout);
    assert.equal(after.state, 'stopped');
    assert.equal(after.pid, null);
  });

  it('a failing start exits non-zero with a one-line diagnosis on stderr', async () => {
    const r = await cli(['serve', 'start', '--config', config, '--profile', 'tight'], home);
    assert.equal(r.code, 1);
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.match(last, /^kimi-vllm: The context length does not fit in GPU memory: .*longest context that fits is \d+ tokens/);
  });

  it('stop with nothing running says so', async () => {
    const r = await cli(['serve', 'stop', '--config', config, '--profile', 'box'], home);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /no server of "box" is running/);
  });

  it('gpus --json lists the GPUs of the target', async () => {
    const r = await cli(['gpus', '--config', config, '--json'], home);
    assert.equal(r.code, 0, r.stderr);
    const g = JSON.parse(r.stdout);
    assert.equal(g.host, 'local');
    assert.equal(g.gpus.length, 8);
    assert.equal(g.gpus[0].name, 'NVIDIA H200');
  });

  it('a bad --config or flag names the field and the value, exit 2', async () => {
    fs.writeFileSync(config, JSON.stringify({ servers: [{ name: 'x', port: 'eighty' }] }));
    const r = await cli(['serve', 'status', '--config', config], home);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /servers\[0\]\.port: .*got "eighty"/);
    const bad = await cli(['serve', 'start', '--port', '80a'], home);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port must be a whole number, got "80a"/);
    const unknown = await cli(['serve', 'start', '--bogus'], home);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option --bogus/);
  });
});
