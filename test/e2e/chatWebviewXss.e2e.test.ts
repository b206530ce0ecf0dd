// The XSS corpus (test/support/xssCorpus.ts, ≥ 50 payloads) through the chat panel's real bundle (dist/webview.js) in
// Chromium under the panel's CSP, exactly as the host delivers model output: each payload streamed as the thinking and
// as the answer of a turn (bare `t…`/`a…` deltas cut at random places), and again in a reopened conversation
// (finished turns rendered from history). No script may run (alert() sentinel via dialogs, CSP violations, page
// errors), no request may leave the page (the harness routes every request), and the turn's DOM holds no script,
// handler, javascript:/data: URL or embedded content. test/e2e/markdownXss.e2e.test.ts does the same for the
// renderer alone, with and without CSP.
import * as assert from 'node:assert/strict';
import { assistantView, composerView, hostReady, turnMeta, useChatWebviews, userView, type ChatWebview } from '../harness/chatWebview';
import { inContext, XSS_PAYLOADS } from '../support/xssCorpus';

/** Deterministic cuts of `text` into pieces of 1–40 characters. */
function cuts(text: string, seed: number): string[] {
  let s = seed >>> 0 || 1;
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const n = 1 + (s % 40);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

/** What is dangerous in a turn's DOM (checked in the page, as source text: the test tsconfig has no DOM types). */
const AUDIT = (selector: string) => `(() => {
  const root = document.querySelector(${JSON.stringify(selector)});
  if (!root) return ['the turn is missing'];
  const problems = [];
  for (const e of root.querySelectorAll('*')) {
    const tag = e.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed', 'frame', 'frameset', 'base', 'meta', 'link', 'style', 'form', 'input', 'textarea', 'svg', 'math', 'img', 'video', 'audio', 'source'].includes(tag)) problems.push('element ' + tag);
    for (const a of e.attributes) {
      const v = a.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (a.name.startsWith('on')) problems.push(tag + ' ' + a.name);
      if (a.name === 'style') problems.push(tag + ' style');
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'srcdoc'].includes(a.name) && !/^(https?:|mailto:)/.test(v)) problems.push(tag + ' ' + a.name + '=' + a.value);
    }
  }
  return problems;
})()`;

describe('chatWebview: the XSS corpus as thinking and answer of real turns', function () {
  const chat = useChatWebviews();
  let wv: ChatWebview;
  const dialogs: string[] = [];

  before(async function () {
    this.timeout(60_000);
    assert.ok(XSS_PAYLOADS.length >= 50, `${XSS_PAYLOADS.length} payloads`);
    wv = await chat.open();
    wv.page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    await hostReady(wv);
  });

  /** Two animation frames: whatever the new DOM could start (loads, error events, autofocus) has had its chance. */
  const settle = () => wv.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0))))');

  function clean(what: string): void {
    assert.deepEqual(dialogs, [], `${what}: script ran (a dialog opened)`);
    assert.deepEqual(wv.cspViolations, [], `${what}: the CSP had to block something`);
    assert.deepEqual(wv.pageErrors, [], `${what}: page errors`);
    assert.deepEqual(wv.strayRequests, [], `${what}: a request left the page`);
    assert.deepEqual(wv.invalid, [], `${what}: malformed messages posted`);
  }

  it('the detectors work: raw HTML put into the page without the renderer is caught (then forgotten)', async function () {
    this.timeout(30_000);
    await wv.page.evaluate(`(() => {
      const d = document.createElement('div');
      d.id = 'raw-control';
      d.innerHTML = '<img src="https://evil.example/x.png"><img src=x onerror="alert(1)"><a href="javascript:alert(1)">x</a>';
      document.body.appendChild(d);
    })()`);
    const deadline = Date.now() + 5000;
    while ((wv.cspViolations.length === 0 || wv.strayRequests.length === 0) && Date.now() < deadline) await settle();
    assert.ok(wv.cspViolations.some((v) => v.startsWith('script-src')), `the inline handler was blocked and reported: ${JSON.stringify(wv.cspViolations)}`);
    assert.ok(wv.cspViolations.some((v) => v.startsWith('img-src')) || wv.strayRequests.length > 0, 'the remote image was caught');
    const audit = (await wv.page.evaluate(AUDIT('#raw-control'))) as string[];
    assert.ok(audit.includes('img onerror') && audit.some((x) => x.startsWith('a href=javascript')), JSON.stringify(audit));
    await wv.page.evaluate("document.getElementById('raw-control').remove()");
    wv.cspViolations.length = 0;
    wv.strayRequests.length = 0;
  });

  XSS_PAYLOADS.forEach((payload, i) => {
    it(`${i + 1}. ${payload.name}: streamed and reopened`, async function () {
      this.timeout(30_000);
      const id = `a${i}`;
      const answer = inContext(payload);
      // Streamed: turnStarted, thinking deltas, answer deltas (as the batcher posts them), turnFinished.
      await wv.host({ type: 'turnStarted', user: userView(`u${i}`, payload.text), assistantId: id, meta: turnMeta() }, { type: 'composer', composer: composerView({ busy: true }) });
      await wv.host(...cuts(payload.text, 31 * (i + 1)).map((c) => `t${c}` as const));
      await settle();
      await wv.host(...cuts(answer, 17 * (i + 1)).map((c) => `a${c}` as const));
      await settle();
      await wv.host({ type: 'turnFinished', assistantId: id, meta: turnMeta({ finishReason: 'stop' }) }, { type: 'composer', composer: composerView() });
      await settle();
      const turn = wv.page.locator(`article.turn-assistant[data-turn-id="${id}"]`);
      assert.equal(await turn.locator('.thinking-body').count(), 1, 'the thinking block is there');
      assert.equal(await turn.locator('.answer').count(), 1);
      assert.deepEqual(await wv.page.evaluate(AUDIT(`article.turn-assistant[data-turn-id="${id}"]`)), [], 'streamed turn DOM');
      assert.deepEqual(await wv.page.evaluate(AUDIT(`article.turn-user[data-turn-id="u${i}"]`)), [], 'user turn DOM');
      clean('streamed');

      // Reopened from history: the same turn rendered at once (thinking folded, then unfolded).
      await wv.host({ type: 'conversation', conversation: { id: `c${i}`, title: 'XSS', turns: [userView(`ru${i}`, payload.text), assistantView(`r${i}`, payload.text, answer, { finishReason: 'stop', metrics: { thinkingMs: 1000 } })] } });
      await settle();
      const reopened = wv.page.locator(`article.turn-assistant[data-turn-id="r${i}"]`);
      await reopened.locator('summary.thinking-summary').click();
      await settle();
      assert.deepEqual(await wv.page.evaluate(AUDIT(`article.turn-assistant[data-turn-id="r${i}"]`)), [], 'reopened turn DOM');
      clean('reopened');
    });
  });
});
