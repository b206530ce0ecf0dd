import { z } from 'zod';
import { serverProfileSchema, type ServerProfile } from './serverProfile';

// The one schema for every `kimi.*` setting. package.json's contributes.configuration is generated from it
// (scripts/gen-settings.mjs) and a unit test fails when the two differ.

const baseUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials, e.g. http://127.0.0.1:8000/v1');

export const settingsShape = {
  servers: z.array(serverProfileSchema).max(100).default([]).describe('Server profiles: where and how `vllm serve` runs. Empty = this machine with the official Kimi-K2.5 command.'),
  activeServer: z.string().max(64).default('').describe('Name of the server profile in use; empty = the first one.'),
  'endpoint.baseUrl': baseUrl.default('http://127.0.0.1:8000/v1').describe('OpenAI-compatible base URL of a running server, used when the extension does not manage the server itself.'),
  'endpoint.model': z.string().max(256).default('').describe('Model id to request; empty = the first id from /v1/models.'),
  'chat.mode': z.enum(['thinking', 'instant']).default('thinking').meta({ enumDescriptions: ['Kimi thinks before answering (temperature 1.0).', 'Answer directly, no thinking (temperature 0.6).'] }).describe('Default mode for new chat messages.'),
  'chat.thinkingTemperature': z.number().min(0).max(2).default(1).describe('Sampling temperature in thinking mode (recommended 1.0).'),
  'chat.instantTemperature': z.number().min(0).max(2).default(0.6).describe('Sampling temperature in instant mode (recommended 0.6).'),
  'chat.topP': z.number().min(0).max(1).default(0.95).describe('top_p for both modes (recommended 0.95).'),
  'tools.maxRounds': z.number().int().min(1).max(50).default(8).describe('How many tool-calling rounds one message may take.'),
  'tools.enableDemoTools': z.boolean().default(false).describe('Offer the tutorial\'s demo tools (add, mul, compare, count_letter_in_string).'),
  'explain.mode': z.enum(['instant', 'thinking']).default('instant').describe('Mode used by "Explain Selection".'),
  'status.pollSeconds': z.number().int().min(2).max(3600).default(15).describe('How often the status bar checks the server.'),
} as const;

export const settingsSchema = z.strictObject(settingsShape);
export type Settings = z.output<typeof settingsSchema>;
export type SettingKey = keyof typeof settingsShape;
export const SETTINGS_SECTION = 'kimi';

/** Settings whose change needs the server restarted (drives the "Restart server now?" prompt). */
export const RESTART_SETTINGS: readonly SettingKey[] = ['servers', 'activeServer'];

export interface SettingsProblem {
  /** e.g. `kimi.servers[1].port` */
  setting: string;
  message: string;
}

/** Parses raw values key by key: a bad value falls back to its default (or, in `servers`, drops only the bad
 *  profile) and is reported with the setting's full name and the offending value — nothing else is lost. */
export function parseSettings(raw: Partial<Record<SettingKey, unknown>>): { settings: Settings; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(settingsShape) as SettingKey[]) {
    const schema = settingsShape[key];
    const value = raw[key];
    if (key === 'servers' && Array.isArray(value)) {
      out[key] = parseProfiles(value, problems);
      continue;
    }
    const r = schema.safeParse(value);
    if (r.success) {
      out[key] = r.data;
    } else {
      problems.push(...describeIssues(`${SETTINGS_SECTION}.${key}`, r.error, value));
      out[key] = schema.parse(undefined);
    }
  }
  return { settings: out as Settings, problems };
}

function parseProfiles(values: unknown[], problems: SettingsProblem[]): ServerProfile[] {
  const profiles: ServerProfile[] = [];
  const seen = new Set<string>();
  values.slice(0, 100).forEach((v, i) => {
    const r = serverProfileSchema.safeParse(v);
    const where = `${SETTINGS_SECTION}.servers[${i}]`;
    if (!r.success) {
      problems.push(...describeIssues(where, r.error, v));
      return;
    }
    if (seen.has(r.data.name)) {
      problems.push({ setting: `${where}.name`, message: `duplicate profile name ${JSON.stringify(r.data.name)}; this profile is ignored` });
      return;
    }
    seen.add(r.data.name);
    profiles.push(r.data);
  });
  if (values.length > 100) problems.push({ setting: `${SETTINGS_SECTION}.servers`, message: 'more than 100 profiles; the rest are ignored' });
  return profiles;
}

function describeIssues(where: string, error: z.ZodError, root: unknown): SettingsProblem[] {
  return error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    const got = valueAt(root, issue.path);
    return { setting: `${where}${path}`, message: `${issue.message} (got ${preview(got)})` };
  });
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** A short, single-line, safe rendering of a user value for error messages. */
export function preview(value: unknown): string {
  let s: string;
  try {
    s = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  s = s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** The profile in use: the one named by activeServer, else the first, else undefined. */
export function activeProfile(settings: Settings): ServerProfile | undefined {
  return settings.servers.find((p) => p.name === settings.activeServer) ?? settings.servers[0];
}

/** Settings that can run commands or redirect code to another server are user/machine-only: a workspace's
 *  .vscode/settings.json (possibly from a cloned repository) must not set them. */
const SCOPES: Partial<Record<SettingKey, string>> = { servers: 'machine', activeServer: 'machine', 'endpoint.baseUrl': 'machine' };

/** contributes.configuration.properties as package.json must declare them. */
export function contributedConfiguration(): Record<string, Record<string, unknown>> {
  const props: Record<string, Record<string, unknown>> = {};
  let order = 0;
  for (const key of Object.keys(settingsShape) as SettingKey[]) {
    const json = z.toJSONSchema(settingsShape[key], { io: 'input', unrepresentable: 'throw' }) as Record<string, unknown>;
    delete json.$schema;
    const entry: Record<string, unknown> = { ...json, order: order++ };
    const scope = SCOPES[key];
    if (scope) entry.scope = scope;
    props[`${SETTINGS_SECTION}.${key}`] = entry;
  }
  return props;
}
