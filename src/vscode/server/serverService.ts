import * as vscode from 'vscode';
import type { ServerProfile } from '../../core/config/serverProfile';
import type { Fix } from '../../core/server/diagnosis';
import type { ClusterGpuReport } from '../../core/cluster/clusterProbe';
import { isClusterController, type ClusterNodeStatus, type DownloadState, type LifecycleState, type StopReport, type Unsubscribe } from '../../core/server/lifecycleTypes';
import type { ConfigService } from '../config';
import { Disposable } from '../lifecycle';
import type { Secrets } from '../secrets';
import { isClusterProfile } from '../../core/cluster/clusterProfile';
import { features } from '../lazy';
import type { ServerHandle } from './controllerFactory';
import { deferredHandle } from './deferredHandle';
import { describeState, isRunning } from './presentation';
import { activeOf, profilesOf, sameProfile, settingsSettled, writeActiveProfile, writeProfileSetting } from './profiles';
import { ServerTerminal } from './serverTerminal';

/**
 * Owns the ServerController of the active profile (through controllerFactory), its log terminal and the model
 * download. Disposing it (VS Code closing) stops following logs and closes connections — never the server.
 */
export class ServerService extends Disposable {
  private handle: ServerHandle;
  private subs: Unsubscribe[] = [];
  private downloadState: DownloadState = { kind: 'idle' };
  private downloading: AbortController | undefined;
  private readonly changed = this.register(new vscode.EventEmitter<LifecycleState>());
  private readonly downloadChanged = this.register(new vscode.EventEmitter<DownloadState>());
  private readonly nodesChanged = this.register(new vscode.EventEmitter<readonly ClusterNodeStatus[] | undefined>());
  /** The workers' log terminals of a cluster ("Kimi Server: <profile> · <host>"), by node index. */
  private readonly nodeTerminals = new Map<number, ServerTerminal>();
  /** The active profile's lifecycle state changed (or another profile became active). */
  readonly onDidChange = this.changed.event;
  readonly onDidChangeDownload = this.downloadChanged.event;
  /** The nodes of the active cluster profile changed (undefined: the active profile is not a cluster). */
  readonly onDidChangeNodes = this.nodesChanged.event;
  readonly terminal: ServerTerminal;

  constructor(
    private readonly config: ConfigService,
    private readonly secrets: Secrets,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.terminal = this.register(new ServerTerminal());
    this.handle = this.attach(activeOf(config.settings));
    this.register(
      config.onDidChange(({ keys }) => {
        if (keys.includes('servers') || keys.includes('activeServer')) this.followSettings();
      }),
    );
    this.register({
      // A running download is not cancelled: it runs detached on the host, and "Download Model" again follows it.
      dispose: () => {
        for (const u of this.subs.splice(0)) u();
        for (const t of this.nodeTerminals.values()) t.dispose();
        void this.handle.dispose();
      },
    });
  }

  /** Stops following logs and closes the connection (tunnel, SSH master); the server keeps running. */
  async shutdown(): Promise<void> {
    for (const u of this.subs.splice(0)) u();
    await this.handle.dispose();
  }

  /** The profiles to choose from (kimi.servers, or the implicit "This machine"). */
  profiles(): ServerProfile[] {
    return profilesOf(this.config.settings);
  }

  /** The active profile as the settings define it now. */
  profile(): ServerProfile {
    return activeOf(this.config.settings);
  }

  /** The profile whose server this service follows (differs from profile() while a server runs on an older
   *  definition, until it is restarted). */
  get runningProfile(): ServerProfile {
    return this.handle.profile;
  }

  /** No kimi.servers entry describes the active profile: it is the built-in default. */
  isImplicitProfile(): boolean {
    return this.config.settings.servers.length === 0;
  }

  get state(): LifecycleState {
    return this.handle.controller.state;
  }

  get download(): DownloadState {
    return this.downloadState;
  }

  /** The nodes of the cluster this service follows, head first; undefined when its profile is a single host. */
  get nodes(): readonly ClusterNodeStatus[] | undefined {
    const c = this.handle.controller;
    return isClusterController(c) ? c.nodes : undefined;
  }

