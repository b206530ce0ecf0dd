import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultProfile, serverProfileSchema, type ServerProfile } from '../core/config/serverProfile';
import { parseSettings, preview } from '../core/config/settings';
import { ClusterManager } from '../core/cluster/clusterManager';
import { isClusterProfile } from '../core/cluster/clusterPlan';
import { freeLocalPort as coreFreeLocalPort, hostShellFor, type HostRunner, type HostShell } from '../core/server/hostShell';
import { ServerManager } from '../core/server/serverManager';
import { quote } from '../core/server/shellQuote';
import { parseDestination } from '../core/server/ssh';
import { UsageError } from './args';

// Which profile a kimi-vllm command acts on: --config FILE ({"servers":[…]}, the kimi.servers schema; default
// $KIMI_VLLM_CONFIG, else ~/.config/kimi-vllm/config.json when it exists), --profile NAME (default the first),
// and flag overrides — validated by the same schema as the extension's settings; an error names the field and the
// value. The server's state lives on its host under the profile's NAME (~/.kimi-vllm/<slug>), so the extension and
// every later kimi-vllm invocation with the same profile name find a server this one started.

export const PROFILE_FLAGS = {
  profile: { value: true },
  config: { value: true },
  host: { value: true },
  model: { value: true },
  port: { value: true },
  tp: { value: true },
  'max-model-len': { value: true },
  json: { value: false },
} as const;

/** The config file in effect: --config, $KIMI_VLLM_CONFIG, or ~/.config/kimi-vllm/config.json if present. */
export function configPath(flags: Record<string, string | true>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (typeof flags.config === 'string') return flags.config;
  if (env.KIMI_VLLM_CONFIG) return env.KIMI_VLLM_CONFIG;
  const home = env.HOME || os.homedir();
  const fallback = path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'kimi-vllm', 'config.json');
  return fs.existsSync(fallback) ? fallback : undefined;
}

export function loadProfiles(file: string): ServerProfile[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read the config file ${JSON.stringify(file)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const servers = (raw as { servers?: unknown })?.servers;
  if (!Array.isArray(servers)) throw new UsageError(`${file}: expected {"servers": [ … ]} (the kimi.servers setting), got ${preview(raw)}`);
  const { settings, problems } = parseSettings({ servers });
  if (problems.length) throw new UsageError(`${file}: ${problems.map((p) => `${p.setting.replace(/^kimi\./, '')}: ${p.message}`).join('; ')}`);
  return settings.servers;
}

export function resolveProfile(flags: Record<string, string | true>, env: NodeJS.ProcessEnv = process.env): ServerProfile {
  const file = configPath(flags, env);
  const profiles = file ? loadProfiles(file) : [];
  let base: ServerProfile;
  if (typeof flags.profile === 'string') {
    const found = profiles.find((p) => p.name === flags.profile);
    if (!found) throw new UsageError(`no profile named ${JSON.stringify(flags.profile)}${profiles.length ? ` (have: ${profiles.map((p) => JSON.stringify(p.name)).join(', ')})` : ' (give --config FILE)'}`);
    base = found;
  } else {
    base = profiles[0] ?? defaultProfile();
  }
  const over: Record<string, unknown> = { ...base };
  const flagOf: Record<string, string> = {};
  if (typeof flags.host === 'string') {
    over.host = flags.host;
    flagOf.host = '--host';
  }
  if (typeof flags.model === 'string') {
    // A path (absolute, ~/…, ./…) is the model directory; anything else a ModelScope id.
    if (/^[/~.]/.test(flags.model)) {
      over.modelDir = flags.model;
      flagOf.modelDir = '--model';
    } else {
      over.model = flags.model;
      over.modelDir = '';
      flagOf.model = '--model';
    }
  }
  const int = (name: string): number | undefined => {
    const v = flags[name];
    if (typeof v !== 'string') return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const port = int('port');
  const tp = int('tp');
  const maxLen = int('max-model-len');
  if (port !== undefined) [over.port, flagOf.port] = [port, '--port'];
  if (tp !== undefined) [over.tensorParallelSize, flagOf.tensorParallelSize] = [tp, '--tp'];
  if (maxLen !== undefined) [over.maxModelLen, flagOf.maxModelLen] = [maxLen, '--max-model-len'];
  const r = serverProfileSchema.safeParse(over);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = i.path.map(String).join('.') || 'profile';
    const value = i.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), over);
    const via = flagOf[field] ? `${flagOf[field]} → ` : '';
    throw new UsageError(`${via}${field}: ${i.message} (got ${preview(value)})`);
  }
  return r.data;
}

