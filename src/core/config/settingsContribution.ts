import { settingsShape, SETTINGS_SECTION, type SettingKey } from './settings';
import * as z from 'zod/mini';
import './zodMini';

// Kept apart from settings.ts so the JSON-schema generator never reaches the extension bundle: only
// scripts/gen-settings.mjs and the unit test that checks package.json use it.

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
