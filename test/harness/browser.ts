// Headless Debian Chromium driven by playwright-core (never downloads a browser), and the workbench URL that makes
// code-server's VS Code load an extension under development and, optionally, run its tests in the extension host.
import * as fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.KIMI_TEST_CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Closes the context and the browser. Idempotent; never throws. */
  close(): Promise<void>;
}

export interface LaunchBrowserOptions {
  viewport?: { width: number; height: number };
}

/** Launches headless Chromium with a fresh context and one page. */
export async function launchBrowser(opts: LaunchBrowserOptions = {}): Promise<TestBrowser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (or set KIMI_TEST_CHROMIUM)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] });
  try {
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1440, height: 900 } });
    const page = await context.newPage();
    let closed: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closed ??= (async () => {
        await context.close().catch(() => undefined);
        await browser.close().catch(() => undefined);
      })();
      return closed;
    };
    return { browser, context, page, close };
  } catch (e) {
    await browser.close().catch(() => undefined);
    throw e;
  }
}

export interface PayloadOptions {
  /** Absolute path of the folder to open (on the code-server machine, i.e. this machine). */
  folder: string;
  /** Absolute path of the extension under development (the repo root). */
  extensionDevelopmentPath: string;
  /** Absolute path of the compiled mocha runner module exporting run(); makes VS Code run the tests and exit. */
  extensionTestsPath?: string;
  /** Environment variables for the extension host. */
  extensionEnvironment?: Record<string, string>;
}

/** vscode-remote://127.0.0.1:PORT/abs/path — the remote (workspace) side of code-server. */
export function remoteUri(server: { port: number }, absPath: string): string {
  if (!absPath.startsWith('/')) throw new Error(`expected an absolute path, got ${absPath}`);
  return `vscode-remote://127.0.0.1:${server.port}${absPath.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * http://127.0.0.1:PORT/?folder=…&payload=… — the JSON payload is what VS Code's smoke-test driver reads
 * (code-server must run with `--vscode-option enable-smoke-test-driver`, or the payload is ignored).
 */
export function buildPayloadUrl(server: { url: string; port: number }, opts: PayloadOptions): string {
  const payload: [string, string][] = [['extensionDevelopmentPath', remoteUri(server, opts.extensionDevelopmentPath)]];
  if (opts.extensionTestsPath) payload.push(['extensionTestsPath', remoteUri(server, opts.extensionTestsPath)]);
  if (opts.extensionEnvironment) payload.push(['extensionEnvironment', JSON.stringify(opts.extensionEnvironment)]);
  payload.push(['skipWelcome', 'true']);
  const q = new URLSearchParams({ folder: opts.folder, payload: JSON.stringify(payload) });
  return `${server.url}/?${q.toString()}`;
}
