// The chat panel's browser code. It renders what the host sends and asks the host to act; it never talks to the
// network itself (the CSP has no connect-src) and never navigates: every link click becomes `openLink`.
// Layout: server header · notices · toolbar (New Chat, History) · messages (+ history drawer) · composer.
import type { HostToWebview } from '../shared/protocol';
import { Composer } from './chat/composer';
import { button, el } from './chat/dom';
import { ServerHeader } from './chat/header';
import { HistoryDrawer } from './chat/history';
import { connectHost } from './chat/host';
import { MessageList } from './chat/messages';

const host = connectHost();
const post = host.post;
const app = document.getElementById('app') as HTMLElement;
// Only the message log announces new turns; the whole panel being live would read every status poll aloud.
app.removeAttribute('aria-live');
app.classList.add('chat');

const header = new ServerHeader(post);
const notices = el('div', { className: 'notices' });
const messages = new MessageList(post);
const composer = new Composer(post, host);
let conversationId: string | undefined;
const history = new HistoryDrawer(post, () => conversationId);
const srStatus = el('div', { className: 'sr-only', attrs: { role: 'status', 'aria-live': 'polite' } });

const newChat = button('New Chat', () => {
  history.close();
  post({ type: 'newChat' });
  composer.focus();
}, { className: 'secondary small', title: 'Start a new conversation' });
const toolbar = el('div', { className: 'chat-toolbar', attrs: { role: 'toolbar', 'aria-label': 'Chat' } }, newChat, history.toggle);
messages.element.append(history.element);
app.replaceChildren(header.element, notices, toolbar, messages.element, composer.element, srStatus);

function setBusy(busy: boolean): void {
  app.classList.toggle('busy', busy);
}

function announce(text: string): void {
  srStatus.textContent = text;
}

function handle(msg: HostToWebview): void {
  if (typeof msg === 'string') {
    messages.delta(msg); // the hot path: new text of the streaming turn
    return;
  }
  switch (msg.type) {
    case 'server':
      header.setServer(msg.server);
      break;
    case 'notice': {
      const note = el('p', { className: `notice notice-${msg.level}`, text: msg.text });
      note.append(' ', button('Dismiss', () => note.remove(), { className: 'link', ariaLabel: 'Dismiss notice' }));
      notices.append(note);
      while (notices.childElementCount > 3) notices.firstElementChild?.remove();
      break;
    }
    case 'conversation':
      conversationId = msg.conversation.id;
      messages.setConversation(msg.conversation);
      break;
    case 'history':
      history.setItems(msg.items, msg.problems);
      break;
    case 'composer':
      composer.setState(msg.composer);
      header.setOmittedAction(msg.composer.blocked?.action);
      setBusy(msg.composer.busy);
      break;
    case 'turnStarted':
      messages.startTurn(msg.user, msg.assistantId, msg.meta);
      composer.turnStarted(msg.user?.text);
      setBusy(true);
      announce('Kimi is answering…');
      break;
    case 'turnFinished':
      messages.finishTurn(msg.assistantId, msg.meta);
      // A round that called tools: the answer goes on in the next turn.
      if (msg.meta.continued) break;
      setBusy(false);
      announce(msg.meta.error ? 'The answer failed.' : msg.meta.stopped ? 'Stopped.' : 'Kimi finished answering.');
      break;
    case 'toolCalls':
      messages.setToolCalls(msg.assistantId, msg.calls);
      break;
    case 'composerError':
      composer.showError(msg.message);
      messages.editRefused();
      break;
    case 'prefill':
      composer.prefill(msg.text);
      break;
    case 'focusInput':
      composer.focus();
      break;
  }
}

window.addEventListener('message', (event: MessageEvent<HostToWebview>) => handle(event.data));

// Esc stops a streaming answer (an open editor or the history drawer handle their own Esc first).
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !ev.defaultPrevented && composer.busy) {
    ev.preventDefault();
    post({ type: 'stop' });
  }
});

// Links never navigate the webview: the host checks the target and asks before opening it.
function onLinkActivate(ev: MouseEvent): void {
  const a = ev.target instanceof Element ? ev.target.closest('a') : null;
  if (!a) return;
  ev.preventDefault();
  ev.stopPropagation();
  if (ev.type === 'auxclick' && ev.button !== 1) return;
  const href = a.getAttribute('href');
  if (href && href.length <= 4096) post({ type: 'openLink', href });
}
document.addEventListener('click', onLinkActivate, true);
document.addEventListener('auxclick', onLinkActivate, true);

// Copy / Insert at Cursor on code blocks (buttons made by the markdown renderer).
const copyTimers = new WeakMap<HTMLButtonElement, ReturnType<typeof setTimeout>>();
document.addEventListener('click', (ev) => {
  const btn = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>('button[data-action]') : null;
  if (!btn) return;
  const action = btn.dataset['action'];
  if (action !== 'copy' && action !== 'insert') return;
  const block = btn.closest('.code-block');
  const code = block?.querySelector('pre code') ?? block?.querySelector('pre');
  if (!code) return;
  const text = code.textContent ?? '';
  if (action === 'copy') {
    post({ type: 'copyCode', code: text });
    const original = btn.dataset['label'] ?? btn.textContent ?? 'Copy';
    btn.dataset['label'] = original;
    btn.textContent = 'Copied';
    btn.classList.add('copied');
    announce('Copied to the clipboard');
    const timers = copyTimers.get(btn);
    if (timers !== undefined) clearTimeout(timers);
    copyTimers.set(btn, setTimeout(() => {
      btn.textContent = original;
      btn.classList.remove('copied');
      copyTimers.delete(btn);
    }, 1500));
  } else {
    post({ type: 'insertCode', code: text });
    announce('Inserted at the cursor');
  }
});
// A file dropped anywhere must not replace the page; images go to the composer.
document.addEventListener('dragover', (ev) => ev.preventDefault());
document.addEventListener('drop', (ev) => {
  if (ev.defaultPrevented) return; // the composer took it
  ev.preventDefault();
  const files = [...(ev.dataTransfer?.files ?? [])];
  if (files.length) composer.addImageFiles(files);
});

post({ type: 'ready' });
