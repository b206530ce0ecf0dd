// Server profiles as the settings define them, and writing a change back into `kimi.servers`.
import * as vscode from 'vscode';
import { defaultProfile, type ServerProfile } from '../../core/config/serverProfile';
import { activeProfile, SETTINGS_SECTION, type Settings } from '../../core/config/settings';
import type { Fix } from '../../core/server/diagnosis';
import type { ConfigService } from '../config';

/** The profiles to choose from: kimi.servers, or this machine with the official command when there are none. */
export function profilesOf(settings: Settings): ServerProfile[] {
  return settings.servers.length > 0 ? settings.servers : [defaultProfile()];
}

/** kimi.activeServer (or the first profile), else the implicit default. */
export function activeOf(settings: Settings): ServerProfile {
  return activeProfile(settings) ?? defaultProfile();
}

export function sameProfile(a: ServerProfile, b: ServerProfile): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export type ProfileSetting = NonNullable<Fix['setting']>;

/**
 * Writes one field of a profile into kimi.servers at the user level (the setting is machine-scoped: in a remote
 * window VS Code stores it in that machine's settings). The implicit default profile becomes an explicit entry
 * holding only its name and the changed field. For extraArgs the value is `{ remove: [...] }`.
 */
export async function writeProfileSetting(profileName: string, setting: ProfileSetting): Promise<void> {
  const cfg = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  const raw = cfg.get<unknown>('servers');
  const servers: unknown[] = Array.isArray(raw) ? raw.map((p) => (p && typeof p === 'object' ? { ...(p as object) } : p)) : [];
  let entry = servers.find((p): p is Record<string, unknown> => !!p && typeof p === 'object' && (p as { name?: unknown }).name === profileName);
  if (!entry) {
    entry = { name: profileName };
    servers.push(entry);
  }
  if (setting.key === 'extraArgs') {
    const remove = new Set(isRemoval(setting.value) ? setting.value.remove : []);
    const current = Array.isArray(entry.extraArgs) ? (entry.extraArgs as unknown[]) : [];
    entry.extraArgs = current.filter((a) => typeof a !== 'string' || !remove.has(a));
  } else {
    entry[setting.key] = setting.value;
  }
  await cfg.update('servers', servers, vscode.ConfigurationTarget.Global);
}

function isRemoval(v: unknown): v is { remove: string[] } {
  return !!v && typeof v === 'object' && Array.isArray((v as { remove?: unknown }).remove);
}

/** Makes `name` the active profile. */
export async function writeActiveProfile(name: string): Promise<void> {
  await vscode.workspace.getConfiguration(SETTINGS_SECTION).update('activeServer', name, vscode.ConfigurationTarget.Global);
}

/** Resolves once the parsed settings satisfy `cond` (configuration events arrive a moment after update()). */
export function settingsSettled(config: ConfigService, cond: (s: Settings) => boolean, timeoutMs = 5000): Promise<boolean> {
  if (cond(config.settings)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sub.dispose();
      resolve(cond(config.settings));
    }, timeoutMs);
    const sub = config.onDidChange(({ settings }) => {
      if (!cond(settings)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(true);
    });
  });
}
