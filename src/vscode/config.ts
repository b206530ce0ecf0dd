import * as vscode from 'vscode';
import { parseSettings, SETTINGS_SECTION, settingsShape, type SettingKey, type Settings, type SettingsProblem } from '../core/config/settings';
import { Disposable } from './lifecycle';

/** Reads `kimi.*` through the one zod schema; reports bad values once per distinct problem, naming field and value. */
export class ConfigService extends Disposable {
  private current: Settings;
  private readonly reported = new Set<string>();
  private readonly changed = this.register(new vscode.EventEmitter<{ settings: Settings; keys: SettingKey[] }>());
  readonly onDidChange = this.changed.event;

  constructor(private readonly log: vscode.LogOutputChannel) {
    super();
    this.current = this.read();
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(SETTINGS_SECTION)) return;
        const keys = (Object.keys(settingsShape) as SettingKey[]).filter((k) => e.affectsConfiguration(`${SETTINGS_SECTION}.${k}`));
        this.current = this.read();
        this.changed.fire({ settings: this.current, keys });
      }),
    );
  }

  get settings(): Settings {
    return this.current;
  }

  private read(): Settings {
    const cfg = vscode.workspace.getConfiguration(SETTINGS_SECTION);
    const raw: Partial<Record<SettingKey, unknown>> = {};
    for (const key of Object.keys(settingsShape) as SettingKey[]) raw[key] = cfg.get(key);
    const { settings, problems } = parseSettings(raw);
    this.report(problems);
    return settings;
  }

  private report(problems: SettingsProblem[]): void {
    for (const p of problems) {
      const line = `${p.setting}: ${p.message}`;
      if (this.reported.has(line)) continue;
      this.reported.add(line);
      this.log.warn(`Invalid setting ${line}; using the default instead.`);
      void vscode.window.showWarningMessage(`Kimi: invalid setting ${line}. The default is used instead.`, 'Open Settings').then((pick) => {
        if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', p.setting.replace(/\[.*$/, ''));
      });
    }
  }
}
