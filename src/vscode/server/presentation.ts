// How the managed server's state reads to a person — in the status bar, the progress notification, the chat header
// and the log. Plain functions of the state (no `vscode`), so every surface says the same thing.
import { unreachableCount } from '../../core/cluster/clusterProfile';
import type { DownloadState, LifecycleState, UnreachableNode } from '../../core/server/lifecycleTypes';
import type { DownloadView, ManagedServerView, ServerView } from '../../shared/protocol';

type Starting = Extract<LifecycleState, { kind: 'starting' }>;

/** Lower-case phase, for "Kimi: starting: loading weights 12/64". */
export function phaseLabel(s: Starting): string {
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

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** What the server is doing right now, as a phrase: "Loading weights 12/64", "Checking the GPUs…". */
export function activityText(s: LifecycleState): string | undefined {
  if ((s.kind === 'starting' || s.kind === 'ready') && s.reconnecting) return `Reconnecting to ${s.host} (the server keeps running there)…`;
  if (s.kind === 'preflight') return s.detail;
  if (s.kind === 'starting') return capitalize(phaseLabel(s));
  return undefined;
}

/** One line for logs and messages. */
export function describeState(s: LifecycleState): string {
  switch (s.kind) {
    case 'stopped':
      return 'stopped';
    case 'preflight':
      return s.detail;
    case 'starting':
      return `starting: ${phaseLabel(s)}`;
    case 'ready':
      return `ready: ${s.modelId} at ${s.baseUrl}${s.gpus ? ` on ${s.gpus}` : ''}${s.unreachableNodes?.length ? ` · ${unreachableText(s.unreachableNodes)}` : ''}`;
    case 'stopping':
      return 'stopping…';
    case 'failed':
      return `failed: ${s.diagnosis.title}`;
  }
}

/** "1 node unreachable: vs-worker (worker 1)" — a cluster's nodes that cannot be asked over SSH now. */
export function unreachableText(nodes: readonly UnreachableNode[]): string {
  return `${unreachableCount(nodes.length)}: ${nodes.map((n) => n.label).join(', ')}`;
}

/** One tooltip line per unreachable node: who and why. */
function unreachableTips(nodes: readonly UnreachableNode[]): string[] {
  return nodes.map((n) => `${n.label} is unreachable: ${n.reason}`);
}

/** A process of the server exists or is being launched/stopped. */
export function isRunning(s: LifecycleState): boolean {
  return s.kind === 'preflight' || s.kind === 'starting' || s.kind === 'ready' || s.kind === 'stopping';
}

/** "this machine" or the SSH destination. */
export function hostLabel(host: string): string {
  return host === 'local' ? 'this machine' : host;
}

/** `/root/autodl-fs/moonshotai/Kimi-K2.5` → `Kimi-K2.5` */
export function shortModel(id: string): string {
  const last = id.split('/').filter(Boolean).pop() ?? id;
  return last.length > 40 ? `${last.slice(0, 39)}…` : last;
}

/** "8× NVIDIA H200, 140.4 GiB each, all free" → "8× H200". */
export function shortGpus(gpus: string): string {
  return (gpus.split(',')[0] ?? gpus).replace(/NVIDIA /g, '').trim();
}

/** Rough share of a start that is done (0–100), for the notification's bar; never decreases within a phase order. */
export function startPercent(s: LifecycleState): number {
  if (s.kind === 'preflight') return 2;
  if (s.kind === 'ready') return 100;
  if (s.kind !== 'starting') return 0;
  const frac = s.progress && s.progress.total > 0 ? s.progress.done / s.progress.total : 0;
  switch (s.phase) {
    case 'resolving':
      return 5;
    case 'loadingWeights':
      return 5 + Math.round(65 * frac);
    case 'profiling':
      return 72;
    case 'cudaGraphs':
      return 75 + Math.round(20 * frac);
    case 'startingApi':
    case 'ready':
      return 97;
    case 'stopping':
      return 0;
  }
}

// ---- download -----------------------------------------------------------------------------------------------------

export function isDownloading(d: DownloadState): d is Extract<DownloadState, { kind: 'checking' | 'downloading' }> {
  return d.kind === 'checking' || d.kind === 'downloading';
}

export function downloadPercent(d: DownloadState): number | undefined {
  if (d.kind !== 'downloading' || d.bytes.total <= 0) return undefined;
  return Math.min(100, Math.floor((d.bytes.done / d.bytes.total) * 100));
}

/** 1234567890 → "1.23 GB" (decimal units, as disk sizes and the ~595 GB figure are given). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** 4000 → "1 h 7 min"; 75 → "1 min 15 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${s} s`;
}

/** "12.3 GB of 595 GB · 250 MB/s · 38 min left" (only the parts known). */
export function downloadText(d: DownloadState): string {
  switch (d.kind) {
    case 'idle':
      return 'no download running';
    case 'checking':
      return d.detail;
    case 'downloading': {
      const parts = [d.bytes.total > 0 ? `${formatBytes(d.bytes.done)} of ${formatBytes(d.bytes.total)}` : `${formatBytes(d.bytes.done)}`];
      if (d.files.total > 0) parts.push(`${d.files.done}/${d.files.total} files`);
      if (d.speed !== undefined && d.speed > 0) parts.push(`${formatBytes(d.speed)}/s`);
      if (d.etaSeconds !== undefined) parts.push(`${formatDuration(d.etaSeconds)} left`);
      return parts.join(' · ');
    }
    case 'done':
      return `downloaded into ${d.dir}`;
    case 'failed':
      return `${d.title}: ${d.explanation}`;
    case 'cancelled':
      return 'cancelled';
  }
}

export function downloadView(d: DownloadState): DownloadView | undefined {
  if (!isDownloading(d)) return undefined;
  const percent = downloadPercent(d);
  return { text: downloadText(d), ...(percent !== undefined ? { percent } : {}) };
}

// ---- status bar -----------------------------------------------------------------------------------------------------

export interface StatusBarModel {
  text: string;
  tooltip: string;
  tone?: 'warning' | 'error';
}

export interface StatusInput {
  managed: LifecycleState;
  download: DownloadState;
  /** The configured endpoint's last check (kimi.endpoint.baseUrl, or the managed server's URL while it is ready). */
  endpoint: ServerView;
  /** The user set kimi.endpoint.baseUrl: an unreachable endpoint is "no server" there, not "stopped". */
  externalEndpoint: boolean;
}

const ENDPOINT_TEXT: Record<ServerView['state'], string> = {
  checking: '$(sync~spin) Kimi: checking…',
  ready: '$(pass-filled) Kimi: ready',
  starting: '$(loading~spin) Kimi: starting…',
  unreachable: '$(debug-disconnect) Kimi: no server',
  unauthorized: '$(lock) Kimi: needs API key',
  error: '$(error) Kimi: server error',
  stopping: '$(loading~spin) Kimi: stopping…',
  failed: '$(error) Kimi: failed',
};

function clip(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The status bar: always the state — downloading n% / starting: phase / ready: model, GPUs / failed: reason /
 *  stopped — of the managed server, or of the configured endpoint when the extension runs nothing. */
export function statusBarModel(input: StatusInput): StatusBarModel {
  const { managed: s, download: d, endpoint: v } = input;
  const tips: string[] = [];
  let text: string;
  let tone: StatusBarModel['tone'];
  if (s.kind !== 'stopped') {
    tips.push(`Server profile "${s.profile}" on ${hostLabel(s.host)}`);
    switch (s.kind) {
      case 'preflight':
        text = '$(sync~spin) Kimi: starting: pre-flight checks';
        tips.push(s.detail);
        break;
      case 'starting':
        text = `$(loading~spin) Kimi: starting: ${phaseLabel(s)}`;
        if (s.gpus) tips.push(`GPUs: ${s.gpus}`);
        if (s.unreachableNodes?.length) tips.push(...unreachableTips(s.unreachableNodes));
        break;
      case 'ready':
        text = `$(pass-filled) Kimi: ready · ${shortModel(s.modelId)}${s.gpus ? ` · ${shortGpus(s.gpus)}` : ''}`;
        tips.push(`Model: ${s.modelId}${s.maxModelLen ? ` (context ${s.maxModelLen.toLocaleString('en-US')} tokens)` : ''}`, `URL: ${s.baseUrl}`);
        if (s.gpus) tips.push(`GPUs: ${s.gpus}`);
        if (s.reattached) tips.push('Started earlier (another window or the CLI); this window reattached to it.');
        if (s.detail) tips.push(s.detail);
        if (s.unreachableNodes?.length) {
          // Still serving (the head answers); the model and GPUs move to the tooltip to keep the item short.
          text = `$(warning) Kimi: ready · ${unreachableCount(s.unreachableNodes.length)}`;
          tips.push(...unreachableTips(s.unreachableNodes), 'The cluster keeps serving; a node shows its own state again once its SSH link answers (Cluster Nodes view).');
          tone = 'warning';
        }
        break;
      case 'stopping':
        text = '$(loading~spin) Kimi: stopping…';
        break;
      case 'failed':
        text = `$(error) Kimi: failed: ${s.diagnosis.title}`;
        tips.push(s.diagnosis.title, s.diagnosis.explanation);
        if (s.diagnosis.fix) tips.push(`Fix: ${s.diagnosis.fix.label}`);
        tone = 'error';
        break;
    }
    if ((s.kind === 'starting' || s.kind === 'ready') && s.reconnecting) {
      text = `$(debug-disconnect) Kimi: ${s.kind === 'ready' ? 'ready' : 'starting'} · reconnecting to ${s.host}…`;
      tips.push(
        `The SSH link to ${s.host} dropped (${s.reconnecting.reason}); reconnecting, attempt ${s.reconnecting.attempt}. The server keeps running there.`,
      );
      tone = 'warning';
    }
  } else {
    text = ENDPOINT_TEXT[v.state];
    if (v.state === 'unreachable' && !input.externalEndpoint) text = '$(circle-slash) Kimi: stopped';
    if (v.state === 'ready' && v.modelId) text += ` · ${shortModel(v.modelId)}`;
    tips.push(v.state === 'unreachable' && !input.externalEndpoint ? `No server is running (nothing answers at ${v.baseUrl}).` : `Kimi server at ${v.baseUrl}`);
    if (v.modelId) tips.push(`Model: ${v.modelId}${v.maxModelLen ? ` (context ${v.maxModelLen.toLocaleString('en-US')} tokens)` : ''}`);
    if (v.detail) tips.push(v.detail);
    if (v.state === 'error' || v.state === 'unauthorized') tone = 'warning';
  }
  if (isDownloading(d)) {
    const pct = downloadPercent(d);
    // The download is what is happening; the server's own state stays in the tooltip.
    if (s.kind === 'stopped' || s.kind === 'failed') text = `$(cloud-download) Kimi: downloading${pct !== undefined ? ` ${pct}%` : '…'}`;
    tips.push(`Download: ${downloadText(d)}`);
  }
  tips.push('Click for server actions.');
  return { text: clip(text), tooltip: tips.join('\n'), ...(tone ? { tone } : {}) };
}

// ---- chat header ----------------------------------------------------------------------------------------------------

export function managedView(s: LifecycleState): ManagedServerView {
  const base: ManagedServerView = { profile: s.profile, host: s.host, kind: s.kind };
  const phase = activityText(s);
  if (phase) base.phase = phase;
  if ((s.kind === 'starting' || s.kind === 'ready') && s.gpus) base.gpus = s.gpus;
  if (s.kind === 'failed') {
    base.diagnosis = {
      title: s.diagnosis.title,
      explanation: s.diagnosis.explanation,
      ...(s.diagnosis.fix?.setting ? { fixLabel: s.diagnosis.fix.label } : {}),
    };
  }
  return base;
}

/** What the chat header shows: the managed server when the extension runs one, else the endpoint's check. */
export function chatServerView(endpoint: ServerView, managed: LifecycleState, download: DownloadState): ServerView {
  const m = managedView(managed);
  const dl = downloadView(download);
  const extra = { managed: m, ...(dl ? { download: dl } : {}) };
  switch (managed.kind) {
    case 'stopped':
      return { ...endpoint, ...extra };
    case 'preflight':
    case 'starting':
      return { state: 'starting', baseUrl: endpoint.baseUrl, detail: m.phase ?? 'starting', ...extra };
    case 'ready':
      return {
        state: 'ready',
        baseUrl: managed.baseUrl,
        modelId: managed.modelId,
        ...(managed.maxModelLen ? { maxModelLen: managed.maxModelLen } : {}),
        ...(managed.unreachableNodes?.length ? { detail: `Serving with ${unreachableText(managed.unreachableNodes)}. See the Cluster Nodes view.` } : {}),
        ...extra,
      };
    case 'stopping':
      return { state: 'stopping', baseUrl: endpoint.baseUrl, ...extra };
    case 'failed':
      return { state: 'failed', baseUrl: endpoint.baseUrl, detail: managed.diagnosis.explanation, ...extra };
  }
}
