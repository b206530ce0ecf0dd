// The chat panel's header, composer and controls in real Chromium (the real bundle under the real CSP): what a person
// types and clicks, and the messages the panel posts to the extension host for it.
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { composerView, hostReady, READY_SERVER, TINY_PNG, useChatWebviews, userView, waitUntil } from '../harness/chatWebview';

const focusedLabel = (page: Page) =>
  page.evaluate(() => {
    const a = (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null; textContent: string | null; tagName: string } | null } }).document.activeElement;
    return a ? a.getAttribute('aria-label') ?? (a.textContent ?? '').trim() ?? a.tagName : '';
  });

/** Dispatches a paste (or drop) of a PNG file named `name` on the element, as the browser does for a pasted screenshot. */
async function pasteImage(page: Page, selector: string, event: 'paste' | 'drop', name: string, mime = 'image/png'): Promise<void> {
  await page.locator(selector).evaluate(
    (target, a) => {
      const g = globalThis as unknown as {
        DataTransfer: new () => { items: { add(f: unknown): void } };
        File: new (parts: unknown[], name: string, opts: { type: string }) => unknown;
        ClipboardEvent: new (t: string, init: unknown) => unknown;
        DragEvent: new (t: string, init: unknown) => unknown;
        atob(s: string): string;
      };
      const bin = g.atob(a.base64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new g.DataTransfer();
      dt.items.add(new g.File([bytes], a.name, { type: a.mime }));
      const ev = a.event === 'paste'
        ? new g.ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true })
        : new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true });
      (target as unknown as { dispatchEvent(e: unknown): boolean }).dispatchEvent(ev);
    },
    { base64: TINY_PNG.slice(TINY_PNG.indexOf(',') + 1), name, mime, event },
  );
}

