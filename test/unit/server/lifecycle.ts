// The server-lifecycle checks, written once and run twice: on this machine (LocalShell) and on a real SSH host
// (SshConnection) — the scripts are the same, so must be the behaviour. Called inside a describe().
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import {
  diskFreeScript,
  parseDiskFree,
  parsePortOpen,
  parseStart,
  parseStatus,
  parseStop,
  parseTail,
  parseWhich,
  portOpenScript,
  profileSlug,
  secretStdin,
  startDetachedScript,
  stateDirFor,
  statusScript,
  stopScript,
  tailScript,
  whichScript,
} from '../../../src/core/server/remoteScripts';
import { quote } from '../../../src/core/server/shellQuote';
import type { ShellRunner } from '../../../src/core/server/ssh';
import { serveArgv, shellCommand } from '../../../src/core/server/vllmCommand';
import { cmdline, groupMembers, isRunning, waitFor } from './kit';

export interface LifecycleTarget {
  runner(): ShellRunner;
  /** $HOME on the target. */
  home: string;
  /** A port the server may use on the target. */
  freePort(): Promise<number>;
  /** A base URL on this machine that reaches `port` on the target's 127.0.0.1 (direct, or through a tunnel). */
  reach(port: number): Promise<string>;
  /** Where the fake GPUs keep their claims (shared filesystem). */
  gpuDir: string;
}

const API_KEY = 'sk-test-0123456789abcdef';
const READY = 'Application startup complete.';

/** A profile that runs the fake vllm quickly on 8 fake H200s of its own (a GPU dir per profile: on this machine
 *  SIGKILLed workers stay zombies, which the fake nvidia-smi still counts — see assertGpusFree). */
export function fakeProfile(t: LifecycleTarget, name: string, port: number, env: Record<string, string> = {}): ServerProfile {
  fs.mkdirSync(path.join(t.home, 'models', 'Kimi-K2.5'), { recursive: true });
  const gpuDir = path.join(t.gpuDir, profileSlug(name));
  fs.mkdirSync(gpuDir, { recursive: true });
  return serverProfileSchema.parse({
    name,
    port,
    modelDir: '~/models/Kimi-K2.5',
    env: {
      KIMI_FAKE_GPUS: '8',
      KIMI_FAKE_GPU_DIR: gpuDir,
      KIMI_FAKE_VLLM_SHARD_MS: '2',
      KIMI_FAKE_VLLM_PHASE_MS: '5',
      ...env,
    },
  });
}

export async function startServer(t: LifecycleTarget, p: ServerProfile): Promise<{ pid: number; stateDir: string }> {
  const stateDir = stateDirFor(p.name);
  const script = startDetachedScript({ stateDir, command: shellCommand(p, serveArgv(p, { apiKeyEnv: true })), secretEnv: ['VLLM_API_KEY'] });
  const r = await t.runner().exec(script, { stdin: secretStdin(['VLLM_API_KEY'], { VLLM_API_KEY: API_KEY }), timeoutMs: 20_000 });
  const started = parseStart(r);
  assert.equal(started.kind, 'started', `${JSON.stringify(started)} ${r.stderr}`);
  return { pid: (started as { pid: number }).pid, stateDir };
}

/** Follows the log with tailScript in small chunks until `marker` appears; returns the text read. */
export async function followLog(t: LifecycleTarget, stateDir: string, marker: string, timeoutMs = 30_000): Promise<string> {
  let text = '';
  let offset = 0;
  let logId: string | undefined;
  await waitFor(`"${marker}" in the log`, async () => {
    const r = await t.runner().exec(tailScript({ stateDir, offset, maxBytes: 4096, ...(logId ? { logId } : {}) }));
    const chunk = parseTail(r.stdoutBuffer, offset);
    if (chunk.reset) text = '';
    text += chunk.text;
    offset = chunk.nextOffset;
    logId = chunk.logId;
    return text.includes(marker);
  }, timeoutMs, 100);
  return text;
}

