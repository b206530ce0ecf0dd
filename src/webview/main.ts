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
};

function renderServer(server: ServerView): void {
  const header = el('section', { className: `server server-${server.state}` });
  header.setAttribute('data-state', server.state);
  header.append(el('h2', { className: 'server-state', text: STATE_TEXT[server.state] }));
  header.append(el('p', { className: 'server-url', text: server.baseUrl }));
  if (server.modelId) {
    const len = server.maxModelLen ? ` · context ${server.maxModelLen.toLocaleString('en-US')} tokens` : '';
    header.append(el('p', { className: 'server-model', text: `${server.modelId}${len}` }));
  }
  if (server.detail) header.append(el('p', { className: 'server-detail', text: server.detail }));

  const actions = el('div', { className: 'actions' });
  if (server.state === 'unauthorized') actions.append(button('Set API Key', { type: 'runCommand', command: 'kimi.setApiKey' }, true));
  if (server.state === 'unreachable' || server.state === 'starting') {
    actions.append(button('Start Server', { type: 'runCommand', command: 'kimi.startServer' }, true));
  }
  actions.append(button('Check again', { type: 'checkServer' }));
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
