// Person-like UI helpers for e2e tests: a real VS Code workbench (code-server) in headless Chromium, driven the way a
// person would — the command palette, the status bar, notifications, webviews. Every wait is on a real condition
// (a locator, an event) with a bounded timeout; nothing sleeps for a fixed time.
//
//   let wb: Workbench;
//   before(async function () { this.timeout(10 * 60_000); wb = await openWorkbench(); });
//   after(() => closeWorkbench());
//   it('…', async () => { await runCommand(wb.page, 'Kimi: Open Chat'); const chat = await webviewFrame(wb.page, 'Chat'); … });
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConsoleMessage, Frame, Locator, Page } from 'playwright-core';
import { buildPayloadUrl, launchBrowser, type TestBrowser } from './browser';
import { createTempWorkspace, removeTempWorkspace, REPO_ROOT, startCodeServer, type CodeServer } from './codeServer';

export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results');

export interface OpenWorkbenchOptions {
  /** Folder to open. Default: a fresh temp copy of test/fixtures/<fixture>, removed by close(). */
  workspace?: string;
  /** Fixture copied when no workspace is given (default 'workspace'). */
  fixture?: string;
  /** The extension under development (default: the repo root). */
  extensionDevelopmentPath?: string;
  /** Merged over the quiet default user settings. */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server and the extension host. */
  env?: Record<string, string>;
  viewport?: { width: number; height: number };
  /** How long to wait for the workbench to render (default 60 s). */
  timeoutMs?: number;
  /** Workspace Trust on: the folder opens in Restricted Mode (see StartCodeServerOptions.workspaceTrust). */
  workspaceTrust?: boolean;
}

export interface Workbench {
  page: Page;
  server: CodeServer;
  browser: TestBrowser;
  workspace: string;
  /** The URL the page was opened at. */
  url: string;
  /** Browser console messages of type error/warning, plus uncaught page errors — handy in failure messages. */
  consoleErrors: string[];
  /** Closes the browser, stops code-server, removes the temp workspace (if we made it). Idempotent. */
  close(): Promise<void>;
}

const open = new Set<Workbench>();

/** Starts code-server + Chromium, opens the workspace with the extension under development, waits for the workbench. */
export async function openWorkbench(opts: OpenWorkbenchOptions = {}): Promise<Workbench> {
  const ownWorkspace = !opts.workspace;
  const workspace = opts.workspace ?? createTempWorkspace(opts.fixture);
  const extensionDevelopmentPath = opts.extensionDevelopmentPath ?? REPO_ROOT;
  let server: CodeServer | undefined;
  let browser: TestBrowser | undefined;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await browser?.close();
      await server?.stop();
      if (ownWorkspace) removeTempWorkspace(workspace);
    })();
    return closed;
  };
  try {
    server = await startCodeServer({ workspace, extensionDevelopmentPath, settings: opts.settings, env: opts.env, ...(opts.workspaceTrust ? { workspaceTrust: true } : {}) });
    browser = await launchBrowser({ viewport: opts.viewport });
    const { page } = browser;
    const consoleErrors: string[] = [];
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
    const url = buildPayloadUrl(server, { folder: workspace, extensionDevelopmentPath });
    const timeout = opts.timeoutMs ?? 60_000;
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout });
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout });
    const wb: Workbench = { page, server, browser, workspace, url, consoleErrors, close };
    wb.close = async () => {
      open.delete(wb);
      await close();
    };
    open.add(wb);
    return wb;
  } catch (e) {
    if (browser) await screenshot(browser.page, 'open-workbench-failed').catch(() => undefined);
    const log = server?.logTail(30);
    await close();
    const err = e as Error;
    if (log) err.message += `\nLast lines of code-server's log:\n${log}`;
    throw err;
  }
}

/** Closes the given workbench, or every workbench opened by openWorkbench() that is still open. */
export async function closeWorkbench(wb?: Workbench): Promise<void> {
  const targets = wb ? [wb] : [...open];
  await Promise.all(targets.map((w) => w.close()));
}

// ---- quick input / command palette -------------------------------------------------------------------------------

