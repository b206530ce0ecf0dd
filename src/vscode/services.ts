import type * as vscode from 'vscode';
import type { ConfigService } from './config';
import type { Secrets } from './secrets';
import type { ServerService } from './server/serverService';
import type { ServerStatusService } from './serverStatus';

/** Everything command areas may use, created once in activate(). */
export interface Services {
  readonly context: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  readonly config: ConfigService;
  readonly secrets: Secrets;
  readonly status: ServerStatusService;
  /** The server the extension manages (start/stop/reattach) for the active profile. */
  readonly server: ServerService;
}
