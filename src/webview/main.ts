// The chat panel's browser code. It only renders what the host sends and asks the host to act; it never talks
// to the network itself (the CSP has no connect-src).
import type { HostToWebview, ServerView, WebviewToHost } from '../shared/protocol';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app') as HTMLElement;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: { className?: string; text?: string } = {}, ...children: Node[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  node.append(...children);
  return node;
}

function button(label: string, msg: WebviewToHost, primary = false): HTMLButtonElement {
  const b = el('button', { className: primary ? 'primary' : 'secondary', text: label });
  b.type = 'button';
  b.addEventListener('click', () => vscode.postMessage(msg));
  return b;
}

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

function renderServer(server: ServerView): void {
  const managed = server.managed && server.managed.kind !== 'stopped' ? server.managed : undefined;
  const header = el('section', { className: `server server-${server.state}` });
  header.setAttribute('data-state', server.state);
  if (server.managed) header.setAttribute('data-managed', server.managed.kind);
  header.append(el('h2', { className: 'server-state', text: STATE_TEXT[server.state] }));
  if (managed) {
    const where = managed.host === 'local' ? 'this machine' : managed.host;
    header.append(el('p', { className: 'server-profile', text: `"${managed.profile}" on ${where}` }));
  }
  if (managed?.phase) header.append(el('p', { className: 'server-phase', text: managed.phase }));
  if (!managed || server.state === 'ready') header.append(el('p', { className: 'server-url', text: server.baseUrl }));
  if (server.modelId) {
    const len = server.maxModelLen ? ` · context ${server.maxModelLen.toLocaleString('en-US')} tokens` : '';
    header.append(el('p', { className: 'server-model', text: `${server.modelId}${len}` }));
  }
  if (managed?.gpus) header.append(el('p', { className: 'server-gpus', text: managed.gpus }));
  if (managed?.diagnosis) header.append(el('p', { className: 'server-diagnosis', text: managed.diagnosis.title }));
  if (server.detail && server.state !== 'starting') header.append(el('p', { className: 'server-detail', text: server.detail }));
  if (server.download) {
    const bar = el('progress', { className: 'server-download-bar' });
    bar.max = 100;
    if (server.download.percent !== undefined) bar.value = server.download.percent;
    header.append(el('p', { className: 'server-download', text: `Downloading the model: ${server.download.text}` }), bar);
  }

  const actions = el('div', { className: 'actions' });
  const fixLabel = managed?.diagnosis?.fixLabel;
  if (fixLabel) actions.append(button(fixLabel, { type: 'applyServerFix' }, true));
  if (server.state === 'unauthorized') actions.append(button('Set API Key', { type: 'runCommand', command: 'kimi.setApiKey' }, true));
  if (managed && (managed.kind === 'starting' || managed.kind === 'preflight' || managed.kind === 'ready')) {
    actions.append(button('Stop Server', { type: 'runCommand', command: 'kimi.stopServer' }));
  } else if (server.state === 'unreachable' || server.state === 'failed' || (server.state === 'starting' && !managed)) {
    actions.append(button('Start Server', { type: 'runCommand', command: 'kimi.startServer' }, !fixLabel));
  }
  if (managed) actions.append(button('Show Logs', { type: 'runCommand', command: 'kimi.showServerLogs' }));
  if (!managed || managed.kind === 'ready') actions.append(button('Check again', { type: 'checkServer' }));
  actions.append(button('Settings', { type: 'runCommand', command: 'kimi.openSettings' }));
  header.append(actions);

  const note = el('p', {
    className: 'notice',
    text: 'Chatting in this panel arrives in the next release. The server status above is live.',
  });
  app.replaceChildren(header, note);
}

window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
  const msg = event.data;
  if (typeof msg === 'string') return;
  switch (msg.type) {
    case 'server':
      renderServer(msg.server);
      break;
    case 'notice':
      app.append(el('p', { className: `notice notice-${msg.level}`, text: msg.text }));
      break;
  }
});

vscode.postMessage({ type: 'ready' });
