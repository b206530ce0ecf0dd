// A person asks Kimi to change code in a real VS Code (code-server in headless Chromium) against the emulator's
// scripted tool calls: the tool cards in the chat, the diff editor of a proposed edit with Accept / Reject on the
// card and in the diff's title bar, a command waiting for approval — and, in a workspace that is not trusted, a chat
// without tools that says why. Screenshots go to test-results/ (and docs/screenshots with KIMI_UPDATE_SCREENSHOTS=1).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import { startEmulator, type EmulatorServerHandle } from '../emulator/server';
import { waitUntil } from '../harness/chatWebview';
import { REPO_ROOT } from '../harness/codeServer';
import { closeWorkbench, openWorkbench, runCommand, screenshot, webviewFrame, type Workbench } from '../harness/workbench';
import type { Json } from '../unit/chat/helpers';

function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

async function openChat(wb: Workbench): Promise<Frame> {
  await runCommand(wb.page, 'Kimi: Open Chat');
  const frame = await webviewFrame(wb.page, 'Chat', { timeoutMs: 45_000 });
  await frame.locator('.server[data-state="ready"]').waitFor({ timeout: 45_000 });
  return frame;
}

async function ask(frame: Frame, text: string): Promise<void> {
  const input = frame.getByRole('textbox', { name: 'Message to Kimi' });
  await input.fill(text);
  await input.press('Enter');
  await frame.locator('article.turn-user .user-text', { hasText: text }).last().waitFor({ timeout: 15_000 });
}

function chatBodies(h: EmulatorServerHandle): Json[] {
  return h.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as Json);
}

describe('tool calling in the VS Code workbench', function () {
  let wb: Workbench;
  let emulator: EmulatorServerHandle;
  let frame: Frame;

  before(async function () {
    this.timeout(10 * 60_000);
    emulator = await startEmulator({ servedModelName: 'Kimi-K2.5', script: [
      { match: 'negative', thinking: 'I should read math.ts first.', toolCalls: [{ name: 'read_file', arguments: { path: 'src/math.ts' } }] },
      { match: 'export function fibonacci', thinking: 'A guard clause before the base case.', answer: "I'll add a guard for negative input:", toolCalls: [{ name: 'propose_edit', arguments: {
        path: 'src/math.ts', oldText: '  if (n < 2) return n;', newText: "  if (n < 0) throw new RangeError('n must be ≥ 0');\n  if (n < 2) return n;", explanation: 'fibonacci() now rejects negative n instead of returning it.',
      } }] },
      { match: '^Applied', thinking: 'Done.', answer: '`fibonacci()` now throws a `RangeError` for negative input.' },
      { match: 'main\\.ts', thinking: 'Replace the file.', toolCalls: [{ name: 'propose_edit', arguments: { path: 'src/main.ts', newText: 'export {};\n' } }] },
      { match: 'rejected', thinking: 'Keep it.', answer: 'OK, main.ts stays as it is.' },
      { match: 'tests', thinking: 'Run them.', toolCalls: [{ name: 'run_command', arguments: { command: 'ls src' } }] },
      { match: '^\\$ ls src', thinking: 'Listed.', answer: 'There are two sources.' },
    ] });
    wb = await openWorkbench({
      settings: { 'kimi.endpoint.baseUrl': `${emulator.url}/v1`, 'kimi.status.pollSeconds': 2 },
      viewport: { width: 1440, height: 860 },
    });
    frame = await openChat(wb);
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
    await emulator?.close();
  });

  it('an edit waits in a card and in a diff editor; Accept Edit on the card writes the file and closes the diff', async function () {
    this.timeout(120_000);
    const file = path.join(wb.workspace, 'src', 'math.ts');
    const before = fs.readFileSync(file, 'utf8');
    await ask(frame, 'Make fibonacci reject negative numbers');
    const card = frame.locator('.tool-card[data-tool="propose_edit"]');
    await card.locator('.tool-approval').waitFor({ timeout: 30_000 });
    assert.equal(await card.locator('.approval-text').innerText(), 'Kimi wants to edit src/math.ts (+1 −0 line).');
    assert.match(await frame.locator('.tool-card[data-tool="read_file"] .tool-summary').innerText(), /read_file\s*src\/math\.ts\s*done/);
    // The diff editor: its tab, both sides, the added line, and Accept / Reject in its title bar.
    const tab = wb.page.locator('.tabs-container .tab', { hasText: 'math.ts ↔ edit proposed by Kimi' });
    await tab.waitFor({ timeout: 15_000 });
    const diff = wb.page.locator('.monaco-diff-editor').first();
    await diff.waitFor({ state: 'visible', timeout: 15_000 });
    await diff.locator('.view-line', { hasText: "throw new RangeError('n must be ≥ 0')" }).first().waitFor({ timeout: 15_000 });
    const titleActions = wb.page.locator('.editor-actions');
    await titleActions.getByRole('button', { name: 'Accept Proposed Edit' }).or(titleActions.locator('[aria-label="Accept Proposed Edit"]')).first().waitFor({ timeout: 15_000 });
    assert.equal(fs.readFileSync(file, 'utf8'), before, 'nothing written before Accept');
    publish(await screenshot(wb.page, 'tool-edit-approval'));

    await card.getByRole('button', { name: /^Accept Edit/ }).click();
    await card.locator('.tool-status', { hasText: 'done' }).waitFor({ timeout: 15_000 });
    assert.equal(await card.locator('.tool-preview').innerText(), 'Applied: src/math.ts — replaced 1 line with 2.');
    await frame.locator('.answer', { hasText: 'now throws a RangeError for negative input' }).waitFor({ timeout: 15_000 });
    await tab.waitFor({ state: 'detached', timeout: 15_000 });
    await waitUntil(() => fs.readFileSync(file, 'utf8').includes("throw new RangeError('n must be ≥ 0');"), 'the edit on disk');
    assert.equal(fs.readFileSync(file, 'utf8'), before.replace('  if (n < 2) return n;', "  if (n < 0) throw new RangeError('n must be ≥ 0');\n  if (n < 2) return n;"));
    publish(await screenshot(wb.page, 'tool-edit-applied'));
  });

  it('Reject in the diff\'s title bar leaves the file byte-identical; the card says so', async function () {
    this.timeout(120_000);
    const file = path.join(wb.workspace, 'src', 'main.ts');
    const before = fs.readFileSync(file);
    await ask(frame, 'Replace main.ts with an empty module');
    const card = frame.locator('.tool-card[data-tool="propose_edit"]').last();
    await card.locator('.tool-approval').waitFor({ timeout: 30_000 });
    const tab = wb.page.locator('.tabs-container .tab', { hasText: 'main.ts ↔ edit proposed by Kimi' });
    await tab.waitFor({ timeout: 15_000 });
    const reject = wb.page.locator('.editor-actions [aria-label="Reject Proposed Edit"]').first();
    await reject.click({ timeout: 15_000 });
    await card.locator('.tool-status', { hasText: 'rejected' }).waitFor({ timeout: 15_000 });
    await tab.waitFor({ state: 'detached', timeout: 15_000 });
    await frame.locator('.answer', { hasText: 'main.ts stays as it is' }).waitFor({ timeout: 15_000 });
    assert.ok(fs.readFileSync(file).equals(before), 'byte-identical');
  });

  it('a command waits with what it will run and where; Run runs it and the output comes back to the model', async function () {
    this.timeout(120_000);
    await ask(frame, 'Run the tests');
    const card = frame.locator('.tool-card[data-tool="run_command"]');
    await card.locator('.tool-approval').waitFor({ timeout: 30_000 });
    assert.equal(await card.locator('.approval-text').innerText(), 'Kimi wants to run a command in the workspace folder:');
    assert.equal(await card.locator('.approval-command').innerText(), 'ls src');
    publish(await screenshot(wb.page, 'tool-command-approval'));
    await card.getByRole('button', { name: 'Run: the command' }).click();
    await card.locator('.tool-status', { hasText: 'done' }).waitFor({ timeout: 15_000 });
    await frame.locator('.answer', { hasText: 'There are two sources.' }).waitFor({ timeout: 15_000 });
    const tool = chatBodies(emulator).at(-1).messages.at(-1);
    assert.equal(tool.role, 'tool');
    assert.match(tool.content, /^\$ ls src\n\(in \.; exit code 0; [\d.]+ m?s\)\nmain\.ts\nmath\.ts\n?$/);
  });
});

