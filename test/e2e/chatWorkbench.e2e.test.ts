// The chat panel as the extension really serves it, in a real VS Code (code-server in headless Chromium) against the
// vLLM emulator: the Content-Security-Policy of the HTML the extension produced (and that the browser enforces it),
// a conversation typed with the keyboard, and a real window reload (the page reloaded: a new extension host, a new
// webview) that brings the conversation and the history list back.
import * as assert from 'node:assert/strict';
import type { Frame } from 'playwright-core';
import { startEmulator, type EmulatorServerHandle } from '../emulator/server';
import { closeWorkbench, openWorkbench, runCommand, webviewFrame, type Workbench } from '../harness/workbench';
import type { Json } from '../unit/chat/helpers';

async function openChat(wb: Workbench): Promise<Frame> {
  await runCommand(wb.page, 'Kimi: Open Chat');
  const frame = await webviewFrame(wb.page, 'Chat', { timeoutMs: 45_000 });
  await frame.locator('.server[data-state="ready"]').waitFor({ timeout: 45_000 });
  return frame;
}

async function askWithEnter(frame: Frame, text: string): Promise<void> {
  const input = frame.getByRole('textbox', { name: 'Message to Kimi' });
  await input.fill(text);
  await input.press('Enter');
  await frame.locator('article.turn-user .user-text', { hasText: text }).last().waitFor({ timeout: 15_000 });
  // finished: the footer with the metrics appears once turnFinished arrives
  await frame.locator('article.turn-assistant').last().locator('.turn-footer .metric-tps').waitFor({ timeout: 30_000 });
}

