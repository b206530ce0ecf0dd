// The chat webview on its own in headless Chromium: the real dist/webview.js and media/*.css, served from a fake
// webview origin under the same CSP as src/vscode/chatView.ts, with a fake `acquireVsCodeApi` (installed by a nonce'd
// script before the bundle) that hands every posted message to the test. Host messages are delivered with
// window.postMessage, as VS Code does. Every request outside the origin is refused and recorded, every CSP violation
// and page error is recorded: tests assert all three stay empty.
//
//   const b = await launchBrowser();
//   const wv = await openChatWebview(b);
//   await wv.host({ type: 'composer', composer: … });
//   await wv.page.getByRole('textbox', { name: 'Message to Kimi' }).fill('hi');
//   const sent = await wv.waitForPosted('send');
//
// In a mocha suite, `useChatWebviews()` registers the hooks (one browser for the suite, each test's webviews checked
// and closed after it):
//
//   const chat = useChatWebviews();
//   it('…', async function () { const wv = await chat.open(); … });
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import {
  webviewToHostSchema,
  type AssistantTurnMeta,
  type AssistantTurnView,
  type ComposerStateView,
  type ConversationView,
  type HostToWebview,
  type ServerView,
  type UserTurnView,
  type WebviewToHost,
} from '../../src/shared/protocol';
import { launchBrowser, type TestBrowser } from './browser';
import { REPO_ROOT } from './codeServer';

export const WEBVIEW_ORIGIN = 'https://kimi-webview.test';

export type PostedOf<T extends WebviewToHost['type']> = Extract<WebviewToHost, { type: T }>;

export interface ChatWebview {
  page: Page;
  context: BrowserContext;
  /** Everything the webview posted, in order (each one valid against the host's zod schema, else in `invalid`). */
  posted: WebviewToHost[];
  /** Posted messages the host would have dropped as malformed. */
  invalid: unknown[];
  cspViolations: string[];
  pageErrors: string[];
  /** Requests to anything but the webview's own files. */
  strayRequests: string[];
  /** Delivers host messages in order and resolves once the webview has handled them all. */
  host(...msgs: HostToWebview[]): Promise<void>;
  /** The index the next posted message gets (pass as `from` to wait only for later ones). */
  mark(): number;
  waitForPosted<T extends WebviewToHost['type']>(type: T, opts?: { from?: number; where?: (m: PostedOf<T>) => boolean; timeoutMs?: number }): Promise<PostedOf<T>>;
  /** Posted messages of one type from `from` on. */
  postedOf<T extends WebviewToHost['type']>(type: T, from?: number): PostedOf<T>[];
  /** Throws when anything above went wrong (call in afterEach). */
  assertClean(): void;
  close(): Promise<void>;
}

export interface OpenChatWebviewOptions {
  viewport?: { width: number; height: number };
  /** Install Playwright's fake clock before the page loads (timers, rAF, Date and performance.now). */
  clock?: boolean;
  /** Served as dist/webview.js instead of the file (a benchmark bundles src/webview/main.ts itself, so that it does
   *  not depend on whatever build is in dist/). */
  bundle?: string;
}

