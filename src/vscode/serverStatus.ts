import * as vscode from 'vscode';
import { probeEndpoint } from '../core/server/endpointProbe';
import type { ServerView } from '../shared/protocol';
import type { ConfigService } from './config';
import { Disposable } from './lifecycle';
import type { Secrets } from './secrets';

/** Knows whether the configured endpoint is ready and what it serves; polls it and on demand. */
export class ServerStatusService extends Disposable {
  private view: ServerView;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<ServerView> | undefined;
  private managedBaseUrl: string | undefined;
  private readonly changed = this.register(new vscode.EventEmitter<ServerView>());
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly config: ConfigService,
    private readonly secrets: Secrets,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.view = { state: 'checking', baseUrl: config.settings['endpoint.baseUrl'] };
    this.register(config.onDidChange(({ keys }) => {
      if (keys.some((k) => k === 'endpoint.baseUrl' || k === 'endpoint.model' || k === 'status.pollSeconds')) {
        this.schedule();
        void this.check();
      }
    }));
    this.register(secrets.onDidChange(() => void this.check()));
    this.register({ dispose: () => this.timer && clearInterval(this.timer) });
  }

  /** While the extension manages a ready server, chat and status use its URL (for SSH, the tunnel's end). */
  setManagedBaseUrl(url: string | undefined): void {
    if (url === this.managedBaseUrl) return;
    this.managedBaseUrl = url;
    void this.check();
  }

  get current(): ServerView {
    return this.view;
  }

  start(): void {
    this.schedule();
    void this.check();
  }

  /** Probes now; concurrent callers share one probe. */
  check(): Promise<ServerView> {
    this.inFlight ??= this.probe().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.check(), this.config.settings['status.pollSeconds'] * 1000);
    this.timer.unref?.();
  }

  private async probe(): Promise<ServerView> {
    const baseUrl = this.managedBaseUrl ?? this.config.settings['endpoint.baseUrl'];
    const apiKey = await this.secrets.apiKey();
    const state = await probeEndpoint(baseUrl, { ...(apiKey ? { apiKey } : {}) });
    const wanted = this.config.settings['endpoint.model'];
    let next: ServerView;
    if (state.kind === 'ready') {
      const modelId = wanted || state.modelId;
      next = wanted && !state.modelIds.includes(wanted)
        ? { state: 'error', baseUrl, detail: `the server does not serve "${wanted}" (it serves ${state.modelIds.join(', ')})` }
        : { state: 'ready', baseUrl, modelId, ...(state.maxModelLen ? { maxModelLen: state.maxModelLen } : {}) };
    } else {
      next = { state: state.kind, baseUrl, detail: state.detail };
    }
    if (JSON.stringify(next) !== JSON.stringify(this.view)) {
      this.log.info(`Endpoint ${baseUrl}: ${next.state}${next.modelId ? ` (${next.modelId})` : ''}${next.detail ? ` — ${next.detail}` : ''}`);
      this.view = next;
      this.changed.fire(next);
    }
    return next;
  }
}
