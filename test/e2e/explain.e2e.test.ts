// A person selects code in the real VS Code (code-server in Chromium), right-clicks "Explain Selection", watches the
// explanation stream into a comment thread under the selection (thinking folded, shown on demand), continues it in the
// chat panel, and dismisses it — against the vLLM emulator. Screenshots go to test-results/ (and docs/screenshots
// with KIMI_UPDATE_SCREENSHOTS=1).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startEmulator, type EmulatorServerHandle } from '../emulator/server';
import { REPO_ROOT } from '../harness/codeServer';
import { closeWorkbench, openWorkbench, runCommand, screenshot, webviewFrame, type Workbench } from '../harness/workbench';

/** Copies a screenshot into docs/screenshots (used by the README) when KIMI_UPDATE_SCREENSHOTS=1. */
function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

const THINKING = 'The user selected `mean`. It guards the empty list first, then sums with reduce and divides by the length. ' +
  'So an empty input throws instead of returning NaN from 0 / 0. The reduce starts at 0, which is right for numbers. ' +
  'Is there anything surprising? Floating-point error grows with very long lists; a running mean or Kahan summation ' +
  'would help there, worth one short example. Also, NaN values in the list propagate to the result. ' +
  'I should keep it short: what it does, the guard, and the precision note with a snippet.';
const ANSWER = [
  '`mean` returns the **arithmetic average** of `values`:',
  '',
  '- **Line 9** throws for an empty list, so the division on line 10 never divides by zero (no `NaN`).',
  '- **Line 10** sums with `reduce` (starting at `0`) and divides by the count.',
  '',
  'For a large list the sum can lose precision; a running mean avoids that:',
  '',
  '```ts',
  'let m = 0;',
  'values.forEach((v, i) => (m += (v - m) / (i + 1)));',
  '```',
].join('\n');

/** The comment thread widget in the editor whose header contains `title`. */
function thread(page: Page, title: string | RegExp): Locator {
  return page.locator('.review-widget').filter({ has: page.locator('.head', { hasText: title }) }).first();
}

