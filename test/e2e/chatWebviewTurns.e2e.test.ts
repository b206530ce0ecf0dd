// The chat panel's turns in real Chromium: the real webview bundle under the real CSP, driven by host messages the
// way the extension sends them. What is asserted is what a person sees and what the panel asks the host to do.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { ConversationView, TurnView } from '../../src/shared/protocol';
import {
  assistantView,
  composerView,
  hostReady,
  scrollState,
  TINY_PNG,
  turnMeta,
  useChatWebviews,
  userView,
  waitUntil,
  type ChatWebview,
  type PostedOf,
} from '../harness/chatWebview';
import { REPO_ROOT } from '../harness/codeServer';
import { screenshot } from '../harness/workbench';

/** Copies a screenshot into docs/screenshots (used by the README) when KIMI_UPDATE_SCREENSHOTS=1. */
function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

const isOpen = (wv: ChatWebview, turnId: string) =>
  wv.page.locator(`article.turn-assistant[data-turn-id="${turnId}"] details.thinking`).evaluate((d) => (d as unknown as { open: boolean }).open);

/** Waits until the element's scroll position stops changing (a wheel scroll may animate). */
async function settled(loc: Locator): Promise<void> {
  let last = -1;
  let same = 0;
  await waitUntil(async () => {
    const top = (await scrollState(loc)).top;
    same = top === last ? same + 1 : 0;
    last = top;
    return same >= 4;
  }, 'the scrolling to settle');
}

/** Remembers the element in the middle of the message list (what the user is reading); returns its top. */
function markReadingPoint(page: Page): Promise<number> {
  return page.evaluate(() => {
    const d = (globalThis as unknown as { document: { querySelector(s: string): { getBoundingClientRect(): { left: number; top: number; width: number; height: number } }; elementFromPoint(x: number, y: number): { getBoundingClientRect(): { top: number } } | null } });
    const r = d.document.querySelector('.messages').getBoundingClientRect();
    const e = d.document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    (globalThis as unknown as { __reading: unknown }).__reading = e;
    return e ? e.getBoundingClientRect().top : NaN;
  });
}

function readingPointTop(page: Page): Promise<number | undefined> {
  return page.evaluate(() => (globalThis as unknown as { __reading?: { getBoundingClientRect(): { top: number } } }).__reading?.getBoundingClientRect().top);
}

const CODE_ANSWER = [
  'Use a **debounce** so the handler runs once the user stops typing:',
  '',
  '```ts',
  'export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number) {',
  '  let timer: ReturnType<typeof setTimeout> | undefined;',
  '  return (...args: A) => {',
  '    clearTimeout(timer);',
  '    timer = setTimeout(() => fn(...args), ms);',
  '  };',
  '}',
  '```',
  '',
  '- `ms` is the quiet period',
  '- the last call wins',
  '',
  'See [MDN on setTimeout](https://developer.mozilla.org/docs/Web/API/setTimeout).',
  '',
].join('\n');

const CODE_THINKING = [
  'The user wants the search box to stop firing a request on every keystroke.',
  '',
  'Options: throttle (fires at a steady rate) or debounce (fires after a pause). For search-as-you-type, **debounce** is',
  'the usual choice. I should keep it generic over the argument list and clear the pending timer on each call.',
].join('\n');

