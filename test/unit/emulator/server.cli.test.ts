// The standalone emulator CLI: argument parsing, and the real process (listening line, serving, signals, exit codes).
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CliError, parseCliArgs, parseHumanInt } from '../../emulator/cli';
import { request } from './serverHelpers';

const CLI = path.resolve(__dirname, '../../emulator/cli.js');

/** Run the CLI; resolves output lines as they come and the exit code at the end. */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, VLLM_API_KEY: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watchers: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const w of [...watchers]) {
      const m = stdout.match(w.re);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in: ${stdout}${stderr}`)), ms);
        watchers.push({ re, resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        } });
        check();
        void exited.then(() => reject(new Error(`exited before ${re}: ${stdout}${stderr}`)));
      });
    },
  };
}

function kill(child: ChildProcess) {
  if (child.exitCode === null && child.pid) child.kill('SIGKILL');
}

describe('vLLM emulator CLI: arguments', () => {
  it('maps every flag onto emulator options', () => {
    const script = path.join(os.tmpdir(), `emu-script-${process.pid}.json`);
    fs.writeFileSync(script, JSON.stringify([{ answer: 'scripted' }]));
    try {
      const cfg = parseCliArgs(['--port', '8001', '--host=0.0.0.0', '--vllm-version', '0.16.0', '--reasoning-field', 'both',
        '--no-reasoning-parser', '--no-tool-parser', '--no-auto-tool-choice', '--api-key', 'k', '--served-model-name', 'kimi',
        '--model', '/m', '--max-model-len', '128K', '--ttft-ms', '250', '--tokens-per-second', '40.5', '--script', script,
        '--loading-ms', '1000', '--stats-interval-ms', '500'], {});
      assert.deepEqual(cfg.options, {
        port: 8001, host: '0.0.0.0', vllmVersion: '0.16.0', reasoningField: 'both', reasoningParser: false, toolCallParser: false,
        enableAutoToolChoice: false, apiKey: 'k', servedModelName: 'kimi', model: '/m', maxModelLen: 131072, ttftMs: 250,
        tokensPerSecond: 40.5, script: [{ answer: 'scripted' }], statsIntervalMs: 500, startLoading: true,
      });
      assert.equal(cfg.loadingMs, 1000);
    } finally {
      fs.rmSync(script, { force: true });
    }
  });

  it('defaults to 127.0.0.1:8000 and reads VLLM_API_KEY (the flag wins)', () => {
    assert.deepEqual(parseCliArgs([], {}).options, { port: 8000, host: '127.0.0.1' });
    assert.equal(parseCliArgs([], { VLLM_API_KEY: 'env' }).options.apiKey, 'env');
    assert.equal(parseCliArgs(['--api-key', 'flag'], { VLLM_API_KEY: 'env' }).options.apiKey, 'flag');
  });

  it("parses --max-model-len like vLLM's human_readable_int", () => {
    assert.equal(parseHumanInt('--max-model-len', '8192'), 8192);
    assert.equal(parseHumanInt('--max-model-len', '100k'), 100_000);
    assert.equal(parseHumanInt('--max-model-len', '25.6k'), 25_600);
    assert.equal(parseHumanInt('--max-model-len', '256K'), 262_144);
    assert.throws(() => parseHumanInt('--max-model-len', '1.5K'), /Decimals are not allowed/);
    assert.throws(() => parseHumanInt('--max-model-len', 'lots'), /invalid int value: 'lots'/);
  });

  it('rejects unknown flags, missing values and bad choices', () => {
    assert.throws(() => parseCliArgs(['--bogus'], {}), (e: unknown) => e instanceof CliError && /unrecognized arguments: --bogus/.test(e.message));
    assert.throws(() => parseCliArgs(['--port'], {}), /argument --port: expected one argument/);
    assert.throws(() => parseCliArgs(['--port', '--host', 'x'], {}), /expected one argument/);
    assert.throws(() => parseCliArgs(['--reasoning-field', 'thoughts'], {}), /invalid choice: 'thoughts'/);
    assert.throws(() => parseCliArgs(['--ttft-ms', '-5'], {}), /invalid value/);
  });
});

describe('vLLM emulator CLI: process', () => {
  it('serves until SIGTERM, then exits 0', async () => {
    const run = runCli(['--port', '0', '--vllm-version', '0.16.0', '--served-model-name', 'kimi', '--api-key', 'k']);
    try {
      const m = await run.waitFor(/vLLM emulator listening on (http:\/\/127\.0\.0\.1:(\d+)) \(model kimi, vLLM 0\.16\.0\)/);
      const url = m[1];
      assert.equal((await request(`${url}/health`)).status, 200);
      assert.equal((await request(`${url}/version`)).json.version, '0.16.0');
      assert.equal((await request(`${url}/v1/models`)).status, 401);
      const models = await request(`${url}/v1/models`, { headers: { authorization: 'Bearer k' } });
      assert.equal(models.json.data[0].id, 'kimi');
      await run.waitFor(/"GET \/v1\/models HTTP\/1\.1" 200 OK/);
      run.child.kill('SIGTERM');
      assert.equal(await run.exited, 0);
    } finally {
      kill(run.child);
    }
  });

  it('exits 0 on SIGINT too, and drops connections while --loading-ms runs', async () => {
    const run = runCli(['--port', '0', '--loading-ms', '1500'], { VLLM_API_KEY: 'from-env' });
    try {
      const url = (await run.waitFor(/listening on (http:\/\/\S+)/))[1];
      await assert.rejects(fetch(`${url}/health`));
      await run.waitFor(/Application startup complete\./);
      assert.equal((await request(`${url}/health`)).status, 200);
      assert.equal((await request(`${url}/v1/models`)).status, 401, 'VLLM_API_KEY is honoured');
      run.child.kill('SIGINT');
      assert.equal(await run.exited, 0);
    } finally {
      kill(run.child);
    }
  });

  it('exits 2 with a clear message on an unknown flag', async () => {
    const run = runCli(['--port', '0', '--enable-reasoning']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr, /error: unrecognized arguments: --enable-reasoning/);
    assert.match(run.stderr, /^usage:/);
    assert.equal(run.stdout, '');
  });
});