describe('inline explanations in the real VS Code', function () {
  let wb: Workbench;
  let emulator: EmulatorServerHandle;

  before(async function () {
    this.timeout(10 * 60_000);
    emulator = await startEmulator({
      servedModelName: 'Kimi-K2.5',
      tokensPerSecond: 40,
      script: [{ match: 'Explain the selected code', thinking: THINKING, answer: ANSWER }, { answer: 'Fine.' }],
    });
    wb = await openWorkbench({
      settings: { 'kimi.endpoint.baseUrl': `${emulator.url}/v1`, 'kimi.explain.mode': 'thinking', 'kimi.status.pollSeconds': 2 },
      viewport: { width: 1400, height: 860 },
    });
  });

  afterEach(async function () {
    const t = this.currentTest;
    if (t?.state === 'failed' && wb) await screenshot(wb.page, `explain-failed-${t.title.slice(0, 40)}`).catch(() => undefined);
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
    await emulator?.close();
  });

  it('select → right-click Explain Selection → the explanation streams under the selection, thinking folded', async function () {
    this.timeout(180_000);
    const { page } = wb;
    // The status bar knows the server before anything is asked of it.
    await page.locator('.statusbar-item', { hasText: /Kimi: ready/ }).first().waitFor({ timeout: 45_000 });
    const explorer = page.locator('.explorer-folders-view');
    await explorer.getByText('src', { exact: true }).click();
    await explorer.getByText('math.ts', { exact: true }).click();
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-line', { hasText: 'export function mean' }).waitFor({ timeout: 30_000 });

    // Lines 8–10, selected with the keyboard.
    await runCommand(page, 'Go to Line/Column...', { exact: true });
    await page.keyboard.type('8');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowDown');
    await editor.locator('.selected-text').first().waitFor({ timeout: 10_000 });

    // The lightbulb offers it too.
    await page.locator('.lightBulbWidget, .codicon-lightbulb, .codicon-lightbulb-sparkle').first().waitFor({ state: 'visible', timeout: 20_000 });

    await editor.locator('.view-line', { hasText: 'throw new Error' }).click({ button: 'right', position: { x: 5, y: 5 } }).catch(async () => {
      await editor.locator('.selected-text').first().click({ button: 'right' });
    });
    const item = page.locator('.monaco-menu .action-item', { hasText: /^Explain Selection/ }).first();
    await item.waitFor({ state: 'visible', timeout: 10_000 });
    // VS Code's menus act on the highlighted item; a synthetic click right after opening can be swallowed.
    await item.hover();
    await page.keyboard.press('Enter');
    await item.waitFor({ state: 'hidden', timeout: 10_000 });

    const t = thread(page, 'Kimi · Explain: src/math.ts, lines 8–10');
    await t.waitFor({ state: 'visible', timeout: 30_000 });
    await t.getByText(/Thinking… \d+ s/).first().waitFor({ timeout: 30_000 });
    // VS Code opens its Comments panel the first time a file has comments; a person closes it to read.
    if (await page.locator('.part.panel').isVisible()) await runCommand(page, 'View: Hide Panel');
    await t.getByText(/Thinking… [1-9]\d* s/).first().waitFor({ timeout: 30_000 });
    assert.equal(await t.getByText(THINKING.slice(0, 30)).count(), 0, 'the thinking text is folded while it thinks');
    publish(await screenshot(page, 'explain-inline-thinking-live'));
    await t.getByText(/Thought for \d+ s/).first().waitFor({ timeout: 60_000 });
    await t.getByText('For a large list the sum can lose precision').waitFor({ timeout: 60_000 });
    await t.locator('.comment-body', { hasText: 'values.forEach((v, i) => (m += (v - m) / (i + 1)));' }).waitFor({ timeout: 60_000 });
    await t.getByText(/Thinking · [\d.]+ s · [\d,]+ tokens/).waitFor({ timeout: 30_000 });
    publish(await screenshot(page, 'explain-inline'));

    // Show Thinking (the Thinking comment's action) unfolds the text; Hide folds it again.
    await t.getByRole('button', { name: 'Show Thinking' }).click();
    await t.getByText(/It guards the empty list first/).waitFor({ timeout: 10_000 });
    publish(await screenshot(page, 'explain-inline-thinking-shown'));
    await t.getByRole('button', { name: 'Hide Thinking' }).click();
    await t.getByText(/It guards the empty list first/).waitFor({ state: 'detached', timeout: 10_000 });

    // Nothing was written into the file: its tab is not dirty.
    const tab = page.locator('.tabs-container .tab', { hasText: 'math.ts' }).first();
    assert.equal(await tab.evaluate((el) => el.classList.contains('dirty')), false);
  });

  it('Continue in Chat opens the conversation in the chat panel with the selection attached', async function () {
    this.timeout(120_000);
    const { page } = wb;
    const t = thread(page, 'Kimi · Explain: src/math.ts, lines 8–10');
    await t.getByRole('button', { name: 'Continue in Chat' }).click();
    const chat = await webviewFrame(page, 'Chat', { timeoutMs: 45_000 });
    const user = chat.locator('.turn-user').first();
    await user.waitFor({ timeout: 30_000 });
    assert.match(await user.locator('.user-text').innerText(), /^Explain the selected code in src\/math\.ts \(lines 8–10\)\.$/);
    assert.match(await user.locator('.chip').first().innerText(), /math\.ts.*8.*10/);
    await chat.locator('.turn-assistant').getByText('For a large list the sum can lose precision').waitFor({ timeout: 15_000 });
    publish(await screenshot(page, 'explain-continue-in-chat'));
  });

  it('Dismiss removes the thread; the file is unchanged', async function () {
    this.timeout(60_000);
    const { page } = wb;
    const t = thread(page, 'Kimi · Explain: src/math.ts, lines 8–10');
    await t.getByRole('button', { name: 'Dismiss Explanation' }).click();
    await t.waitFor({ state: 'detached', timeout: 10_000 });
    const tab = page.locator('.tabs-container .tab', { hasText: 'math.ts' }).first();
    assert.equal(await tab.evaluate((el) => el.classList.contains('dirty')), false);
  });
});
