import * as vscode from 'vscode';
import { RESTART_SETTINGS } from '../../core/config/settings';
import { Disposable } from '../lifecycle';
import type { Services } from '../services';
import { isRunning } from './presentation';
import { sameProfile } from './profiles';
import { restartWithProgress } from './startFlow';

/** When a setting that needs a restart changes what the running server would be, offers "Restart server now". */
export class RestartOffer extends Disposable {
  private asking = false;

  constructor(private readonly s: Services) {
    super();
    this.register(s.config.onDidChange(({ keys }) => {
      if (keys.some((k) => RESTART_SETTINGS.includes(k))) void this.maybeOffer();
    }));
  }

  private async maybeOffer(): Promise<void> {
    const { server } = this.s;
    const st = server.state;
    if (this.asking || !isRunning(st) || st.kind === 'stopping') return;
    const running = server.runningProfile;
    const wanted = server.profile();
    if (sameProfile(running, wanted)) return;
    const message =
      wanted.name === running.name
        ? `Kimi: the settings of the running server "${running.name}" changed. They take effect when it restarts.`
        : `Kimi: "${wanted.name}" is now the active server profile, but "${running.name}" is still running.`;
    this.asking = true;
    try {
      const pick = await vscode.window.showInformationMessage(message, 'Restart server now');
      if (pick) await restartWithProgress(this.s);
    } finally {
      this.asking = false;
    }
  }
}
