// Server-lifecycle benchmarks (issue 3's Performance section), against the fake vllm/nvidia-smi and a real sshd:
//  1. the lag between the server's first /health 200 and the manager reporting 'ready' — N local starts with the
//     log streamed (tail -F, the default) and N with it polled (every 400 ms), median / p90 / max;
//  2. a status refresh (statusScript) over the multiplexed SSH master vs a fresh `ssh` per command — median each
//     and the ratio.
// Run: npx tsc -p tsconfig.test.json && node out/test/bench/lifecycleBench.js [--starts N] [--refreshes N]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serverProfileSchema } from '../../src/core/config/serverProfile';
import { hostShellFor } from '../../src/core/server/hostShell';
import { parseStatus, statusScript } from '../../src/core/server/remoteScripts';
import { ServerManager } from '../../src/core/server/serverManager';
import { remoteCommand } from '../../src/core/server/ssh';
import { repoRoot } from '../support/paths';
import { freePort, startSshHost } from '../support/sshHost';

const bin = path.join(repoRoot, 'test', 'emulator', 'bin');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function stats(xs: number[]): { median: number; p90: number; max: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { median: s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2, p90: q(0.9), max: s.at(-1)!, n: s.length };
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

/** One start: polls /health back to back (a request every ~1 ms: while loading the emulator resets connections at
 *  once) from the launch on, until the first 200; returns ready-event time minus first-200 time. Negative: the
 *  manager reported 'ready' before this poller's next request saw the 200. */
async function readyLag(mode: 'stream' | 'poll', home: string, gpuDir: string): Promise<number> {
  const port = await freePort();
  const profile = serverProfileSchema.parse({
    name: `bench-${mode}-${port}`,
    port,
    modelDir: '~/m',
    env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: gpuDir, KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '20' },
  });
  const env = { ...process.env, HOME: home, PATH: `${bin}${path.delimiter}${process.env.PATH}` };
  const m = new ServerManager(profile, { runner: hostShellFor(profile, { env, cwd: home }).runner, follow: mode, stopGrace: { intSec: 5, termSec: 3 } });
  let firstHealth: number | undefined;
  let readyAt: number | undefined;
  let polling = true;
  const poller = (async () => {
    const deadline = Date.now() + 120_000;
    while (firstHealth === undefined && Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(500) });
        await res.text();
        if (res.status === 200) firstHealth = performance.now();
      } catch {
        /* not up yet */
      }
      if (!polling) await new Promise((r) => setTimeout(r, 1));
    }
  })();
  m.onState((s) => {
    if (s.kind === 'ready' && readyAt === undefined) readyAt = performance.now();
  });
  try {
    const s = await m.start();
    if (s.kind !== 'ready') throw new Error(`start failed: ${JSON.stringify(s)}`);
    polling = false;
    await poller;
    if (firstHealth === undefined || readyAt === undefined) throw new Error('no /health 200 seen');
    return readyAt - firstHealth;
  } finally {
    polling = false;
    await m.stop().catch(() => undefined);
    await m.dispose();
  }
}

function runSsh(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || parseStatus(out).state === undefined) reject(new Error(`ssh exited ${code}`));
      else resolve(performance.now() - started);
    });
  });
}

async function main(): Promise<void> {
  const starts = arg('starts', 10);
  const refreshes = arg('refreshes', 20);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-'));
  fs.mkdirSync(path.join(home, 'm'));
  const gpuDir = path.join(home, 'gpus');
  fs.mkdirSync(gpuDir);
  try {
    console.log(`/health 200 → 'ready' lag over ${starts} local starts each (fake vllm; a request every ~1 ms finds the first 200 —`);
    console.log(`  a value ≤ 0 means the manager reported 'ready' before that poller saw it):`);
    for (const mode of ['stream', 'poll'] as const) {
      const lags: number[] = [];
      for (let i = 0; i < starts; i++) lags.push(await readyLag(mode, home, gpuDir));
      const s = stats(lags);
      console.log(`  ${mode === 'stream' ? 'log streamed (tail -F, default)' : 'log polled every 400 ms      '}: median ${ms(s.median)}, p90 ${ms(s.p90)}, max ${ms(s.max)}`);
    }

    const host = await startSshHost({ name: 'bench', binDirs: [bin] });
    const controlRoot = fs.mkdtempSync('/tmp/kb-');
    try {
      const profile = serverProfileSchema.parse({ name: 'bench-ssh', host: host.alias });
      const shell = hostShellFor(profile, { sshConfigFile: host.configFile, controlRoot, connectTimeoutSec: 5 });
      const script = statusScript({ stateDir: '~/.kimi-vllm/bench' });
      await shell.runner.exec(script, { timeoutMs: 20_000 }); // the master is up
      const muxed: number[] = [];
      for (let i = 0; i < refreshes; i++) {
        const t = performance.now();
        parseStatus((await shell.runner.exec(script, { timeoutMs: 20_000 })).stdout);
        muxed.push(performance.now() - t);
      }
      const fresh: number[] = [];
      const freshArgs = ['-F', host.configFile, '-o', 'BatchMode=yes', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '--', host.alias, remoteCommand(script)];
      for (let i = 0; i < refreshes; i++) fresh.push(await runSsh(freshArgs));
      await shell.runner.close?.();
      const a = stats(muxed);
      const b = stats(fresh);
      console.log(`status refresh over SSH (${host.mode === 'netns' ? 'sshd in its own network namespace' : 'sshd on 127.0.0.1'}), ${refreshes} each:`);
      console.log(`  multiplexed master : median ${ms(a.median)}, p90 ${ms(a.p90)}`);
      console.log(`  fresh ssh each time: median ${ms(b.median)}, p90 ${ms(b.p90)}`);
      console.log(`  ratio (fresh / multiplexed): ${(b.median / a.median).toFixed(1)}×`);
    } finally {
      await host.stop();
      fs.rmSync(controlRoot, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
