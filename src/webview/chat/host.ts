// The VS Code webview API, acquired once. Everything the panel asks of the extension goes through `post`.
import type { WebviewToHost } from '../../shared/protocol';

export interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

export interface Host {
  post(msg: WebviewToHost): void;
  /** What survives the webview being hidden and shown again (the draft). */
  saveState(state: PanelState): void;
  loadState(): PanelState;
}

export interface PanelState {
  draft?: string;
}

export function connectHost(): Host {
  const api = acquireVsCodeApi();
  return {
    post: (msg) => api.postMessage(msg),
    saveState: (state) => api.setState(state),
    loadState: () => {
      const s = api.getState();
      return s && typeof s === 'object' ? (s as PanelState) : {};
    },
  };
}
