// Proves the e2e harness: a real VS Code workbench (code-server) in headless Chromium, with the extension under
// development loaded, driven like a person would. One code-server per file (before/after), not per test.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { closeQuickInput, closeWorkbench, listCommands, openWorkbench, screenshot, type Workbench } from '../harness/workbench';

describe('e2e harness: the real VS Code workbench', function () {
  let wb: Workbench;

  before(async function () {
    this.timeout(10 * 60_000); // the first run on a machine installs the test VS Code (about 2.5 minutes)
    wb = await openWorkbench();
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
  });

  it('shows the workbench with the sample workspace in the Explorer', async function () {
    this.timeout(60_000);
    const explorer = wb.page.locator('.explorer-folders-view');
    await explorer.getByText('README.md', { exact: true }).waitFor({ state: 'visible', timeout: 30_000 });
    await explorer.getByText('src', { exact: true }).waitFor({ state: 'visible', timeout: 30_000 });
  });

  it('lists the extension\'s "Kimi:" commands in the command palette', async function () {
    this.timeout(60_000);
    const labels = await listCommands(wb.page, 'Kimi:', { until: (l) => l.includes('Kimi: Open Chat'), timeoutMs: 45_000 });
    assert.ok(labels.every((l) => l.startsWith('Kimi:')), `unexpected rows: ${JSON.stringify(labels)}`);
    const file = await screenshot(wb.page, 'e2e-command-palette');
    assert.ok(fs.statSync(file).size > 10_000, 'the screenshot is not empty');
    await closeQuickInput(wb.page);
  });
});
