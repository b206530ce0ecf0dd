// The server/model header at the top of the panel. While no server is ready it explains the state in full with
// its actions; once ready it compacts to one line (state dot, model, context length) with small actions.
// Class names and data attributes are what the e2e tests look for: section.server[data-state], .server-state,
// .server-phase, .server-model, .server-url, .server-gpus, .server-diagnosis.
import type { ServerView, WebviewToHost } from '../../shared/protocol';
import { button, el } from './dom';

const STATE_TEXT: Record<ServerView['state'], string> = {
  checking: 'Checking the server…',
  ready: 'Server ready',
  starting: 'Server starting…',
  unreachable: 'No server running',
  unauthorized: 'The server needs an API key',
  error: 'Server problem',
  stopping: 'Server stopping…',
  failed: 'Server failed to start',
};

/** Header actions that the composer may already offer (then the header leaves them out: one button per action). */
export type SharedAction = 'startServer' | 'setApiKey' | 'openSettings';

export class ServerHeader {
  readonly element: HTMLElement = el('div', { className: 'server-slot' });
  private server: ServerView | undefined;
  private omit: SharedAction | undefined;
  private lastKey = '';

  constructor(private readonly post: (msg: WebviewToHost) => void) {}

  get current(): ServerView | undefined {
    return this.server;
  }

  setServer(server: ServerView): void {
    this.server = server;
    this.render();
  }

  /** The composer shows this action's button itself; leave it out of the header. */
  setOmittedAction(action: SharedAction | undefined): void {
    this.omit = action;
    this.render();
  }

  private render(): void {
    const server = this.server;
    if (!server) return;
    const key = JSON.stringify([server, this.omit ?? null]);
    if (key === this.lastKey) return; // the status poll repeats itself: keep the DOM (and the focus) as it is
    this.lastKey = key;

    // Keep keyboard focus on the same action across re-renders.
    const active = document.activeElement;
    const focusedLabel = active instanceof HTMLButtonElement && this.element.contains(active) ? active.textContent : undefined;

    const header = this.build(server);
    this.element.replaceChildren(header);
    if (focusedLabel) {
      const same = [...header.querySelectorAll('button')].find((b) => b.textContent === focusedLabel);
      (same ?? header.querySelector('button'))?.focus();
    }
  }

  private build(server: ServerView): HTMLElement {
    const managed = server.managed && server.managed.kind !== 'stopped' ? server.managed : undefined;
    const compact = server.state === 'ready';
    const header = el('section', {
      className: `server server-${server.state}${compact ? ' server-compact' : ''}`,
      attrs: { 'aria-label': 'Server' },
    });
    header.setAttribute('data-state', server.state);
    if (server.managed) header.setAttribute('data-managed', server.managed.kind);

    const title = el('div', { className: 'server-title' });
    title.append(el('h2', { className: 'server-state', text: STATE_TEXT[server.state] }));
    if (server.modelId) {
      const len = server.maxModelLen ? ` · context ${server.maxModelLen.toLocaleString('en-US')} tokens` : '';
      title.append(el('p', { className: 'server-model', text: `${server.modelId}${len}` }));
    }
    header.append(title);

    const details = el('div', { className: 'server-details' });
    if (managed) {
      const where = managed.host === 'local' ? 'this machine' : managed.host;
      details.append(el('p', { className: 'server-profile', text: `"${managed.profile}" on ${where}` }));
    }
    if (managed?.phase) details.append(el('p', { className: 'server-phase', text: managed.phase }));
    if (!managed || server.state === 'ready') details.append(el('p', { className: 'server-url', text: server.baseUrl }));
    if (managed?.gpus) details.append(el('p', { className: 'server-gpus', text: managed.gpus }));
    if (managed?.diagnosis) details.append(el('p', { className: 'server-diagnosis', text: managed.diagnosis.title }));
    if (server.detail && server.state !== 'starting') details.append(el('p', { className: 'server-detail', text: server.detail }));
    if (server.download) {
      const bar = el('progress', { className: 'server-download-bar', attrs: { 'aria-label': 'Model download' } });
      bar.max = 100;
      if (server.download.percent !== undefined) bar.value = server.download.percent;
      details.append(el('p', { className: 'server-download', text: `Downloading the model: ${server.download.text}` }), bar);
    }
    header.append(details);

    const post = this.post;
    const cmd = (label: string, command: Extract<WebviewToHost, { type: 'runCommand' }>['command'], primary = false) =>
      button(label, () => post({ type: 'runCommand', command }), { className: primary ? 'primary' : 'secondary' });
    const actions = el('div', { className: 'actions' });
    const fixLabel = managed?.diagnosis?.fixLabel;
    if (fixLabel) actions.append(button(fixLabel, () => post({ type: 'applyServerFix' }), { className: 'primary' }));
    if (server.state === 'unauthorized' && this.omit !== 'setApiKey') actions.append(cmd('Set API Key', 'kimi.setApiKey', true));
    if (managed && (managed.kind === 'starting' || managed.kind === 'preflight' || managed.kind === 'ready')) {
      actions.append(cmd('Stop Server', 'kimi.stopServer'));
    } else if (server.state === 'unreachable' || server.state === 'failed' || (server.state === 'starting' && !managed)) {
      if (this.omit !== 'startServer') actions.append(cmd('Start Server', 'kimi.startServer', !fixLabel));
    }
    if (managed) actions.append(cmd('Show Logs', 'kimi.showServerLogs'));
    if (!managed || managed.kind === 'ready') actions.append(button('Check again', () => post({ type: 'checkServer' })));
    if (this.omit !== 'openSettings') actions.append(cmd('Settings', 'kimi.openSettings'));
    header.append(actions);
    return header;
  }
}
