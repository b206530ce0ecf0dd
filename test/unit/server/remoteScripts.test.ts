import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  parseDiskFree,
  parsePortOpen,
  parseStart,
  parseStatus,
  parseStop,
  parseTail,
  profileSlug,
  secretStdin,
  startDetachedScript,
  stateDirFor,
  stopScript,
  tailScript,
} from '../../../src/core/server/remoteScripts';
import { LocalShell } from '../../../src/core/server/ssh';
import { freePort } from '../../support/sshHost';
import { emulatorBin, tempDir, waitFor } from './kit';
import { lifecycleTests, type LifecycleTarget } from './lifecycle';

/** This process's environment without anything that steers the fakes. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KIMI_FAKE_') && !k.startsWith('VLLM_')) env[k] = v;
  return { ...env, ...extra };
}

describe('remoteScripts', function () {
  this.timeout(60_000);

  describe('names and parsers', () => {
    it('a profile gets a safe, distinct state directory under ~/.kimi-vllm', () => {
      assert.match(profileSlug('GPU box #1'), /^gpu-box-1-[0-9a-f]{8}$/);
      assert.notEqual(profileSlug('a b'), profileSlug('a-b'));
      assert.match(profileSlug("$(touch x)'; rm -rf /"), /^touch-x-rm-rf-[0-9a-f]{8}$/);
      assert.match(profileSlug('模型'), /^profile-[0-9a-f]{8}$/);
      assert.equal(stateDirFor('x'), `~/.kimi-vllm/${profileSlug('x')}`);
    });

    it('parses what the scripts print', () => {
      const r = (stdout: string, code = 0) => ({ code, stdout, stderr: '', stdoutBuffer: Buffer.from(stdout) });
      assert.deepEqual(parseStart(r('result=started\npid=42\nstate=running\n')), { kind: 'started', pid: 42 });
      assert.deepEqual(parseStart(r('result=running\npid=42\n')), { kind: 'running', pid: 42 });
      assert.deepEqual(parseStart(r('result=error\nerror=setsid is not installed\n')), { kind: 'error', message: 'setsid is not installed' });
      assert.equal(parseStart({ ...r('', 2), stderr: 'sh: 1: syntax error' }).kind, 'error');
      assert.deepEqual(parseStatus('state=orphaned\npid=7\nlogBytes=10\n'), { state: 'orphaned', alive: true, pid: 7, logBytes: 10 });
      assert.deepEqual(parseStatus('state=none\npid=\nlogBytes=0\n'), { state: 'none', alive: false, pid: null, logBytes: 0 });
      assert.deepEqual(parseStop('pid=9\nresult=TERM\n'), { result: 'TERM', pid: 9 });
      assert.throws(() => parseStop('garbage'));
      assert.deepEqual(parsePortOpen('open=1\nmethod=ss\n'), { open: true, method: 'ss' });
      assert.deepEqual(parseDiskFree('path=/data\ntotalKiB=10\navailKiB=4\nmount=/data disk\n'), { path: '/data', mount: '/data disk', totalBytes: 10240, availableBytes: 4096 });
      assert.equal(parseDiskFree(''), null);
    });

    it('tail: a UTF-8 character cut at the chunk end is left for the next read', () => {
      const body = Buffer.from('ok ✓', 'utf8');
      const cut = Buffer.concat([Buffer.from('size=100 from=10 id=5\n'), body.subarray(0, body.length - 1)]);
      const chunk = parseTail(cut, 10);
      assert.deepEqual(chunk, { text: 'ok ', nextOffset: 13, size: 100, logId: '5', reset: false });
      assert.equal(parseTail(Buffer.from('size=3 from=0 id=6\nabc'), 10).reset, true);
    });

    it('secrets go on stdin, one per line, and may not contain a line break', () => {
      assert.equal(secretStdin(['A', 'B'], { A: 'x', B: 'y z' }), 'x\ny z\n');
      assert.throws(() => secretStdin(['A'], { A: 'a\nb' }));
      assert.throws(() => startDetachedScript({ stateDir: '/s', command: 'true', secretEnv: ['A B'] }));
    });
  });

  describe('real scripts in /bin/sh, small cases', () => {
    let dir: string;
    let sh: LocalShell;
    let stateDir: string;
    before(() => {
      dir = tempDir('scripts');
      stateDir = path.join(dir, "weird $(x) 'dir'\n");
      sh = new LocalShell({ env: cleanEnv({ HOME: dir }) });
    });
    after(async () => {
      await sh.exec(stopScript({ stateDir, graceIntSec: 0, graceTermSec: 0 })).catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a state dir with any characters works; tail follows a replaced log from its start', async () => {
      const tail = async (offset: number, logId?: string) =>
        parseTail((await sh.exec(tailScript({ stateDir, offset, maxBytes: 100, ...(logId ? { logId } : {}) }))).stdoutBuffer, offset);
      const start = parseStart(await sh.exec(startDetachedScript({ stateDir, command: 'echo first; exec sleep 30' })));
      assert.equal(start.kind, 'started');
      const first = await waitFor('the first log line', async () => {
        const c = await tail(0);
        return c.text === '' ? null : c;
      });
      assert.equal(first.text, 'first\n');
      assert.equal(parseStop((await sh.exec(stopScript({ stateDir, graceIntSec: 5, graceTermSec: 5 }))).stdout).result, 'INT');
      assert.equal(parseStart(await sh.exec(startDetachedScript({ stateDir, command: 'echo second; exec sleep 30' }))).kind, 'started');
      // Offset 6 of the old log: the new log has another identity, so reading restarts at 0.
      const next = await waitFor('the second log line', async () => {
        const c = await tail(6, first.logId);
        return c.text === '' ? null : c;
      });
      assert.equal(next.reset, true);
      assert.equal(next.text, 'second\n');
      assert.equal(fs.readFileSync(path.join(stateDir, 'server.log.1'), 'utf8'), 'first\n', 'the previous log is kept');
    });
  });

  describe('the server lifecycle on this machine (LocalShell)', () => {
    let home: string;
    let gpuDir: string;
    let shell: LocalShell;
    before(() => {
      home = tempDir('local-home');
      gpuDir = tempDir('local-gpus');
      shell = new LocalShell({ env: cleanEnv({ HOME: home, PATH: `${emulatorBin}:${process.env.PATH ?? ''}` }) });
    });
    after(() => {
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(gpuDir, { recursive: true, force: true });
    });
    const target = (): LifecycleTarget => ({
      runner: () => shell,
      home,
      gpuDir,
      freePort: () => freePort(),
      reach: async (port) => `http://127.0.0.1:${port}`,
    });
    lifecycleTests(target);
  });
});
