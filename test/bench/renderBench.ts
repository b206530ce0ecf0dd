// Benchmark (not a test): the chat webview's streaming markdown renderer against a naive one, side by side in one
// run, in real Chromium (Debian's, via playwright-core) under the webview's CSP.
//   npx tsc -p test/bench/tsconfig.json && node out/test/bench/renderBench.js [--quick] [--skip-naive] [--doc FILE --command TEXT]
// Part of `npm run bench` (scripts/bench.mjs; `node scripts/bench.mjs --only render` runs only this), which passes --doc
// and --command: the figures then replace the <!-- bench:render --> section of that file. Without --doc it prints.
// --quick (a tenth of the text) and --skip-naive (ours only) are for working on the renderer; they never write.
// The turn: 20,000 tokens of thinking, then a 50,000-token answer (test/support/markdownDoc.ts: prose, lists, tables,
// many code blocks in several languages), one token = 4 characters. It arrives as the host sends it: 96-character
// deltas ('t'/'a' + text, what src/vscode/chat/deltaBatcher.ts posts at ≥ 1,000 tok/s), each a window message.
// (a) fast: all deltas posted at once, handled as fast as the page can; (b) paced: 1,000 tokens/s of wall-clock time.
// Both renderers are followed the way the chat follows a streaming answer: after each render the page scrolls to the
// bottom (reading the height forces the style and layout the render caused).
// Main-thread time: Chromium's own TaskDuration (CDP Performance.getMetrics) in thread time, which counts every task
// on the page's main thread (scripts, style, layout, paint, compositor commit, GC) and not the time it waited for a
// CPU on a busy machine. time(N) = from the first answer delta until N answer tokens are rendered. Frame time: the
// renderers' work per animation frame (message handling + their render + the scroll with its style and layout) at
// 1,000 tok/s.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { CHROMIUM_PATH } from '../harness/browser';
import { openMarkdownPage, type MarkdownPage } from '../harness/markdownPage';
import { CHARS_PER_TOKEN, generateAnswer, generateThinking } from '../support/markdownDoc';
import { repoRoot } from '../support/paths';

const quick = process.argv.includes('--quick');
const skipNaive = process.argv.includes('--skip-naive');
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const docFile = quick || skipNaive ? undefined : arg('doc');
const command = arg('command') ?? 'node out/test/bench/renderBench.js';
const THINK_TOKENS = quick ? 2_000 : 20_000;
const ANSWER_TOKENS = quick ? 5_000 : 50_000;
const CHECKPOINT_TOKENS = quick ? 1_000 : 10_000;
const DELTA_CHARS = 96;
const TOKENS_PER_SECOND = 1_000;
const TARGET_RATIO_VS_NAIVE = 10;
const TARGET_SCALING = 6;
const TARGET_P95_FRAME_MS = 16;

type Kind = 'incremental' | 'naive';
type Mode = 'fast' | 'paced';

interface Metrics {
  task: number;
  script: number;
  layout: number;
  style: number;
}

interface RunResult {
  kind: Kind;
  mode: Mode;
  /** Main-thread ms: the whole turn, the thinking, answer up to the checkpoint, the whole answer. */
  total: Metrics;
  thinking: Metrics;
  answer10k: Metrics;
  answer50k: Metrics;
  wallMs: number;
  frames?: { work: number[]; intervals: number[] };
  longFrames: number[];
  summary: Summary;
}

interface Summary {
  thinkingChars: number;
  answerChars: number;
  answerHtmlChars: number;
  codeBlocks: number;
  tables: number;
  highlighted: number;
}
/** What test/bench/renderBenchPage.mts puts on window (used inside page.evaluate callbacks). */
interface G {
  kimiBench: {
    setup(kind: Kind): void;
    feed(deltas: readonly string[], mode: 'fast' | number, finishAtEnd: boolean): Promise<{ wallMs: number }>;
    startFrames(): void;
    stopFrames(): { work: number[]; intervals: number[] };
    takeLongFrames(): number[];
    summary(): Summary;
  };
}

function deltas(channel: 't' | 'a', text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += DELTA_CHARS) out.push(channel + text.slice(i, i + DELTA_CHARS));
  return out;
}

