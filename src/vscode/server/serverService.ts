import * as net from 'node:net';
import * as vscode from 'vscode';
import { defaultProfile, type ServerProfile } from '../../core/config/serverProfile';
import { activeProfile } from '../../core/config/settings';
import type { LifecycleState, StopReport } from '../../core/server/lifecycleTypes';
import { ServerManager } from '../../core/server/serverManager';
import { defaultControlDir, ensureControlDir, LocalShell, SshConnection } from '../../core/server/ssh';
import type { ConfigService } from '../config';
import { Disposable } from '../lifecycle';
import type { Secrets } from '../secrets';
import { ServerTerminal } from './serverTerminal';

/** Owns the ServerManager of the active profile; VS Code closing disposes it, which never stops the server. */
export class ServerService extends Disposable {
  private manager: ServerManager;
  private unsubscribe: (() => void)[] = [];
  private readonly changed = this.register(new vscode.EventEmitter<LifecycleState>());
  readonly onDidChange = this.changed.event;
  readonly terminal: ServerTerminal;

  constructor(
    private readonly config: ConfigService,
    private readonly secrets: Secrets,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.terminal = this.register(new ServerTerminal());
    this.manager = this.create(this.profile());
    this.register({ dispose: () => void this.manager.dispose() });
  }

  /** The profile in use: kimi.activeServer (or the first of kimi.servers), else this machine with the official command. */
  profile(): ServerProfile {
    return activeProfile(this.config.settings) ?? defaultProfile();
  }

  get state(): LifecycleState {
    return this.manager.state;
  }

  /** Looks for a server an earlier session started; never blocks activation. */
  reattachInBackground(): void {
    void this.manager.reattach().then(
      (s) => s.kind !== 'stopped' && this.log.info(`Found the server of "${s.profile}": ${s.kind}`),
      (err) => this.log.warn(`Could not look for a running server: ${String(err)}`),
    );
  }

  async start(): Promise<LifecycleState> {
    this.switchIfProfileChanged();
    const apiKey = await this.secrets.apiKey();
    return this.manager.start(apiKey ? { apiKey } : {});
  }

  async stop(): Promise<StopReport> {
    return this.manager.stop();
  }

  /** Re-reads the profile (after a setting changed) — only while nothing runs, so a server is never orphaned. */
  switchIfProfileChanged(): void {
    const next = this.profile();
    const s = this.manager.state;
    const idle = s.kind === 'stopped' || s.kind === 'failed';
    if (idle && JSON.stringify(next) !== JSON.stringify(this.manager.profile)) {
      const old = this.manager;
      this.manager = this.create(next);
      void old.dispose();
      this.changed.fire(this.manager.state);
    }
  }

  private create(profile: ServerProfile): ServerManager {
    for (const u of this.unsubscribe.splice(0)) u();
    const runner = profile.host === 'local'
      ? new LocalShell()
      : new SshConnection({ destination: profile.host, controlDir: ensureControlDir(defaultControlDir()) });
    const m = new ServerManager(profile, { runner, freeLocalPort });
    this.terminal.setTitle(profile.name);
    this.unsubscribe.push(
      m.onState((s) => {
        this.log.info(`Server "${s.profile}" (${s.host}): ${describeState(s)}`);
        this.changed.fire(s);
      }),
      m.onLog((line) => this.terminal.write(line)),
    );
    return m;
  }
}

export function describeState(s: LifecycleState): string {
  switch (s.kind) {
    case 'stopped':
      return 'stopped';
    case 'preflight':
      return s.detail;
    case 'starting':
      return `starting: ${phaseLabel(s)}`;
    case 'ready':
      return `ready: ${s.modelId} at ${s.baseUrl}${s.gpus ? ` on ${s.gpus}` : ''}`;
    case 'stopping':
      return 'stopping…';
    case 'failed':
      return `failed: ${s.diagnosis.title}`;
  }
}

export function phaseLabel(s: Extract<LifecycleState, { kind: 'starting' }>): string {
  const progress = s.progress ? ` ${s.progress.done}/${s.progress.total}` : '';
  switch (s.phase) {
    case 'resolving':
      return 'resolving the model';
    case 'loadingWeights':
      return `loading weights${progress}`;
    case 'profiling':
      return 'sizing the KV cache';
    case 'cudaGraphs':
      return `capturing CUDA graphs${progress}`;
    case 'startingApi':
    case 'ready':
      return 'starting the API server';
    case 'stopping':
      return 'stopping';
  }
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