/** The server's log as the target wrote it (shared filesystem), for failure messages: its error lines and end. */
export function serverLog(t: LifecycleTarget, stateDir: string): string {
  const file = path.join(t.home, stateDir.replace(/^~\//, ''), 'server.log');
  if (!fs.existsSync(file)) return '(no log)';
  const text = fs.readFileSync(file, 'utf8');
  const errors = text.split('\n').filter((l) => /Error|error:/.test(l)).slice(0, 10);
  return `server log errors:\n${errors.join('\n')}\n…\n${text.slice(-1500)}`;
}

async function gpuMemoryUsed(t: LifecycleTarget, p: ServerProfile): Promise<number[]> {
  const r = await t.runner().exec(`KIMI_FAKE_GPUS=8 KIMI_FAKE_GPU_DIR=${quote(p.env.KIMI_FAKE_GPU_DIR!)} nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits`);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map(Number);
}

/**
 * The GPUs are free: the fake nvidia-smi lists no compute process that is still running, and shows 0 MiB used
 * once the processes are gone. Caveat of this machine: its init (pid 1) does not reap orphans, so SIGKILLed
 * workers stay zombies — a real driver frees their memory at exit, but the fake counts a claim while its owner
 * answers kill(pid, 0), which a zombie does. Zombie owners are therefore accepted here (as "exited"); any
 * RUNNING process that still holds memory fails the check.
 */
async function assertGpusFree(t: LifecycleTarget, p: ServerProfile): Promise<void> {
  const r = await t.runner().exec(`KIMI_FAKE_GPUS=8 KIMI_FAKE_GPU_DIR=${quote(p.env.KIMI_FAKE_GPU_DIR!)} nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`);
  assert.equal(r.code, 0, r.stderr);
  const holders = r.stdout.trim().split('\n').filter(Boolean).map((l) => Number(l.split(',')[0]));
  const running = holders.filter((pid) => cmdline(pid) !== '' || isRunning(pid));
  assert.deepEqual(running, [], `processes still holding GPU memory: ${running.map((p) => `${p} ${cmdline(p)}`).join('; ')}`);
  if (holders.every((pid) => !fs.existsSync(`/proc/${pid}`))) assert.deepEqual(await gpuMemoryUsed(t, p), [0, 0, 0, 0, 0, 0, 0, 0], 'GPU memory is free again');
}

async function status(t: LifecycleTarget, stateDir: string) {
  return parseStatus((await t.runner().exec(statusScript({ stateDir }))).stdout);
}

async function portOpen(t: LifecycleTarget, port: number): Promise<boolean> {
  const r = parsePortOpen((await t.runner().exec(portOpenScript('127.0.0.1', port))).stdout);
  assert.equal(r.method, 'ss', 'Debian has ss (iproute2)');
  return r.open;
}

/** Registers an afterEach that stops, hard, every server a test registered with the returned function — so a
 *  failing test leaves nothing running. */
export function stopAfterEach(): (t: LifecycleTarget, stateDir: string) => void {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c().catch(() => {});
  });
  return (t, stateDir) =>
    void cleanups.push(async () => {
      await t.runner().exec(stopScript({ stateDir, graceIntSec: 0, graceTermSec: 0 }), { timeoutMs: 20_000 });
    });
}

