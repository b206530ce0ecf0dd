// The chat panel's tool-call cards in real Chromium: the real webview bundle under the real CSP, driven by the host
// messages the extension sends during a tool loop. What is asserted is what a person sees (status, target,
// duration, the expandable arguments and result, what an approval asks) and what the panel asks the host to do
// (approveToolCall), with the mouse and with the keyboard.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostToWebview, ToolCallView } from '../../src/shared/protocol';
import { assistantView, composerView, hostReady, scrollState, turnMeta, useChatWebviews, userView, waitUntil, type ChatWebview, type ScrollState } from '../harness/chatWebview';
import { REPO_ROOT } from '../harness/codeServer';
import { screenshot } from '../harness/workbench';

function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

const READ: ToolCallView = {
  id: 'functions.read_file:0', name: 'read_file', arguments: '{"path":"src/math.ts","startLine":1}', status: 'done', durationMs: 12, index: 0, readOnly: true,
  resultPreview: 'src/math.ts (lines 1-11 of 11)\n 1: export function fibonacci(n: number): number {\n 2:   if (n < 2) return n;',
};

const EDIT_ARGS = JSON.stringify({ path: 'src/math.ts', oldText: '  if (n < 2) return n;', newText: "  if (n < 0) throw new Error('n must be ≥ 0');\n  if (n < 2) return n;", explanation: 'Reject negative n.' });

/**
 * Delivers groups of host messages with a rendered frame between one group and the next: each group is handled in one
 * task (dispatched as the message events the webview listens to), the next one after the page ran an animation frame
 * (rAF callbacks, layout, ResizeObserver callbacks, paint). For what depends on where frames fall between messages,
 * which `wv.host` leaves to the page's timing.
 */
async function hostInFrames(wv: ChatWebview, ...groups: HostToWebview[][]): Promise<void> {
  await wv.page.evaluate(
    (list) =>
      new Promise<void>((resolve) => {
        const w = globalThis as unknown as {
          dispatchEvent(e: unknown): boolean;
          MessageEvent: new (type: string, init: { data: unknown }) => unknown;
          requestAnimationFrame(f: () => void): number;
          setTimeout(f: () => void): number;
        };
        let i = 0;
        const next = () => {
          for (const m of list[i++] ?? []) w.dispatchEvent(new w.MessageEvent('message', { data: m }));
          // A task queued from an animation frame callback runs once that frame has been rendered.
          if (i < list.length) w.requestAnimationFrame(() => w.setTimeout(next));
          else resolve();
        };
        next();
      }),
    groups,
  );
}

function edit(o: Partial<ToolCallView> = {}): ToolCallView {
  return { id: 'functions.propose_edit:1', name: 'propose_edit', arguments: EDIT_ARGS, status: 'awaitingApproval', index: 0, readOnly: false,
    approval: { kind: 'edit', path: 'src/math.ts', summary: '+1 −0 line', created: false, explanation: 'Reject negative n.' }, ...o };
}