  /** A worker's log in its own terminal (filled with the end of its log on the node the first time). */
  async showNodeLog(node: number): Promise<void> {
    const c = this.handle.controller;
    if (!isClusterController(c)) throw new Error(`"${this.handle.profile.name}" is not a cluster`);
    const n = c.nodes[node];
    if (!n) throw new Error(`the cluster has no node ${node}`);
    const t = this.nodeTerminal(node, n.host);
    if (t.lineCount === 0) {
      const lines = await c.nodeLogTail(node, 300);
      t.note(`The last ${lines.length} lines of the log of ${n.role === 'head' ? 'the head' : `worker ${node}`} (${n.host}) of "${this.handle.profile.name}":`);
      for (const l of lines) t.write(l);
    }
    t.show();
  }

  /** Sizing help for a cluster profile (every node's GPUs probed); undefined for a single host. */
  async sizing(profile: ServerProfile): Promise<ClusterGpuReport | undefined> {
    const own = sameProfile(profile, this.handle.profile) ? undefined : features().createServerHandle(profile);
    try {
      return await (own ?? this.handle).sizing?.();
    } finally {
      if (own) void own.dispose();
    }
  }

  /** The base URL chat requests go to: the managed server's while it is ready (for SSH, the tunnel's local end),
   *  else kimi.endpoint.baseUrl. */
  currentBaseUrl(): string {
    const s = this.state;
    return s.kind === 'ready' ? s.baseUrl : this.config.settings['endpoint.baseUrl'];
  }

  /** Looks for a server an earlier session (or the CLI) started; never blocks the caller. */
  reattachInBackground(): void {
    const controller = this.handle.controller;
    void this.secrets
      .apiKey()
      .then((apiKey) => controller.reattach(apiKey ? { apiKey } : {}))
      .then(
        (s) => s.kind !== 'stopped' && this.log.info(`Found the server of "${s.profile}": ${describeState(s)}`),
        (err) => this.log.warn(`Could not look for a running server: ${String(err)}`),
      );
  }

  /** Starts the active profile's server; resolves with 'ready', 'failed', or the state a cancel left. During a
   *  reattach the core waits for it and launches only if it found no server ('ready' with `reattached` if it did). */
  async start(signal?: AbortSignal): Promise<LifecycleState> {
    this.switchIfIdle();
    if (this.state.kind === 'ready' || signal?.aborted) return this.state;
    const apiKey = await this.secrets.apiKey();
    this.terminal.ensure();
    this.terminal.note(`Starting "${this.handle.profile.name}" on ${this.handle.profile.host}…`);
    return this.handle.controller.start({ ...(apiKey ? { apiKey } : {}), ...(signal ? { signal } : {}) });
  }

  async stop(): Promise<StopReport> {
    this.terminal.note(`Stopping "${this.handle.profile.name}"…`);
    const report = await this.handle.controller.stop();
    this.terminal.note(`Stopped: ${report.result}${report.message ? ` — ${report.message}` : ''}`);
    return report;
  }

  /** The last lines of the server log on its host (for a log view when nothing is being followed). */
  logTail(lines = 200): Promise<string[]> {
    return this.handle.controller.logTail(lines);
  }

  /** Writes a diagnosis's fix into the profile (an explicit entry for the implicit default) and picks it up. */
  async applyFix(fix: Fix): Promise<ServerProfile> {
    if (!fix.setting) throw new Error(`"${fix.label}" is not a setting the extension can change`);
    const { key, value } = fix.setting;
    const name = this.handle.profile.name;
    await writeProfileSetting(name, fix.setting);
    const expected = key === 'extraArgs' ? () => true : (p: ServerProfile) => JSON.stringify(p[key]) === JSON.stringify(value);
    await settingsSettled(this.config, (s) => s.servers.some((p) => p.name === name && expected(p)));
    this.log.info(`Applied "${fix.label}" to the profile "${name}".`);
    this.switchIfIdle();
    return this.handle.profile;
  }

