// GPU hosts for the cluster tests: real sshd hosts on one LAN (network namespaces, each with its own address), the
// fake vllm / ray / nvidia-smi / modelscope on their PATH, each with its own fake GPUs, Ray temp dir and HOME, and one
// ssh config file with all their aliases (as a user's ~/.ssh/config would have).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serverProfileSchema, type ServerProfile } from '../../../src/core/config/serverProfile';
import { ClusterManager, type ClusterManagerDeps } from '../../../src/core/cluster/clusterManager';
import type { ClusterProfile } from '../../../src/core/cluster/clusterPlan';
import { hostShellFor, type HostRunner } from '../../../src/core/server/hostShell';
import { createSshLan, startSshHost, type SshHost, type SshLan } from '../../support/sshHost';
import { liveClaims, stopManagers } from '../lifecycle/lifecycleKit';
import { emulatorBin, tempDir } from '../server/kit';

export const FAST = { KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5' } as const;

export interface GpuHost {
  host: SshHost;
  gpuDir: string;
  rayDir: string;
}

export interface ClusterFixture {
  lan: SshLan;
  hosts: GpuHost[];
  /** One ssh config with every host's alias. */
  sshConfig: string;
  root: string;
  managers: ClusterManager[];
  /** A cluster profile: host[0] the head, the others workers, fake timings, the model at ~/models/Kimi-K2.5. */
  profile(name: string, extra?: Record<string, unknown> & { cluster?: Record<string, unknown>; workers?: number[] }): ClusterProfile;
  manager(p: ClusterProfile, deps?: Partial<ClusterManagerDeps>): ClusterManager;
  /** Processes of the cluster still running on a host (fake ray/vllm and their workers/actors), by command line. */
  clusterProcesses(h: GpuHost): string[];
  /** Live fake-GPU claims on a host. */
  claims(h: GpuHost): number[];
  /** Pid files of the cluster left in a host's state dirs. */
  pidFiles(h: GpuHost): string[];
  cleanup(): Promise<void>;
}

export interface HostSpec {
  name: string;
  gpus?: number;
  model?: string;
  /** Put a model directory with config.json and N shards there (default 64). false: no model. */
  shards?: number | false;
  env?: Record<string, string>;
}

export async function clusterFixture(specs: HostSpec[]): Promise<ClusterFixture> {
  const root = tempDir('cluster');
  const controlRoot = fs.mkdtempSync('/tmp/kcl-');
  const lan = await createSshLan();
  const hosts: GpuHost[] = [];
  const managers: ClusterManager[] = [];
  try {
    for (const spec of specs) {
      const gpuDir = path.join(root, `${spec.name}-gpus`);
      const rayDir = path.join(root, `${spec.name}-ray`);
      fs.mkdirSync(gpuDir, { recursive: true });
      const host = await startSshHost({
        name: spec.name,
        lan,
        binDirs: [emulatorBin],
        env: {
          KIMI_FAKE_GPUS: String(spec.gpus ?? 8),
          KIMI_FAKE_GPU_MODEL: spec.model ?? 'NVIDIA H200',
          KIMI_FAKE_GPU_DIR: gpuDir,
          RAY_TMPDIR: rayDir,
          ...spec.env,
        },
      });
      if (spec.shards !== false) writeModel(path.join(host.home, 'models', 'Kimi-K2.5'), spec.shards ?? 64);
      hosts.push({ host, gpuDir, rayDir });
    }
  } catch (e) {
    for (const h of hosts) await h.host.stop();
    lan.stop();
    throw e;
  }
  const sshConfig = path.join(root, 'ssh_config');
  fs.writeFileSync(sshConfig, hosts.map((h) => fs.readFileSync(h.host.configFile, 'utf8')).join('\n'));

  const f: ClusterFixture = {
    lan,
    hosts,
    sshConfig,
    root,
    managers,
    profile(name, extra = {}) {
      const { cluster, workers, env, ...rest } = extra as { cluster?: Record<string, unknown>; workers?: number[]; env?: Record<string, string> };
      const others = workers ?? hosts.slice(1).map((_, i) => i + 1);
      return serverProfileSchema.parse({
        name,
        host: hosts[0]!.host.alias,
        modelDir: '~/models/Kimi-K2.5',
        port: 8000,
        env: { ...FAST, ...env },
        ...rest,
        cluster: { workers: others.map((i) => hosts[i]!.host.alias), ...cluster },
      }) as ClusterProfile;
    },
    manager(p, deps = {}) {
      // Each manager has its own connections (like each VS Code window or CLI run): dispose() closes them.
      const runners = new Map<string, HostRunner>();
      const m = new ClusterManager(p, {
        runnerFor: (host) => {
          let r = runners.get(host);
          if (!r) {
            r = hostShellFor({ host }, { sshConfigFile: sshConfig, connectTimeoutSec: 5, controlRoot }).runner;
            runners.set(host, r);
          }
          return r;
        },
        stopGrace: { intSec: 5, termSec: 3 },
        startTimeoutMs: 60_000,
        healthEveryMs: 1000,
        scriptTimeoutMs: 8000,
        backoffMs: { initial: 200, max: 1000 },
        joinTimeoutMs: 30_000,
        ...deps,
      });
      managers.push(m);
      return m;
    },
    clusterProcesses(h) {
      const ns = h.host.namespace;
      if (!ns) return [];
      let pids: string[] = [];
      try {
        pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
      } catch {
        return [];
      }
      const out: string[] = [];
      for (const pid of pids) {
        try {
          const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
          const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
          if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
          if (/emulator\/(ray|vllm)|ray::|VLLM::|RayWorkerWrapper/.test(cmd)) out.push(`${pid} ${cmd.slice(0, 160)}`);
        } catch {
          /* gone */
        }
      }
      return out;
    },
    claims: (h) => liveClaims(h.gpuDir),
    pidFiles(h) {
      const dir = path.join(h.host.home, '.kimi-vllm');
      const found: string[] = [];
      const walk = (d: string) => {
        if (!fs.existsSync(d)) return;
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.name === 'server.pid') found.push(p);
        }
      };
      walk(dir);
      return found;
    },
    async cleanup() {
      await stopManagers(managers);
      for (const h of hosts) await h.host.stop();
      lan.stop();
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(controlRoot, { recursive: true, force: true });
    },
  };
  return f;
}

/** A model directory as the download leaves it: config.json and the safetensors shards (empty files). */
export function writeModel(dir: string, shards: number): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), '{"architectures": ["KimiK25ForConditionalGeneration"]}');
  for (let i = 1; i <= shards; i++) fs.writeFileSync(path.join(dir, `model-${String(i).padStart(5, '0')}-of-000064.safetensors`), '');
}

export function profileOf(p: ServerProfile): ClusterProfile {
  if (!p.cluster) throw new Error('not a cluster profile');
  return p as ClusterProfile;
}
