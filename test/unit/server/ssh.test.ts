import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import {
  MAX_CONTROL_DIR_BYTES,
  SshConnection,
  SshError,
  checkMasterArgs,
  classifySshFailure,
  ensureControlDir,
  forwardArgs,
  forwardSpec,
  parseDestination,
  remoteCommand,
  sshArgv,
  sshBaseArgs,
  type SpawnFn,
} from '../../../src/core/server/ssh';
import { quote } from '../../../src/core/server/shellQuote';
import { hostile, sentinels, tempDir } from './kit';

/** What a scripted fake `ssh` does for one call. */
interface Reply {
  code?: number;
  stdout?: string;
  stderr?: string;
  /** Never exit (until killed). */
  hang?: boolean;
}

interface Call {
  command: string;
  args: readonly string[];
  stdin: string;
}

/** A spawn that records calls and answers them from `reply` — a stand-in for ssh in logic-only tests. */
function fakeSpawn(reply: (args: readonly string[], n: number) => Reply): { spawn: SpawnFn; calls: Call[]; killed: number } {
  const state = { calls: [] as Call[], killed: 0 };
  const spawn: SpawnFn = (command: string, args: readonly string[], _opts: SpawnOptions) => {
    const child = new EventEmitter() as unknown as ChildProcess & EventEmitter;
    const call: Call = { command, args, stdin: '' };
    state.calls.push(call);
    const stdin = new PassThrough();
    stdin.on('data', (d: Buffer) => (call.stdin += d.toString()));
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    Object.assign(child, { stdin, stdout, stderr, pid: 4242 });
    let done = false;
    const exit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      stdout.end();
      stderr.end();
      child.emit('exit', code, signal);
      child.emit('close', code, signal);
    };
    (child as { kill: (s?: NodeJS.Signals) => boolean }).kill = (s?: NodeJS.Signals) => {
      state.killed++;
      setImmediate(() => exit(null, s ?? 'SIGTERM'));
      return true;
    };
    const r = reply(args, state.calls.length - 1);
    setImmediate(() => {
      if (r.stdout) stdout.write(r.stdout);
      if (r.stderr) stderr.write(r.stderr);
      if (!r.hang) exit(r.code ?? 0, null);
    });
    return child;
  };
  return {
    spawn,
    get calls() {
      return state.calls;
    },
    get killed() {
      return state.killed;
    },
  } as { spawn: SpawnFn; calls: Call[]; killed: number };
}