async function metrics(cdp: CDPSession): Promise<Metrics> {
  const { metrics: m } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  const get = (name: string): number => (m.find((x) => x.name === name)?.value ?? 0) * 1000;
  return { task: get('TaskDuration'), script: get('ScriptDuration'), layout: get('LayoutDuration'), style: get('RecalcStyleDuration') };
}

const diff = (a: Metrics, b: Metrics): Metrics => ({ task: b.task - a.task, script: b.script - a.script, layout: b.layout - a.layout, style: b.style - a.style });

async function run(p: MarkdownPage, kind: Kind, mode: Mode, thinking: string[], answer10k: string[], answerRest: string[]): Promise<RunResult> {
  await p.reload();
  const page: Page = p.page;
  const cdp = await page.context().newCDPSession(page);
  try {
    // Thread time, not wall time: what the page's main thread itself spent, however busy the rest of the machine is.
    await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
    await page.evaluate((k) => (globalThis as unknown as G).kimiBench.setup(k), kind);
    const pace: 'fast' | number = mode === 'fast' ? 'fast' : TOKENS_PER_SECOND / (DELTA_CHARS / CHARS_PER_TOKEN);
    await page.evaluate(() => (globalThis as unknown as G).kimiBench.takeLongFrames());
    if (mode === 'paced') await page.evaluate(() => (globalThis as unknown as G).kimiBench.startFrames());
    const m0 = await metrics(cdp);
    const w1 = await page.evaluate(([d, m]) => (globalThis as unknown as G).kimiBench.feed(d, m, false), [thinking, pace] as const);
    const m1 = await metrics(cdp);
    const w2 = await page.evaluate(([d, m]) => (globalThis as unknown as G).kimiBench.feed(d, m, false), [answer10k, pace] as const);
    const m2 = await metrics(cdp);
    const w3 = await page.evaluate(([d, m]) => (globalThis as unknown as G).kimiBench.feed(d, m, true), [answerRest, pace] as const);
    const m3 = await metrics(cdp);
    const frames = mode === 'paced' ? await page.evaluate(() => (globalThis as unknown as G).kimiBench.stopFrames()) : undefined;
    const longFrames = await page.evaluate(() => (globalThis as unknown as G).kimiBench.takeLongFrames());
    const summary = await page.evaluate(() => (globalThis as unknown as G).kimiBench.summary());
    return {
      kind,
      mode,
      total: diff(m0, m3),
      thinking: diff(m0, m1),
      answer10k: diff(m1, m2),
      answer50k: diff(m1, m3),
      wallMs: w1.wallMs + w2.wallMs + w3.wallMs,
      frames,
      longFrames,
      summary,
    };
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const num = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const thinkingText = generateThinking(THINK_TOKENS);
  const answerText = generateAnswer(ANSWER_TOKENS);
  const cut = CHECKPOINT_TOKENS * CHARS_PER_TOKEN;
  const thinking = deltas('t', thinkingText);
  const answer10k = deltas('a', answerText.slice(0, cut));
  const answerRest = deltas('a', answerText.slice(cut));
  const codeBlocks = (answerText.match(/^```[a-z]+$/gm) ?? []).length;
  const tables = (answerText.match(/^\|[-:|]+\|$/gm) ?? []).length;
  console.log(`[render-bench] thinking ${num(thinkingText.length)} chars (${num(THINK_TOKENS)} tokens), answer ${num(answerText.length)} chars (${num(ANSWER_TOKENS)} tokens, ${codeBlocks} code blocks, ${tables} tables); ${thinking.length + answer10k.length + answerRest.length} deltas of ${DELTA_CHARS} chars`);

  const p = await openMarkdownPage({ entry: 'test/bench/renderBenchPage.mts', viewport: { width: 900, height: 900 } });
  const results: RunResult[] = [];
  try {
    for (const mode of ['fast', 'paced'] as const) {
      const order: Kind[] = skipNaive ? ['incremental'] : mode === 'fast' ? ['incremental', 'naive'] : ['naive', 'incremental'];
      for (const kind of order) {
        const t0 = Date.now();
        const r = await run(p, kind, mode, thinking, answer10k, answerRest);
        results.push(r);
        console.log(`[render-bench] ${mode.padEnd(5)} ${kind.padEnd(11)} main thread ${f1(r.total.task)} ms (answer ${f1(r.answer50k.task)} ms, first ${CHECKPOINT_TOKENS / 1000}k ${f1(r.answer10k.task)} ms), wall ${f1(r.wallMs / 1000)} s, ${r.longFrames.length} long frames (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
    }
    const state = await p.pageState();
    if (state.violations.length || state.xss.length || p.blockedRequests.length || p.pageErrors.length) {
      throw new Error(`the bench page misbehaved: ${JSON.stringify({ violations: state.violations, blocked: p.blockedRequests, errors: p.pageErrors })}`);
    }
  } finally {
    await p.close();
  }

  if (skipNaive) {
    for (const r of results) {
      const fr = r.frames?.work ?? [];
      console.log(`${r.mode}: answer time(50k)/time(10k) ${f2(r.answer50k.task / r.answer10k.task)}; frames p95 ${f2(quantile(fr, 0.95))} ms`);
    }
    return;
  }
  const get = (kind: Kind, mode: Mode): RunResult => results.find((r) => r.kind === kind && r.mode === mode) as RunResult;
  const rows: string[] = [];
  const verdicts: { name: string; value: string; target: string; ok: boolean }[] = [];
  for (const mode of ['fast', 'paced'] as const) {
    const inc = get('incremental', mode);
    const nai = get('naive', mode);
    for (const r of [inc, nai]) {
      rows.push(`| ${mode === 'fast' ? '(a) as fast as possible' : `(b) ${num(TOKENS_PER_SECOND)} tokens/s`} | ${r.kind} | ${f1(r.total.task)} | ${f1(r.thinking.task)} | ${f1(r.answer10k.task)} | **${f1(r.answer50k.task)}** | ${f2(r.answer50k.task / r.answer10k.task)} | ${f1(r.answer50k.script)} / ${f1(r.answer50k.style + r.answer50k.layout)} | ${f1(r.wallMs / 1000)} s | ${r.longFrames.length} |`);
    }
    const ratio = nai.answer50k.task / inc.answer50k.task;
    const scaling = inc.answer50k.task / inc.answer10k.task;
    verdicts.push({ name: `${mode === 'fast' ? '(a)' : '(b)'} main thread at 50k answer tokens, naive / incremental`, value: `${f1(ratio)}×`, target: `≥ ${TARGET_RATIO_VS_NAIVE}×`, ok: ratio >= TARGET_RATIO_VS_NAIVE });
    verdicts.push({ name: `${mode === 'fast' ? '(a)' : '(b)'} incremental time(50k) / time(10k)`, value: f2(scaling), target: `≤ ${TARGET_SCALING}`, ok: scaling <= TARGET_SCALING });
  }
  const frameRows: string[] = [];
  for (const kind of ['incremental', 'naive'] as const) {
    const fr = get(kind, 'paced').frames;
    if (!fr) continue;
    const over = fr.work.filter((w) => w > TARGET_P95_FRAME_MS).length;
    frameRows.push(`| ${kind} | ${fr.work.length} | ${f2(quantile(fr.work, 0.5))} | **${f2(quantile(fr.work, 0.95))}** | ${f2(quantile(fr.work, 0.99))} | ${f1(Math.max(...fr.work))} | ${over} | ${f1(quantile(fr.intervals, 0.95))} | ${get(kind, 'paced').longFrames.length} |`);
    if (kind === 'incremental') {
      const p95 = quantile(fr.work, 0.95);
      verdicts.push({ name: '(b) incremental p95 frame time at 1,000 tokens/s', value: `${f2(p95)} ms`, target: `≤ ${TARGET_P95_FRAME_MS} ms`, ok: p95 <= TARGET_P95_FRAME_MS });
    }
  }
  const inc = get('incremental', 'fast');
  const elapsedS = Math.round((Date.now() - started) / 1000);
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU';
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const ok = (b: boolean): string => (b ? 'yes' : '**NO**');
  const browserVersion = browserVersionOf();

  const section = `<!-- bench:render -->
## Streaming markdown rendering (issue #4)

Latest run: ${date}, \`${command}\` (this section: ${elapsedS} s). ${os.availableParallelism()} × ${cpuModel}, load average (1 min)
${f1(loadAtStart)} at the start, ${f1(os.loadavg()[0] ?? 0)} at the end; ${browserVersion}, headless, under the webview's CSP.

The turn: ${num(THINK_TOKENS)} tokens of thinking then a ${num(ANSWER_TOKENS)}-token answer (${num(answerText.length)} characters: prose, lists,
${tables} tables, ${codeBlocks} fenced code blocks tagged with 12 language names; generated deterministically by test/support/markdownDoc.ts),
one token = ${CHARS_PER_TOKEN} characters, sent as ${DELTA_CHARS}-character deltas (window messages, as the host posts them). **incremental** is
the real renderer (src/webview/markdown, bundled like dist/webview.js); **naive** re-parses (marked), re-highlights
and re-sanitises (DOMPurify) the whole message and replaces its DOM on every delta (written only in the benchmark).
At the end the incremental renderer shows ${num(inc.summary.codeBlocks)} code blocks (${num(inc.summary.highlighted)} highlighted tokens) and ${num(inc.summary.tables)} tables, the
naive one ${num(get('naive', 'fast').summary.codeBlocks)} code blocks (${num(get('naive', 'fast').summary.highlighted)} highlighted tokens) and ${num(get('naive', 'fast').summary.tables)} tables.

| target | measured | target | met |
|---|---|---|---|
${verdicts.map((v) => `| ${v.name} | **${v.value}** | ${v.target} | ${ok(v.ok)} |`).join('\n')}

Main-thread time (ms of the page's main thread: Chromium's TaskDuration from CDP \`Performance.getMetrics\` in thread time, so
scripts, style, layout, paint, compositor commit and GC, not time spent waiting for a CPU). time(10k) / time(50k) run from the
first answer delta until 10,000 / 50,000 answer tokens are rendered. Both renderers scroll to the bottom after each
render, as the chat does while an answer streams:

| feed | renderer | whole turn | thinking | answer time(10k) | answer time(50k) | time(50k) / time(10k) | answer: script / style+layout | wall clock | long frames (> 50 ms) |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Frame time at ${num(TOKENS_PER_SECOND)} tokens/s (ms of work per animation frame over the whole turn: the renderers' message
handling, their render, and the scroll to the bottom with the style and layout it forces; wall clock, so a busy machine
inflates it; the rAF interval shows dropped frames):

| renderer | frames | p50 | p95 | p99 | max | frames > ${TARGET_P95_FRAME_MS} ms | rAF interval p95 | long frames (> 50 ms) |
|---|---|---|---|---|---|---|---|---|
${frameRows.join('\n')}

How the incremental renderer stays flat: the text is cut into top-level segments at boundaries decided from complete
lines only, so a segment followed by another is final; it is parsed, sanitised and highlighted once and its DOM is
never touched again. Per animation frame only the open last segment is rendered again, and an open code fence only
appends its new lines to the existing \`<code>\` (highlighted once, when the fence closes). Final segments are grouped
in chunks of ~8,000 characters with \`content-visibility: auto\` (media/markdown.css), so the browser skips off-screen
chunks and its own per-frame style, layout and paint work does not grow with the answer either.
<!-- /bench:render -->`;

  console.log(`\n${verdicts.map((v) => `${v.name}: ${v.value} (target ${v.target}) ${v.ok ? 'met' : 'NOT met'}`).join('\n')}`);
  console.log(frameRows.join('\n'));
  if (docFile) {
    const doc = path.resolve(docFile);
    let text = fs.readFileSync(doc, 'utf8');
    const re = /<!-- bench:render -->[\s\S]*?<!-- \/bench:render -->/;
    text = re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(doc, text);
    console.log(`\nWrote the <!-- bench:render --> section of ${path.relative(repoRoot, doc)} (${elapsedS} s).`);
  } else {
    console.log(`\n${section}`);
  }
}

function browserVersionOf(): string {
  try {
    const v = execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return v.replace(/\s+built on.*$/, '');
  } catch {
    return 'Chromium';
  }
}

main().catch((e: unknown) => {
  console.error(`[render-bench] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
