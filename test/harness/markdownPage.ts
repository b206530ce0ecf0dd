// A page in headless Chromium that runs browser code under the chat webview's own Content Security Policy
// (src/vscode/chatView.ts renderHtml: default-src 'none'; nonce'd scripts; styles, images and fonts only from the
// webview's origin). Everything the page asks for goes through page.route: the page, its bundle and media/*.css are
// served from memory; any other request is recorded and aborted, so a test can assert that nothing left the page.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import type { ConsoleMessage, Page } from 'playwright-core';
import { repoRoot } from '../support/paths';
import { launchBrowser, type TestBrowser } from './browser';

/** The page's origin; stands for the webview's cspSource. */
export const PAGE_ORIGIN = 'https://webview.kimi.test';

/**
 * Bundles a browser entry (a test/browser or test/bench .mts importing the real src/webview/markdown) with the options
 * esbuild.mjs uses for dist/webview.js in --production (browser, IIFE, es2022, minified).
 */
export async function bundleBrowserEntry(entry: string): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [path.resolve(repoRoot, entry)],
    bundle: true,
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced nothing for ${entry}`);
  return out.text;
}

export interface CspViolation {
  directive: string;
  blockedURI: string;
  sample: string;
}

export interface MarkdownPage {
  tb: TestBrowser;
  page: Page;
  /** URLs the page asked for that were not the page, its bundle or its stylesheet (all aborted). */
  blockedRequests: string[];
  pageErrors: string[];
  consoleErrors: string[];
  dialogs: string[];
  /** Loads the page fresh (same browser), e.g. between test groups. */
  reload(): Promise<void>;
  /** CSP violations and sentinel hits recorded in the page since it loaded. */
  pageState(): Promise<{ violations: CspViolation[]; xss: string[] }>;
  close(): Promise<void>;
}

export interface MarkdownPageOptions {
  /** The browser entry to bundle, relative to the repo root. */
  entry: string;
  /** false: the same page without the CSP meta tag (to prove the sanitiser alone keeps scripts out). */
  csp?: boolean;
  viewport?: { width: number; height: number };
}

/**
 * A few of the variables VS Code sets in a webview (values of the Dark Modern theme), so screenshots look like the
 * panel does; served as a stylesheet from the page's origin like media/*.css.
 */
const THEME_CSS = `:root {
  --vscode-font-family: system-ui, -apple-system, "Segoe UI", Ubuntu, sans-serif; --vscode-font-size: 13px;
  --vscode-editor-font-family: "DejaVu Sans Mono", Consolas, monospace; --vscode-editor-font-size: 13px;
  --vscode-foreground: #cccccc; --vscode-editor-foreground: #cccccc; --vscode-editor-background: #1f1f1f;
  --vscode-descriptionForeground: #9d9d9d; --vscode-textLink-foreground: #4daafc; --vscode-textLink-activeForeground: #4daafc;
  --vscode-textCodeBlock-background: #2b2b2b; --vscode-textPreformat-foreground: #d0d0d0; --vscode-textPreformat-background: #3c3c3c;
  --vscode-textBlockQuote-background: #2b2b2b; --vscode-textBlockQuote-border: #616161; --vscode-textSeparator-foreground: #21262d;
  --vscode-panel-border: #2b2b2b; --vscode-widget-border: #313131; --vscode-editorWidget-background: #202020; --vscode-editorWidget-border: #454545;
  --vscode-button-secondaryForeground: #cccccc; --vscode-button-secondaryBackground: #313131; --vscode-button-secondaryHoverBackground: #3c3c3c;
  --vscode-button-border: #ffffff12; --vscode-focusBorder: #0078d4;
  --vscode-debugTokenExpression-name: #c586c0; --vscode-debugTokenExpression-string: #ce9178; --vscode-debugTokenExpression-number: #b5cea8;
  --vscode-debugTokenExpression-boolean: #4e94ce; --vscode-debugTokenExpression-error: #f48771;
  --vscode-symbolIcon-classForeground: #ee9d28; --vscode-symbolIcon-functionForeground: #b180d7; --vscode-symbolIcon-variableForeground: #75beff;
}
body { background: var(--vscode-editor-background); margin: 0; padding: 12px 16px; }`;

/** The page: CSP meta (as the webview's), media/markdown.css, a sentinel, then the bundle. */
function html(nonce: string, csp: boolean): string {
  const policy = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${PAGE_ORIGIN}`,
    `img-src ${PAGE_ORIGIN} data:`,
    `font-src ${PAGE_ORIGIN}`,
  ].join('; ');
  // The sentinel: anything a payload could call to prove it ran lands in window.__xss; CSP violations are counted.
  const sentinel = `
window.__xss = [];
window.__violations = [];
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  window[name] = function () { window.__xss.push(name + ':' + Array.prototype.join.call(arguments, ',')); };
}
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push({ directive: e.effectiveDirective || e.violatedDirective, blockedURI: e.blockedURI, sample: e.sample || '' });
});`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
${csp ? `<meta http-equiv="Content-Security-Policy" content="${policy}">` : ''}
<script nonce="${nonce}">${sentinel}</script>
<link rel="stylesheet" href="${PAGE_ORIGIN}/media/theme.css">
<link rel="stylesheet" href="${PAGE_ORIGIN}/media/markdown.css">
<title>markdown</title>
</head>
<body>
<main id="app"></main>
<script nonce="${nonce}" src="${PAGE_ORIGIN}/bundle.js"></script>
</body>
</html>`;
}

export async function openMarkdownPage(opts: MarkdownPageOptions): Promise<MarkdownPage> {
  const bundle = await bundleBrowserEntry(opts.entry);
  const css = fs.readFileSync(path.join(repoRoot, 'media', 'markdown.css'), 'utf8');
  const tb = await launchBrowser({ viewport: opts.viewport ?? { width: 900, height: 900 } });
  const { page } = tb;
  const blockedRequests: string[] = [];
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];
  let nonce = '';
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (url === `${PAGE_ORIGIN}/index.html`) {
      await route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html(nonce, opts.csp !== false) });
    } else if (url === `${PAGE_ORIGIN}/bundle.js`) {
      await route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: bundle });
    } else if (url === `${PAGE_ORIGIN}/media/markdown.css`) {
      await route.fulfill({ status: 200, contentType: 'text/css; charset=utf-8', body: css });
    } else if (url === `${PAGE_ORIGIN}/media/theme.css`) {
      await route.fulfill({ status: 200, contentType: 'text/css; charset=utf-8', body: THEME_CSS });
    } else {
      blockedRequests.push(url);
      await route.abort('blockedbyclient');
    }
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => undefined);
  });
  const reload = async (): Promise<void> => {
    nonce = randomBytes(18).toString('base64');
    await page.goto(`${PAGE_ORIGIN}/index.html`, { waitUntil: 'load' });
    await page.waitForFunction(() => 'kimiMd' in globalThis || 'kimiBench' in globalThis, undefined, { timeout: 30_000 });
  };
  try {
    await reload();
  } catch (e) {
    await tb.close();
    throw e;
  }
  return {
    tb,
    page,
    blockedRequests,
    pageErrors,
    consoleErrors,
    dialogs,
    reload,
    pageState: () =>
      page.evaluate(() => {
        const w = globalThis as unknown as { __violations: CspViolation[]; __xss: string[] };
        return { violations: [...w.__violations], xss: [...w.__xss] };
      }),
    close: () => tb.close(),
  };
}
