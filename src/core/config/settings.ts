import { serverProfileSchema, type ServerProfile } from './serverProfile';
import * as z from 'zod/mini';
import { described } from './zodMini';

// The one schema for every `kimi.*` setting. package.json's contributes.configuration is generated from it
// (scripts/gen-settings.mjs, via settingsContribution.ts) and a unit test fails when the two differ.

const baseUrl = z.string().check(
  z.maxLength(2048),
  z.refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials, e.g. http://127.0.0.1:8000/v1'),
);

const num = (min: number, max: number) => z.number().check(z.gte(min), z.lte(max));
const int = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

export const settingsShape = {
  servers: described(z._default(z.array(serverProfileSchema).check(z.maxLength(100)), []), 'Server profiles: where and how `vllm serve` runs. Empty = this machine with the official Kimi-K2.5 command.'),
  activeServer: described(z._default(z.string().check(z.maxLength(64)), ''), 'Name of the server profile in use; empty = the first one.'),
  'endpoint.baseUrl': described(z._default(baseUrl, 'http://127.0.0.1:8000/v1'), 'OpenAI-compatible base URL of a running server, used when the extension does not manage the server itself.'),
  'endpoint.model': described(z._default(z.string().check(z.maxLength(256)), ''), 'Model id to request; empty = the first id from /v1/models.'),
  'chat.mode': described(z._default(z.enum(['thinking', 'instant']), 'thinking'), 'Default mode for new chat messages.', {
    enumDescriptions: ['Kimi thinks before answering (temperature 1.0).', 'Answer directly, no thinking (temperature 0.6).'],
  }),
  'chat.thinkingTemperature': described(z._default(num(0, 2), 1), 'Sampling temperature in thinking mode (recommended 1.0).'),
  'chat.instantTemperature': described(z._default(num(0, 2), 0.6), 'Sampling temperature in instant mode (recommended 0.6).'),
  'chat.topP': described(z._default(num(0, 1), 0.95), 'top_p for both modes (recommended 0.95).'),
  'tools.enabled': described(z._default(z.boolean(), true), 'Let Kimi use tools in the chat: read, list and search the workspace files, see problems, symbols, open editors and the selection, propose edits and run commands (those two wait for your Accept). Never in an untrusted workspace (Restricted Mode).'),
  'tools.maxRounds': described(z._default(int(1, 50), 8), 'How many tool-calling rounds one message may take.'),
  'tools.enableDemoTools': described(z._default(z.boolean(), false), "Offer the tutorial's demo tools (add, mul, compare, count_letter_in_string)."),
  'explain.mode': described(z._default(z.enum(['instant', 'thinking']), 'instant'), 'Mode of the inline explanations ("Explain Selection", "Explain This Problem").', {
    enumDescriptions: ['Explain directly, no thinking (fast; temperature 0.6).', 'Kimi thinks first (slower; the thinking can be shown in the explanation; temperature 1.0).'],
  }),
  'status.pollSeconds': described(z._default(int(2, 3600), 15), 'How often the status bar checks the server.'),
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
    const r = z.safeParse(schema, value);
    if (r.success) {
      out[key] = r.data;
    } else {
      problems.push(...describeIssues(`${SETTINGS_SECTION}.${key}`, r.error, value));
      out[key] = z.parse(schema, undefined);
    }
  }
  return { settings: out as Settings, problems };
}

function parseProfiles(values: unknown[], problems: SettingsProblem[]): ServerProfile[] {
  const profiles: ServerProfile[] = [];
  const seen = new Set<string>();
  values.slice(0, 100).forEach((v, i) => {
    const r = z.safeParse(serverProfileSchema, v);
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

function describeIssues(where: string, error: z.core.$ZodError, root: unknown): SettingsProblem[] {
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