const QUICK_INPUT_BOX = '.quick-input-widget input.input';
const QUICK_ROWS = '.quick-input-widget .quick-input-list .monaco-list-row';
const NO_MATCH = /^No (matching|commands)/i;

function norm(s: string): string {
  return s.replace(/\s+/g, ' ').trim().toLowerCase();
}

async function rowLabels(page: Page): Promise<string[]> {
  return page.locator(QUICK_ROWS).evaluateAll((rows) =>
    rows.map((r) => {
      const label = r.querySelector('.label-name')?.textContent ?? r.getAttribute('aria-label') ?? '';
      return label.replace(/\s+/g, ' ').trim();
    }),
  );
}

/**
 * Takes keyboard focus away from whatever has it (an editor, a webview iframe, an input) so the next key press goes
 * to the workbench's own keybinding handling. No click: clicks land on things (the title bar is the command center).
 */
async function focusWorkbench(page: Page): Promise<void> {
  await page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { activeElement: { blur?: () => void } | null } }).document;
    doc.activeElement?.blur?.();
  });
}

/** Closes any open quick input (palette, quick pick) with Escape. */
export async function closeQuickInput(page: Page, timeoutMs = 5000): Promise<void> {
  const input = page.locator(QUICK_INPUT_BOX);
  for (let i = 0; i < 3 && (await input.isVisible()); i++) {
    await page.keyboard.press('Escape');
    await input.waitFor({ state: 'hidden', timeout: timeoutMs / 3 }).catch(() => undefined);
  }
}

/** Opens the command palette (F1), focusing the workbench first if the key did not reach it. */
export async function openCommandPalette(page: Page, timeoutMs = 10_000): Promise<Locator> {
  const input = page.locator(QUICK_INPUT_BOX);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (await input.isVisible()) {
      if ((await input.inputValue()).startsWith('>')) return input;
      await closeQuickInput(page);
    }
    if (attempt > 0) await focusWorkbench(page);
    await page.keyboard.press('F1');
    const ok = await input
      .waitFor({ state: 'visible', timeout: Math.max(500, Math.min(2000, deadline - Date.now())) })
      .then(() => true, () => false);
    if (ok) return input;
  }
  throw new Error(`the command palette did not open within ${timeoutMs} ms`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Re-types `>query` (an open palette does not refresh when commands register later) and returns the row labels once
 * a row containing the query shows up, or after `rowWaitMs` with whatever is listed then.
 */
async function queryPalette(page: Page, input: Locator, query: string, rowWaitMs = 1500): Promise<string[]> {
  await input.fill('>');
  await input.fill(`>${query}`);
  await page
    .locator(QUICK_ROWS)
    .filter({ hasText: new RegExp(escapeRegExp(query.trim()), 'i') })
    .first()
    .waitFor({ state: 'visible', timeout: rowWaitMs })
    .catch(() => undefined);
  return rowLabels(page);
}

export interface ListCommandsOptions {
  /** Keep re-querying until this holds for the labels (default: at least one real match). */
  until?: (labels: string[]) => boolean;
  timeoutMs?: number;
}

/**
 * Opens the palette, types `>query` and returns the labels of the listed commands, re-typing the query until
 * `until` holds (commands of a remote extension register a few seconds after the workbench appears, and an open
 * palette does not refresh by itself). Leaves the palette open (closeQuickInput() closes it).
 */
export async function listCommands(page: Page, query: string, opts: ListCommandsOptions = {}): Promise<string[]> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const until = opts.until ?? ((labels: string[]) => labels.length > 0);
  const deadline = Date.now() + timeoutMs;
  const input = await openCommandPalette(page, timeoutMs);
  let labels: string[] = [];
  while (Date.now() < deadline) {
    labels = (await queryPalette(page, input, query)).filter((l) => l && !NO_MATCH.test(l));
    if (until(labels)) return labels;
    // Not yet: give the list a moment to grow before typing the query again.
    await page.locator(QUICK_ROWS).nth(labels.length + 1).waitFor({ state: 'attached', timeout: 1000 }).catch(() => undefined);
  }
  throw new Error(`the command palette never listed what was expected for ">${query}"; last rows: ${JSON.stringify(labels)}`);
}

