// downloadModel against the fake `modelscope` as a real detached process: progress, disk check, resume, cancel.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import { downloadModel } from '../../../src/core/download/modelDownload';
import { estimateDownloadBytes, ModelscopeProgressParser } from '../../../src/core/download/modelscopeProgress';
import { hostShellFor } from '../../../src/core/server/hostShell';
import type { DownloadState } from '../../../src/core/server/lifecycleTypes';
import { profileSlug } from '../../../src/core/server/remoteScripts';
import { LocalShell } from '../../../src/core/server/ssh';
import { emulatorBin, isRunning, tempDir } from '../server/kit';

/** Field 22 of /proc/<pid>/stat: when the process started (clock ticks since boot). */
function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

describe('downloadModel (fake modelscope as a real process)', function () {
  this.timeout(60_000);
  let home: string;
  let shell: LocalShell;

  beforeEach(() => {
    home = tempDir('kimi-dl-home');
    shell = new LocalShell({ env: { ...process.env, HOME: home, PATH: `${emulatorBin}${path.delimiter}${process.env.PATH}` }, cwd: home });
  });
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  const profile = (env: Record<string, string> = {}): ServerProfile =>
    serverProfileSchema.parse({ name: 'dl', downloadDir: '~/models', env: { KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '20000000000', ...env } });
  /** The download's pid file on the target (profile "dl"). */
  const pidFile = () => path.join(home, '.kimi-vllm', `${profileSlug('dl')}-download`, 'server.pid');
  const shards = (n: number) => Array.from({ length: n }, (_, i) => `model-0000${i + 1}-of-000064.safetensors`);

  it('downloads with progress (files, bytes, speed) into <downloadDir>/<model id>', async () => {
    const states: DownloadState[] = [];
    const s = await downloadModel(shell, profile(), { include: ['model-0000[1-3]-*', 'config.json'], onState: (x) => states.push(x), pollMs: 100 });
    assert.equal(s.kind, 'done', JSON.stringify(s));
    const dir = path.join(home, 'models', 'moonshotai', 'Kimi-K2.5');
    for (const f of [...shards(3), 'config.json']) assert.ok(fs.existsSync(path.join(dir, f)), f);
    const progress = states.filter((x): x is Extract<DownloadState, { kind: 'downloading' }> => x.kind === 'downloading');
    assert.ok(progress.length > 0);
    const last = progress.at(-1)!;
    assert.equal(last.files.total, 4);
    assert.ok(last.bytes.total > 20e9, `real sizes are reported (${last.bytes.total})`);
    assert.ok(progress.every((p, i) => i === 0 || p.bytes.done >= progress[i - 1]!.bytes.done), 'bytes only grow');
    assert.equal(s.kind === 'done' && s.dir, '~/models/moonshotai/Kimi-K2.5');
    assert.ok(!fs.existsSync(pidFile()), 'a finished download leaves no pid file');
  });

  it('streams the output when the runner streams (hostShellFor): bytes grow, speed and ETA, then done', async () => {
    const runner = hostShellFor({ host: 'local' }, { env: { ...process.env, HOME: home, PATH: `${emulatorBin}${path.delimiter}${process.env.PATH}` }, cwd: home }).runner;
    const states: DownloadState[] = [];
    const slowish = profile({ KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '40000000000' });
    const s = await downloadModel(runner, slowish, { include: ['model-0000[1-6]-*'], onState: (x) => states.push(x), pollMs: 5000 });
    assert.equal(s.kind, 'done', JSON.stringify(s));
    const progress = states.filter((x): x is Extract<DownloadState, { kind: 'downloading' }> => x.kind === 'downloading');
    assert.ok(progress.length >= 5, `${progress.length} progress states (streamed, not one poll every 5 s)`);
    assert.ok(progress.every((p, i) => i === 0 || p.bytes.done >= progress[i - 1]!.bytes.done), 'bytes only grow');
    const estimate = estimateDownloadBytes('moonshotai/Kimi-K2.5', ['model-0000[1-6]-*']);
    assert.ok(progress.every((p) => p.bytes.total >= estimate.bytes * 0.9 && p.bytes.total <= estimate.bytes * 1.1), 'the total is the selection from the start');
    assert.ok(progress.some((p) => (p.speed ?? 0) > 1e9 && p.etaSeconds !== undefined), 'speed and ETA');
    assert.ok(progress.at(-1)!.bytes.done > progress.at(-1)!.bytes.total * 0.9);
  });

  it('estimates the need from the shards: 595 GiB for the model, less for a narrowed selection', () => {
    const all = estimateDownloadBytes('moonshotai/Kimi-K2.5');
    assert.equal(all.files, 78);
    assert.ok(Math.abs(all.bytes - 595 * 1024 ** 3) < 20 * 1024 ** 2, String(all.bytes));
    const four = estimateDownloadBytes('moonshotai/Kimi-K2.5', ['model-0000[1-4]-*', '*.json']);
    assert.equal(four.files, 4 + 5);
    assert.ok(Math.abs(four.bytes - (4 * 595 * 1024 ** 3) / 64) < 20 * 1024 ** 2);
    assert.equal(estimateDownloadBytes('moonshotai/Kimi-K2.5', [], ['*.safetensors']).files, 14);
    assert.equal(estimateDownloadBytes('someone/Else').known, false);
  });

  it('refuses before starting when the disk cannot hold the model, with the numbers', async () => {
    const s = await downloadModel(shell, profile(), { requiredBytes: 1e18 });
    assert.ok(s.kind === 'failed');
    assert.equal(s.title, 'Not enough disk space for Kimi-K2.5');
    assert.match(s.explanation, /\(\d+ GB free\); the model needs about 595 GB/);
  });

  it('a dropped connection is explained, and a rerun resumes and completes', async () => {
    const include = ['model-0000[1-2]-*'];
    const first = await downloadModel(shell, profile({ KIMI_FAKE_MODELSCOPE_FAIL: 'network-drop' }), { include, pollMs: 100 });
    assert.ok(first.kind === 'failed', JSON.stringify(first));
    assert.equal(first.title, 'The download was interrupted');
    assert.match(first.explanation, /a rerun resumes/);
    assert.ok(!fs.existsSync(pidFile()), 'a failed download leaves no pid file');
    const second = await downloadModel(shell, profile(), { include, pollMs: 100 });
    assert.equal(second.kind, 'done', JSON.stringify(second));
  });

  it('cancel stops the download and keeps the partial files', async () => {
    const ctrl = new AbortController();
    const slow = profile({ KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '2000000000' });
    const s = await downloadModel(shell, slow, {
      include: ['model-0000[1-4]-*'],
      signal: ctrl.signal,
      pollMs: 100,
      onState: (x) => x.kind === 'downloading' && x.bytes.done > 0 && ctrl.abort(),
    });
    assert.equal(s.kind, 'cancelled');
    const temp = path.join(home, 'models', 'moonshotai', 'Kimi-K2.5', '._____temp');
    assert.ok(fs.existsSync(temp) && fs.readdirSync(temp).length > 0, 'partial files kept for a resume');
    assert.ok(!fs.existsSync(pidFile()), 'a cancelled download leaves no pid file');
  });

  it('a pid file left by a crashed earlier run never passes for a running download: the process now at that pid is neither followed nor signalled', async () => {
    // A live process that is not the download, at the recorded pid: e.g. the pid was reused after the crash.
    const decoy = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const pid = decoy.pid!;
    try {
      const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const records = [
        `${pid}\n`, // no start time: nothing proves it is the download
        `${pid} 1 ${bootId}\n`, // another start time: another process
        `${pid} ${startTime(pid)} 00000000-0000-4000-8000-000000000000\n`, // same pid and start time, but before a reboot
      ];
      for (const record of records) {
        fs.mkdirSync(path.dirname(pidFile()), { recursive: true });
        fs.writeFileSync(pidFile(), record);
        const states: DownloadState[] = [];
        const s = await downloadModel(shell, profile(), { include: ['config.json'], onState: (x) => states.push(x), pollMs: 100 });
        assert.equal(s.kind, 'done', `${JSON.stringify(record)} → ${JSON.stringify(s)}`);
        assert.ok(states.some((x) => x.kind === 'checking'), 'the checks ran: no download was taken as running');
        assert.ok(isRunning(pid), `the process at the recorded pid was not signalled (${JSON.stringify(record)})`);
        assert.ok(!fs.existsSync(pidFile()), 'and no pid file is left');
      }
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('an unknown model and a missing modelscope are explained', async () => {
    const unknown = await downloadModel(shell, serverProfileSchema.parse({ name: 'dl', model: 'nobody/NoSuchModel', downloadDir: '~/models' }), { pollMs: 100, requiredBytes: 0 });
    assert.ok(unknown.kind === 'failed', JSON.stringify(unknown));
    assert.equal(unknown.title, 'ModelScope does not know this model');
    const bare = new LocalShell({ env: { ...process.env, HOME: home, PATH: '/usr/bin:/bin' }, cwd: home });
    const missing = await downloadModel(bare, profile(), { pollMs: 100 });
    assert.ok(missing.kind === 'failed');
    assert.equal(missing.title, 'ModelScope is not installed on the host');
  });

  it('the progress parser gives the same result whatever the chunking', () => {
    const out = [
      '\rProcessing 3 items:   0%|          | 0.00/3.00 [00:00<?, ?it/s]\n',
      '\rDownloading [model-00001-of-000064.safetensors]:  45%|████▌     | 2.41G/5.35G [00:41<00:50, 107MB/s]\x1b[A\n',
      '\rDownloading [model-00001-of-000064.safetensors]: 100%|██████████| 5.35G/5.35G [00:50<00:00, 107MB/s]\n',
      '\rProcessing 3 items:  33%|███▎      | 1.00/3.00 [00:50<01:40, 50.0s/it]\n',
    ].join('');
    const whole = new ModelscopeProgressParser();
    whole.push(out);
    const expected = whole.progress();
    assert.deepEqual(expected.files, { done: 1, total: 3 });
    assert.equal(expected.bytes.done, Math.round(5.35 * 1024 ** 3), 'sizes are binary (unit_divisor=1024)');
    for (let size = 1; size < 40; size += 3) {
      const p = new ModelscopeProgressParser();
      for (let i = 0; i < out.length; i += size) p.push(out.slice(i, i + size));
      assert.deepEqual(p.progress(), expected, `chunks of ${size}`);
    }
  });
});