  /** Makes `name` the active profile; while a server runs, it keeps running until restarted. */
  async selectProfile(name: string): Promise<void> {
    await writeActiveProfile(name);
    await settingsSettled(this.config, (s) => activeOf(s).name === name);
    this.followSettings();
  }

  /** Runs `modelscope download` for `profile` on its host (over the active connection when it is that profile's);
   *  one download at a time. */
  async runDownload(profile: ServerProfile, opts: { include?: string[]; exclude?: string[] }, signal: AbortSignal): Promise<DownloadState> {
    if (this.downloading) return this.downloadState;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.downloading = abort;
    const own = sameProfile(profile, this.handle.profile) ? undefined : features().createServerHandle(profile);
    try {
      const end = await (own ?? this.handle).download({ ...opts, signal: abort.signal, onState: (d) => this.setDownload(d) });
      this.setDownload(end);
      return end;
    } catch (err) {
      const failed: DownloadState = { kind: 'failed', title: 'The download could not be run', explanation: err instanceof Error ? err.message : String(err) };
      this.setDownload(failed);
      return failed;
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.downloading = undefined;
      if (own) void own.dispose();
    }
  }

  /** Cancels the running download (the files on disk stay; a rerun resumes). */
  cancelDownload(): void {
    this.downloading?.abort();
  }

  /** GPU summary of a profile's host (uses the active connection when it is that profile's). */
  async probeGpus(profile: ServerProfile): Promise<string> {
    if (sameProfile(profile, this.handle.profile)) return this.handle.probeGpus();
    const h = features().createServerHandle(profile);
    try {
      return await h.probeGpus();
    } finally {
      void h.dispose();
    }
  }

  /** Follows a change of kimi.servers / kimi.activeServer: switches at once when nothing runs; a running server
   *  keeps its definition until it is restarted (restartOffer asks). */
  private followSettings(): void {
    const before = this.handle.profile.name;
    if (this.switchIfIdle() && this.handle.profile.name !== before) this.reattachInBackground();
  }

  /** Replaces the controller when the active profile's definition changed and nothing runs. */
  switchIfIdle(): boolean {
    const next = this.profile();
    if (sameProfile(next, this.handle.profile) || isRunning(this.state)) return false;
    const old = this.handle;
    this.handle = this.attach(next);
    void old.dispose();
    this.changed.fire(this.state);
    return true;
  }

  private nodeTerminal(node: number, host: string): ServerTerminal {
    let t = this.nodeTerminals.get(node);
    if (!t) {
      t = new ServerTerminal();
      t.setProfile(`${this.handle.profile.name} · ${host === 'local' ? 'this machine' : host}`);
      this.nodeTerminals.set(node, t);
    }
    return t;
  }

  private attach(profile: ServerProfile): ServerHandle {
    for (const u of this.subs.splice(0)) u();
    for (const t of this.nodeTerminals.values()) t.dispose();
    this.nodeTerminals.clear();
    // A cluster's nodes are shown at once (the Cluster Nodes view), so its code loads now; a single host's on first use.
    const handle = isClusterProfile(profile) ? features().createServerHandle(profile) : deferredHandle(profile, (p) => features().createServerHandle(p));
    this.terminal.setProfile(profile.name);
    const c = handle.controller;
    if (isClusterController(c)) {
      this.subs.push(
        c.onNodes((nodes) => this.nodesChanged.fire(nodes)),
        c.onNodeLog((node, line) => {
          if (node > 0) this.nodeTerminals.get(node)?.write(line);
        }),
      );
    }
    // Fired after the handle is in place (the view asks for the nodes of the new profile).
    queueMicrotask(() => this.nodesChanged.fire(isClusterController(c) ? c.nodes : undefined));
    this.subs.push(
      handle.controller.onState((s) => {
        if (s.kind !== 'starting' || !s.progress) this.log.info(`Server "${s.profile}" (${s.host}): ${describeState(s)}`);
        this.changed.fire(s);
      }),
      handle.controller.onLog((line) => this.terminal.write(line)),
    );
    return handle;
  }

  private setDownload(d: DownloadState): void {
    this.downloadState = d;
    this.downloadChanged.fire(d);
  }
}
