// Runs the integration suite (out/test/integration/**/*.test.js) inside a REAL VS Code extension host:
// code-server (VS Code 1.139.1, Node 24) + headless Chromium loading the workbench with a smoke-test payload.
//
//   node out/test/harness/runIntegration.js [--grep PATTERN]
//
// Env: KIMI_TEST_COUNTS (counts JSON written by the reporter inside the extension host), KIMI_INTEGRATION_TIMEOUT_MS
// (overall timeout, default 10 min), KIMI_TEST_VERBOSE=1 (also print VS Code's own log lines),
// KIMI_TEST_KEEP_STATE=1 (keep code-server's state dir). Exits with the code VS Code reports (0 pass, 1 fail),
// or 1 on timeout / crash with a message saying which.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import { buildPayloadUrl, launchBrowser, type TestBrowser } from './browser';
import { createTempWorkspace, removeTempWorkspace, REPO_ROOT, startCodeServer, type CodeServer } from './codeServer';
import { runInExtensionHost } from './extensionHostPayload';

const RESULTS_DIR = path.join(REPO_ROOT, 'test-results');

function parseArgs(argv: string[]): { grep?: string } {
  const i = argv.indexOf('--grep');
  return i >= 0 && argv[i + 1] !== undefined ? { grep: argv[i + 1] } : {};
}

// VS Code calls codeAutomationLog(level, [format, ...args]) for its own log lines AND (while running extension
// tests) for everything the extension host writes to its console — mocha's spec output included — with nothing that
// tells the two apart. So: print everything, formatted like console.log, except VS Code's own start-up/shutdown
// chatter and the offline-gallery errors below (all shown with KIMI_TEST_VERBOSE=1).
const verbose = !!process.env.KIMI_TEST_VERBOSE;
const VSCODE_CHATTER: RegExp[] = [
  /^Resolv(ing|ed) connection token/,
  /^Creating a socket/,
  /^Updating additional builtin extensions cache/,
  /^\[(reconnection-grace-time|Service Worker|AgentHost[^\]]*|AccountPolicyGate|lifecycle)\]/,
  /ENOTFOUND|open-vsx\.org|marketplace\.visualstudio\.com/,
];

let forwarding = true; // off once VS Code reported the result: shutdown noise follows

function forwardLog(level: string, message: unknown): void {
  if (!forwarding) return;
  const parts = Array.isArray(message) ? message : [message];
  const text = util.format(...parts);
  if (!verbose && VSCODE_CHATTER.some((re) => re.test(text))) return;
  if (level === 'trace' || level === 'debug') {
    if (verbose) process.stdout.write(`[${level}] ${text}\n`);
    return;
  }
  process.stdout.write(text + '\n');
}

async function main(): Promise<number> {
  const { grep } = parseArgs(process.argv.slice(2));
  const timeoutMs = Number(process.env.KIMI_INTEGRATION_TIMEOUT_MS) || 10 * 60_000;
  const testsPath = path.join(REPO_ROOT, 'out', 'test', 'integration', 'index.js');
  if (!fs.existsSync(testsPath)) {
    console.error(`[integration] ${testsPath} is missing: run \`npx tsc -p tsconfig.test.json\` first`);
    return 1;
  }
  const started = Date.now();
  let server: CodeServer | undefined;
  let browser: TestBrowser | undefined;
  let workspace: string | undefined;
  let ok = false;
  try {
    workspace = createTempWorkspace();
    server = await startCodeServer({ workspace, extensionDevelopmentPath: REPO_ROOT });
    console.log(`[integration] code-server ${server.url} (pid ${server.pid}), workspace ${workspace}`);
    browser = await launchBrowser();
    const { page } = browser;

    const extensionEnvironment: Record<string, string> = {
      KIMI_TEST_WORKSPACE: workspace,
      KIMI_REPO_ROOT: REPO_ROOT,
    };
    if (process.env.KIMI_TEST_COUNTS) extensionEnvironment.KIMI_TEST_COUNTS = process.env.KIMI_TEST_COUNTS;
    if (grep) extensionEnvironment.KIMI_TEST_GREP = grep;

    const url = buildPayloadUrl(server, {
      folder: workspace,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: testsPath,
      extensionEnvironment,
    });
    page.on('pageerror', (err) => {
      if (verbose) process.stderr.write(`[page error] ${err.message}\n`);
    });
    const result = await runInExtensionHost({ server, browser, url, timeoutMs, timeoutSetting: 'KIMI_INTEGRATION_TIMEOUT_MS', onLog: forwardLog });
    forwarding = verbose;
    if (result.reason) {
      console.error(`\n[integration] FAILED: ${result.reason}`);
      if (/timed out/.test(result.reason)) {
        fs.mkdirSync(RESULTS_DIR, { recursive: true });
        const shot = path.join(RESULTS_DIR, 'integration-timeout.png');
        await page.screenshot({ path: shot, timeout: 15_000 }).then(
          () => console.error(`[integration] screenshot: ${shot}`),
          (e: Error) => console.error(`[integration] screenshot failed: ${e.message}`),
        );
      }
      console.error(`[integration] last lines of code-server's log:\n${server.logTail(30)}`);
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (!result.reason) console.log(`[integration] VS Code reported exit code ${result.code} after ${secs} s`);
    ok = result.code === 0 && !result.reason;
    return result.reason ? 1 : result.code;
  } catch (e) {
    console.error(`\n[integration] FAILED: ${(e as Error).stack ?? e}`);
    if (server) console.error(`[integration] last lines of code-server's log:\n${server.logTail(30)}`);
    return 1;
  } finally {
    await browser?.close();
    await server?.stop();
    if (workspace && (ok || !process.env.KIMI_TEST_KEEP_STATE)) removeTempWorkspace(workspace);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
