// A person starts a server from the command palette (picking a profile), watches the loading phases in the status
// bar and the Kimi panel, sees it ready, stops it; then meets a failure explained with its fix, and applies the fix
// with one click. The server is the fake `vllm` (test/emulator/bin) as a real process tree on this machine.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { stateDirFor } from '../../src/core/server/remoteScripts';
import { freePort, REPO_ROOT } from '../harness/codeServer';
import { closeQuickInput, closeWorkbench, openWorkbench, runCommand, screenshot, statusBarItem, waitForNotification, webviewFrame, type Workbench } from '../harness/workbench';

/** Copies a screenshot into docs/screenshots (used by the README) when KIMI_UPDATE_SCREENSHOTS=1. */
function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

const QUICK_ROWS = '.quick-input-widget .quick-input-list .monaco-list-row';

/** Picks the row of the open quick pick whose text contains `text`. */
async function pickRow(page: Page, text: string): Promise<void> {
  const row = page.locator(QUICK_ROWS).filter({ hasText: text }).first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  await row.click();
  await row.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

describe('server lifecycle in the real VS Code', function () {
  let wb: Workbench;
  let tmp: string;
  const ok = `e2e-${process.pid}-ok`;
  const kv = `e2e-${process.pid}-kv`;

  before(async function () {
    this.timeout(10 * 60_000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-e2e-server-'));
    fs.mkdirSync(path.join(tmp, 'model'));
    const fake = async (name: string, env: Record<string, string>) => {
      const gpus = path.join(tmp, `gpus-${name}`);
      fs.mkdirSync(gpus);
      return {
        name,
        port: await freePort(),
        modelDir: path.join(tmp, 'model'),
        servedModelName: 'Kimi-K2.5',
        environment: { commandPrefix: `env PATH=${path.join(REPO_ROOT, 'test', 'emulator', 'bin')}:$PATH` },
        // Slow enough that a person (and the test) sees the phases go by.
        env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: gpus, KIMI_FAKE_VLLM_SHARD_MS: '60', KIMI_FAKE_VLLM_PHASE_MS: '150', ...env },
      };
    };
    wb = await openWorkbench({
      settings: {
        // ok's downloads move 3 GB/s (real sizes): a few shards take long enough to watch.
        'kimi.servers': [await fake(ok, { KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '3000000000' }), await fake(kv, { KIMI_FAKE_VLLM_FAIL: 'kv-cache' })],
        'kimi.activeServer': ok,
        'kimi.status.pollSeconds': 2,
        // The DOM renderer, so the test can read the server terminal's text (the GPU one draws on a canvas).
        'terminal.integrated.gpuAcceleration': 'off',
      },
      viewport: { width: 1400, height: 860 },
    });
  });

  afterEach(async function () {
    const t = this.currentTest;
    if (t?.state === 'failed' && wb) await screenshot(wb.page, `server-lifecycle-failed-${t.title.slice(0, 40)}`).catch(() => undefined);
  });

  after(async function () {
    this.timeout(60_000);
    // Never leave a fake server running: stop whatever the UI left behind.
    if (wb) await runCommand(wb.page, 'Kimi: Stop Server', { timeoutMs: 10_000 }).catch(() => undefined);
    await closeWorkbench();
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const name of [ok, kv]) for (const dir of [stateDirFor(name), `${stateDirFor(name)}-download`]) fs.rmSync(dir.replace(/^~/, os.homedir()), { recursive: true, force: true });
  });

  it('the status bar says stopped before anything runs', async function () {
    this.timeout(60_000);
    await statusBarItem(wb.page, /Kimi: stopped/).waitFor({ state: 'visible', timeout: 45_000 });
  });

  it('Start Server: pick the profile (host and GPUs shown), watch the phases, then ready with model and GPUs', async function () {
    this.timeout(180_000);
    await runCommand(wb.page, 'Kimi: Open Chat');
    const frame = await webviewFrame(wb.page, 'Chat', { timeoutMs: 45_000 });
    await frame.locator('.server').waitFor({ timeout: 30_000 });

    await runCommand(wb.page, 'Kimi: Start Server');
    // The profile picker shows each host's GPUs as nvidia-smi reports them.
    await wb.page.locator(QUICK_ROWS).filter({ hasText: /GPUs: 8× NVIDIA H200, 140\.4 GiB each, all free/ }).first().waitFor({ timeout: 20_000 });
    const rows = await wb.page.locator(QUICK_ROWS).allInnerTexts();
    assert.ok(rows.some((r) => r.includes(ok) && r.includes('this machine')), JSON.stringify(rows));
    assert.ok(rows.some((r) => r.includes(kv)), JSON.stringify(rows));
    await pickRow(wb.page, ok);

    await statusBarItem(wb.page, /Kimi: starting: loading weights [1-9]\d*\/64/).waitFor({ state: 'visible', timeout: 30_000 });
    await frame.locator('.server[data-managed="starting"] .server-phase').filter({ hasText: /Loading weights [1-9]\d*\/64/ }).waitFor({ timeout: 15_000 });
    publish(await screenshot(wb.page, 'server-starting'));

    await statusBarItem(wb.page, /Kimi: ready · Kimi-K2\.5 · 8× H200/).waitFor({ state: 'visible', timeout: 90_000 });
    await frame.locator('.server[data-managed="ready"]').waitFor({ timeout: 15_000 });
    assert.equal(await frame.locator('.server-state').innerText(), 'Server ready');
    assert.match(await frame.locator('.server-model').innerText(), /^Kimi-K2\.5 · context 262,144 tokens$/);
    assert.match(await frame.locator('.server-gpus').innerText(), /8× NVIDIA H200/);
    const text = await waitForNotification(wb.page, new RegExp(`"${ok}" is ready — Kimi-K2\\.5, context 262,144 tokens on 8× NVIDIA H200`));
    assert.match(text, /Open Chat/);
    publish(await screenshot(wb.page, 'server-ready'));
  });

  it('Show Server Logs opens the server terminal with the log of the running server', async function () {
    this.timeout(60_000);
    await runCommand(wb.page, 'Kimi: Show Server Logs');
    await wb.page.locator('.part.panel').getByText(`Kimi Server: ${ok}`).first().waitFor({ state: 'visible', timeout: 20_000 });
    await wb.page.locator('.part.panel .xterm-rows').filter({ hasText: /\(APIServer pid=\d+\) INFO/ }).first().waitFor({ timeout: 20_000 });
    publish(await screenshot(wb.page, 'server-logs'));
    await runCommand(wb.page, 'View: Toggle Panel Visibility', { exact: true });
  });

  it('the status bar opens the actions that apply to a ready server', async function () {
    this.timeout(60_000);
    await statusBarItem(wb.page, /Kimi: ready/).click();
    await wb.page.locator(QUICK_ROWS).first().waitFor({ timeout: 10_000 });
    const labels = await wb.page.locator(QUICK_ROWS).allInnerTexts();
    const flat = labels.map((l) => l.replace(/\s+/g, ' '));
    for (const want of ['Open Chat', 'Stop Server', 'Restart Server', 'Show Server Logs', 'Select Profile']) {
      assert.ok(flat.some((l) => l.includes(want)), `${want} in ${JSON.stringify(flat)}`);
    }
    assert.ok(!flat.some((l) => l.includes('Start Server')), 'no Start while it runs');
    await closeQuickInput(wb.page);
  });

  it('Stop Server: stopped, with the port closed and GPU memory freed', async function () {
    this.timeout(90_000);
    await runCommand(wb.page, 'Kimi: Stop Server');
    await waitForNotification(wb.page, new RegExp(`"${ok}" stopped \\(SIGINT\\); port \\d+ is closed and the GPU memory is free`));
    await statusBarItem(wb.page, /Kimi: stopped/).waitFor({ state: 'visible', timeout: 30_000 });
  });

  it('Download Model: pick the host and the files, watch bytes and files in the notification and "downloading n%" in the status bar, then done', async function () {
    this.timeout(180_000);
    await runCommand(wb.page, 'Kimi: Download Model');
    await pickRow(wb.page, ok);
    await pickRow(wb.page, 'Only files matching');
    const input = wb.page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill('model-0000[1-5]-* *.json');
    await input.press('Enter');

    await statusBarItem(wb.page, /Kimi: downloading \d+%/).waitFor({ state: 'visible', timeout: 30_000 });
    const progress = await waitForNotification(wb.page, /[\d.]+ GB of [\d.]+ GB · \d+\/10 files/);
    assert.match(progress, /Kimi: downloading moonshotai\/Kimi-K2\.5 to this machine/);
    publish(await screenshot(wb.page, 'server-download'));

    const done = await waitForNotification(wb.page, /Kimi: moonshotai\/Kimi-K2\.5 is downloaded into .*model on this machine\./, 120_000);
    assert.match(done, /Start Server/);
    await statusBarItem(wb.page, /Kimi: stopped/).waitFor({ state: 'visible', timeout: 30_000 });
    for (const f of ['model-00005-of-000064.safetensors', 'config.json']) assert.ok(fs.existsSync(path.join(tmp, 'model', f)), `${f} is on disk`);
  });

  it('a failed start explains itself with the fix as a button; the button fixes the profile and the server comes up', async function () {
    this.timeout(240_000);
    await runCommand(wb.page, 'Kimi: Start Server');
    await pickRow(wb.page, kv);
    await statusBarItem(wb.page, /Kimi: failed: The context length does not fit in GPU memory/).waitFor({ state: 'visible', timeout: 90_000 });
    const text = await waitForNotification(wb.page, /Kimi: The context length does not fit in GPU memory\./);
    const fixLabel = /Set max-model-len to \d+ and restart/.exec(text)?.[0];
    assert.ok(fixLabel, `the notification offers the fix as a button: ${text}`);
    assert.match(text, /Show Logs/);

    const frame = await webviewFrame(wb.page, 'Chat');
    await frame.locator('.server[data-state="failed"]').waitFor({ timeout: 15_000 });
    assert.equal(await frame.locator('.server-diagnosis').innerText(), 'The context length does not fit in GPU memory');
    assert.equal(await frame.getByRole('button', { name: fixLabel }).count(), 1, 'the chat header offers the same fix');

    // The notification, open in the Notification Center, with its buttons.
    await runCommand(wb.page, 'Notifications: Show Notifications', { exact: true });
    const item = wb.page.locator('.notifications-center .notification-list-item').filter({ hasText: 'does not fit in GPU memory' }).first();
    await item.waitFor({ timeout: 10_000 });
    publish(await screenshot(wb.page, 'server-failed'));
    await item.getByRole('button', { name: fixLabel }).click();

    await statusBarItem(wb.page, /Kimi: starting: /).waitFor({ state: 'visible', timeout: 30_000 });
    const maxLen = Number(/\d+/.exec(fixLabel)![0]).toLocaleString('en-US');
    await statusBarItem(wb.page, /Kimi: ready · Kimi-K2\.5/).waitFor({ state: 'visible', timeout: 90_000 });
    await frame.locator('.server-model').filter({ hasText: `context ${maxLen} tokens` }).waitFor({ timeout: 15_000 });

    await runCommand(wb.page, 'Kimi: Stop Server');
    await statusBarItem(wb.page, /Kimi: stopped/).waitFor({ state: 'visible', timeout: 30_000 });
  });
});