describe('ssh (argv, classification, connection logic)', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => {
    dir = tempDir('ssh');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('parseDestination', () => {
    it('reads the forms users write', () => {
      assert.deepEqual(parseDestination('gpu-box'), { target: 'gpu-box', host: 'gpu-box' });
      assert.deepEqual(parseDestination('ubuntu@10.0.0.5'), { target: 'ubuntu@10.0.0.5', host: '10.0.0.5', user: 'ubuntu' });
      assert.deepEqual(parseDestination('ubuntu@gpu.example.com:2222'), { target: 'ubuntu@gpu.example.com', host: 'gpu.example.com', user: 'ubuntu', port: 2222 });
      assert.deepEqual(parseDestination('[fd00::5]:2200'), { target: 'fd00::5', host: 'fd00::5', port: 2200 });
      assert.deepEqual(parseDestination('root@[fd00::5]'), { target: 'root@fd00::5', host: 'fd00::5', user: 'root' });
      assert.deepEqual(parseDestination('fd00::5'), { target: 'fd00::5', host: 'fd00::5' });
      assert.deepEqual(parseDestination('ssh://me@h:23'), { target: 'me@h', host: 'h', user: 'me', port: 23 });
    });

    it('refuses destinations that ssh would read as options or a shell could interpret', () => {
      for (const bad of ['', '-oProxyCommand=touch x', 'user@-host', '-l root', 'a b', 'h;touch x', 'h$(x)', 'u@h:99999', 'u@h:', '@h', '[::1', 'h\n', "h'"]) {
        assert.throws(() => parseDestination(bad), (e: unknown) => e instanceof SshError && e.kind === 'destination', JSON.stringify(bad));
      }
    });
  });

  describe('argv', () => {
    const t = { destination: 'ubuntu@gpu:2222', controlDir: '/tmp/kc' };

    it('has the batch-mode, keep-alive and multiplexing options, the port, then -- and the destination', () => {
      assert.deepEqual(sshBaseArgs(t), [
        '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3',
        '-o', 'ControlMaster=auto', '-o', 'ControlPath=/tmp/kc/%C', '-o', 'ControlPersist=600', '-p', '2222',
      ]);
      assert.deepEqual(sshArgv(t, [], 'sh -c true').slice(-3), ['--', 'ubuntu@gpu', 'sh -c true']);
      assert.deepEqual(checkMasterArgs(t).slice(-4), ['-O', 'check', '--', 'ubuntu@gpu']);
      assert.deepEqual(forwardArgs(t, 18000, '127.0.0.1', 8000).slice(-5), ['-O', 'forward', '-L', '127.0.0.1:18000:127.0.0.1:8000', '--', 'ubuntu@gpu'].slice(-5));
      assert.equal(forwardSpec(1, '::1', 2), '127.0.0.1:1:[::1]:2');
      assert.throws(() => forwardSpec(0, 'h', 1), SshError);
      assert.throws(() => forwardSpec(1, 'h:1:x y', 1), SshError);
    });

    it('puts -F, -i and extra options first (ssh keeps the first value of an option), doubling % in the control dir', () => {
      const args = sshBaseArgs({ ...t, configFile: '/c', identityFile: '/k', extraOptions: ['ConnectTimeout=2'], controlDir: '/tmp/a%b' });
      assert.deepEqual(args.slice(0, 6), ['-F', '/c', '-i', '/k', '-o', 'ConnectTimeout=2']);
      assert.ok(args.includes('ControlPath=/tmp/a%%b/%C'));
      assert.throws(() => sshBaseArgs({ ...t, extraOptions: ['-oProxyCommand=x'] }), SshError);
    });

    it('control dir: created 700, refused when too long for a socket path', () => {
      const d = path.join(dir, 'cm');
      ensureControlDir(d);
      assert.equal(fs.statSync(d).mode & 0o777, 0o700);
      fs.chmodSync(d, 0o755);
      ensureControlDir(d);
      assert.equal(fs.statSync(d).mode & 0o777, 0o700, 'a too-open existing dir is closed');
      assert.throws(() => ensureControlDir('/tmp/' + 'x'.repeat(MAX_CONTROL_DIR_BYTES)), (e: unknown) => e instanceof SshError && e.kind === 'controlDir');
    });
  });

  describe('remoteCommand', () => {
    it('simple scripts stay readable; anything else is base64 that no login shell can misread', () => {
      assert.equal(remoteCommand('true'), "sh -c true");
      assert.equal(remoteCommand("echo 'hi'"), "sh -c 'echo '\\''hi'\\'''");
      const enc = remoteCommand('echo a\necho b\\c');
      assert.match(enc, /^sh -c 'eval "\$\(printf %s [A-Za-z0-9+/=]+ \| base64 -d\)"'$/);
    });

    it('both forms run the exact script through a login shell and sh', async () => {
      const sent = path.join(dir, 'rc-sentinels');
      fs.mkdirSync(sent);
      const value = hostile(sent, 'rc');
      for (const [script, expected] of [["printf '%s' 'plain text'", 'plain text'], [`printf '%s' ${quote(value)}`, value]] as const) {
        // sshd hands the command string to the login shell as `<shell> -c <string>` (bash, dash here).
        for (const shell of ['bash', 'dash']) {
          const r = spawnSync(shell, ['-c', remoteCommand(script)], { encoding: 'utf8' });
          assert.equal(r.status, 0, r.stderr);
          assert.equal(r.stdout, expected);
        }
      }
      assert.deepEqual(sentinels(sent), []);
    });
  });

  describe('classifySshFailure', () => {
    const cases: [string, string][] = [
      ['ssh: Could not resolve hostname gpu: Name or service not known', 'unresolved'],
      ['ssh: connect to host 10.0.0.5 port 22: Connection refused', 'refused'],
      ['ssh: connect to host 10.0.0.5 port 22: Connection timed out', 'timeout'],
      ['Connection timed out during banner exchange', 'timeout'],
      ['ssh: connect to host 10.0.0.5 port 22: No route to host', 'unreachable'],
      ['root@10.0.0.5: Permission denied (publickey).', 'auth'],
      ['No ED25519 host key is known for gpu and you have requested strict checking.\nHost key verification failed.', 'hostKeyUnknown'],
      ['@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.', 'hostKeyChanged'],
      ['kex_exchange_identification: read: Connection reset by peer', 'closed'],
      ['Connection to gpu closed by remote host.', 'closed'],
      ['something new', 'ssh'],
    ];
    for (const [stderr, kind] of cases) {
      it(`${kind}: ${stderr.split('\n').pop()}`, () => {
        const e = classifySshFailure(stderr, 255, 'gpu');
        assert.ok(e);
        assert.equal(e.kind, kind);
        assert.ok(e.message.includes('gpu'));
      });
    }
    it('auth tells the user what to do and that nothing will prompt', () => {
      const e = classifySshFailure('root@h: Permission denied (publickey).', 255, 'root@h')!;
      assert.match(e.message, /BatchMode/);
      assert.match(e.message, /ssh-copy-id/);
      assert.match(e.message, /agent/);
    });
    it('a remote command failing with its own status is not an ssh failure', () => {
      assert.equal(classifySshFailure('grep: x: No such file', 2, 'h'), null);
    });
  });

  describe('SshConnection with a stand-in ssh', () => {
    const base = { destination: 'me@gpu', controlDir: '/tmp/kc' };

    it('first exec: check master → start master (-f -N) → run; later execs go straight through; stdin is passed', async () => {
      const fake = fakeSpawn((args) => (args.includes('check') ? { code: 255, stderr: 'Control socket connect: No such file' } : { code: 0, stdout: args.includes('-N') ? '' : 'out' }));
      const c = new SshConnection({ ...base, spawn: fake.spawn });
      const r = await c.exec('cat', { stdin: 'secret\n' });
      assert.equal(r.stdout, 'out');
      await c.exec('true');
      assert.deepEqual(fake.calls.map((k) => (k.args.includes('check') ? 'check' : k.args.includes('-N') ? 'master' : 'exec')), ['check', 'master', 'exec', 'exec']);
      assert.equal(fake.calls[2]!.stdin, 'secret\n');
      assert.equal(fake.calls[2]!.args.at(-1), 'sh -c cat');
      assert.equal(fake.calls[2]!.command, 'ssh');
    });

    it('a failing remote command returns its status; exit 255 becomes a classified error', async () => {
      let n = 0;
      const fake = fakeSpawn((args) => {
        if (args.includes('check')) return { code: 0 };
        return n++ === 0 ? { code: 3, stderr: 'boom' } : { code: 255, stderr: 'me@gpu: Permission denied (publickey).' };
      });
      const c = new SshConnection({ ...base, spawn: fake.spawn });
      assert.equal((await c.exec('exit 3')).code, 3);
      await assert.rejects(c.exec('true'), (e: unknown) => e instanceof SshError && e.kind === 'auth');
    });

    it('a hanging ssh is killed at the timeout and reported as such', async () => {
      const fake = fakeSpawn((args) => (args.includes('check') ? { code: 0 } : { hang: true }));
      const c = new SshConnection({ ...base, spawn: fake.spawn });
      const t0 = Date.now();
      await assert.rejects(c.exec('sleep 100', { timeoutMs: 300 }), (e: unknown) => e instanceof SshError && e.kind === 'timeout');
      assert.ok(Date.now() - t0 < 3000);
      assert.equal(fake.killed, 1);
    });

    it('after a timeout the next exec connects through ensureMaster first (its own budget), not within the command\'s', async () => {
      // The link dropped: the master is gone, and an exec with ControlMaster=auto would become the new master inside
      // its own timeout; killed mid-handshake on a loaded machine, every retry would be killed the same way.
      let masterStarted = false;
      const fake = fakeSpawn((args) => {
        if (args.includes('check')) return masterStarted ? { code: 0 } : { code: 255, stderr: 'Control socket connect: No such file' };
        if (args.includes('-N')) return (masterStarted = true), { code: 0 };
        return masterStarted ? { code: 0, stdout: 'ok' } : { hang: true };
      });
      const c = new SshConnection({ ...base, spawn: fake.spawn });
      masterStarted = true;
      await c.exec('true'); // up: later execs go straight through
      masterStarted = false; // the link drops
      await assert.rejects(c.exec('status', { timeoutMs: 300 }), (e: unknown) => e instanceof SshError && e.kind === 'timeout');
      assert.equal((await c.exec('status', { timeoutMs: 300 })).stdout, 'ok');
      const kinds = fake.calls.map((k) => (k.args.includes('check') ? 'check' : k.args.includes('-N') ? 'master' : 'exec'));
      assert.deepEqual(kinds, ['check', 'exec', 'exec', 'check', 'master', 'exec']);
    });

    it('an AbortSignal cancels a running command', async () => {
      const fake = fakeSpawn((args) => (args.includes('check') ? { code: 0 } : { hang: true }));
      const c = new SshConnection({ ...base, spawn: fake.spawn });
      const ctrl = new AbortController();
      const p = c.exec('sleep 100', { signal: ctrl.signal });
      setTimeout(() => ctrl.abort(), 50);
      await assert.rejects(p, (e: unknown) => e instanceof SshError && e.kind === 'aborted');
    });

    it('a master that died under a command is replaced and the command runs once more', async () => {
      let execs = 0;
      const fake = fakeSpawn((args) => {
        if (args.includes('check')) return { code: 0 };
        if (args.includes('-N')) return { code: 0 };
        return execs++ === 0 ? { code: 255, stderr: 'mux_client_request_session: read from master failed: Broken pipe' } : { code: 0, stdout: 'ok' };
      });
      const c = new SshConnection({ ...base, spawn: fake.spawn });
      assert.equal((await c.exec('echo ok')).stdout, 'ok');
      assert.equal(execs, 2);
    });

    it('ssh missing on PATH is a plain error, not a crash', async () => {
      const c = new SshConnection({ ...base, sshPath: path.join(dir, 'no-such-ssh') });
      await assert.rejects(c.exec('true'), (e: unknown) => e instanceof SshError && e.kind === 'spawn' && /not installed/.test(e.message));
    });

    it('forward failures name the local port', async () => {
      const fake = fakeSpawn((args) => (args.includes('forward') ? { code: 255, stderr: 'mux_client_forward: forwarding request failed: Port forwarding failed' } : { code: 0 }));
      const c = new SshConnection({ ...base, spawn: fake.spawn });
      await assert.rejects(c.forward(18000, '127.0.0.1', 8000), (e: unknown) => e instanceof SshError && e.kind === 'forward' && /18000/.test(e.message));
    });
  });
});