export function lifecycleTests(target: () => LifecycleTarget): void {
  const stopLater = stopAfterEach();

  it('starts the fake vllm detached: pid file, log, port, ready; refuses a second start; INT stops the whole group', async () => {
    const t = target();
    const port = await t.freePort();
    const p = fakeProfile(t, 'Lifecycle main', port);
    const { pid, stateDir } = await startServer(t, p);
    stopLater(t, stateDir);

    const pidFile = path.join(t.home, '.kimi-vllm', profileSlug(p.name), 'server.pid');
    assert.equal(fs.readFileSync(pidFile, 'utf8').split(' ')[0], String(pid), 'pid file in ~/.kimi-vllm/<slug> on the target');
    const log = await followLog(t, stateDir, READY);
    assert.match(log, /non-default args: /);
    assert.equal(log, fs.readFileSync(path.join(path.dirname(pidFile), 'server.log'), 'utf8').slice(0, log.length), 'following the log in chunks loses nothing');

    const st = await status(t, stateDir);
    assert.deepEqual([st.state, st.alive, st.pid], ['running', true, pid]);
    assert.ok(st.logBytes >= Buffer.byteLength(log));
    assert.equal(await portOpen(t, port), true);

    const base = await t.reach(port);
    assert.equal((await fetch(`${base}/health`)).status, 200);
    assert.equal((await fetch(`${base}/v1/models`)).status, 401, 'the key from stdin reached vLLM as VLLM_API_KEY');
    assert.equal((await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } })).status, 200);

    const members = groupMembers(pid);
    assert.ok(members.length >= 10, `server, engine and 8 workers share the group (found ${members.length})`);
    for (const m of members) assert.ok(!cmdline(m).includes(API_KEY), `the key is on no command line (pid ${m}: ${cmdline(m)})`);
    assert.ok((await gpuMemoryUsed(t, p)).every((mib) => mib > 0), 'the workers hold GPU memory');

    const again = parseStart(await t.runner().exec(startDetachedScript({ stateDir, command: shellCommand(p, serveArgv(p)) })));
    assert.deepEqual(again, { kind: 'running', pid });

    const stop = parseStop((await t.runner().exec(stopScript({ stateDir, graceIntSec: 15, graceTermSec: 5 }), { timeoutMs: 30_000 })).stdout);
    assert.deepEqual(stop, { result: 'INT', pid }, serverLog(t, stateDir));
    assert.deepEqual(groupMembers(pid), [], 'no process of the group is left');
    assert.equal(await portOpen(t, port), false);
    await assertGpusFree(t, p);
    assert.equal(fs.existsSync(pidFile), false);
    assert.equal((await status(t, stateDir)).state, 'none');
    assert.match(fs.readFileSync(path.join(path.dirname(pidFile), 'server.log'), 'utf8'), /Shutting down FastAPI HTTP server/);
  });

  it('a server that ignores SIGINT and SIGTERM is ended with SIGKILL, group and GPU claims gone', async () => {
    const t = target();
    const p = fakeProfile(t, 'Lifecycle stubborn', await t.freePort(), { KIMI_FAKE_VLLM_IGNORE_SIGTERM: '1' });
    const { pid, stateDir } = await startServer(t, p);
    stopLater(t, stateDir);
    await followLog(t, stateDir, READY);
    const t0 = Date.now();
    const stop = parseStop((await t.runner().exec(stopScript({ stateDir, graceIntSec: 0.5, graceTermSec: 0.5 }), { timeoutMs: 30_000 })).stdout);
    assert.deepEqual(stop, { result: 'KILL', pid });
    assert.ok(Date.now() - t0 < 10_000);
    assert.deepEqual(groupMembers(pid), []);
    await assertGpusFree(t, p);
  });

  it('a server that fails on its own is reported as exited, with the reason in the log', async () => {
    const t = target();
    const p = fakeProfile(t, 'Lifecycle failing', await t.freePort(), { KIMI_FAKE_GPUS: '4' }); // -tp 8 on 4 GPUs
    const { stateDir } = await startServer(t, p);
    stopLater(t, stateDir);
    await waitFor('the server to exit', async () => (await status(t, stateDir)).state === 'exited', 20_000, 100);
    const log = await followLog(t, stateDir, 'World size (8) is larger than the number of available GPUs (4)');
    assert.ok(log.length > 0);
    assert.equal(parseStop((await t.runner().exec(stopScript({ stateDir, graceIntSec: 1, graceTermSec: 1 }))).stdout).result, 'not-running');
    assert.equal((await status(t, stateDir)).state, 'none');
  });

  it('a recorded pid now used by another process is reported stale and never signalled', async () => {
    const t = target();
    const stateDir = stateDirFor('Lifecycle stale');
    const dir = path.join(t.home, '.kimi-vllm', profileSlug('Lifecycle stale'));
    fs.mkdirSync(dir, { recursive: true });
    // This test process is alive, but it is not the process that was recorded (different start time).
    fs.writeFileSync(path.join(dir, 'server.pid'), `${process.pid} 1\n`);
    assert.equal((await status(t, stateDir)).state, 'stale');
    assert.deepEqual(parseStop((await t.runner().exec(stopScript({ stateDir, graceIntSec: 1, graceTermSec: 1 }))).stdout), { result: 'stale', pid: process.pid });
    assert.equal(fs.existsSync(path.join(dir, 'server.pid')), false);
    // No start time (nothing proves the process is ours), or the right one from before a reboot: stale too.
    const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    for (const record of [`${process.pid}\n`, `${process.pid} ${started} 00000000-0000-4000-8000-000000000000\n`]) {
      fs.writeFileSync(path.join(dir, 'server.pid'), record);
      assert.equal((await status(t, stateDir)).state, 'stale', record);
    }
    const fresh = await startServer(t, fakeProfile(t, 'Lifecycle stale', await t.freePort()));
    stopLater(t, fresh.stateDir);
    assert.notEqual(fresh.pid, process.pid, 'a stale record does not block a start');
  });

  it('probes: which tools exist, free disk space, a closed port', async () => {
    const t = target();
    const which = parseWhich((await t.runner().exec(whichScript({ venv: '', conda: '', commandPrefix: '' }))).stdout);
    for (const tool of ['vllm', 'modelscope', 'nvidia-smi']) assert.match(which[tool] ?? '', new RegExp(`/${tool}$`));
    const none = parseWhich((await t.runner().exec(whichScript({ venv: '~/no such venv', conda: '', commandPrefix: '' }))).stdout);
    assert.deepEqual(none, { vllm: null, modelscope: null, 'nvidia-smi': null }, 'a missing venv blanks the answers instead of breaking the script');
    const df = parseDiskFree((await t.runner().exec(diskFreeScript('~/not/yet/created'))).stdout);
    assert.ok(df);
    assert.equal(df.path, t.home, 'measured at the nearest existing parent');
    assert.ok(df.availableBytes > 0 && df.totalBytes >= df.availableBytes);
    assert.equal(await portOpen(t, await t.freePort()), false);
  });
}