describe('chat panel in the VS Code workbench: real HTML, real reload', function () {
  let wb: Workbench;
  let emulator: EmulatorServerHandle;
  let frame: Frame;

  before(async function () {
    this.timeout(5 * 60_000);
    emulator = await startEmulator({
      servedModelName: 'Kimi-K2.5',
      tokensPerSecond: 400,
      script: [
        { match: 'paged attention', thinking: 'The KV cache is split into fixed-size blocks.', answer: 'Paged attention stores the **KV cache** in blocks:\n\n```python\nblock_size = 16\n```' },
        { match: 'block size', thinking: 'Short one.', answer: 'Sixteen tokens per block by default.' },
      ],
    });
    wb = await openWorkbench({ settings: { 'kimi.endpoint.baseUrl': `${emulator.url}/v1`, 'kimi.status.pollSeconds': 2 }, viewport: { width: 1280, height: 800 } });
    frame = await openChat(wb);
  });

  after(async function () {
    this.timeout(60_000);
    await closeWorkbench();
    await emulator?.close();
  });

  it('the webview HTML the extension produced has a strict CSP: default-src \'none\', nonce\'d scripts only, no unsafe-inline/eval, nothing remote', async function () {
    this.timeout(60_000);
    // In-page code as source text (the test tsconfig has no DOM types).
    const doc = (await frame.evaluate(`(() => {
      const meta = document.querySelector('meta[http-equiv="Content-Security-Policy"]');
      return {
        csp: meta ? meta.getAttribute('content') || '' : '',
        metas: document.querySelectorAll('meta[http-equiv="Content-Security-Policy"]').length,
        origin: location.origin,
        scripts: [...document.scripts].map((s) => ({ src: s.src, nonce: s.nonce, inline: !s.src && s.textContent !== '', text: (s.textContent || '').slice(0, 300) })),
        links: [...document.querySelectorAll('link')].map((l) => l.href),
        // VS Code adds its theme variables (a style attribute on <html>) and #_defaultStyles: not ours.
        inlineStyles: [...document.querySelectorAll('style, [style]')].filter((e) => e !== document.documentElement && e.id !== '_defaultStyles').length,
        resources: performance.getEntriesByType('resource').map((r) => r.name),
      };
    })()`)) as { csp: string; metas: number; origin: string; scripts: { src: string; nonce: string; inline: boolean; text: string }[]; links: string[]; inlineStyles: number; resources: string[] };
    assert.equal(doc.metas, 1, 'one CSP meta tag');
    const directives = new Map(doc.csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name, ...sources] = d.split(/\s+/);
      return [name!, sources] as const;
    }));
    assert.deepEqual(directives.get('default-src'), ["'none'"], doc.csp);
    const scriptSrc = directives.get('script-src') ?? [];
    assert.equal(scriptSrc.length, 1, `script-src is only a nonce: ${doc.csp}`);
    const nonce = /^'nonce-([A-Za-z0-9+/=]{16,})'$/.exec(scriptSrc[0]!)?.[1];
    assert.ok(nonce, `script-src is a nonce of ≥ 16 characters: ${doc.csp}`);
    assert.doesNotMatch(doc.csp, /unsafe-inline|unsafe-eval|unsafe-hashes|wasm-unsafe-eval|strict-dynamic/);
    assert.ok(!directives.has('connect-src') && !directives.has('frame-src') && !directives.has('worker-src'), `nothing to connect to: ${doc.csp}`);
    // Only 'none', the nonce, data: for pasted image thumbnails, and VS Code's webview.cspSource (in code-server:
    // 'self' https://*.vscode-cdn.net, the local resource origin its service worker serves): no scheme wildcards.
    const cspSource = ["'self'", 'https://*.vscode-cdn.net'];
    for (const [name, sources] of directives) {
      for (const s of sources) {
        assert.ok(s === "'none'" || s === `'nonce-${nonce}'` || (s === 'data:' && name === 'img-src') || cspSource.includes(s), `${name} ${s} in ${doc.csp}`);
      }
    }
    assert.deepEqual(directives.get('style-src'), cspSource, 'styles only from files, no unsafe-inline');
    // Every script of ours carries the nonce and is a file of this extension; the one inline script is the
    // acquireVsCodeApi shim VS Code itself injects before the page's own code.
    const own = (u: string) => /^https:\/\/[a-z0-9+-]+\.vscode-resource\.vscode-cdn\.net\//.test(u);
    const ours = doc.scripts.filter((s) => !s.inline);
    assert.equal(ours.length, 1, JSON.stringify(doc.scripts));
    for (const s of ours) {
      assert.ok(own(s.src) && s.src.endsWith('/dist/webview.js'), `script from ${s.src}`);
      assert.equal(s.nonce, nonce);
    }
    for (const s of doc.scripts.filter((x) => x.inline)) assert.match(s.text, /^\s*globalThis\.acquireVsCodeApi = /, 'no inline script of ours');
    for (const href of doc.links) assert.ok(own(href) && /\/media\/[a-z]+\.css$/.test(href), `stylesheet from ${href}`);
    assert.equal(doc.inlineStyles, 0, 'no <style> and no style attributes of ours');
    for (const r of doc.resources) assert.ok(own(r), `a request left the webview: ${r}`);

    // And the browser enforces it: an injected inline script and eval are refused, with a CSP violation.
    const enforced = (await frame.evaluate(`(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      const s = document.createElement('script');
      s.textContent = 'window.__kimiInline = 1';
      document.body.appendChild(s);
      // String code compiled later in a page task (DevTools lets eval run inside its own evaluation, not in tasks).
      setTimeout('window.__kimiEval = 1', 0);
      const img = document.createElement('img');
      img.src = 'https://example.com/x.png';
      document.body.appendChild(img);
      const deadline = Date.now() + 5000;
      // wait for the three refusals (or a deadline; the asserts then say which is missing)
      while (violations.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      s.remove();
      img.remove();
      return { inlineRan: window.__kimiInline === 1, evalRan: window.__kimiEval === 1, violations };
    })()`)) as { inlineRan: boolean; evalRan: boolean; violations: string[] };
    assert.equal(enforced.inlineRan, false, 'an inline script without the nonce does not run');
    assert.equal(enforced.evalRan, false, 'string code (eval) is refused');
    assert.equal(enforced.violations.filter((v) => v.startsWith('script-src')).length, 2, `inline script and eval refused: ${JSON.stringify(enforced.violations)}`);
    assert.ok(enforced.violations.some((v) => v.startsWith('script-src')), JSON.stringify(enforced.violations));
    assert.ok(enforced.violations.some((v) => v.startsWith('img-src')), `a remote image is refused: ${JSON.stringify(enforced.violations)}`);
  });

  it('a conversation typed with the keyboard comes back after a real window reload, with the history list', async function () {
    this.timeout(5 * 60_000);
    await askWithEnter(frame, 'How does paged attention work?');
    await askWithEnter(frame, 'What is the default block size?');
    const bodies = emulator.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as Json);
    assert.equal(bodies.length, 2);
    const turns = frame.locator('article.turn-assistant');
    assert.equal(await turns.count(), 2);
    assert.match(await turns.nth(0).locator('.answer').innerText(), /Paged attention stores the KV cache in blocks/);

    // The window reload: the whole page (workbench, extension host, webviews) starts again.
    await wb.page.reload({ waitUntil: 'domcontentloaded' });
    await wb.page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
    frame = await openChat(wb);
    const after = frame.locator('article.turn-assistant');
    await after.nth(1).locator('.answer').getByText('Sixteen tokens per block by default.').waitFor({ timeout: 30_000 });
    assert.equal(await after.count(), 2);
    assert.match(await after.nth(0).locator('.answer').innerText(), /Paged attention stores the KV cache in blocks/);
    assert.equal(await after.nth(0).locator('.code-block code').innerText(), 'block_size = 16');
    assert.deepEqual(
      await frame.locator('article.turn-user .user-text').allInnerTexts(),
      ['How does paged attention work?', 'What is the default block size?'],
    );
    // Finished turns come back folded with their thinking and metrics.
    assert.equal(await after.nth(0).locator('details.thinking').evaluate((d) => (d as unknown as { open: boolean }).open), false);
    assert.match(await after.nth(0).locator('details.thinking summary').innerText(), /Thought for/);
    assert.equal(await after.nth(1).locator('.turn-footer .metric-tokens').count(), 1);
    assert.equal(emulator.requests.filter((r) => r.path === '/v1/chat/completions').length, 2, 'nothing re-sent on reload');
    // The history list has it, with its two exchanges.
    await frame.getByRole('button', { name: 'History', exact: true }).click();
    const item = frame.getByRole('region', { name: 'History' }).locator('.history-item', { hasText: 'How does paged attention work?' });
    await item.waitFor({ timeout: 15_000 });
    assert.match(await item.locator('.history-meta').innerText(), /4 messages/);
    assert.equal(await item.getAttribute('class'), 'history-item current');
  });

  it('the header shows the real server and model; when the server goes away the composer says why, with Start Server', async function () {
    this.timeout(2 * 60_000);
    assert.equal(await frame.locator('.server-model').innerText(), `Kimi-K2.5 · context ${emulator.config.maxModelLen.toLocaleString('en-US')} tokens`);
    assert.equal(await frame.locator('.server-url').innerText(), `${emulator.url}/v1`);
    await emulator.close();
    // The status poll (every 2 s here) sees it gone; the panel follows.
    await frame.locator('section.server[data-state="unreachable"]').waitFor({ timeout: 30_000 });
    const blocked = frame.locator('.composer-blocked');
    await blocked.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await blocked.locator('.blocked-reason').innerText(), /No server running/);
    assert.equal(await blocked.getByRole('button', { name: 'Start Server', exact: true }).count(), 1);
    assert.equal(await frame.getByRole('button', { name: 'Send', exact: true }).isDisabled(), true);
  });
});
