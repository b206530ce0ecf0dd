// Shared by the lifecycle tests: a private HOME with a model dir and a fake-GPU claims dir, profiles for the fake
// vllm/nvidia-smi/modelscope, managers that are always stopped and disposed, and conditions to wait on.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import { hostShellFor, type HostShellOptions } from '../../../src/core/server/hostShell';
import type { LifecycleState } from '../../../src/core/server/lifecycleTypes';
import { ServerManager, type ServerManagerDeps } from '../../../src/core/server/serverManager';
import { LocalShell } from '../../../src/core/server/ssh';
import { emulatorBin, groupMembers, isRunning, tempDir, waitFor } from '../server/kit';

export { emulatorBin, groupMembers, isRunning, tempDir, waitFor };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Fast fake timings: a whole start takes about a second. */
export const FAST = { KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5' } as const;

export interface LocalFixture {
  home: string;
  gpuDir: string;
  env: NodeJS.ProcessEnv;
  managers: ServerManager[];
  /** A manager over hostShellFor (streaming log follow) unless `deps.runner` says otherwise. */
  manager(p: ServerProfile, deps?: Partial<ServerManagerDeps>): ServerManager;
  profile(port: number, extra?: Record<string, unknown> & { fakeEnv?: Record<string, string> }): ServerProfile;
  /** A plain LocalShell with this fixture's environment (poll mode). */
  shell(): LocalShell;
  cleanup(): Promise<void>;
}

export function localFixture(opts: { path?: string } = {}): LocalFixture {
  const home = tempDir('lc-home');
  const gpuDir = path.join(home, 'gpus');
  fs.mkdirSync(path.join(home, 'models', 'Kimi-K2.5'), { recursive: true });
  fs.mkdirSync(gpuDir, { recursive: true });
  const env = { ...process.env, HOME: home, PATH: opts.path ?? `${emulatorBin}${path.delimiter}${process.env.PATH}` };
  const managers: ServerManager[] = [];
  const hostShell: HostShellOptions = { env, cwd: home };
  const f: LocalFixture = {
    home,
    gpuDir,
    env,
    managers,
    manager(p, deps = {}) {
      const m = new ServerManager(p, {
        runner: deps.runner ?? hostShellFor(p, hostShell).runner,
        pollMs: 100,
        stopGrace: { intSec: 5, termSec: 3 },
        startTimeoutMs: 60_000,
        backoffMs: { initial: 200, max: 1000 },
        healthEveryMs: 1000,
        ...deps,
      });
      managers.push(m);
      return m;
    },
    profile(port, extra = {}) {
      const { fakeEnv, ...rest } = extra;
      return serverProfileSchema.parse({
        name: `test-${port}`,
        port,
        modelDir: '~/models/Kimi-K2.5',
        env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: gpuDir, ...FAST, ...fakeEnv },
        ...rest,
      });
    },
    shell: () => new LocalShell({ env, cwd: home }),
    async cleanup() {
      await stopManagers(managers);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
  return f;
}

/** Stops (whatever a stop throws) and disposes every manager in `managers`, leaving the list empty. */
export async function stopManagers(managers: { stop(): Promise<unknown>; dispose(): Promise<void> }[]): Promise<void> {
  for (const m of managers.splice(0)) {
    await m.stop().catch(() => undefined);
    await m.dispose();
  }
}

/** Live fake-GPU claims in `gpuDir` (claims whose owner process still runs). */
export function liveClaims(gpuDir: string): number[] {
  const dir = path.join(gpuDir, 'claims');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      try {
        return (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { owner: number }).owner;
      } catch {
        return 0;
      }
    })
    .filter((owner) => owner > 0 && isRunning(owner));
}

/** Resolves with the first state that satisfies `pred` (the current one included), or rejects after `ms`. */
export function waitForState(m: ServerManager, what: string, pred: (s: LifecycleState) => boolean, ms = 30_000): Promise<LifecycleState> {
  return new Promise((resolve, reject) => {
    if (pred(m.state)) {
      resolve(m.state);
      return;
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}; state: ${JSON.stringify(m.state).slice(0, 400)}`));
    }, ms);
    const off = m.onState((s) => {
      if (pred(s)) {
        clearTimeout(timer);
        off();
        resolve(s);
      }
    });
  });
}

export async function chat(baseUrl: string, modelId: string, apiKey?: string): Promise<number> {
  const res = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 }),
    signal: AbortSignal.timeout(10_000),
  });
  await res.text();
  return res.status;
}