/** The host shell of a profile: LocalShell, or SSH with a private control dir (closed by dispose/close).
 *  The profile's sshConfigFile, else $KIMI_VLLM_SSH_CONFIG: an ssh config file to use instead of ~/.ssh/config
 *  (`ssh -F`). */
export function hostShell(profile: ServerProfile, env: NodeJS.ProcessEnv = process.env): HostShell {
  return hostShellFor(profile, !profile.sshConfigFile && env.KIMI_VLLM_SSH_CONFIG ? { sshConfigFile: env.KIMI_VLLM_SSH_CONFIG } : {});
}

export function runnerFor(profile: ServerProfile, env: NodeJS.ProcessEnv = process.env): HostShell['runner'] {
  return hostShell(profile, env).runner;
}

export function managerFor(profile: ServerProfile, env: NodeJS.ProcessEnv = process.env): ServerManager | ClusterManager {
  const grace = (name: string, fallback: number) => {
    const v = Number(env[name]);
    return Number.isFinite(v) && v >= 0 ? v : fallback;
  };
  // KIMI_VLLM_STOP_INT_SEC / _TERM_SEC: how long stop waits after SIGINT, then SIGTERM (default 15 and 10).
  const stopGrace = { intSec: grace('KIMI_VLLM_STOP_INT_SEC', 15), termSec: grace('KIMI_VLLM_STOP_TERM_SEC', 10) };
  if (isClusterProfile(profile)) return new ClusterManager(profile, { runnerFor: clusterRunners(profile, env), freeLocalPort, stopGrace });
  return new ServerManager(profile, { runner: runnerFor(profile, env), freeLocalPort, stopGrace });
}

/** One runner per host of a cluster (each SSH destination its own multiplexed connection, the profile's ssh config
 *  file or $KIMI_VLLM_SSH_CONFIG for all). */
export function clusterRunners(profile: ServerProfile, env: NodeJS.ProcessEnv = process.env): (host: string) => HostRunner {
  const runners = new Map<string, HostRunner>();
  return (host) => {
    let r = runners.get(host);
    if (!r) {
      r = hostShell({ ...profile, host }, env).runner;
      runners.set(host, r);
    }
    return r;
  };
}

export const freeLocalPort = coreFreeLocalPort;

/** How to reach a server on an SSH host from this machine once kimi-vllm has exited. */
export function tunnelHint(profile: ServerProfile): { command: string; baseUrl: string } | undefined {
  if (profile.host === 'local') return undefined;
  const remote = profile.bindHost === '0.0.0.0' ? '127.0.0.1' : profile.bindHost === '::' ? '[::1]' : profile.bindHost.includes(':') ? `[${profile.bindHost}]` : profile.bindHost;
  const dest = parseDestination(profile.host);
  const configFile = (profile.sshConfigFile || process.env.KIMI_VLLM_SSH_CONFIG)?.replace(/^~(?=\/|$)/, os.homedir());
  const config = configFile ? ` -F ${quote(configFile)}` : '';
  const command = `ssh${config} -N -L 127.0.0.1:${profile.port}:${remote}:${profile.port}${dest.port ? ` -p ${dest.port}` : ''} ${dest.target}`;
  return { command, baseUrl: `http://127.0.0.1:${profile.port}/v1` };
}
