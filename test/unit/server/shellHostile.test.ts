// Hostile values in every profile field, through a real /bin/sh here and through a real SSH host: nothing may
// execute (no sentinel file appears), and the program must receive exactly the intended argv and environment.
// Profiles are built WITHOUT the settings schema on purpose: the command builder must be safe on its own, whatever
// the schema lets through today.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultProfile, type ServerProfile } from '../../../src/core/config/serverProfile';
import { parseStart, parseStatus, secretStdin, startDetachedScript, stateDirFor, statusScript } from '../../../src/core/server/remoteScripts';
import { LocalShell, SshConnection, SshError, type ShellRunner } from '../../../src/core/server/ssh';
import { serveArgv, shellCommand, modelscopeArgv } from '../../../src/core/server/vllmCommand';
import { startSshHost, type SshHost } from '../../support/sshHost';
import { expandTilde, hostile, makeRecorders, sentinels, tempDir, waitFor, type Recorders } from './kit';

describe('hostile profile values (real sh, real ssh)', function () {
  this.timeout(60_000);
  let dir: string;
  let sent: string;
  let rec: Recorders;
  let localHome: string;
  let host: SshHost;
  let controlDir: string;
  let ssh: SshConnection;
  let local: LocalShell;

  before(async () => {
    dir = tempDir('hostile');
    sent = path.join(dir, 's');
    fs.mkdirSync(sent);
    rec = makeRecorders(path.join(dir, 'rec'));
    localHome = path.join(dir, 'home');
    fs.mkdirSync(localHome);
    local = new LocalShell({ env: { ...process.env, HOME: localHome } });
    host = await startSshHost({ name: 'hostile' });
    controlDir = fs.mkdtempSync('/tmp/kc-');
    ssh = new SshConnection({ destination: host.alias, configFile: host.configFile, controlDir });
  });
  after(async () => {
    await ssh?.close();
    await host?.stop();
    for (const d of [dir, controlDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });
  afterEach(() => {
    // The assertion every test shares: nothing ran.
    assert.deepEqual(sentinels(sent), [], 'a hostile value was executed');
  });

  /** A profile with a hostile value in every field (commandPrefix excepted: it is the user's own shell text). */
  function evilProfile(tag: string, variant: 'derived-path' | 'model-dir'): ServerProfile {
    const ev = (field: string) => hostile(sent, `${tag}-${field}`);
    const venv = path.join(dir, `venv ${ev('venv')}`);
    rec.makeVenv(venv);
    return {
      ...defaultProfile(),
      name: ev('name'),
      host: ev('host'),
      model: ev('model'),
      modelDir: variant === 'model-dir' ? `-${ev('modelDir')}` : '',
      downloadDir: `~/dl ${ev('downloadDir')}`,
      environment: { venv, conda: ev('conda'), commandPrefix: '' },
      port: 8123,
      bindHost: ev('bindHost'),
      tensorParallelSize: 2,
      maxModelLen: 1000,
      gpuMemoryUtilization: 0.5,
      servedModelName: `-${ev('servedModelName')}`,
      toolCallParser: ev('toolCallParser'),
      reasoningParser: ev('reasoningParser'),
      extraArgs: [ev('extra1'), `--x=${ev('extra2')}`, '', '~/tilde item', '~', '-', '--', '\n', '*'],
      env: { KIMI_HOSTILE: ev('env'), KIMI_EMPTY: '' },
    };
  }

  function expectedArgv(p: ServerProfile, home: string): string[] {
    return serveArgv(p).slice(1).map((a) => expandTilde(a, home));
  }

  function clearRecords(): void {
    for (const f of fs.readdirSync(path.join(dir, 'rec'))) if (f.endsWith('.json') || f.endsWith('.txt')) fs.rmSync(path.join(dir, 'rec', f));
  }

  function checkRecorded(p: ServerProfile, home: string, extraEnv: Record<string, string> = {}): void {
    const seen = rec.readVllm();
    assert.ok(seen, 'the recorder vllm ran');
    assert.deepEqual(seen.argv, expectedArgv(p, home));
    assert.equal(seen.env.KIMI_HOSTILE, p.env.KIMI_HOSTILE);
    assert.equal(seen.env.KIMI_EMPTY, '');
    assert.equal(seen.env.KIMI_VENV_ACTIVE, '1');
    for (const [k, v] of Object.entries(extraEnv)) assert.equal(seen.env[k], v, k);
    assert.equal(rec.readCondaName(), p.environment.conda);
  }

  const targets: [string, () => ShellRunner, () => string][] = [
    ['local sh', () => local, () => localHome],
    ['ssh', () => ssh, () => host.home],
  ];

  for (const [label, runner, home] of targets) {
    for (const variant of ['derived-path', 'model-dir'] as const) {
      it(`${label}: vllm serve receives exactly the intended argv and env (${variant})`, async () => {
        clearRecords();
        const p = evilProfile(`${label === 'ssh' ? 'r' : 'l'}-${variant}`, variant);
        const r = await runner().exec(shellCommand(p, serveArgv(p)));
        assert.equal(r.code, 0, r.stderr);
        checkRecorded(p, home());
      });
    }

    it(`${label}: started detached in a hostile state dir, with a hostile secret on stdin`, async () => {
      clearRecords();
      const p = evilProfile(`${label === 'ssh' ? 'r' : 'l'}-detached`, 'derived-path');
      const stateDir = path.join(dir, `state ${hostile(sent, `${label}-state`)}`);
      const secret = `sk-${hostile(sent, `${label}-secret`).replace(/\n/g, ' ')}`;
      const env = { KIMI_START_ENV: hostile(sent, `${label}-startenv`) };
      const script = startDetachedScript({ stateDir, command: shellCommand(p, serveArgv(p, { apiKeyEnv: true })), env, secretEnv: ['VLLM_API_KEY'] });
      const started = parseStart(await runner().exec(script, { stdin: secretStdin(['VLLM_API_KEY'], { VLLM_API_KEY: secret }) }));
      assert.equal(started.kind, 'started', JSON.stringify(started));
      await waitFor('the recorder to run', () => rec.readVllm() !== null);
      checkRecorded(p, home(), { ...env, VLLM_API_KEY: secret });
      await waitFor('the recorder to exit', async () => parseStatus((await runner().exec(statusScript({ stateDir }))).stdout).state === 'exited');
      assert.equal(stateDirFor(p.name).includes('$'), false, 'the per-profile dir name is a safe slug');
    });

    it(`${label}: modelscope download receives exactly the intended argv`, async () => {
      const p = evilProfile(`${label === 'ssh' ? 'r' : 'l'}-ms`, 'derived-path');
      const argv = modelscopeArgv(p, { include: [hostile(sent, `${label}-inc`)], exclude: ['*.md'] });
      // A recorder named modelscope: the same script as the vllm one, under the other name.
      fs.copyFileSync(path.join(rec.binDir, 'vllm'), path.join(rec.binDir, 'modelscope'));
      clearRecords();
      const r = await runner().exec(shellCommand(p, argv));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(rec.readVllm()?.argv, argv.slice(1).map((a) => expandTilde(a, home())));
    });
  }

  it('a hostile host is refused before any process starts', () => {
    for (const destination of [hostile(sent, 'dest'), '-oProxyCommand=touch x', 'a;b']) {
      assert.throws(() => new SshConnection({ destination, controlDir }), (e: unknown) => e instanceof SshError && e.kind === 'destination');
    }
  });
});