/** VS Code "Dark Modern" values of the variables the panel uses (VS Code injects these into real webviews). */
const THEME_CSS = `:root {
  --vscode-font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Ubuntu", "Droid Sans", sans-serif;
  --vscode-font-size: 13px;
  --vscode-editor-font-family: "Droid Sans Mono", "monospace", monospace;
  --vscode-editor-font-size: 13px;
  --vscode-foreground: #cccccc;
  --vscode-descriptionForeground: #9d9d9d;
  --vscode-errorForeground: #f85149;
  --vscode-focusBorder: #0078d4;
  --vscode-sideBar-background: #181818;
  --vscode-editor-background: #1f1f1f;
  --vscode-panel-border: #2b2b2b;
  --vscode-widget-shadow: rgba(0, 0, 0, 0.36);
  --vscode-button-background: #0078d4;
  --vscode-button-foreground: #ffffff;
  --vscode-button-hoverBackground: #026ec1;
  --vscode-button-border: rgba(255, 255, 255, 0.07);
  --vscode-button-secondaryBackground: #313131;
  --vscode-button-secondaryForeground: #cccccc;
  --vscode-button-secondaryHoverBackground: #3c3c3c;
  --vscode-input-background: #313131;
  --vscode-input-foreground: #cccccc;
  --vscode-input-border: #3c3c3c;
  --vscode-input-placeholderForeground: #989898;
  --vscode-inputValidation-errorBackground: #5a1d1d;
  --vscode-inputValidation-warningBackground: #352a05;
  --vscode-inputValidation-warningBorder: #b89500;
  --vscode-badge-background: #616161;
  --vscode-badge-foreground: #f8f8f8;
  --vscode-textLink-foreground: #4daafc;
  --vscode-textBlockQuote-border: #616161;
  --vscode-textBlockQuote-background: #2b2b2b;
  --vscode-textCodeBlock-background: #2b2b2b;
  --vscode-textPreformat-foreground: #d0d0d0;
  --vscode-textPreformat-background: #3c3c3c;
  --vscode-list-hoverBackground: #2a2d2e;
  --vscode-toolbar-hoverBackground: rgba(90, 93, 94, 0.31);
  --vscode-editorWarning-foreground: #cca700;
  --vscode-testing-iconPassed: #73c991;
  --vscode-progressBar-background: #0078d4;
  --vscode-statusBarItem-errorBackground: #c72e0f;
  --vscode-statusBarItem-errorForeground: #ffffff;
  --vscode-editor-foreground: #cccccc;
  --vscode-editor-font-weight: normal;
  --vscode-editorWidget-background: #202020;
  --vscode-editorWidget-border: #454545;
  --vscode-widget-border: #313131;
  --vscode-textSeparator-foreground: #21262d;
  --vscode-textLink-activeForeground: #4daafc;
  --vscode-editor-findMatchHighlightBackground: rgba(158, 106, 3, 0.5);
  --vscode-debugTokenExpression-name: #c586c0;
  --vscode-debugTokenExpression-value: rgba(204, 204, 204, 0.6);
  --vscode-debugTokenExpression-string: #ce9178;
  --vscode-debugTokenExpression-number: #b5cea8;
  --vscode-debugTokenExpression-boolean: #4e94ce;
  --vscode-debugTokenExpression-error: #f48771;
  --vscode-debugTokenExpression-type: #4a90e2;
  --vscode-symbolIcon-classForeground: #ee9d28;
  --vscode-symbolIcon-functionForeground: #b180d7;
  --vscode-symbolIcon-variableForeground: #75beff;
  --vscode-symbolIcon-keywordForeground: #cccccc;
  --vscode-symbolIcon-operatorForeground: #cccccc;
  --vscode-symbolIcon-propertyForeground: #cccccc;
  --vscode-symbolIcon-constantForeground: #cccccc;
}
`;

function page(nonce: string): string {
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${WEBVIEW_ORIGIN}`,
    `img-src ${WEBVIEW_ORIGIN} data:`,
    `font-src ${WEBVIEW_ORIGIN}`,
  ].join('; ');
  // The fake VS Code API: like the real one it can be acquired once; state lives as long as the page.
  const fake = `(() => {
  const report = (kind, payload) => window.__kimiWebviewTest(kind, JSON.stringify(payload === undefined ? null : payload));
  let acquired = false;
  let state;
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
    acquired = true;
    return {
      postMessage: (msg) => report('post', msg),
      getState: () => state,
      setState: (s) => { state = s; return s; },
    };
  };
  document.addEventListener('securitypolicyviolation', (e) => report('csp', e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + (e.sample ? ': ' + e.sample : '')));
})();`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${WEBVIEW_ORIGIN}/test-theme.css">
<link rel="stylesheet" href="${WEBVIEW_ORIGIN}/media/chat.css">
<link rel="stylesheet" href="${WEBVIEW_ORIGIN}/media/markdown.css">
<title>Kimi</title>
</head>
<body>
<main id="app" aria-live="polite"></main>
<script nonce="${nonce}">${fake}</script>
<script nonce="${nonce}" src="${WEBVIEW_ORIGIN}/dist/webview.js"></script>
</body>
</html>`;
}