export interface RunCommandOptions {
  timeoutMs?: number;
  /** Only run a command whose label equals the title (default false: fall back to one that contains it). */
  exact?: boolean;
}

/**
 * Runs a command the way a person does: F1, type `>title`, pick the matching row. An exact label match wins; a
 * row containing the title is accepted once two queries in a row found no exact match. Returns the label run.
 */
export async function runCommand(page: Page, title: string, opts: RunCommandOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const want = norm(title);
  const deadline = Date.now() + timeoutMs;
  await closeQuickInput(page);
  const input = await openCommandPalette(page, timeoutMs);
  let partialSeen = 0;
  let labels: string[] = [];
  while (Date.now() < deadline) {
    if (!(await input.isVisible())) await openCommandPalette(page, Math.max(1000, deadline - Date.now()));
    labels = await queryPalette(page, input, title);
    let index = labels.findIndex((l) => norm(l) === want);
    if (index < 0 && !opts.exact) {
      const partial = labels.findIndex((l) => !NO_MATCH.test(l) && norm(l).includes(want));
      if (partial >= 0 && ++partialSeen >= 2) index = partial;
    }
    if (index >= 0) {
      const label = labels[index];
      await page.locator(QUICK_ROWS).nth(index).click({ timeout: 5000 });
      // The palette closes (or turns into the command's own quick input); don't insist, some commands keep it.
      await page
        .locator(QUICK_ROWS)
        .filter({ hasText: label })
        .first()
        .waitFor({ state: 'hidden', timeout: 5000 })
        .catch(() => undefined);
      return label;
    }
  }
  await closeQuickInput(page).catch(() => undefined);
  throw new Error(`no command "${title}" in the command palette within ${timeoutMs} ms; last rows: ${JSON.stringify(labels)}`);
}

// ---- status bar ----------------------------------------------------------------------------------------------------

/**
 * The first status bar item whose visible text matches — or, for a string, whose aria-label contains it (items that
 * show only an icon). A Locator, so wait on it: `await statusBarItem(page, /Kimi/).waitFor()`.
 */
export function statusBarItem(page: Page, textOrRegex: string | RegExp): Locator {
  const items = page.locator('.monaco-workbench .part.statusbar .statusbar-item');
  const byText = items.filter({ hasText: textOrRegex });
  if (typeof textOrRegex !== 'string') return byText.first();
  const byLabel = items.and(page.locator(`[aria-label*=${JSON.stringify(textOrRegex)}]`));
  return byText.or(byLabel).first();
}

// ---- notifications -------------------------------------------------------------------------------------------------

const CENTER = '.notifications-center';
const CENTER_VISIBLE = '.notifications-center.visible';
const CENTER_ITEMS = '.notifications-center .notification-list-item';

async function showNotificationCenter(page: Page): Promise<void> {
  if (await page.locator(CENTER_VISIBLE).isVisible()) return;
  await runCommand(page, 'Notifications: Show Notifications', { exact: true });
  await page.locator(CENTER_VISIBLE).waitFor({ state: 'visible', timeout: 5000 });
}

async function hideNotificationCenter(page: Page): Promise<void> {
  const center = page.locator(CENTER_VISIBLE);
  if (!(await center.isVisible())) return;
  await page.locator(CENTER).focus().catch(() => undefined);
  await page.keyboard.press('Escape');
  if (await center.waitFor({ state: 'hidden', timeout: 2000 }).then(() => true, () => false)) return;
  await runCommand(page, 'Notifications: Hide Notifications', { exact: true });
  await center.waitFor({ state: 'hidden', timeout: 5000 });
}

async function notificationTexts(page: Page): Promise<string[]> {
  return page.locator(CENTER_ITEMS).evaluateAll((items) =>
    items.map((i) => ((i as unknown as { innerText?: string }).innerText || i.textContent || '').replace(/\s+/g, ' ').trim()),
  );
}

/**
 * The texts of all notifications, read from the Notification Center (with the smoke-test driver on, toasts are
 * suppressed). Opens the center with "Notifications: Show Notifications" and closes it again.
 */
export async function readNotifications(page: Page): Promise<string[]> {
  await showNotificationCenter(page);
  try {
    return await notificationTexts(page);
  } finally {
    await hideNotificationCenter(page);
  }
}

