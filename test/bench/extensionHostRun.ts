// One benchmark round in a REAL extension host: a fresh code-server + headless Chromium (the test harness), the
// workbench opened with a smoke-test payload whose extensionTestsPath is the activation probe, and the probe's JSON
// read back. Everything started here is stopped in `finally` (and by the harness's exit hooks if this process dies).
// Used by scripts/bench.mjs; not a test.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { buildPayloadUrl, launchBrowser, type TestBrowser } from '../harness/browser';
import { createTempWorkspace, removeTempWorkspace, startCodeServer, type CodeServer } from '../harness/codeServer';
import { runInExtensionHost } from '../harness/extensionHostPayload';
import type { ProbeResult } from './activationProbe';

export interface RoundOptions {
  /** For messages. */
  label: string;
  /** The extension VS Code loads as "under development" (its folder, with package.json). */
  extensionDevelopmentPath: string;
  /** Environment for the extension host (KIMI_BENCH_MODE, KIMI_BENCH_BUNDLES, …); KIMI_BENCH_RESULT is added. */
  env: Record<string, string>;
  /** Whole round, from starting code-server to the probe's result (default 120 s). */
  timeoutMs?: number;
  /** Print everything the extension host and VS Code log. */
  verbose?: boolean;
}

export type OkProbeResult = Extract<ProbeResult, { ok: true }>;

/** The compiled probe module (this file compiles to out/test/bench/extensionHostRun.js, next to it). */
export const PROBE_PATH = path.join(__dirname, 'activationProbe.js');

export async function runRound(opts: RoundOptions): Promise<OkProbeResult> {
  if (!fs.existsSync(PROBE_PATH)) throw new Error(`${PROBE_PATH} is missing: compile with tsc -p test/bench/tsconfig.json`);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-'));
  const resultFile = path.join(tmp, 'result.json');
  const logLines: string[] = [];
  let server: CodeServer | undefined;
  let browser: TestBrowser | undefined;
  let workspace: string | undefined;
  const fail = (why: string): Error =>
    new Error(
      `[bench] ${opts.label}: ${why}\n` +
        `--- last extension host / VS Code log lines ---\n${logLines.slice(-25).join('\n') || '(none)'}\n` +
        `--- last lines of code-server's log ---\n${server?.logTail(25) || '(none)'}`,
    );
  try {
    workspace = createTempWorkspace();
    server = await startCodeServer({ workspace, extensionDevelopmentPath: opts.extensionDevelopmentPath });
    browser = await launchBrowser();
    const url = buildPayloadUrl(server, {
      folder: workspace,
      extensionDevelopmentPath: opts.extensionDevelopmentPath,
      extensionTestsPath: PROBE_PATH,
      extensionEnvironment: { ...opts.env, KIMI_BENCH_RESULT: resultFile },
    });
    const r = await runInExtensionHost({
      server,
      browser,
      url,
      timeoutMs,
      timeoutSetting: 'KIMI_BENCH_ROUND_TIMEOUT_MS',
      onLog: (type, args) => {
        const text = util.format(...(Array.isArray(args) ? args : [args]));
        logLines.push(`[${type}] ${text}`);
        if (logLines.length > 200) logLines.splice(0, logLines.length - 200);
        if (opts.verbose) process.stderr.write(`  [${type}] ${text}\n`);
      },
    });

    let result: ProbeResult | undefined;
    try {
      result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as ProbeResult;
    } catch {
      /* reported below */
    }
    if (result && !result.ok) throw fail(`the probe failed in the extension host:\n${result.error}`);
    if (r.reason) throw fail(r.reason);
    if (!result) throw fail(`VS Code reported exit ${r.code} but the probe wrote no result to ${resultFile}`);
    if (r.code !== 0) throw fail(`VS Code reported exit ${r.code}`);
    return result;
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('[bench]')) throw e;
    throw fail((e as Error).stack ?? String(e));
  } finally {
    await browser?.close();
    await server?.stop();
    if (workspace) removeTempWorkspace(workspace);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