describe('chatWebview: header, composer and controls', function () {
  const chat = useChatWebviews();

  it('the header shows the server in full until it is ready, then compacts to the model, context length and a state dot', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await wv.host({ type: 'server', server: { state: 'unreachable', baseUrl: 'http://127.0.0.1:8000/v1', detail: 'connection refused' } });
    const header = page.locator('section.server[data-state="unreachable"]');
    await header.waitFor();
    assert.equal(await page.locator('.server-state').innerText(), 'No server running');
    assert.equal(await page.locator('.server-detail').innerText(), 'connection refused');
    for (const name of ['Start Server', 'Check again', 'Settings']) assert.equal(await header.getByRole('button', { name }).count(), 1, name);
    assert.equal(await header.evaluate((e) => e.className.includes('server-compact')), false);

    await wv.host({ type: 'server', server: READY_SERVER });
    const ready = page.locator('section.server[data-state="ready"].server-compact');
    await ready.waitFor();
    assert.equal(await page.locator('.server-state').innerText(), 'Server ready');
    assert.equal(await page.locator('.server-model').innerText(), 'Kimi-K2.5 · context 262,144 tokens');
    assert.equal(await page.locator('.server-url').innerText(), 'http://127.0.0.1:8000/v1');
    const box = await ready.boundingBox();
    assert.ok(box && box.height < 110, `the ready header is compact (${box?.height} px high)`);

    // Its actions stay reachable; a repeated status (the poll) keeps the keyboard focus where it was.
    const check = page.getByRole('button', { name: 'Check again' });
    await check.focus();
    let from = wv.mark();
    await page.keyboard.press('Enter');
    await wv.waitForPosted('checkServer', { from });
    await wv.host({ type: 'server', server: READY_SERVER }, { type: 'server', server: { ...READY_SERVER, maxModelLen: 131072 } });
    assert.equal(await page.locator('.server-model').innerText(), 'Kimi-K2.5 · context 131,072 tokens');
    assert.equal(await focusedLabel(page), 'Check again');

    // A managed server: Stop Server and Show Logs; the diagnosis fix button.
    await wv.host({
      type: 'server',
      server: {
        state: 'failed',
        baseUrl: 'http://127.0.0.1:8000/v1',
        managed: { profile: 'default', host: 'local', kind: 'failed', diagnosis: { title: 'The context length does not fit in GPU memory', explanation: '…', fixLabel: 'Set max-model-len to 131072' } },
      },
    });
    await page.locator('section.server[data-state="failed"][data-managed="failed"]').waitFor();
    assert.equal(await page.locator('.server-diagnosis').innerText(), 'The context length does not fit in GPU memory');
    from = wv.mark();
    await page.getByRole('button', { name: 'Set max-model-len to 131072' }).click();
    await wv.waitForPosted('applyServerFix', { from });
    from = wv.mark();
    await page.getByRole('button', { name: 'Show Logs' }).click();
    assert.equal((await wv.waitForPosted('runCommand', { from })).command, 'kimi.showServerLogs');
  });

  it('when no server is ready the composer says why with the button that fixes it, and Send cannot be used', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    const input = page.getByRole('textbox', { name: 'Message to Kimi' });
    const send = page.getByRole('button', { name: 'Send', exact: true });
    const cases = [
      { server: { state: 'unreachable', baseUrl: 'http://127.0.0.1:8000/v1' }, reason: 'No server running — Start Server', action: 'startServer', label: 'Start Server', command: 'kimi.startServer' },
      { server: { state: 'unauthorized', baseUrl: 'http://127.0.0.1:8000/v1' }, reason: 'The server needs an API key', action: 'setApiKey', label: 'Set API Key', command: 'kimi.setApiKey' },
      { server: { state: 'error', baseUrl: 'http://127.0.0.1:8000/v1' }, reason: 'The server cannot be used: not an OpenAI-compatible server', action: 'openSettings', label: 'Settings', command: 'kimi.openSettings' },
    ] as const;
    for (const c of cases) {
      await wv.host({ type: 'server', server: c.server }, { type: 'composer', composer: composerView({ blocked: { reason: c.reason, action: c.action } }) });
      const blocked = page.locator('.composer-blocked');
      assert.equal(await blocked.locator('.blocked-reason').innerText(), c.reason);
      assert.equal(await page.getByRole('button', { name: c.label, exact: true }).count(), 1, `one "${c.label}" button in the panel`);
      assert.equal(await send.isDisabled(), true);
      const from = wv.mark();
      await blocked.getByRole('button', { name: c.label, exact: true }).click();
      assert.deepEqual(await wv.waitForPosted('runCommand', { from }), { type: 'runCommand', command: c.command });
    }

    // A draft can still be written; Enter does not send it, and it is kept.
    await input.fill('draft while the server starts');
    const from = wv.mark();
    await input.press('Enter');
    await wv.host();
    assert.deepEqual(wv.postedOf('send', from), []);
    assert.equal(await input.inputValue(), 'draft while the server starts');

    // Ready: the reason goes away and Enter sends.
    await wv.host({ type: 'server', server: READY_SERVER }, { type: 'composer', composer: composerView() });
    assert.equal(await page.locator('.composer-blocked').isVisible(), false);
    assert.equal(await send.isDisabled(), false);
    await input.press('Enter');
    assert.equal((await wv.waitForPosted('send', { from })).text, 'draft while the server starts');
  });

  it('Enter sends, Shift+Enter adds a line; the draft clears once the turn starts, and stays with the error when the host refuses it', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    const input = page.getByRole('textbox', { name: 'Message to Kimi' });
    const send = page.getByRole('button', { name: 'Send', exact: true });
    await input.click();
    let from = wv.mark();
    await page.keyboard.press('Enter');
    await wv.host();
    assert.deepEqual(wv.postedOf('send', from), [], 'an empty message is not sent');

    await page.keyboard.type('first line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('second line');
    assert.equal(await input.inputValue(), 'first line\nsecond line');
    await page.keyboard.press('Enter');
    assert.deepEqual(await wv.waitForPosted('send', { from }), { type: 'send', text: 'first line\nsecond line' });
    assert.equal(await send.isDisabled(), true, 'no double send while the host answers');

    // Refused: the error shows next to the input and the draft stays.
    await wv.host({ type: 'composerError', message: 'This message needs about 300,000 tokens; the server fits 262,144.' });
    const error = page.locator('.composer-error');
    assert.equal(await error.getAttribute('role'), 'alert');
    assert.equal(await error.innerText(), 'This message needs about 300,000 tokens; the server fits 262,144.');
    assert.equal(await input.inputValue(), 'first line\nsecond line');
    assert.equal(await send.isDisabled(), false);

    // Accepted: the turn starts with it and the input empties.
    from = wv.mark();
    await send.click();
    await wv.waitForPosted('send', { from });
    await wv.host({ type: 'turnStarted', user: userView('u1', 'first line\nsecond line'), assistantId: 'a1', meta: { mode: 'thinking', startedAt: 0, metrics: {}, toolCalls: [] } }, { type: 'composer', composer: composerView({ busy: true }) });
    assert.equal(await input.inputValue(), '');
    assert.equal(await error.isVisible(), false);
    assert.equal(await page.locator('article.turn-user[data-turn-id="u1"] .user-text').innerText(), 'first line\nsecond line');
  });

  it('while an answer streams Send becomes Stop, and Stop or Esc stop it', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'composer', composer: composerView({ busy: true }) });
    const stop = page.getByRole('button', { name: 'Stop', exact: true });
    await stop.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send', exact: true }).count(), 0);
    let from = wv.mark();
    await stop.click();
    await wv.waitForPosted('stop', { from });
    from = wv.mark();
    await page.getByRole('textbox', { name: 'Message to Kimi' }).focus();
    await page.keyboard.press('Escape');
    await wv.waitForPosted('stop', { from });
    // Typing ahead is fine; Enter does not send while busy.
    from = wv.mark();
    await page.keyboard.type('next question');
    await page.keyboard.press('Enter');
    await wv.host({ type: 'composer', composer: composerView() });
    assert.deepEqual(wv.postedOf('send', from), []);
    await page.getByRole('button', { name: 'Send', exact: true }).waitFor();
    // Esc does nothing when nothing streams.
    from = wv.mark();
    await page.keyboard.press('Escape');
    await wv.host();
    assert.deepEqual(wv.postedOf('stop', from), []);
  });

  it('the Thinking / Instant switch shows the mode and asks the host to change it', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    const thinking = page.getByRole('button', { name: 'Thinking', exact: true });
    const instant = page.getByRole('button', { name: 'Instant', exact: true });
    assert.equal(await thinking.getAttribute('aria-pressed'), 'true');
    assert.equal(await instant.getAttribute('aria-pressed'), 'false');
    const from = wv.mark();
    await instant.click();
    assert.deepEqual(await wv.waitForPosted('setMode', { from }), { type: 'setMode', mode: 'instant' });
    assert.equal(await instant.getAttribute('aria-pressed'), 'true');
    await wv.host({ type: 'composer', composer: composerView({ mode: 'thinking' }) }); // the host (settings) decides
    assert.equal(await thinking.getAttribute('aria-pressed'), 'true');
    assert.equal(await instant.getAttribute('aria-pressed'), 'false');
  });

  it('New Chat and the history list: open, reopen a conversation, delete one, see problems, Esc closes', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv, { id: 'c1', title: 'Closures in JS', turns: [userView('u1', 'closures?')] });
    let from = wv.mark();
    await page.getByRole('button', { name: 'New Chat' }).click();
    await wv.waitForPosted('newChat', { from });

    const toggle = page.getByRole('button', { name: 'History', exact: true });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    from = wv.mark();
    await toggle.click();
    await wv.waitForPosted('listHistory', { from });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    const drawer = page.getByRole('region', { name: 'History' });
    assert.match(await drawer.innerText(), /No saved conversations yet/);

    const now = await page.evaluate(() => Date.now());
    await wv.host({
      type: 'history',
      items: [
        { id: 'c2', title: 'Rust lifetimes', updatedAt: now - 3 * 86_400_000, turnCount: 2 },
        { id: 'c1', title: 'Closures in JS', updatedAt: now - 5 * 60_000, turnCount: 4 },
        { id: 'c3', title: 'Just now', updatedAt: now - 1_000, turnCount: 1 },
      ],
      problems: ['One saved conversation is damaged (conv-x.json) and was skipped; the others are fine.'],
    });
    const rows = drawer.locator('.history-item');
    assert.deepEqual(await rows.locator('.history-item-title').allInnerTexts(), ['Just now', 'Closures in JS', 'Rust lifetimes']);
    assert.deepEqual(await rows.locator('.history-meta').allInnerTexts(), ['just now · 1 message', '5 min ago · 4 messages', '3 days ago · 2 messages']);
    assert.equal(await rows.nth(1).getAttribute('class'), 'history-item current');
    assert.match(await drawer.locator('.history-problems').innerText(), /damaged/);

    from = wv.mark();
    await drawer.getByRole('button', { name: 'Delete “Rust lifetimes”' }).click();
    assert.deepEqual(await wv.waitForPosted('deleteConversation', { from }), { type: 'deleteConversation', id: 'c2' });
    await wv.host({ type: 'history', items: [{ id: 'c1', title: 'Closures in JS', updatedAt: now - 5 * 60_000, turnCount: 4 }], problems: [] });
    assert.equal(await rows.count(), 1);

    from = wv.mark();
    await drawer.getByRole('button', { name: /^Closures in JS/ }).click();
    assert.deepEqual(await wv.waitForPosted('openConversation', { from }), { type: 'openConversation', id: 'c1' });
    await drawer.waitFor({ state: 'hidden' });

    await toggle.click();
    await drawer.waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'hidden' });
    assert.equal(await focusedLabel(page), 'History');
    assert.deepEqual(wv.postedOf('stop'), [], 'Esc in the drawer only closes it');
  });

  it('attach the file or selection; chips show path:lines and can be removed', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    let from = wv.mark();
    await page.getByRole('button', { name: 'Attach current file' }).click();
    assert.deepEqual(await wv.waitForPosted('attach', { from }), { type: 'attach', what: 'file' });
    from = wv.mark();
    await page.getByRole('button', { name: 'Attach selection' }).click();
    assert.deepEqual(await wv.waitForPosted('attach', { from }), { type: 'attach', what: 'selection' });

    await wv.host({
      type: 'composer',
      composer: composerView({
        attachments: [
          { kind: 'file', path: 'README.md', chars: 2048 },
          { kind: 'selection', path: 'src/app.ts', startLine: 12, endLine: 40, chars: 812 },
        ],
      }),
    });
    const chips = page.locator('.composer-chips .chip-label');
    assert.deepEqual(await chips.allInnerTexts(), ['README.md', 'src/app.ts:12-40']);
    from = wv.mark();
    await page.getByRole('button', { name: 'Remove src/app.ts:12-40' }).click();
    assert.deepEqual(await wv.waitForPosted('removeAttachment', { from }), { type: 'removeAttachment', index: 1 });
    assert.equal(await focusedLabel(page), 'Message to Kimi', 'the focus goes back to the input');
  });

  it('a pasted or dropped image is read as a data URL and sent with addImage; its thumbnail can be removed', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    let from = wv.mark();
    await pasteImage(page, '.composer-input', 'paste', 'screenshot.png');
    const pasted = await wv.waitForPosted('addImage', { from });
    assert.deepEqual(pasted, { type: 'addImage', image: { name: 'screenshot.png', dataUrl: TINY_PNG } });
    assert.equal(await page.getByRole('textbox', { name: 'Message to Kimi' }).inputValue(), '', 'nothing was pasted as text');

    from = wv.mark();
    await pasteImage(page, '.composer', 'drop', 'diagram.png');
    assert.equal((await wv.waitForPosted('addImage', { from })).image.name, 'diagram.png');
    await wv.host();
    assert.equal(wv.postedOf('addImage', from).length, 1, 'one drop, one image');

    from = wv.mark();
    await pasteImage(page, '.composer', 'drop', 'notes.txt', 'text/plain');
    await page.locator('.composer-error').filter({ hasText: 'Only images can be added here' }).waitFor();
    assert.deepEqual(wv.postedOf('addImage', from), []);

    await wv.host({ type: 'composer', composer: composerView({ images: [{ name: 'screenshot.png', dataUrl: TINY_PNG, bytes: 70 }] }) });
    const thumb = page.locator('.composer-chips').getByRole('img', { name: 'screenshot.png' });
    await waitUntil(() => thumb.evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth === 1), 'the thumbnail to load under the CSP');
    from = wv.mark();
    await page.getByRole('button', { name: 'Remove screenshot.png' }).click();
    assert.deepEqual(await wv.waitForPosted('removeImage', { from }), { type: 'removeImage', index: 0 });
  });

  it('prefill and focusInput put the cursor in the input', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await page.getByRole('button', { name: 'History', exact: true }).focus();
    await wv.host({ type: 'prefill', text: 'Explain src/app.ts:12-40' });
    const input = page.getByRole('textbox', { name: 'Message to Kimi' });
    assert.equal(await input.inputValue(), 'Explain src/app.ts:12-40');
    assert.equal(await focusedLabel(page), 'Message to Kimi');
    await page.getByRole('button', { name: 'History', exact: true }).focus();
    await wv.host({ type: 'focusInput' });
    assert.equal(await focusedLabel(page), 'Message to Kimi');
  });

  it('is fully keyboard-usable: Tab reaches every control, and the focused one is visibly outlined', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv, { id: 'c', title: 't', turns: [userView('u1', 'q'), { role: 'assistant', id: 'a1', thinking: 'hmm', answer: 'a', mode: 'thinking', startedAt: 0, metrics: {}, toolCalls: [] }] });
    const seen: string[] = [];
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press('Tab');
      seen.push(await focusedLabel(page));
    }
    for (const name of ['Check again', 'Settings', 'New Chat', 'History', 'Edit and resend this message', 'Regenerate', 'Message to Kimi', 'Thinking', 'Instant', 'Attach current file', 'Attach selection', 'Send']) {
      assert.ok(seen.includes(name), `Tab reaches "${name}" (reached: ${seen.join(' | ')})`);
    }
    await page.getByRole('button', { name: 'New Chat' }).focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const outline = await page.getByRole('button', { name: 'New Chat' }).evaluate((e) => {
      const s = (globalThis as unknown as { getComputedStyle(e: unknown): { outlineStyle: string; outlineWidth: string } }).getComputedStyle(e);
      return `${s.outlineStyle} ${s.outlineWidth}`;
    });
    assert.equal(outline, 'solid 1px');
  });
});