describe('chatWebview: turns', function () {
  const chat = useChatWebviews();

  it('streams the thinking live with a running timer, folds it away when the answer starts, reopens it on click', async function () {
    this.timeout(60_000);
    const wv = await chat.open({ clock: true });
    const { page } = wv;
    await hostReady(wv);
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);

    await wv.host({ type: 'turnStarted', user: userView('u1', 'Why is the sky blue?'), assistantId: 'a1', meta: turnMeta() }, { type: 'composer', composer: composerView({ busy: true }) });
    const user = page.locator('article.turn-user[data-turn-id="u1"]');
    assert.equal(await user.locator('.user-text').innerText(), 'Why is the sky blue?');
    const turn = page.locator('article.turn-assistant[data-turn-id="a1"]');
    assert.equal(await turn.locator('.turn-status').innerText(), 'Waiting for the model…');
    assert.equal(await turn.getAttribute('aria-busy'), 'true');

    await wv.host('tRayleigh scattering: shorter ', 'twavelengths scatter *more*.');
    await page.clock.runFor(50); // one animation frame
    const label = turn.locator('.thinking-label');
    const body = turn.locator('.thinking-body');
    assert.equal(await label.innerText(), 'Thinking… 0 s');
    await body.getByText(/shorter wavelengths scatter more/).waitFor();
    assert.equal(await isOpen(wv, 'a1'), true, 'the thinking is open while the model thinks');
    assert.equal(await turn.locator('.turn-status').isVisible(), false);

    await page.clock.runFor(12_000);
    assert.equal(await label.innerText(), 'Thinking… 12 s');
    await wv.host('t So blue dominates.');
    await page.clock.runFor(1_000);
    assert.equal(await label.innerText(), 'Thinking… 13 s');
    await body.getByText(/So blue dominates/).waitFor();

    // The answer starts: the timer stops and the thinking folds away.
    await wv.host('aBecause air scatters blue light ', 'a**more** than red.');
    await page.clock.runFor(50);
    await turn.locator('.answer').getByText(/Because air scatters blue light more than red/).waitFor();
    assert.equal(await label.innerText(), 'Thought for 13 s');
    assert.equal(await isOpen(wv, 'a1'), false);
    assert.equal(await body.isVisible(), false);
    await page.clock.runFor(5_000);
    assert.equal(await label.innerText(), 'Thought for 13 s', 'the timer stopped');

    // Reopen with a click, fold with another, and the same with the keyboard.
    await turn.locator('summary').click();
    await body.getByText(/So blue dominates/).waitFor({ state: 'visible' });
    await turn.locator('summary').click();
    await body.waitFor({ state: 'hidden' });
    await turn.locator('summary').focus();
    await page.keyboard.press('Enter');
    await body.waitFor({ state: 'visible' });
    await page.keyboard.press('Space');
    await body.waitFor({ state: 'hidden' });

    // The end: metrics in the footer; the host's thinking time wins.
    await wv.host(
      {
        type: 'turnFinished',
        assistantId: 'a1',
        meta: turnMeta({
          finishReason: 'stop',
          metrics: { promptTokens: 1234, completionTokens: 567, ttftMs: 420, tokensPerSecond: 35.24, thinkingMs: 12_400, durationMs: 16_900 },
        }),
      },
      { type: 'composer', composer: composerView() },
    );
    assert.equal(await label.innerText(), 'Thought for 12 s');
    const footer = turn.locator('.turn-footer');
    assert.equal(await footer.locator('.metric-tokens').innerText(), '1,234 in / 567 out tokens');
    assert.equal(await footer.locator('.metric-ttft').innerText(), 'TTFT 420 ms');
    assert.equal(await footer.locator('.metric-tps').innerText(), '35.2 tok/s');
    assert.equal(await footer.locator('.metric-duration').innerText(), '16.9 s');
    assert.equal(await footer.locator('.metric-mode').innerText(), 'Thinking');
    assert.equal(await turn.getAttribute('aria-busy'), 'false');
    assert.equal(await turn.locator('.turn-stopped').count(), 0);
    // The message list announces new turns politely.
    assert.equal(await page.locator('[role="log"]').getAttribute('aria-live'), 'polite');
  });

  it('an Instant answer has no thinking block, and a turn that ends while still thinking keeps its thinking open', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'hi'), assistantId: 'a1', meta: turnMeta({ mode: 'instant' }) }, 'aHello! How can I help?');
    const a1 = page.locator('article.turn-assistant[data-turn-id="a1"]');
    await a1.locator('.answer').getByText('Hello! How can I help?').waitFor();
    await wv.host({ type: 'turnFinished', assistantId: 'a1', meta: turnMeta({ mode: 'instant', metrics: { completionTokens: 7 } }) });
    assert.equal(await a1.locator('details.thinking').isVisible(), false);
    assert.equal(await a1.locator('.metric-mode').innerText(), 'Instant');

    await wv.host({ type: 'turnStarted', user: userView('u2', 'think hard'), assistantId: 'a2', meta: turnMeta() }, 'tStill weighing the options');
    const a2 = page.locator('article.turn-assistant[data-turn-id="a2"]');
    await a2.locator('.thinking-body').getByText('Still weighing the options').waitFor();
    await wv.host({ type: 'turnFinished', assistantId: 'a2', meta: turnMeta({ stopped: true, metrics: { thinkingMs: 3_000 } }) });
    assert.equal(await a2.locator('.thinking-label').innerText(), 'Thought for 3 s');
    assert.equal(await isOpen(wv, 'a2'), true, 'no answer came: the thinking stays readable');
    assert.equal(await a2.locator('.turn-stopped').innerText(), 'Stopped');
  });

  it('Esc stops a streaming answer; the partial text stays, marked stopped; Regenerate is offered on the last answer only', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv, {
      id: 'c1',
      title: 'Sky',
      turns: [userView('u0', 'first question'), assistantView('a0', '', 'first answer', { metrics: { durationMs: 900 } })],
    });
    const regenerate = page.getByRole('button', { name: 'Regenerate' });
    await regenerate.waitFor();
    assert.equal(await regenerate.count(), 1);

    await wv.host({ type: 'turnStarted', user: userView('u1', 'second question'), assistantId: 'a1', meta: turnMeta() }, { type: 'composer', composer: composerView({ busy: true }) });
    await wv.host('tconsidering', 'aThe partial ans');
    const a1 = page.locator('article.turn-assistant[data-turn-id="a1"]');
    await a1.locator('.answer').getByText('The partial ans').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Regenerate' }).count(), 0, 'no Regenerate while an answer streams');
    assert.equal(await page.getByRole('button', { name: /^Edit/ }).count(), 0, 'no Edit while an answer streams');

    const from = wv.mark();
    await page.getByRole('textbox', { name: 'Message to Kimi' }).focus();
    await page.keyboard.press('Escape');
    await wv.waitForPosted('stop', { from });

    await wv.host(
      { type: 'turnFinished', assistantId: 'a1', meta: turnMeta({ stopped: true, metrics: { completionTokens: 5, durationMs: 2_000 } }) },
      { type: 'composer', composer: composerView() },
    );
    assert.equal(await a1.locator('.turn-stopped').innerText(), 'Stopped');
    assert.match(await a1.locator('.answer').innerText(), /The partial ans/);
    assert.equal(await page.getByRole('button', { name: 'Regenerate' }).count(), 1);
    assert.equal(await a1.getByRole('button', { name: 'Regenerate' }).count(), 1, 'Regenerate belongs to the last answer');
    const at = wv.mark();
    await a1.getByRole('button', { name: 'Regenerate' }).click();
    const msg = await wv.waitForPosted('regenerate', { from: at });
    assert.equal(msg.turnId, 'a1');
  });

  it('an error is shown in the turn with the server\'s own message and every action, and the partial text is kept', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'list the files'), assistantId: 'a1', meta: turnMeta() }, 'aHere is the first half of');
    const a1 = page.locator('article.turn-assistant[data-turn-id="a1"]');
    await a1.locator('.answer').getByText('Here is the first half of').waitFor();
    await wv.host({
      type: 'turnFinished',
      assistantId: 'a1',
      meta: turnMeta({
        error: {
          kind: 'toolChoiceNotEnabled',
          message: 'The server was started without tool calling: restart it with the flags below, or chat without tools.',
          serverMessage: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
          actions: ['retry', 'startServer', 'setApiKey', 'restartServerWithFlags', 'newChat', 'openSettings'],
          missingFlags: ['--enable-auto-tool-choice', '--tool-call-parser kimi_k2'],
        },
      }),
    });
    const error = a1.getByRole('alert');
    assert.match(await error.locator('.error-message').innerText(), /started without tool calling/);
    assert.equal(await error.locator('.error-server').innerText(), '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set');
    assert.match(await error.locator('.error-flags').innerText(), /--enable-auto-tool-choice --tool-call-parser kimi_k2/);
    assert.match(await a1.locator('.answer').innerText(), /Here is the first half of/, 'the partial text stays');

    let from = wv.mark();
    await error.getByRole('button', { name: 'Retry' }).click();
    assert.equal((await wv.waitForPosted('regenerate', { from })).turnId, 'a1');
    const actions = [
      ['Start Server', 'startServer'],
      ['Set API Key', 'setApiKey'],
      ['Restart with Flags', 'restartServerWithFlags'],
      ['New Chat', 'newChat'],
      ['Settings', 'openSettings'],
    ] as const;
    for (const [label, action] of actions) {
      from = wv.mark();
      await error.getByRole('button', { name: label, exact: true }).click();
      const m: PostedOf<'errorAction'> = await wv.waitForPosted('errorAction', { from });
      assert.deepEqual(m, { type: 'errorAction', turnId: 'a1', action });
    }
  });

  it('a reopened conversation shows every turn finished: chips, images, thinking folded with its time; Edit on the last message resends it', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    const conv: ConversationView = {
      id: 'c7',
      title: 'Refactor',
      turns: [
        userView('u1', 'Refactor this\nplease', {
          attachments: [
            { kind: 'selection', path: 'src/app.ts', startLine: 12, endLine: 40, chars: 812 },
            { kind: 'file', path: 'README.md', chars: 2048 },
          ],
          images: [{ name: 'screenshot.png', dataUrl: TINY_PNG, bytes: 70, width: 1, height: 1 }],
        }),
        assistantView('a1', 'The user wants a *cleaner* loop.', 'Here is the refactor.', { metrics: { thinkingMs: 41_000, completionTokens: 120 } }),
        userView('u2', 'Now in Rust'),
        assistantView('a2', '', 'Sure: `fn main() {}`', { mode: 'instant' }),
      ],
    };
    await hostReady(wv, conv);
    const u1 = page.locator('article.turn-user[data-turn-id="u1"]');
    assert.equal(await u1.locator('.user-text').innerText(), 'Refactor this\nplease');
    assert.deepEqual(await u1.locator('.chip').allInnerTexts(), ['src/app.ts:12-40', 'README.md']);
    const img = u1.getByRole('img', { name: 'screenshot.png' });
    await waitUntil(() => img.evaluate((i) => (i as unknown as { complete: boolean; naturalWidth: number }).complete && (i as unknown as { naturalWidth: number }).naturalWidth === 1), 'the image thumbnail to load');

    const a1 = page.locator('article.turn-assistant[data-turn-id="a1"]');
    assert.equal(await a1.locator('.thinking-label').innerText(), 'Thought for 41 s');
    assert.equal(await isOpen(wv, 'a1'), false);
    assert.match(await a1.locator('.answer').innerText(), /Here is the refactor\./);
    assert.equal(await page.locator('article.turn-assistant[data-turn-id="a2"] details.thinking').isVisible(), false);
    assert.equal(await page.getByRole('button', { name: /^Edit/ }).count(), 1, 'only the last message can be edited');
    assert.equal(await page.getByRole('button', { name: 'Regenerate' }).count(), 1);

    // Edit: Esc cancels without stopping anything; Enter resends.
    const u2 = page.locator('article.turn-user[data-turn-id="u2"]');
    await u2.getByRole('button', { name: /^Edit/ }).click();
    const editor = u2.getByRole('textbox', { name: 'Edit your message' });
    assert.equal(await editor.inputValue(), 'Now in Rust');
    assert.equal(await editor.evaluate((e) => e === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement), true, 'the editor has the focus');
    let from = wv.mark();
    await page.keyboard.press('Escape');
    await editor.waitFor({ state: 'detached' });
    assert.equal(await u2.locator('.user-text').innerText(), 'Now in Rust');
    await wv.host(); // a round trip: nothing was posted meanwhile
    assert.deepEqual(wv.posted.slice(from), []);

    await u2.getByRole('button', { name: /^Edit/ }).click();
    await editor.fill('Now in Go');
    from = wv.mark();
    await editor.press('Enter');
    assert.deepEqual(await wv.waitForPosted('editResend', { from }), { type: 'editResend', turnId: 'u2', text: 'Now in Go' });
    assert.equal(await u2.getByRole('button', { name: 'Resend the edited message' }).isDisabled(), true, 'no double resend');
    // The host refuses it: the editor comes back, the error shows at the composer.
    await wv.host({ type: 'composerError', message: 'An answer is still streaming: press Stop (Esc) first. Your edit is kept.' });
    assert.equal(await u2.getByRole('button', { name: 'Resend the edited message' }).isDisabled(), false);
    assert.equal(await editor.inputValue(), 'Now in Go');
    assert.match(await page.locator('.composer-error').innerText(), /Your edit is kept/);
    // The host accepts a second try: the conversation is replaced (truncated) and the new turn starts.
    from = wv.mark();
    await editor.press('Enter');
    await wv.waitForPosted('editResend', { from });
    await wv.host(
      { type: 'conversation', conversation: { ...conv, turns: conv.turns.slice(0, 2) } },
      { type: 'turnStarted', user: userView('u3', 'Now in Go'), assistantId: 'a3', meta: turnMeta() },
    );
    assert.equal(await page.locator('article.turn').count(), 4);
    assert.equal(await page.locator('article.turn-user[data-turn-id="u2"]').count(), 0);
    assert.equal(await page.locator('article.turn-user[data-turn-id="u3"] .user-text').innerText(), 'Now in Go');

    // Another conversation replaces everything.
    await wv.host({ type: 'conversation', conversation: { id: 'c8', title: 'Other', turns: [userView('x1', 'only me')] } });
    assert.equal(await page.locator('article.turn').count(), 1);
    assert.equal(await page.locator('article.turn-user .user-text').innerText(), 'only me');
  });

  it('code blocks: Copy and Insert at Cursor post the code; links never navigate, they ask the host to open them', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv, { id: 'c1', title: 'Debounce', turns: [userView('u1', 'debounce?'), assistantView('a1', CODE_THINKING, CODE_ANSWER)] });
    const a1 = page.locator('article.turn-assistant[data-turn-id="a1"]');
    const block = a1.locator('.code-block').first();
    const codeText = await block.locator('pre code').evaluate((c) => c.textContent ?? '');
    assert.match(codeText, /export function debounce/);

    let from = wv.mark();
    const copy = block.locator('button[data-action="copy"]');
    await copy.click();
    assert.equal((await wv.waitForPosted('copyCode', { from })).code, codeText);
    await block.getByRole('button', { name: 'Copied' }).waitFor();
    await block.getByRole('button', { name: 'Copy', exact: true }).waitFor({ timeout: 5_000 }); // the feedback goes away

    from = wv.mark();
    await block.locator('button[data-action="insert"]').click();
    assert.equal((await wv.waitForPosted('insertCode', { from })).code, codeText);

    const url = page.url();
    const link = a1.getByRole('link', { name: 'MDN on setTimeout' });
    from = wv.mark();
    await link.click();
    assert.equal((await wv.waitForPosted('openLink', { from })).href, 'https://developer.mozilla.org/docs/Web/API/setTimeout');
    from = wv.mark();
    await link.click({ button: 'middle' });
    await wv.waitForPosted('openLink', { from });
    from = wv.mark();
    await link.focus();
    await page.keyboard.press('Enter');
    await wv.waitForPosted('openLink', { from });
    await wv.host();
    assert.equal(page.url(), url, 'the webview did not navigate');
    assert.equal(page.frames().length, 1, 'no frame was opened');
  });

  it('long conversations: finished turns are never rendered again when a new turn streams', async function () {
    this.timeout(60_000);
    const wv = await chat.open();
    const { page } = wv;
    const turns: TurnView[] = [];
    for (let i = 0; i < 150; i++) {
      turns.push(userView(`u${i}`, `question ${i}`));
      turns.push(assistantView(`a${i}`, `thinking ${i}`, `Answer ${i} with a list:\n\n- one\n- two\n\n\`\`\`js\nconsole.log(${i});\n\`\`\`\n`, { metrics: { thinkingMs: 2000 } }));
    }
    const started = Date.now();
    await hostReady(wv, { id: 'big', title: 'Big', turns });
    await page.locator('article.turn-assistant[data-turn-id="a149"] .answer').getByText('Answer 149 with a list:').waitFor();
    const openMs = Date.now() - started;
    // Tag every rendered node of the finished turns; a re-render would replace them.
    const tagged = await page.locator('article.turn').evaluateAll((els) => {
      let n = 0;
      for (const e of els) {
        for (const node of [e, ...(e as unknown as { querySelectorAll(s: string): Iterable<unknown> }).querySelectorAll('*')]) {
          (node as { __kimiOld?: boolean }).__kimiOld = true;
          n++;
        }
      }
      return n;
    });
    await wv.host({ type: 'turnStarted', user: userView('u150', 'one more'), assistantId: 'a150', meta: turnMeta() }, 'tok', 'aThe new answer');
    await page.locator('article.turn-assistant[data-turn-id="a150"] .answer').getByText('The new answer').waitFor();
    await wv.host({ type: 'turnFinished', assistantId: 'a150', meta: turnMeta({ metrics: { durationMs: 100 } }) });
    const stillTagged = await page.locator('article.turn').evaluateAll((els) => {
      let n = 0;
      for (const e of els.slice(0, 300)) {
        for (const node of [e, ...(e as unknown as { querySelectorAll(s: string): Iterable<unknown> }).querySelectorAll('*')]) {
          if ((node as { __kimiOld?: boolean }).__kimiOld) n++;
        }
      }
      return n;
    });
    // The previous last pair may only lose its Edit/Regenerate visibility (an attribute), never its nodes.
    assert.equal(stillTagged, tagged, 'every node of the 300 finished turns is still the same node');
    assert.ok(openMs < 5_000, `opening 300 turns took ${openMs} ms`);
  });

  it('stays pinned to the bottom while streaming unless the user scrolled up; then "Jump to latest" brings it back', async function () {
    this.timeout(60_000);
    const wv = await chat.open();
    const { page } = wv;
    const turns: TurnView[] = [];
    for (let i = 0; i < 12; i++) {
      turns.push(userView(`u${i}`, `question ${i}`));
      turns.push(assistantView(`a${i}`, '', `Answer ${i}.\n\n${'Some words to take up room. '.repeat(20)}`));
    }
    await hostReady(wv, { id: 'c', title: 'Scroll', turns });
    const scroller = page.locator('.messages');
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'the reopened conversation to show its end');

    await wv.host({ type: 'turnStarted', user: userView('u99', 'tell me more'), assistantId: 'a99', meta: turnMeta({ mode: 'instant' }) }, { type: 'composer', composer: composerView({ busy: true }) });
    for (let i = 0; i < 10; i++) await wv.host(`aParagraph ${i}: ${'streamed words '.repeat(12)}\n\n`);
    await page.locator('article[data-turn-id="a99"] .answer').getByText(/Paragraph 9/).waitFor();
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'the view to follow the streaming answer');
    const jump = page.getByRole('button', { name: 'Jump to the latest message' });
    assert.equal(await jump.isVisible(), false);

    // The user scrolls up to read: what they read stays put while text keeps arriving.
    await scroller.hover();
    await page.mouse.wheel(0, -1500);
    await waitUntil(async () => (await scrollState(scroller)).gap > 500, 'the wheel to scroll up');
    await settled(scroller);
    await jump.waitFor({ state: 'visible' });
    const before = await scrollState(scroller);
    const anchorTop = await markReadingPoint(page);
    for (let i = 10; i < 20; i++) await wv.host(`aParagraph ${i}: ${'streamed words '.repeat(12)}\n\n`);
    await page.locator('article[data-turn-id="a99"] .answer').getByText(/Paragraph 19/).waitFor();
    await waitUntil(async () => (await scrollState(scroller)).height > before.height, 'the new text to be laid out');
    const after = await scrollState(scroller);
    assert.ok(after.gap > 500, `the view was not pulled to the bottom (${after.gap} px above it)`);
    const anchorNow = await readingPointTop(page);
    assert.ok(anchorNow !== undefined && Math.abs(anchorNow - anchorTop) < 2, `the text being read did not move (${anchorTop} → ${anchorNow})`);
    assert.equal(await jump.isVisible(), true);

    await jump.click();
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'Jump to latest to reach the end');
    await jump.waitFor({ state: 'hidden' });
    await wv.host(`aThe end. ${'more words '.repeat(40)}`);
    await page.locator('article[data-turn-id="a99"] .answer').getByText(/The end\./).waitFor();
    await waitUntil(async () => (await scrollState(scroller)).gap <= 2, 'the view to follow again');
  });

  it('tool calls of a turn are listed as compact cards with their status (details: chatWebviewTools)', async function () {
    this.timeout(30_000);
    const wv = await chat.open();
    const { page } = wv;
    await hostReady(wv);
    await wv.host({ type: 'turnStarted', user: userView('u1', 'read it'), assistantId: 'a1', meta: turnMeta() }, 'aLet me look.');
    await wv.host({
      type: 'toolCalls',
      assistantId: 'a1',
      calls: [
        { id: 'call_1', name: 'read_file', arguments: '{"path":"src/a.ts"}', status: 'done', durationMs: 12 },
        { id: 'call_2', name: 'search', arguments: '{"q":"x"}', status: 'running' },
      ],
    });
    const items = page.locator('article[data-turn-id="a1"] .tool-card summary');
    assert.equal(await items.count(), 2);
    assert.match(await items.nth(0).innerText(), /read_file\s+src\/a\.ts\s+done\s+12 ms/);
    assert.match(await items.nth(1).innerText(), /search\s+running…/);
  });

  it('screenshot: a finished turn with its thinking folded ("Thought for N s") and unfolded, and an answer with code', async function () {
    this.timeout(60_000);
    const wv = await chat.open({ viewport: { width: 440, height: 820 } });
    const { page } = wv;
    await hostReady(wv, {
      id: 'shot',
      title: 'Debounce',
      turns: [
        userView('u1', 'How do I stop the search box from sending a request on every keystroke?', {
          attachments: [{ kind: 'selection', path: 'src/search.ts', startLine: 14, endLine: 31, chars: 640 }],
        }),
        assistantView('a1', CODE_THINKING, CODE_ANSWER, {
          finishReason: 'stop',
          metrics: { promptTokens: 1_482, completionTokens: 611, ttftMs: 380, tokensPerSecond: 41.7, thinkingMs: 9_200, durationMs: 15_100 },
        }),
      ],
    });
    const a1 = page.locator('article.turn-assistant[data-turn-id="a1"]');
    await a1.locator('.code-block').first().waitFor();
    assert.equal(await a1.locator('.thinking-label').innerText(), 'Thought for 9 s');
    publish(await screenshot(page, 'chat-turn-thinking-collapsed'));
    // Unfolded the turn is taller: a taller panel shows all of it (no "Jump to latest" over the footer).
    await page.setViewportSize({ width: 440, height: 1000 });
    await a1.locator('summary').click();
    await a1.locator('.thinking-body').waitFor({ state: 'visible' });
    await page.locator('.messages').evaluate((e) => {
      (e as unknown as { scrollTop: number }).scrollTop = 0;
    });
    await waitUntil(async () => !(await page.getByRole('button', { name: 'Jump to latest' }).isVisible()), 'the whole chat in view');
    assert.ok(await a1.getByRole('button', { name: 'Regenerate' }).isVisible());
    publish(await screenshot(page, 'chat-turn-thinking-expanded'));
  });
});
