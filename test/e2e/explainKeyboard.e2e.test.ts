// Explain Selection from the keyboard in the real VS Code (code-server in Chromium): a person selects code and
// presses Ctrl+Alt+E (the manifest's keybinding, no palette, no menu). First with no server at the endpoint — the
// thread says it waits and a notification offers Start Server (screenshot explain-no-server.png); once a server
// answers at that address the waiting explanation goes out by itself. Then with the server up: Ctrl+Alt+E on another
// selection streams its explanation inline.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startEmulator, type EmulatorServerHandle } from '../emulator/server';
import { freePort, REPO_ROOT } from '../harness/codeServer';
import { closeWorkbench, openWorkbench, runCommand, screenshot, type Workbench } from '../harness/workbench';

function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

function thread(page: Page, title: string | RegExp): Locator {
  return page.locator('.review-widget').filter({ has: page.locator('.head', { hasText: title }) }).first();
}

const WAITED_ANSWER = '`mean` averages the list and throws for an empty one (explained after the server came up).';
const KEY_ANSWER = '`fibonacci` walks the sequence iteratively with two running values (explained from Ctrl+Alt+E).';

/** Selects lines `from`..`to` (1-based, whole lines) of the focused editor with the keyboard. */
async function selectLines(page: Page, editor: Locator, from: number, to: number): Promise<void> {
  await runCommand(page, 'Go to Line/Column...', { exact: true });
  await page.keyboard.type(String(from));
  await page.keyboard.press('Enter');
  await page.keyboard.press('Home');
  await page.keyboard.press('Home'); // twice: the first one stops at the indentation
  for (let i = from; i <= to; i++) await page.keyboard.press('Shift+ArrowDown');
  await editor.locator('.selected-text').first().waitFor({ timeout: 10_000 });
}

describe('Explain Selection from the keyboard (Ctrl+Alt+E) in the real VS Code', function () {
  let wb: Workbench;
  let emulator: EmulatorServerHandle | undefined;
  let port: number;

  before(async function () {
    this.timeout(10 * 60_000);
    port = await freePort();
    // Nothing listens at the endpoint yet.
    wb = await openWorkbench({
      settings: { 'kimi.endpoint.baseUrl': `http://127.0.0.1:${port}/v1`, 'kimi.status.pollSeconds': 2 },
      viewport: { width: 1400, height: 860 },
    });
  });

  afterEach(async function () {
    const t = this.currentTest;
    if (t?.state === 'failed' && wb) await screenshot(wb.page, `explain-key-failed-${t.title.slice(0, 40)}`).catch(() => undefined);
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
    await emulator?.close();
  });

  it('no server: Ctrl+Alt+E → the thread waits, the notification offers Start Server; the explanation goes out once a server answers', async function () {
    this.timeout(240_000);
    const { page } = wb;
    const explorer = page.locator('.explorer-folders-view');
    await explorer.getByText('src', { exact: true }).click();
    await explorer.getByText('math.ts', { exact: true }).click();
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-line', { hasText: 'export function mean' }).waitFor({ timeout: 30_000 });
    await selectLines(page, editor, 8, 10);

    await page.keyboard.press('Control+Alt+E');
    const t = thread(page, 'Kimi · Explain: src/math.ts, lines 8–10');
    await t.waitFor({ state: 'visible', timeout: 30_000 });
    await t.getByText(/Waiting for Kimi's server/).first().waitFor({ timeout: 30_000 });
    if (await page.locator('.part.panel').isVisible()) await runCommand(page, 'View: Hide Panel');

    // The offer, in the Notification Center (the smoke-test driver suppresses toasts).
    await runCommand(page, 'Notifications: Show Notifications', { exact: true });
    const note = page
      .locator('.notifications-center .notification-list-item')
      .filter({ hasText: new RegExp(`Kimi's server is not running \\(nothing answers at http://127\\.0\\.0\\.1:${port}/v1\\)`) })
      .first();
    await note.waitFor({ state: 'visible', timeout: 30_000 });
    await note.getByRole('button', { name: 'Start Server' }).waitFor({ state: 'visible', timeout: 10_000 });
    publish(await screenshot(page, 'explain-no-server'));
    await page.keyboard.press('Escape');

    // A server appears at that address: the waiting explanation is sent without pressing anything again.
    emulator = await startEmulator({
      port,
      servedModelName: 'Kimi-K2.5',
      tokensPerSecond: 200,
      script: [
        { match: 'Explain the selected code', answer: WAITED_ANSWER },
        { match: 'Explain the selected code', answer: KEY_ANSWER },
      ],
    });
    await t.getByText('explained after the server came up').waitFor({ timeout: 60_000 });
    const sent = emulator.requests.filter((r) => r.path === '/v1/chat/completions');
    assert.equal(sent.length, 1, 'one request for the waiting explanation');
    assert.match(JSON.stringify(sent[0]!.body), /if \(values\.length === 0\)/, 'the selected lines went with it');
  });

  it('server up: select lines 1–6, press Ctrl+Alt+E → the explanation streams in a thread under the selection', async function () {
    this.timeout(120_000);
    const { page } = wb;
    await page.locator('.statusbar-item', { hasText: /Kimi: ready/ }).first().waitFor({ timeout: 45_000 });
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-line', { hasText: 'export function fibonacci' }).click();
    await selectLines(page, editor, 1, 6);

    await page.keyboard.press('Control+Alt+E');
    const t = thread(page, 'Kimi · Explain: src/math.ts, lines 1–6');
    await t.waitFor({ state: 'visible', timeout: 30_000 });
    await t.getByText('explained from Ctrl+Alt+E').waitFor({ timeout: 60_000 });
    const sent = emulator!.requests.filter((r) => r.path === '/v1/chat/completions');
    assert.equal(sent.length, 2);
    assert.match(JSON.stringify(sent[1]!.body), /for \(let i = 1; i < n; i\+\+\)/, 'the selected lines went with it');
    // Both threads stay, nothing was written into the file.
    await thread(page, 'Kimi · Explain: src/math.ts, lines 8–10').waitFor({ state: 'visible', timeout: 5000 });
    const tab = page.locator('.tabs-container .tab', { hasText: 'math.ts' }).first();
    assert.equal(await tab.evaluate((el) => el.classList.contains('dirty')), false);
    await screenshot(page, 'explain-keybinding');
  });
});
