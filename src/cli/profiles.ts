import * as fs from 'node:fs';
import * as net from 'node:net';
import { defaultProfile, serverProfileSchema, type ServerProfile } from '../core/config/serverProfile';
import { parseSettings } from '../core/config/settings';
import { ServerManager } from '../core/server/serverManager';
import { defaultControlDir, ensureControlDir, LocalShell, SshConnection, type ShellRunner } from '../core/server/ssh';
import { UsageError } from './args';

// Which profile a kimi-vllm command acts on: --config FILE ({"servers":[…]}, the kimi.servers schema), --profile
// NAME, and flag overrides — validated by the same schema as the extension's settings.

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

export function resolveProfile(flags: Record<string, string | true>): ServerProfile {
  let profiles: ServerProfile[] = [];
  if (typeof flags.config === 'string') {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(flags.config, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read --config ${JSON.stringify(flags.config)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const servers = (raw as { servers?: unknown })?.servers;
    if (!Array.isArray(servers)) throw new UsageError(`--config ${flags.config}: expected {"servers": [ … ]}`);
    const { settings, problems } = parseSettings({ servers });
    if (problems.length) throw new UsageError(`--config ${flags.config}: ${problems.map((p) => `${p.setting.replace(/^kimi\./, '')}: ${p.message}`).join('; ')}`);
    profiles = settings.servers;
  }
  let base: ServerProfile;
  if (typeof flags.profile === 'string') {
    const found = profiles.find((p) => p.name === flags.profile);
    if (!found) throw new UsageError(`no profile named ${JSON.stringify(flags.profile)}${profiles.length ? ` (have: ${profiles.map((p) => p.name).join(', ')})` : ' (give --config FILE)'}`);
    base = found;
  } else {
    base = profiles[0] ?? defaultProfile();
  }
  const over: Record<string, unknown> = { ...base };
  if (typeof flags.host === 'string') over.host = flags.host;
  if (typeof flags.model === 'string') {
    if (/^[/~.]/.test(flags.model)) over.modelDir = flags.model;
    else over.model = flags.model;
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
  if (port !== undefined) over.port = port;
  if (tp !== undefined) over.tensorParallelSize = tp;
  if (maxLen !== undefined) over.maxModelLen = maxLen;
  const r = serverProfileSchema.safeParse(over);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UsageError(`${i.path.join('.') || 'profile'}: ${i.message}`);
  }
  return r.data;
}

export function runnerFor(profile: ServerProfile): ShellRunner & { close?(): Promise<void> } {
  return profile.host === 'local' ? new LocalShell() : new SshConnection({ destination: profile.host, controlDir: ensureControlDir(defaultControlDir()) });
}

export function managerFor(profile: ServerProfile): ServerManager {
  return new ServerManager(profile, { runner: runnerFor(profile), freeLocalPort, stopGrace: { intSec: 15, termSec: 10 } });
}

export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
