// The XSS corpus (test/support/xssCorpus.ts) through the real markdown renderer in Chromium: every payload as the
// thinking and as the answer of a turn, streamed in random chunks (real animation frames, the live DOM audited after
// every frame) and rendered one-shot. Under the webview's own CSP: no script runs (sentinel, dialogs, page errors),
// no request leaves the page (every request is routed; anything but the page itself fails the test), no on*
// attribute / javascript: href / foreign element in the DOM, and the CSP has nothing to block (every violation is
// recorded; the expected count is zero because model HTML never reaches a parser with its attributes).
// Then the same corpus on the same page without any CSP: the sanitiser alone keeps every script from running.
import * as assert from 'node:assert/strict';
import { openMarkdownPage, type CspViolation, type MarkdownPage } from '../harness/markdownPage';
import type { MarkdownTestGlobal, TurnResult } from '../support/markdownTestApi';
import { inContext, XSS_PAYLOADS } from '../support/xssCorpus';

/** What test/browser/markdownTestPage.mts puts on window (used inside page.evaluate callbacks). */
type G = MarkdownTestGlobal;

const MODES = ['stream', 'oneShot'] as const;

async function renderTurn(p: MarkdownPage, thinking: string, answer: string, mode: 'stream' | 'oneShot', seed: number): Promise<TurnResult> {
  const r = await p.page.evaluate(([t, a, m, s]) => (globalThis as unknown as G).kimiMd.turn(t, a, m, s), [thinking, answer, mode, seed] as const);
  // Anything the rendered DOM could start (image loads, error and focus events, handlers) has had its chance.
  await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.settle());
  return r;
}

describe('markdown renderer in Chromium: the XSS corpus', function () {
  it(`has at least 50 payloads (${XSS_PAYLOADS.length}), all distinct`, function () {
    assert.ok(XSS_PAYLOADS.length >= 50);
    assert.equal(new Set(XSS_PAYLOADS.map((x) => x.text)).size, XSS_PAYLOADS.length);
    assert.equal(new Set(XSS_PAYLOADS.map((x) => x.name)).size, XSS_PAYLOADS.length);
  });

  describe('under the webview CSP: thinking and answer, streamed and one-shot', function () {
    let p: MarkdownPage;
    const violations: CspViolation[] = [];

    before(async function () {
      this.timeout(120_000);
      p = await openMarkdownPage({ entry: 'test/browser/markdownTestPage.mts' });
    });

    after(async function () {
      this.timeout(30_000);
      if (p) console.log(`      CSP violations recorded over the corpus: ${violations.length}; requests blocked: ${p.blockedRequests.length}`);
      await p?.close();
    });

    XSS_PAYLOADS.forEach((payload, i) => {
      it(`${i + 1}. ${payload.name}`, async function () {
        this.timeout(60_000);
        for (const mode of MODES) {
          const before = (await p.pageState()).violations.length;
          const r = await renderTurn(p, payload.text, inContext(payload), mode, 7919 * (i + 1));
          const state = await p.pageState();
          violations.push(...state.violations.slice(before));
          assert.deepEqual(r.problems, [], `${mode}: the DOM holds what the sanitiser should have removed`);
          assert.deepEqual(state.xss, [], `${mode}: script ran`);
          assert.deepEqual(p.dialogs, [], `${mode}: a dialog opened`);
          assert.deepEqual(p.pageErrors, [], `${mode}: page errors`);
          assert.deepEqual(p.consoleErrors, [], `${mode}: console errors`);
          assert.deepEqual(p.blockedRequests, [], `${mode}: a request left the page`);
          assert.deepEqual(state.violations.slice(before), [], `${mode}: the CSP had to block something`);
          // In serialised HTML a literal '<' only starts a tag (text shows it as &lt;), so this sees real attributes only.
          assert.ok(!/<[a-z][^<>]*\s(on[a-z]+|href|src|style)="?\s*(javascript|vbscript|data):/i.test(r.thinkingHtml + r.answerHtml), `${mode}: dangerous URL`);
          const names = (r.thinkingHtml + r.answerHtml).replace(/="[^"]*"/g, '=""'); // attribute names only
          assert.ok(!/<[a-z][^<>]*\son[a-z]+=/i.test(names), `${mode}: event handler attribute`);
          await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.clear());
        }
      });
    });
  });

  describe('without any CSP: the sanitiser alone keeps scripts from running', function () {
    let p: MarkdownPage;

    before(async function () {
      this.timeout(120_000);
      p = await openMarkdownPage({ entry: 'test/browser/markdownTestPage.mts', csp: false });
    });

    after(async function () {
      this.timeout(30_000);
      await p?.close();
    });

    it('the page really has no CSP (a nonce-less inline handler would run)', async function () {
      this.timeout(30_000);
      const ran = await p.page.evaluate(() => {
        const g = globalThis as unknown as { document: { createElement(t: string): { setAttribute(n: string, v: string): void; click(): void } }; __xss: string[] };
        const b = g.document.createElement('button');
        b.setAttribute('onclick', 'alert("control")');
        b.click();
        const out = [...g.__xss];
        g.__xss.length = 0;
        return out;
      });
      assert.deepEqual(ran, ['alert:control'], 'the control handler should have run on a page without CSP');
    });

    for (const mode of MODES) {
      it(`every payload, thinking and answer, ${mode}`, async function () {
        this.timeout(300_000);
        for (const [i, payload] of XSS_PAYLOADS.entries()) {
          const r = await renderTurn(p, payload.text, inContext(payload), mode, 104729 * (i + 1));
          const state = await p.pageState();
          assert.deepEqual(r.problems, [], `${payload.name}: DOM`);
          assert.deepEqual(state.xss, [], `${payload.name}: script ran`);
          assert.deepEqual(p.dialogs, [], `${payload.name}: a dialog opened`);
          assert.deepEqual(p.pageErrors, [], `${payload.name}: page errors`);
          assert.deepEqual(p.consoleErrors, [], `${payload.name}: console errors`);
          assert.deepEqual(p.blockedRequests, [], `${payload.name}: a request left the page`);
          await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.clear());
        }
      });
    }
  });
});
