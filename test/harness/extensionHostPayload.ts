// One run of a test payload inside the REAL extension host: the workbench opened at a smoke-test payload URL whose
// extensionTestsPath is a mocha runner (the integration suite) or a probe (the benchmarks), until VS Code reports
// its exit code — or until the page crashes, the browser goes away, code-server exits or the time is up. Shared by
// test/harness/runIntegration.ts and test/bench/extensionHostRun.ts; each starts and stops code-server and the
// browser itself.
import type { TestBrowser } from './browser';
import type { CodeServer } from './codeServer';

export interface ExtensionHostRunOptions {
  server: CodeServer;
  browser: TestBrowser;
  /** buildPayloadUrl(…) with extensionTestsPath. */
  url: string;
  timeoutMs: number;
  /** Named in the timeout reason, e.g. the environment variable that sets it. */
  timeoutSetting: string;
  /** VS Code's own log lines and everything the extension host writes to its console. */
  onLog(type: string, args: unknown): void;
}

export interface ExtensionHostOutcome {
  /** VS Code's exit code (0 pass, 1 fail); 1 when `reason` is set. */
  code: number;
  /** Why VS Code did not report one: the page crashed, the browser disconnected, code-server exited, timeout. */
  reason?: string;
}

export async function runInExtensionHost(o: ExtensionHostRunOptions): Promise<ExtensionHostOutcome> {
  const { page } = o.browser;
  let finish!: (r: ExtensionHostOutcome) => void;
  const outcome = new Promise<ExtensionHostOutcome>((resolve) => (finish = resolve));
  // Both must be exposed before page.goto: the workbench looks them up when it logs and when the run ends.
  await page.exposeFunction('codeAutomationExit', (code: unknown) => finish({ code: Number(code) || 0 }));
  await page.exposeFunction('codeAutomationLog', (type: unknown, args: unknown) => o.onLog(String(type), args));
  page.on('crash', () => finish({ code: 1, reason: 'the browser page crashed' }));
  o.browser.browser.on('disconnected', () => finish({ code: 1, reason: 'the browser disconnected' }));
  const serverPid = o.server.pid;
  const watch = setInterval(() => {
    try {
      process.kill(serverPid, 0);
    } catch {
      finish({ code: 1, reason: 'code-server exited during the run' });
    }
  }, 1000);
  watch.unref();
  const timer = setTimeout(() => finish({ code: 1, reason: `timed out after ${o.timeoutMs} ms (${o.timeoutSetting})` }), o.timeoutMs);
  try {
    await page.goto(o.url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    return await outcome;
  } finally {
    clearTimeout(timer);
    clearInterval(watch);
  }
}
