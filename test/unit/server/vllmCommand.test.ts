import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultProfile, serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import { LocalShell } from '../../../src/core/server/ssh';
import { CommandError, modelPath, modelscopeArgv, serveArgv, shellCommand, wrapEnvironment } from '../../../src/core/server/vllmCommand';
import { freePort } from '../../support/sshHost';
import { emulatorBin, makeRecorders, tempDir, waitFor } from './kit';

const OFFICIAL =
  'vllm serve ~/models/moonshotai/Kimi-K2.5 --host 127.0.0.1 --port 8000 -tp 8 --mm-encoder-tp-mode data --trust-remote-code ' +
  '--tool-call-parser kimi_k2 --reasoning-parser kimi_k2 --enable-auto-tool-choice';

function profile(over: Record<string, unknown> = {}): ServerProfile {
  return serverProfileSchema.parse({ name: 'test', ...over });
}

describe('vllmCommand', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = tempDir('vllmcmd');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('serveArgv', () => {
    it('the default profile gives exactly the official Kimi-K2.5 command', () => {
      assert.equal(serveArgv(defaultProfile()).join(' '), OFFICIAL);
      assert.deepEqual(serveArgv(defaultProfile(), { apiKeyEnv: true }), serveArgv(defaultProfile()), 'the key never changes the argv');
    });

    it('adds served name, max length (> 0), memory fraction (≠ 0.9) and extra args, each one argv item', () => {
      const argv = serveArgv(
        profile({
          modelDir: '/data/K2.5',
          port: 9000,
          bindHost: '0.0.0.0',
          tensorParallelSize: 4,
          mmEncoderTpMode: 'weights',
          servedModelName: 'kimi',
          maxModelLen: 131072,
          gpuMemoryUtilization: 0.95,
          extraArgs: ['--enable-expert-parallel', '--limit-mm-per-prompt', '{"image": 2, "video": 0}'],
        }),
      );
      assert.deepEqual(argv, [
        'vllm', 'serve', '/data/K2.5', '--host', '0.0.0.0', '--port', '9000', '-tp', '4', '--mm-encoder-tp-mode', 'weights',
        '--trust-remote-code', '--tool-call-parser', 'kimi_k2', '--reasoning-parser', 'kimi_k2', '--enable-auto-tool-choice',
        '--served-model-name', 'kimi', '--max-model-len', '131072', '--gpu-memory-utilization', '0.95',
        '--enable-expert-parallel', '--limit-mm-per-prompt', '{"image": 2, "video": 0}',
      ]);
    });

    it('leaves out what is switched off', () => {
      const argv = serveArgv(profile({ toolCallParser: '', enableAutoToolChoice: false, reasoningParser: '', trustRemoteCode: false, maxModelLen: 0, gpuMemoryUtilization: 0.9 }));
      assert.deepEqual(argv.slice(3), ['--host', '127.0.0.1', '--port', '8000', '-tp', '8', '--mm-encoder-tp-mode', 'data']);
    });

    it('model path: modelDir, else <downloadDir>/<model id>, else the id', () => {
      assert.equal(modelPath(profile({ downloadDir: '/data/models/' })), '/data/models/moonshotai/Kimi-K2.5');
      assert.equal(modelPath(profile({ downloadDir: '/' })), '/moonshotai/Kimi-K2.5');
      assert.equal(modelPath(profile({ downloadDir: '' })), 'moonshotai/Kimi-K2.5');
      assert.equal(modelPath(profile({ modelDir: '/m', downloadDir: '/d' })), '/m');
    });

    it('values that start with "-" cannot turn into options', () => {
      const argv = serveArgv(profile({ modelDir: '-rf', servedModelName: '-x', bindHost: '--port=1', toolCallParser: '-t', reasoningParser: '-r' }));
      assert.equal(argv[2], './-rf');
      for (const a of ['--served-model-name=-x', '--host=--port=1', '--tool-call-parser=-t', '--reasoning-parser=-r']) assert.ok(argv.includes(a), a);
    });

    it('refuses --api-key in extra args (the key would show in ps and the log) and auto tool choice without parser', () => {
      for (const a of ['--api-key', '--api-key=sk-1', '--api_key', '--api-k']) {
        assert.throws(() => serveArgv(profile({ extraArgs: [a, 'sk-1'] })), (e: unknown) => e instanceof CommandError && /Set API Key/.test(e.message));
      }
      assert.doesNotThrow(() => serveArgv(profile({ extraArgs: ['--api-server-count', '2'] })));
      assert.throws(() => serveArgv(profile({ toolCallParser: '' })), CommandError);
    });

    it('the real-tool emulator accepts the official command and reports exactly these non-default args', async () => {
      // `vllm serve … --help` would not validate; run the fake for real until its non-default args line.
      const modelDir = path.join(dir, 'Kimi-K2.5');
      fs.mkdirSync(modelDir, { recursive: true });
      const port = await freePort();
      const argv = serveArgv(profile({ modelDir, port }));
      const child = spawn(path.join(emulatorBin, 'vllm'), argv.slice(1), {
        env: { ...process.env, KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: path.join(dir, 'gpus'), KIMI_FAKE_VLLM_PHASE_MS: '5', KIMI_FAKE_VLLM_SHARD_MS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      try {
        const line = await waitFor('non-default args', () => /non-default args: (.*)/.exec(out)?.[1], 15_000);
        assert.match(line, /'model': '[^']*Kimi-K2.5'/);
        for (const frag of ["'host': '127.0.0.1'", `'port': ${port}`, "'tensor_parallel_size': 8", "'mm_encoder_tp_mode': 'data'", "'trust_remote_code': True", "'tool_call_parser': 'kimi_k2'", "'reasoning_parser': 'kimi_k2'", "'enable_auto_tool_choice': True"]) {
          assert.ok(line.includes(frag), `${frag} in ${line}`);
        }
        assert.doesNotMatch(out, /unrecognized arguments|error:/);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });

  describe('modelscopeArgv', () => {
    it('downloads into the model path with optional include/exclude globs', () => {
      assert.deepEqual(modelscopeArgv(defaultProfile()), ['modelscope', 'download', '--model', 'moonshotai/Kimi-K2.5', '--local_dir', '~/models/moonshotai/Kimi-K2.5']);
      assert.deepEqual(modelscopeArgv(profile({ modelDir: '/m' }), { include: ['*.json', 'model-0000[1-2]-*'], exclude: ['*.md'] }), [
        'modelscope', 'download', '--model', 'moonshotai/Kimi-K2.5', '--local_dir', '/m', '--include', '*.json', 'model-0000[1-2]-*', '--exclude', '*.md',
      ]);
      assert.deepEqual(modelscopeArgv(profile({ model: '-evil/x', modelDir: '-d' })).slice(2), ['--model=-evil/x', '--local_dir=-d']);
      assert.throws(() => modelscopeArgv(defaultProfile(), { include: ['-x'] }), CommandError);
    });

    it('the fake modelscope downloads with exactly that command through a real sh', async () => {
      const home = path.join(dir, 'ms-home');
      fs.mkdirSync(home, { recursive: true });
      const p = profile({ downloadDir: '~/dl dir' });
      const script = shellCommand(p, modelscopeArgv(p, { include: ['*.json'] }));
      const r = await new LocalShell({ env: { ...process.env, HOME: home, PATH: `${emulatorBin}:${process.env.PATH}` } }).exec(script, { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout + r.stderr, /Downloading Model .* to directory: .*dl dir\/moonshotai\/Kimi-K2.5/);
      assert.ok(fs.readdirSync(path.join(home, 'dl dir', 'moonshotai', 'Kimi-K2.5')).some((f) => f.endsWith('.json')));
    });
  });

  describe('shellCommand and the environment wrappers', () => {
    it('renders venv → prefix (verbatim) → conda, with the env exported first', () => {
      const env = { venv: '/opt/v env', conda: 'kimi', commandPrefix: 'env PATH=/opt/bin:$PATH' };
      assert.equal(wrapEnvironment(env, 'vllm serve x'), `. '/opt/v env/bin/activate' && env PATH=/opt/bin:$PATH conda run --no-capture-output -n kimi vllm serve x`);
      assert.equal(wrapEnvironment({ venv: '~/venvs/vllm/', conda: '', commandPrefix: '' }, 'vllm'), '. "$HOME"/venvs/vllm/bin/activate && vllm');
      assert.throws(() => wrapEnvironment({ venv: '', conda: '-x', commandPrefix: '' }, 'vllm'), CommandError);
      const p = profile({ env: { VLLM_USE_MODELSCOPE: 'true' } });
      assert.equal(shellCommand(p, ['vllm', '--version'], { B: 'x y' }), "export VLLM_USE_MODELSCOPE=true B='x y'\nvllm --version");
    });

    for (const kind of ['plain', 'venv', 'conda', 'prefix', 'all'] as const) {
      it(`runs the argv unchanged through a real sh (${kind})`, async () => {
        const base = path.join(dir, `wrap-${kind}`);
        const rec = makeRecorders(base);
        const home = path.join(base, 'home');
        fs.mkdirSync(home, { recursive: true });
        const venv = path.join(base, "my venv's");
        rec.makeVenv(venv);
        const environment = {
          venv: kind === 'venv' || kind === 'all' ? venv : '',
          conda: kind === 'conda' || kind === 'all' ? 'kimi env' : '',
          // The prefix is the user's shell text: `$PATH` in it must expand.
          commandPrefix: kind === 'prefix' || kind === 'all' ? `env KIMI_PREFIX_SEEN=yes PATH=${rec.binDir}:$PATH` : '',
        };
        const p = profile({ environment, env: { KIMI_PROFILE_ENV: 'from profile' } });
        const argv = serveArgv(p);
        const pathEnv = kind === 'plain' || kind === 'conda' ? `${rec.binDir}:${process.env.PATH}` : process.env.PATH;
        const r = await new LocalShell({ env: { ...process.env, HOME: home, PATH: pathEnv } }).exec(shellCommand(p, argv));
        assert.equal(r.code, 0, r.stderr);
        const seen = rec.readVllm();
        assert.ok(seen, 'the recorder ran');
        assert.deepEqual(seen.argv, argv.slice(1).map((a) => (a.startsWith('~/') ? `${home}/${a.slice(2)}` : a)));
        assert.equal(seen.env.KIMI_PROFILE_ENV, 'from profile');
        assert.equal(seen.env.KIMI_VENV_ACTIVE, environment.venv ? '1' : undefined);
        assert.equal(seen.env.KIMI_PREFIX_SEEN, environment.commandPrefix ? 'yes' : undefined);
        assert.equal(rec.readCondaName(), environment.conda || null);
      });
    }
  });
});
