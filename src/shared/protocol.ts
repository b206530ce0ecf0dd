// zod/mini, never classic 'zod', anywhere in src/: the bundle stays small and activation fast (a unit test checks).
import * as z from 'zod/mini';

// The one protocol between the extension host and the chat webview. Both sides import this file.
// Host → webview messages are trusted (we send them); webview → host messages are validated with zod at the
// boundary because a webview is a browser context that renders model output.

/** The server the extension manages (a `kimi.servers` profile), when there is one. */
export interface ManagedServerView {
  profile: string;
  /** 'local' or the SSH destination. */
  host: string;
  kind: 'stopped' | 'preflight' | 'starting' | 'ready' | 'stopping' | 'failed';
  /** What a starting server is doing: "Loading weights 12/64", "Capturing CUDA graphs 13/51". */
  phase?: string;
  /** "8× NVIDIA H200, 140.4 GiB each, all free" */
  gpus?: string;
  /** Why a start failed, in plain words; fixLabel when a button can apply the fix ("Set max-model-len to …"). */
  diagnosis?: { title: string; explanation: string; fixLabel?: string };
}

/** A model download in progress. */
export interface DownloadView {
  /** "12.3 GB of 595 GB · 250 MB/s · 38 min left" */
  text: string;
  percent?: number;
}

export interface ServerView {
  /** Endpoint checks: checking | ready | starting | unreachable | unauthorized | error; a managed server adds
   *  stopping and failed. */
  state: 'checking' | 'ready' | 'starting' | 'unreachable' | 'unauthorized' | 'error' | 'stopping' | 'failed';
  /** The base URL being used, for display. */
  baseUrl: string;
  modelId?: string;
  maxModelLen?: number;
  /** Plain-language detail for non-ready states. */
  detail?: string;
  managed?: ManagedServerView;
  download?: DownloadView;
}

export type HostToWebview =
  | { type: 'server'; server: ServerView }
  | { type: 'notice'; level: 'info' | 'warning'; text: string };

export const webviewToHostSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready') }),
  z.strictObject({ type: z.literal('checkServer') }),
  /** Apply the fix of the managed server's current failure (the host looks it up; the webview names nothing). */
  z.strictObject({ type: z.literal('applyServerFix') }),
  z.strictObject({
    type: z.literal('runCommand'),
    command: z.enum([
      'kimi.startServer',
      'kimi.stopServer',
      'kimi.restartServer',
      'kimi.downloadModel',
      'kimi.serverActions',
      'kimi.setApiKey',
      'kimi.openSettings',
      'kimi.showServerLogs',
    ]),
  }),
]);

export type WebviewToHost = z.infer<typeof webviewToHostSchema>;