function serveFile(rel: string): { body: Buffer; contentType: string } | undefined {
  const allowed = /^(dist\/webview\.js|media\/[\w-]+\.css)$/;
  if (!allowed.test(rel)) return undefined;
  const file = path.join(REPO_ROOT, rel);
  if (!fs.existsSync(file)) return undefined;
  return { body: fs.readFileSync(file), contentType: rel.endsWith('.js') ? 'text/javascript' : 'text/css' };
}

/** Opens the chat webview in a fresh browser context of `b` and waits for it to say `ready`. */
export async function openChatWebview(b: TestBrowser, opts: OpenChatWebviewOptions = {}): Promise<ChatWebview> {
  const context = await b.browser.newContext({ viewport: opts.viewport ?? { width: 420, height: 760 } });
  const nonce = randomBytes(16).toString('base64');
  const posted: WebviewToHost[] = [];
  const invalid: unknown[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const strayRequests: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());

  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (url === `${WEBVIEW_ORIGIN}/index.html`) {
      return route.fulfill({ status: 200, contentType: 'text/html', body: page(nonce) });
    }
    if (url === `${WEBVIEW_ORIGIN}/test-theme.css`) return route.fulfill({ status: 200, contentType: 'text/css', body: THEME_CSS });
    if (url === `${WEBVIEW_ORIGIN}/dist/webview.js` && opts.bundle !== undefined) {
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: opts.bundle });
    }
    if (url.startsWith(`${WEBVIEW_ORIGIN}/`)) {
      const file = serveFile(url.slice(WEBVIEW_ORIGIN.length + 1));
      if (file) return route.fulfill({ status: 200, contentType: file.contentType, body: file.body });
      return route.fulfill({ status: 404, body: '' });
    }
    strayRequests.push(url);
    return route.abort('blockedbyclient');
  });
  if (opts.clock) await context.clock.install();

  const p = await context.newPage();
  p.on('pageerror', (e) => pageErrors.push(e.stack ?? e.message));
  await p.exposeFunction('__kimiWebviewTest', (kind: string, json: string) => {
    const payload: unknown = JSON.parse(json);
    if (kind === 'post') {
      const parsed = webviewToHostSchema().safeParse(payload);
      if (parsed.success) posted.push(parsed.data);
      else invalid.push(payload);
      notify();
    } else if (kind === 'csp') {
      cspViolations.push(String(payload));
    }
  });

  const wv: ChatWebview = {
    page: p,
    context,
    posted,
    invalid,
    cspViolations,
    pageErrors,
    strayRequests,
    async host(...msgs) {
      await p.evaluate(
        (list) =>
          new Promise<void>((resolve) => {
            // Message events run in order: once our sentinel arrives, the webview has handled everything before it.
            const w = globalThis as unknown as {
              addEventListener(t: string, f: (e: { data: unknown }) => void): void;
              removeEventListener(t: string, f: (e: { data: unknown }) => void): void;
              postMessage(m: unknown, o: string): void;
            };
            const sentinel = `__sync_${Math.random()}`;
            const onMessage = (e: { data: unknown }) => {
              if (e.data === sentinel) {
                w.removeEventListener('message', onMessage);
                resolve();
              }
            };
            w.addEventListener('message', onMessage);
            for (const m of list) w.postMessage(m, '*');
            w.postMessage(sentinel, '*');
          }),
        msgs,
      );
    },
    mark: () => posted.length,
    waitForPosted(type, o = {}) {
      const from = o.from ?? 0;
      const where = o.where ?? (() => true);
      const find = () => posted.slice(from).find((m): m is PostedOf<typeof type> => m.type === type && where(m as PostedOf<typeof type>));
      const hit = find();
      if (hit) return Promise.resolve(hit);
      const timeoutMs = o.timeoutMs ?? 10_000;
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = find();
          if (!m) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the webview did not post "${type}" within ${timeoutMs} ms; it posted: ${JSON.stringify(posted.slice(from).map((m) => m.type))}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    postedOf(type, from = 0) {
      return posted.slice(from).filter((m): m is PostedOf<typeof type> => m.type === type);
    },
    assertClean() {
      const problems = [
        ...invalid.map((m) => `posted a message the host would drop: ${JSON.stringify(m).slice(0, 300)}`),
        ...cspViolations.map((v) => `CSP violation: ${v}`),
        ...pageErrors.map((e) => `page error: ${e}`),
        ...strayRequests.map((u) => `request outside the webview: ${u}`),
      ];
      if (problems.length) throw new Error(problems.join('\n'));
    },
    close: () => context.close().catch(() => undefined),
  };

  await p.goto(`${WEBVIEW_ORIGIN}/index.html`);
  await wv.waitForPosted('ready');
  return wv;
}

