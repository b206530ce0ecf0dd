// A person opens VS Code with the extension, looks at the status bar and the Kimi panel, and uses its buttons —
// against the project's vLLM emulator, which the test stops to see the UI follow.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startEmulator } from '../emulator/server';
import type { EmulatorHandle } from '../emulator/types';
import { REPO_ROOT } from '../harness/codeServer';
import { closeWorkbench, openWorkbench, runCommand, screenshot, statusBarItem, waitForNotification, webviewFrame, type Workbench } from '../harness/workbench';

/** Copies a screenshot into docs/screenshots (used by the README) when KIMI_UPDATE_SCREENSHOTS=1. */
function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

describe('server status in the status bar and the Kimi panel', function () {
  let wb: Workbench;
  let emulator: EmulatorHandle;

  before(async function () {
    this.timeout(10 * 60_000);
    emulator = await startEmulator({ model: '/data/models/Kimi-K2.5', servedModelName: 'Kimi-K2.5', maxModelLen: 262144 });
    wb = await openWorkbench({
      settings: { 'kimi.endpoint.baseUrl': `${emulator.url}/v1`, 'kimi.status.pollSeconds': 2 },
      viewport: { width: 1400, height: 860 },
    });
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
    await emulator?.close();
  });

  it('the status bar shows the server is ready and which model it serves', async function () {
    this.timeout(60_000);
    await statusBarItem(wb.page, /Kimi: ready · Kimi-K2\.5/).waitFor({ state: 'visible', timeout: 45_000 });
  });

  it('Kimi: Open Chat shows the panel with the server, model and context length', async function () {
    this.timeout(90_000);
    await runCommand(wb.page, 'Kimi: Open Chat');
    const frame = await webviewFrame(wb.page, 'Chat', { timeoutMs: 45_000 });
    await frame.locator('.server[data-state="ready"]').waitFor({ timeout: 30_000 });
    assert.equal(await frame.locator('.server-state').innerText(), 'Server ready');
    assert.match(await frame.locator('.server-model').innerText(), /Kimi-K2\.5 · context 262,144 tokens/);
    assert.equal(await frame.locator('.server-url').innerText(), `${emulator.url}/v1`);
    publish(await screenshot(wb.page, 'chat-view-ready'));
  });

  it('when the server goes away, "Check again" says so at once and offers to start one', async function () {
    this.timeout(90_000);
    await emulator.close();
    const frame = await webviewFrame(wb.page, 'Chat');
    await frame.getByRole('button', { name: 'Check again' }).click();
    await frame.locator('.server[data-state="unreachable"]').waitFor({ timeout: 15_000 });
    assert.equal(await frame.locator('.server-state').innerText(), 'No server running');
    assert.match(await frame.locator('.server-detail').innerText(), /connection refused/);
    await statusBarItem(wb.page, /Kimi: no server/).waitFor({ state: 'visible', timeout: 15_000 });
    publish(await screenshot(wb.page, 'chat-view-no-server'));

    // No vLLM on this machine: starting the default profile must say so in plain words, with what to set.
    await frame.getByRole('button', { name: 'Start Server' }).click();
    const text = await waitForNotification(wb.page, /Kimi: vLLM is not installed/);
    assert.match(text, /environment\.venv/);
  });

  it('Download Model asks what to download, then says in plain words that ModelScope is missing on this host', async function () {
    this.timeout(90_000);
    await runCommand(wb.page, 'Kimi: Download Model');
    const row = wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: 'The whole model' }).first();
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    await row.click();
    const text = await waitForNotification(wb.page, /Kimi: ModelScope is not installed on the host/);
    assert.match(text, /pip install modelscope/);
  });
});