describe('a chat in a workspace that is not trusted (Restricted Mode)', function () {
  let wb: Workbench;
  let emulator: EmulatorServerHandle;

  before(async function () {
    this.timeout(10 * 60_000);
    emulator = await startEmulator({ servedModelName: 'Kimi-K2.5' });
    wb = await openWorkbench({
      settings: { 'kimi.endpoint.baseUrl': `${emulator.url}/v1`, 'kimi.status.pollSeconds': 2 },
      viewport: { width: 1200, height: 800 },
      workspaceTrust: true,
    });
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
    await emulator?.close();
  });

  it('Kimi answers without tools and says why; no tools are sent to the server', async function () {
    this.timeout(120_000);
    await wb.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30_000 });
    const frame = await openChat(wb);
    await ask(frame, 'What files are in this project?');
    const notice = frame.locator('.notice', { hasText: 'Restricted Mode' });
    await notice.waitFor({ timeout: 30_000 });
    assert.match(await notice.innerText(), /^Kimi answers without tools here: this workspace is in Restricted Mode \(not trusted\), so Kimi may not read, search or change its files or run commands in it\. Trust the workspace/);
    await frame.locator('article.turn-assistant .answer').first().waitFor({ timeout: 30_000 });
    await waitUntil(() => chatBodies(emulator).length === 1, 'the request');
    const body = chatBodies(emulator)[0];
    assert.equal(body.tools, undefined);
    assert.equal(body.tool_choice, undefined);
    assert.deepEqual(body.messages.map((m: Json) => m.role), ['user']);
    assert.equal(await frame.locator('.tool-card').count(), 0);
    publish(await screenshot(wb.page, 'chat-restricted-mode'));
  });
});