/** Waits (bounded) until a notification matching textOrRegex is in the Notification Center; returns its text. */
export async function waitForNotification(page: Page, textOrRegex: string | RegExp, timeoutMs = 30_000): Promise<string> {
  await showNotificationCenter(page);
  try {
    const item = page.locator(CENTER_ITEMS).filter({ hasText: textOrRegex }).first();
    const found = await item.waitFor({ state: 'attached', timeout: timeoutMs }).then(() => true, () => false);
    if (!found) {
      throw new Error(`no notification matching ${String(textOrRegex)} within ${timeoutMs} ms; have: ${JSON.stringify(await notificationTexts(page))}`);
    }
    return ((await item.innerText()) || '').replace(/\s+/g, ' ').trim();
  } finally {
    await hideNotificationCenter(page);
  }
}

// ---- webviews ------------------------------------------------------------------------------------------------------

export interface WebviewFrameOptions {
  timeoutMs?: number;
}

/**
 * The inner Frame of a webview (its HTML lives two iframes deep: `iframe.webview.ready` → `#active-frame`).
 * `viewTitleOrSelector` is either the webview's title — a view's name ("Chat") or a panel's title; VS Code puts it on
 * the `#active-frame` element — matched exactly or, failing that, as a substring (a RegExp is tested), preferring
 * visible webviews; or a CSS selector for the outer iframe when it starts with "iframe" or "css=".
 * The frame is replaced when the webview reloads its HTML: call again after that.
 */
export async function webviewFrame(page: Page, viewTitleOrSelector: string | RegExp, opts: WebviewFrameOptions = {}): Promise<Frame> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const isSelector = typeof viewTitleOrSelector === 'string' && /^(iframe|css=)/.test(viewTitleOrSelector);
  const score = (title: string): number => {
    if (isSelector) return 2;
    if (typeof viewTitleOrSelector !== 'string') return viewTitleOrSelector.test(title) ? 2 : 0;
    if (norm(title) === norm(viewTitleOrSelector)) return 2;
    return norm(title).includes(norm(viewTitleOrSelector)) ? 1 : 0;
  };
  const outer = page.locator(isSelector ? (viewTitleOrSelector as string).replace(/^css=/, '') : 'iframe.webview.ready');
  let titles: string[] = [];
  while (Date.now() < deadline) {
    const count = await outer.count();
    titles = [];
    let best: { index: number; score: number } | undefined;
    let loading = -1; // a webview whose content frame is not there yet
    for (let i = 0; i < count; i++) {
      const active = outer.nth(i).contentFrame().locator('#active-frame');
      if ((await active.count()) === 0) {
        if (loading < 0) loading = i;
        continue;
      }
      const title = (await active.getAttribute('title', { timeout: 1000 }).catch(() => null)) ?? '';
      titles.push(title);
      const s = score(title) * 2 + ((await outer.nth(i).isVisible()) ? 1 : 0);
      if (score(title) > 0 && (!best || s > best.score)) best = { index: i, score: s };
    }
    if (best) {
      const handle = await outer.nth(best.index).contentFrame().locator('#active-frame').elementHandle({ timeout: 5000 });
      const frame = await handle.contentFrame();
      await handle.dispose();
      if (frame) {
        await frame.waitForLoadState('domcontentloaded', { timeout: Math.max(1000, deadline - Date.now()) });
        return frame;
      }
    }
    // Wait for something to change: the loading webview gets its content frame, or another webview appears.
    const next = loading >= 0 ? outer.nth(loading).contentFrame().locator('#active-frame') : outer.nth(count);
    await next.waitFor({ state: 'attached', timeout: Math.max(1, Math.min(2000, deadline - Date.now())) }).catch(() => undefined);
  }
  throw new Error(
    `no webview ${isSelector ? 'for selector' : 'titled'} ${String(viewTitleOrSelector)} within ${timeoutMs} ms; loaded webview titles: ${JSON.stringify(titles)}`,
  );
}

// ---- screenshots ---------------------------------------------------------------------------------------------------

/** Saves a screenshot of the page to test-results/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, timeout: 15_000 });
  return file;
}