export interface ChatWebviews {
  /** The suite's browser (launched in the suite's `before`). */
  browser(): TestBrowser;
  /**
   * Opens a chat webview in the suite's browser. One opened in a test is checked (`assertClean`) and closed after
   * that test; one opened in a `before` hook lives for the suite and is closed, unchecked, before the browser.
   */
  open(opts?: OpenChatWebviewOptions): Promise<ChatWebview>;
}

/** Registers the hooks of a suite of chat webview tests (call it in the `describe` body, before the suite's own hooks). */
export function useChatWebviews(): ChatWebviews {
  let browser: TestBrowser | undefined;
  const suiteViews: ChatWebview[] = [];
  let testViews: ChatWebview[] | undefined;

  before(async function () {
    this.timeout(60_000);
    browser = await launchBrowser();
  });

  after(async function () {
    for (const w of suiteViews.splice(0)) await w.close();
    await browser?.close();
  });

  beforeEach(function () {
    testViews = [];
  });

  afterEach(async function () {
    const views = testViews ?? [];
    testViews = undefined;
    try {
      for (const w of views) w.assertClean();
    } finally {
      for (const w of views) await w.close();
    }
  });

  const suiteBrowser = (): TestBrowser => {
    if (!browser) throw new Error("useChatWebviews: the browser is launched in the suite's before hook");
    return browser;
  };
  return {
    browser: suiteBrowser,
    async open(opts) {
      const wv = await openChatWebview(suiteBrowser(), opts);
      (testViews ?? suiteViews).push(wv);
      return wv;
    },
  };
}

// ───────────────────────── host messages for the tests ─────────────────────────

export const READY_SERVER: ServerView = { state: 'ready', baseUrl: 'http://127.0.0.1:8000/v1', modelId: 'Kimi-K2.5', maxModelLen: 262144 };

/** A 1×1 PNG. */
export const TINY_PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

export function composerView(o: Partial<ComposerStateView> = {}): ComposerStateView {
  return { mode: 'thinking', busy: false, attachments: [], images: [], ...o };
}

export function turnMeta(o: Partial<AssistantTurnMeta> = {}): AssistantTurnMeta {
  return { mode: 'thinking', model: 'Kimi-K2.5', startedAt: 1_700_000_000_000, metrics: {}, toolCalls: [], ...o };
}

export function userView(id: string, text: string, o: Partial<UserTurnView> = {}): UserTurnView {
  return { role: 'user', id, createdAt: 1_700_000_000_000, text, attachments: [], images: [], ...o };
}

export function assistantView(id: string, thinking: string, answer: string, o: Partial<AssistantTurnMeta> = {}): AssistantTurnView {
  return { role: 'assistant', id, thinking, answer, ...turnMeta(o) };
}

/** What the host sends when the panel loads with a ready server and an empty chat. */
export async function hostReady(wv: ChatWebview, conversation: ConversationView = { id: 'c0', title: 'New chat', turns: [] }): Promise<void> {
  await wv.host(
    { type: 'server', server: READY_SERVER },
    { type: 'composer', composer: composerView() },
    { type: 'history', items: [], problems: [] },
    { type: 'conversation', conversation },
  );
}

/** Polls a condition until it holds or the deadline passes (then throws, naming what was awaited). */
export async function waitUntil(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Scroll position of an element (for the pin-to-bottom checks). */
export interface ScrollState {
  top: number;
  height: number;
  client: number;
  /** Distance from the bottom in px. */
  gap: number;
}

export async function scrollState(loc: import('playwright-core').Locator): Promise<ScrollState> {
  return loc.evaluate((e) => {
    const s = e as unknown as { scrollTop: number; scrollHeight: number; clientHeight: number };
    return { top: s.scrollTop, height: s.scrollHeight, client: s.clientHeight, gap: s.scrollHeight - s.scrollTop - s.clientHeight };
  });
}