describe('chatWebview: tool-call cards', function () {
  const chat = useChatWebviews();

  it('a card: status icon, name, target, status and duration in one line; a result preview; expands to pretty arguments and the result', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'What does math.ts do?'), assistantId: 'a1', meta: turnMeta() }, 'tRead it first.');
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [{ ...READ, status: 'streaming', arguments: '{"path":"src/ma', resultPreview: undefined, durationMs: undefined } as ToolCallView] });
    const card = page.locator('article[data-turn-id="a1"] .tool-card').first();
    assert.equal(await card.getAttribute('data-status'), 'streaming');
    assert.equal(await card.locator('.tool-status').innerText(), 'writing…');
    // Arguments that are not complete JSON yet: shown as they are, no target.
    await card.locator('summary').click();
    assert.equal(await card.locator('.tool-args').innerText(), '{"path":"src/ma');
    assert.equal(await card.locator('.tool-target').innerText(), '');

    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [{ ...READ, status: 'running', durationMs: undefined, resultPreview: undefined }] });
    assert.equal(await card.locator('.tool-status').innerText(), 'running…');
    assert.equal(await card.locator('.tool-duration').isVisible(), false);
    assert.equal(await card.locator('details').evaluate((d) => (d as unknown as { open: boolean }).open), true, 'stays expanded while it updates');
    assert.equal(await card.locator('.tool-args').innerText(), '{\n  "path": "src/math.ts",\n  "startLine": 1\n}');

    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [READ] });
    assert.match(await card.locator('summary').innerText(), /✓\s*read_file\s*src\/math\.ts\s*done\s*12 ms/);
    assert.equal(await card.locator('.tool-result').innerText(), READ.resultPreview);
    assert.equal(await card.locator('.tool-preview').isVisible(), false, 'no one-line preview while expanded');
    // Folded with the keyboard: the one-line preview shows.
    await card.locator('summary').focus();
    await page.keyboard.press('Enter');
    await card.locator('.tool-result').waitFor({ state: 'hidden' });
    assert.equal(await card.locator('.tool-preview').innerText(), 'src/math.ts (lines 1-11 of 11)');
    assert.equal(await card.locator('summary').getAttribute('aria-label'), null);
    assert.match((await card.locator('details').getAttribute('aria-label'))!, /^read_file src\/math\.ts, done$/);
  });

  it('every end state reads in words; errors and rejections are marked; very long arguments say how long they were', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'go'), assistantId: 'a1', meta: turnMeta() });
    const calls: ToolCallView[] = [
      { id: 'x0', name: 'read_file', arguments: '{"path":"nope.ts"}', status: 'error', isError: true, index: 0, resultPreview: 'error: no such file: nope.ts; expected an existing file', durationMs: 3 },
      { id: 'x1', name: 'propose_edit', arguments: '{"path":"a.ts","newText":"x"}', status: 'rejected', index: 1, resultPreview: 'The user rejected the edit to a.ts; the file is unchanged.' },
      { id: 'x2', name: 'run_command', arguments: '{"command":"npm test"}', status: 'cancelled', isError: true, index: 2, resultPreview: 'error: stopped by the user before this call finished.' },
      { id: 'x3', name: 'list_directory', arguments: '{"path":"."}', status: 'skipped', isError: true, index: 3, resultPreview: 'error: not run — the limit of 8 tool rounds for this message was reached.' },
      { id: 'x4', name: 'propose_edit', arguments: `{"path":"big.ts","newText":"${'y'.repeat(300)}`, argumentsChars: 54_321, status: 'pending', index: 4 },
    ];
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls });
    const cards = page.locator('article[data-turn-id="a1"] .tool-card');
    assert.deepEqual(await cards.locator('.tool-status').allInnerTexts(), ['failed', 'rejected', 'stopped', 'not run', 'queued']);
    assert.deepEqual(await cards.evaluateAll((els) => els.map((e) => e.classList.contains('is-error'))), [true, false, true, true, false]);
    assert.equal(await cards.nth(0).locator('.tool-preview').innerText(), 'error: no such file: nope.ts; expected an existing file');
    await cards.nth(4).locator('summary').click();
    assert.match(await cards.nth(4).locator('.tool-args').innerText(), /\n… \(54,321 characters in all; the rest is left out here\)$/);
    // A card the host drops (a new list for the same turn) goes away; order follows the index.
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [calls[3]!, calls[0]!] });
    assert.deepEqual(await cards.locator('.tool-name').allInnerTexts(), ['read_file', 'list_directory']);
  });

  it('an edit waiting for approval: what it changes and why; Accept Edit posts the decision and the card moves on', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'Guard fibonacci'), assistantId: 'a1', meta: turnMeta() }, { type: 'composer', composer: composerView({ busy: true }) });
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [edit()] });
    const card = page.locator('article[data-turn-id="a1"] .tool-card').first();
    const approval = card.getByRole('group', { name: 'propose_edit needs your approval' });
    assert.equal(await approval.locator('.approval-text').innerText(), 'Kimi wants to edit src/math.ts (+1 −0 line).');
    assert.equal(await approval.locator('.approval-explanation').innerText(), 'Reject negative n.');
    assert.equal(await approval.locator('.approval-hint').innerText(), 'The change is open in a diff editor.');
    assert.equal(await card.locator('.tool-status').innerText(), 'waiting for you');
    assert.equal(await approval.getByRole('button', { name: /Always/ }).count(), 0, 'no "Always allow" for edits');
    const from = wv.mark();
    await approval.getByRole('button', { name: 'Accept Edit: the edit to src/math.ts' }).click();
    const posted = await wv.waitForPosted('approveToolCall', { from });
    assert.deepEqual(posted, { type: 'approveToolCall', callId: 'functions.propose_edit:1', decision: 'accept' });
    assert.equal(await approval.getByRole('button', { name: /Reject/ }).isDisabled(), true, 'one answer per request');
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [edit({ status: 'running', approval: undefined })] });
    await approval.waitFor({ state: 'hidden' });
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [edit({ status: 'done', approval: undefined, durationMs: 31, resultPreview: 'Applied: src/math.ts — replaced 1 line with 2.' })] });
    assert.equal(await card.locator('.tool-preview').innerText(), 'Applied: src/math.ts — replaced 1 line with 2.');
    assert.equal(wv.postedOf('approveToolCall').length, 1);
  });

  it('with the keyboard: two reads wait at once; Tab reaches each card\'s buttons; Always Allow and Reject are posted for the right call', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'read the config'), assistantId: 'a1', meta: turnMeta() });
    const env: ToolCallView = { id: 'functions.read_file:0', name: 'read_file', arguments: '{"path":".env"}', status: 'awaitingApproval', index: 0, readOnly: true,
      approval: { kind: 'sensitiveRead', path: '.env', reason: 'it looks like a secret (environment files (.env*) usually hold credentials)', alwaysAllow: 'Always let read_file read .env in this workspace' } };
    const built: ToolCallView = { id: 'functions.read_file:1', name: 'read_file', arguments: '{"path":"dist/out.js"}', status: 'awaitingApproval', index: 1, readOnly: true,
      approval: { kind: 'sensitiveRead', path: 'dist/out.js', reason: 'it is ignored by .gitignore (rule "dist/")', alwaysAllow: 'Always let read_file read files ignored by .gitignore in this workspace' } };
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [env, built] });
    const cards = page.locator('article[data-turn-id="a1"] .tool-card');
    assert.equal(await cards.nth(0).locator('.approval-text').innerText(), 'Kimi wants to read .env: it looks like a secret (environment files (.env*) usually hold credentials).');
    const always = cards.nth(1).getByRole('button', { name: 'Always let read_file read files ignored by .gitignore in this workspace' });
    assert.equal(await always.getAttribute('title'), 'Always let read_file read files ignored by .gitignore in this workspace');

    // Keyboard: from the first card's Allow, Tab walks Reject, Always Allow, then the second card.
    await cards.nth(0).getByRole('button', { name: 'Allow: reading .env' }).focus();
    const focused = () => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent ?? '');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Reject');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Always Allow');
    await page.keyboard.press('Tab'); // the second card's summary
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Always Allow');
    let from = wv.mark();
    await page.keyboard.press('Enter');
    assert.deepEqual(await wv.waitForPosted('approveToolCall', { from }), { type: 'approveToolCall', callId: 'functions.read_file:1', decision: 'always' });

    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [env, { ...built, status: 'done', approval: undefined, resultPreview: 'dist/out.js (lines 1-1 of 1)\n1: x' }] });
    // The answered card keeps the keyboard (its header), the waiting one still asks.
    assert.equal(await cards.nth(1).locator('summary').evaluate((s) => s === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement), true);
    await cards.nth(0).getByRole('button', { name: 'Reject reading .env' }).focus();
    from = wv.mark();
    await page.keyboard.press('Space');
    assert.deepEqual(await wv.waitForPosted('approveToolCall', { from }), { type: 'approveToolCall', callId: 'functions.read_file:0', decision: 'reject' });
  });

  it('a command waiting for approval shows the command and the folder; a round that continues keeps the panel busy', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'run the tests'), assistantId: 'a1', meta: turnMeta() }, { type: 'composer', composer: composerView({ busy: true }) });
    await wv.host({ type: 'toolCalls', assistantId: 'a1', calls: [{ ...READ, index: 0 }] });
    await wv.host({ type: 'turnFinished', assistantId: 'a1', meta: turnMeta({ toolCalls: [READ], finishReason: 'tool_calls', continued: true }) });
    assert.equal(await page.locator('#app').evaluate((e) => e.classList.contains('busy')), true, 'still answering');
    await wv.host({ type: 'turnStarted', assistantId: 'a2', meta: turnMeta() }, 'tNow run them.');
    const cmd: ToolCallView = { id: 'functions.run_command:1', name: 'run_command', arguments: '{"command":"npm test -- --grep math","cwd":"packages/core"}', status: 'awaitingApproval', index: 0,
      readOnly: false, approval: { kind: 'command', command: 'npm test -- --grep math', cwd: 'packages/core' } };
    await wv.host({ type: 'toolCalls', assistantId: 'a2', calls: [cmd] });
    const card = page.locator('article[data-turn-id="a2"] .tool-card');
    assert.equal(await card.locator('.approval-text').innerText(), 'Kimi wants to run a command in packages/core:');
    assert.equal(await card.locator('.approval-command').innerText(), 'npm test -- --grep math');
    assert.match(await card.locator('summary').innerText(), /run_command\s*npm test -- --grep math\s*waiting for you/);
    const from = wv.mark();
    await card.getByRole('button', { name: 'Run: the command' }).click();
    assert.deepEqual(await wv.waitForPosted('approveToolCall', { from }), { type: 'approveToolCall', callId: 'functions.run_command:1', decision: 'accept' });
    // Regenerate only on the last turn of the message.
    await wv.host({ type: 'turnFinished', assistantId: 'a2', meta: turnMeta({ toolCalls: [{ ...cmd, status: 'done', approval: undefined }] }) }, { type: 'composer', composer: composerView() });
    assert.equal(await page.locator('#app').evaluate((e) => e.classList.contains('busy')), false);
    assert.equal(await page.locator('article[data-turn-id="a1"]').getByRole('button', { name: 'Regenerate' }).isVisible(), false);
    assert.equal(await page.locator('article[data-turn-id="a2"]').getByRole('button', { name: 'Regenerate' }).isVisible(), true);
  });

  it('a long chat stays at the bottom while cards arrive, after an approval is answered and while the next round grows (a new markdown chunk is 2000 px for a moment)', async function () {
    this.timeout(30_000);
    const wv = await chat.open({ viewport: { width: 420, height: 600 } });
    const { page } = wv;
    const turns = Array.from({ length: 12 }, (_, i) => [
      userView(`u${i}`, `Question ${i}`),
      assistantView(`a${i}`, '', `Answer ${i}: ${'words '.repeat(60)}`, { finishReason: 'stop' }),
    ]).flat();
    await hostReady(wv, { id: 'long', title: 'Long', turns });
    const scroller = page.locator('.messages');
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'the list at the bottom');
    await wv.host({ type: 'turnStarted', user: userView('u99', 'Guard fibonacci'), assistantId: 'a99', meta: turnMeta() }, 'tThinking about it.');
    await wv.host({ type: 'toolCalls', assistantId: 'a99', calls: [edit()] });
    const card = page.locator('article[data-turn-id="a99"] .tool-card');
    await card.locator('.tool-approval').waitFor();
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'the approval in view at the bottom');
    await card.getByRole('button', { name: /^Accept Edit/ }).click();
    await wv.waitForPosted('approveToolCall');
    await wv.host({ type: 'toolCalls', assistantId: 'a99', calls: [edit({ status: 'done', approval: undefined, resultPreview: 'Applied: src/math.ts — replaced 1 line with 2.' })] });
    await wv.host({ type: 'turnFinished', assistantId: 'a99', meta: turnMeta({ toolCalls: [edit({ status: 'done', approval: undefined })], continued: true }) });
    await wv.host({ type: 'turnStarted', assistantId: 'a100', meta: turnMeta() });
    await wv.host(`aDone. ${'more '.repeat(200)}`);
    await page.locator('article[data-turn-id="a100"] .answer').getByText(/Done\./).waitFor();
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'the list to follow the next round');
    assert.equal(await page.getByRole('button', { name: 'Jump to the latest message' }).isVisible(), false);
  });

  it('stays at the bottom when the browser moves the list: a new Thinking block is 2000 px for one layout (scroll anchoring follows it), shrinks, and the approval arrives before that scroll is reported', async function () {
    this.timeout(30_000);
    const wv = await chat.open({ viewport: { width: 420, height: 600 } });
    const { page } = wv;
    const turns = Array.from({ length: 12 }, (_, i) => [
      userView(`u${i}`, `Question ${i}`),
      assistantView(`a${i}`, '', `Answer ${i}: ${'words '.repeat(60)}`, { finishReason: 'stop' }),
    ]).flat();
    await hostReady(wv, { id: 'long', title: 'Long', turns });
    const scroller = page.locator('.messages');
    // At the bottom, and the answers near it rendered (each one is a 2000 px placeholder until it comes near the view).
    let last: ScrollState | undefined;
    let same = 0;
    await waitUntil(async () => {
      const now = await scrollState(scroller);
      same = now.gap <= 2 && now.height === last?.height ? same + 1 : 0;
      last = now;
      return same >= 4;
    }, 'the list to settle at the bottom');
    // Each message in its own frame, as under load: the new turn; its first thinking text, whose markdown chunk is a
    // 2000 px content-visibility placeholder for one layout (scroll anchoring raises scrollTop by ~1,760 px with it,
    // and a scroll event reports that), then gets its real size (the browser clamps scrollTop back down: a scroll up
    // that is not the user's, reported a frame later); the approval, which makes the list taller before that report.
    await hostInFrames(
      wv,
      [{ type: 'turnStarted', user: userView('u99', 'Guard fibonacci'), assistantId: 'a99', meta: turnMeta() }],
      ['tThinking about it.'],
      [{ type: 'toolCalls', assistantId: 'a99', calls: [edit()] }],
    );
    await page.locator('article[data-turn-id="a99"] .tool-approval').waitFor();
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'the approval in view at the bottom');
    assert.equal(await page.getByRole('button', { name: 'Jump to the latest message' }).isVisible(), false);
  });

  it('screenshot: a read done and an edit waiting for approval', async function () {
    this.timeout(60_000);
    const wv = await chat.open({ viewport: { width: 440, height: 640 } });
    const { page } = wv;
    await hostReady(wv);
    await wv.host(
      { type: 'turnStarted', user: userView('u1', 'Make fibonacci reject negative numbers'), assistantId: 'a1', meta: turnMeta() },
      { type: 'composer', composer: composerView({ busy: true }) },
      'tI should read the file first, then guard the input.',
      { type: 'toolCalls', assistantId: 'a1', calls: [READ] },
      { type: 'turnFinished', assistantId: 'a1', meta: turnMeta({ toolCalls: [READ], finishReason: 'tool_calls', continued: true, metrics: { thinkingMs: 2_100, durationMs: 2_600 } }) },
      { type: 'turnStarted', assistantId: 'a2', meta: turnMeta() },
      'tA guard clause before the base case.',
      'aI\'ll add a guard for negative input:',
      { type: 'toolCalls', assistantId: 'a2', calls: [edit()] },
    );
    await page.locator('.tool-approval').getByRole('button', { name: /Accept Edit/ }).waitFor();
    publish(await screenshot(page, 'chat-tool-approval'));
  });
});
