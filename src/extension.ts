import * as vscode from 'vscode';
import { ChatViewProvider, CHAT_VIEW_ID, type ChatTestHook } from './vscode/chatView';
import { ClusterView, type ClusterViewTestHook } from './vscode/cluster/clusterView';
import { registerChatCommands } from './vscode/commands/chatCommands';
import { ExplainCommands } from './vscode/commands/explainCommands';
import { registerServerCommands } from './vscode/commands/serverCommands';
import { registerSettingsCommands } from './vscode/commands/settingsCommands';
import { registerToolCommands } from './vscode/commands/toolCommands';
import { ConfigService } from './vscode/config';
import type { ExplainTestHook } from './vscode/explain/explainController';
import { Secrets } from './vscode/secrets';
import { ServerContextKeys } from './vscode/server/contextKeys';
import { RestartOffer } from './vscode/server/restartOffer';
import { ServerService } from './vscode/server/serverService';
import { ServerStatusService } from './vscode/serverStatus';
import type { Services } from './vscode/services';
import { StatusBar } from './vscode/statusBar';

const loadedAt = performance.now();

export interface KimiApi {
  /** Milliseconds from this module's first statement to the end of activate(). */
  readonly activationMs: number;
  readonly services: Services;
  /** The managed server: state, start/stop, profiles, the current base URL (also at services.server). */
  readonly server: ServerService;
  /** The chat panel's host side, for the integration tests (drive it as the webview would, observe what it posts). */
  readonly chat: ChatTestHook;
  /** Inline explanations, for the integration tests (created on first use). */
  readonly explain: ExplainTestHook;
  /** The Cluster Nodes view, for the integration tests (what it shows for each node). */
  readonly cluster: ClusterViewTestHook;
}

/** Set while active: closes connections and log followers on deactivate (never stops a server). */
let shutdown: (() => Promise<void>) | undefined;

export function activate(context: vscode.ExtensionContext): KimiApi {
  const log = vscode.window.createOutputChannel('Kimi', { log: true });
  context.subscriptions.push(log);
  try {
    const config = own(context, new ConfigService(log));
    const secrets = new Secrets(context.secrets);
    const status = own(context, new ServerStatusService(config, secrets, log));
    const server = own(context, new ServerService(config, secrets, log));
    const services: Services = { context, log, config, secrets, status, server };
    // A ready managed server is what the status checks and the chat talk to (for SSH: the tunnel's local end).
    context.subscriptions.push(server.onDidChange((s) => status.setManagedBaseUrl(s.kind === 'ready' ? s.baseUrl : undefined)));

    const chat = own(context, new ChatViewProvider(context.extensionUri, services));
    const explain = own(context, new ExplainCommands(services, chat));
    const cluster = own(context, new ClusterView(services));
    context.subscriptions.push(
      registerServerCommands(services),
      registerChatCommands(services, chat),
      registerSettingsCommands(services),
      registerToolCommands(services),
      new StatusBar(status, server, config),
      new ServerContextKeys(status, server),
      new RestartOffer(services),
      vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, {
        webviewOptions: { retainContextWhenHidden: false },
      }),
    );
    status.start();
    server.reattachInBackground(); // not awaited: activation never waits on a shell or SSH
    shutdown = () => server.shutdown();

    const activationMs = performance.now() - loadedAt;
    log.info(`Activated in ${activationMs.toFixed(1)} ms`);
    return {
      activationMs, services, server, chat: chat.testHook, cluster: cluster.testHook,
      get explain() {
        return explain.testHook;
      },
    };
  } catch (err) {
    // VS Code shows nothing when activate() throws; say it where the user looks.
    const message = err instanceof Error ? err.message : String(err);
    log.error(`Activation failed: ${err instanceof Error ? err.stack ?? message : message}`);
    void vscode.window.showErrorMessage(`Kimi failed to start: ${message}`, 'Show Log').then((pick) => pick && log.show());
    throw err;
  }
}

export async function deactivate(): Promise<void> {
  // Everything else is owned by context.subscriptions; a remote server keeps running (reattached next time).
  await shutdown?.();
  shutdown = undefined;
}

function own<T extends vscode.Disposable>(context: vscode.ExtensionContext, d: T): T {
  context.subscriptions.push(d);
  return d;
}
