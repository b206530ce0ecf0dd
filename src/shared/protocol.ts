// zod/mini, never classic 'zod', anywhere in src/: the bundle stays small and activation fast (a unit test checks).
import * as z from 'zod/mini';

// The one protocol between the extension host and the chat webview. Both sides import this file.
// Host → webview messages are trusted (we send them); webview → host messages are validated with zod at the
// boundary because a webview is a browser context that renders model output.

export interface ServerView {
  /** 'ready' | 'starting' | 'unreachable' | 'unauthorized' | 'error' | 'checking' */
  state: 'checking' | 'ready' | 'starting' | 'unreachable' | 'unauthorized' | 'error';
  /** The base URL being used, for display. */
  baseUrl: string;
  modelId?: string;
  maxModelLen?: number;
  /** Plain-language detail for non-ready states. */
  detail?: string;
}

export type HostToWebview =
  | { type: 'server'; server: ServerView }
  | { type: 'notice'; level: 'info' | 'warning'; text: string };

export const webviewToHostSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready') }),
  z.strictObject({ type: z.literal('checkServer') }),
  z.strictObject({ type: z.literal('runCommand'), command: z.enum(['kimi.startServer', 'kimi.setApiKey', 'kimi.openSettings', 'kimi.showServerLogs']) }),
]);

export type WebviewToHost = z.infer<typeof webviewToHostSchema>;
