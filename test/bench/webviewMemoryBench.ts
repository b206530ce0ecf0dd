// Benchmark (not a test): the chat webview's memory in real Chromium — a 70,000-token turn (20,000 tokens of thinking,
// then a 50,000-token answer) and a chat of ten such turns — as heap per byte of text, side by side in one run with
// baselines. Part of `npm run bench`; alone: `npm run bench -- --only memory`, or
//   npx tsc -p test/bench/tsconfig.json && node out/test/bench/webviewMemoryBench.js [--quick] [--doc FILE --command TEXT]
// (--quick: a tenth of the text, three turns; never writes). With --doc the figures replace the <!-- bench:memory -->
// section of FILE.
//
// A figure is CDP Runtime.getHeapUsage after HeapProfiler.collectGarbage (twice), minus the same before the text
// arrived: `usedSize` (the JS heap: the text as strings, the renderers' state) and `embedderHeapUsedSize` (Blink's
// Oilpan heap: the DOM, its style and layout objects). "Text" is the UTF-8 size of the thinking + answer (ASCII here,
// so also its length and the size of one flat JS string of it).
//   1. one turn on the render benchmark's page (test/bench/renderBenchPage.mts), fed as the host sends it:
//        incremental  the real streaming renderer (src/webview/markdown), 96-character deltas;
//        naive        re-parses, re-sanitises and re-renders the whole message per delta (as in the render benchmark),
//                     fed 4,000-character deltas so that it ends in seconds: what it keeps at the end is the last
//                     render of the whole text, whatever the deltas were;
//        text only    the same text held as two strings in the page.
//   2. the real chat UI (src/webview/main.ts bundled like dist/webview.js, in test/harness/chatWebview.ts's page under
//      the webview's CSP): ten turns streamed one after another (turnStarted, the deltas, turnFinished), measured after
//      turns 1, 2, 5 and 10 and once scrolled through from the top; baseline: the same ten turns reopened in a fresh
//      page (one `conversation` message), measured as opened and once scrolled through.
// Ceilings: CEILINGS below (reported in docs/BENCHMARKS.md; the run fails when one is not met).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import type { AssistantTurnView, ConversationView, StreamDelta, UserTurnView } from '../../src/shared/protocol';
import { CHROMIUM_PATH, launchBrowser } from '../harness/browser';
import { hostReady, openChatWebview, turnMeta, userView, type ChatWebview } from '../harness/chatWebview';
import { bundleBrowserEntry, openMarkdownPage } from '../harness/markdownPage';
import { generateAnswer, generateThinking } from '../support/markdownDoc';
import { repoRoot } from '../support/paths';

const quick = process.argv.includes('--quick');
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const docFile = quick ? undefined : arg('doc');
const command = arg('command') ?? 'node out/test/bench/webviewMemoryBench.js';
const THINK_TOKENS = quick ? 2_000 : 20_000;
const ANSWER_TOKENS = quick ? 5_000 : 50_000;
const TURNS = quick ? 3 : 10;
const CHECKPOINTS = quick ? [1, 3] : [1, 2, 5, 10];
const DELTA_CHARS = 96;
const NAIVE_DELTA_CHARS = 4_000;

/** The ceilings, each a ratio measured in the same run. */
export const CEILINGS = {
  /** JS heap / text, every measure of the real renderer and chat: the text held about once, and bookkeeping. */
  jsPerText: 3,
  /** JS + DOM of the streamed turn / the same of the naive renderer's (which keeps only its last render). */
  streamedVsNaive: 1.25,
  /** JS + DOM of the streamed chat / the same chat reopened, both scrolled through: streaming leaves nothing behind. */
  streamedVsReopened: 1.25,
  /** JS + DOM / text of a chat every part of which has been on screen (the most the chat keeps per byte shown). */
  shownPerText: 120,
};

interface Heap {
  js: number;
  dom: number;
  nodes: number;
}

interface Row {
  name: string;
  text: number;
  heap: Heap;
  seconds: number;
}

async function measure(cdp: CDPSession): Promise<Heap> {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const u = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; embedderHeapUsedSize?: number };
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  return { js: u.usedSize, dom: u.embedderHeapUsedSize ?? Number.NaN, nodes: metrics.find((m) => m.name === 'Nodes')?.value ?? Number.NaN };
}

const minus = (a: Heap, b: Heap): Heap => ({ js: a.js - b.js, dom: a.dom - b.dom, nodes: a.nodes - b.nodes });

async function cdpOf(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.enable');
  await cdp.send('Performance.enable');
  return cdp;
}

function deltas(channel: 't' | 'a', text: string, size: number): StreamDelta[] {
  const out: StreamDelta[] = [];
  for (let i = 0; i < text.length; i += size) out.push(`${channel}${text.slice(i, i + size)}`);
  return out;
}

/** Before a base is taken, the page renders this once: what the first render compiles (highlight.js's grammars of
 *  the 12 languages the turn uses, the renderers' code) is not the text's. */
const WARM_UP = `${generateAnswer(10_000)}\n\n\`\`\`rust\nfn main() {}\n\`\`\`\n\n\`\`\`typescript\nconst a = 1;\n\`\`\`\n`;

/** One animation frame, then a task: the renderers' pending frame has run. */
async function settle(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((r) => (globalThis as unknown as { requestAnimationFrame(cb: () => void): void }).requestAnimationFrame(() => setTimeout(r, 0))));
}

/** What test/bench/renderBenchPage.mts puts on window. */
interface G {
  kimiBench: {
    setup(kind: 'incremental' | 'naive'): void;
    feed(deltas: readonly string[], mode: 'fast', finishAtEnd: boolean): Promise<{ wallMs: number }>;
  };
  kimiMemoryText?: string[];
}

async function oneTurn(thinking: string, answer: string): Promise<Row[]> {
  const text = Buffer.byteLength(thinking) + Buffer.byteLength(answer);
  const p = await openMarkdownPage({ entry: 'test/bench/renderBenchPage.mts', viewport: { width: 900, height: 900 } });
  const rows: Row[] = [];
  try {
    for (const kind of ['incremental', 'naive'] as const) {
      const t0 = Date.now();
      await p.reload();
      const cdp = await cdpOf(p.page);
      await p.page.evaluate((k) => (globalThis as unknown as G).kimiBench.setup(k), kind);
      await p.page.evaluate((d) => (globalThis as unknown as G).kimiBench.feed(d, 'fast', true), deltas('a', WARM_UP, NAIVE_DELTA_CHARS));
      await p.page.evaluate((k) => (globalThis as unknown as G).kimiBench.setup(k), kind);
      const base = await measure(cdp);
      const size = kind === 'incremental' ? DELTA_CHARS : NAIVE_DELTA_CHARS;
      await p.page.evaluate((d) => (globalThis as unknown as G).kimiBench.feed(d, 'fast', false), deltas('t', thinking, size));
      await p.page.evaluate((d) => (globalThis as unknown as G).kimiBench.feed(d, 'fast', true), deltas('a', answer, size));
      rows.push({ name: kind, text, heap: minus(await measure(cdp), base), seconds: (Date.now() - t0) / 1000 });
      await cdp.detach();
      console.log(`[webview-memory] one turn, ${kind}: ${describe(rows.at(-1)!)}`);
    }
    // The text alone: two strings in the page.
    const t0 = Date.now();
    await p.reload();
    const cdp = await cdpOf(p.page);
    const base = await measure(cdp);
    await p.page.evaluate((t) => void ((globalThis as unknown as G).kimiMemoryText = t), [thinking, answer]);
    rows.push({ name: 'text only', text, heap: minus(await measure(cdp), base), seconds: (Date.now() - t0) / 1000 });
    await cdp.detach();
    console.log(`[webview-memory] one turn, text only: ${describe(rows.at(-1)!)}`);
    if (p.pageErrors.length || p.blockedRequests.length) throw new Error(`the page misbehaved: ${JSON.stringify({ errors: p.pageErrors, blocked: p.blockedRequests })}`);
  } finally {
    await p.close();
  }
  return rows;
}

/** Scrolls the chat from the top to the bottom a screen at a time, two frames per screen, so that every part of it has
 *  been on screen once (as in a streamed chat, whose every part was on screen while it streamed). Returns the steps. */
const SCROLL_THROUGH = `(async () => {
  const s = document.querySelector('.messages');
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  s.scrollTop = 0;
  await frame();
  let steps = 0;
  while (s.scrollTop + s.clientHeight < s.scrollHeight - 1 && steps < 100000) {
    s.scrollTop += s.clientHeight;
    await frame();
    await frame();
    steps++;
  }
  return steps;
})()`;

/** A ready panel that has streamed one turn of WARM_UP, then shows a new, empty chat. */
async function warmUp(wv: ChatWebview): Promise<void> {
  await hostReady(wv);
  await wv.host({ type: 'turnStarted', user: userView('w0', 'warm up'), assistantId: 'w1', meta: turnMeta() }, ...deltas('t', WARM_UP.slice(0, 4000), DELTA_CHARS), ...deltas('a', WARM_UP, DELTA_CHARS), { type: 'turnFinished', assistantId: 'w1', meta: turnMeta() });
  await settle(wv.page);
  await wv.host({ type: 'conversation', conversation: { id: 'c0', title: 'New chat', turns: [] } });
  await settle(wv.page);
}

interface ConversationRows {
  /** The chat as it streams, measured at the checkpoints (scrolled to the bottom, as a streaming chat is). */
  streamed: (Row & { turns: number })[];
  /** The streamed chat once scrolled through from the top (every part on screen once more). */
  streamedScrolled: Row & { turns: number; steps: number };
  /** The same turns reopened in a fresh page (one `conversation` message), then scrolled through likewise. */
  reopened: Row & { turns: number };
  reopenedScrolled: Row & { turns: number; steps: number };
}

async function conversation(thinking: string, answer: string): Promise<ConversationRows> {
  const bundle = await bundleBrowserEntry('src/webview/main.ts');
  const b = await launchBrowser();
  const perTurn = Buffer.byteLength(thinking) + Buffer.byteLength(answer);
  const text = perTurn * TURNS;
  const views: (UserTurnView | AssistantTurnView)[] = [];
  const streamed: ConversationRows['streamed'] = [];
  try {
    const t0 = Date.now();
    const wv = await openChatWebview(b, { bundle, viewport: { width: 900, height: 900 } });
    await warmUp(wv);
    const cdp = await cdpOf(wv.page);
    const base = await measure(cdp);
    const td = deltas('t', thinking, DELTA_CHARS);
    const ad = deltas('a', answer, DELTA_CHARS);
    for (let i = 1; i <= TURNS; i++) {
      const user = userView(`u${i}`, `Question ${i}: explain the scheduler, with code.`);
      const metrics = { ttftMs: 400, thinkingMs: 20_000, tokensPerSecond: 60, durationMs: 70_000 };
      await wv.host({ type: 'turnStarted', user, assistantId: `a${i}`, meta: turnMeta() }, ...td, ...ad, { type: 'turnFinished', assistantId: `a${i}`, meta: turnMeta({ metrics }) });
      await settle(wv.page);
      views.push(user, { role: 'assistant', id: `a${i}`, thinking, answer, ...turnMeta({ metrics }) });
      if (CHECKPOINTS.includes(i)) {
        streamed.push({ name: 'streamed', turns: i, text: perTurn * i, heap: minus(await measure(cdp), base), seconds: (Date.now() - t0) / 1000 });
        console.log(`[webview-memory] chat UI, ${i} turn(s) streamed: ${describe(streamed.at(-1)!)}`);
      }
    }
    const answers = await wv.page.locator('.turn-assistant .answer').count();
    if (answers !== TURNS) throw new Error(`the chat shows ${answers} answers, not ${TURNS}`);
    const steps = (await wv.page.evaluate(SCROLL_THROUGH)) as number;
    const streamedScrolled = { name: 'streamed, scrolled through', turns: TURNS, steps, text, heap: minus(await measure(cdp), base), seconds: (Date.now() - t0) / 1000 };
    console.log(`[webview-memory] chat UI, ${TURNS} turns streamed, then scrolled through (${steps} screens): ${describe(streamedScrolled)}`);
    wv.assertClean();
    await cdp.detach();
    await wv.close();

    const t1 = Date.now();
    const wv2 = await openChatWebview(b, { bundle, viewport: { width: 900, height: 900 } });
    await warmUp(wv2);
    const cdp2 = await cdpOf(wv2.page);
    const base2 = await measure(cdp2);
    const conv: ConversationView = { id: 'c1', title: 'Long chat', turns: views };
    await wv2.host({ type: 'conversation', conversation: conv });
    await settle(wv2.page);
    const reopened = { name: 'reopened', turns: TURNS, text, heap: minus(await measure(cdp2), base2), seconds: (Date.now() - t1) / 1000 };
    console.log(`[webview-memory] chat UI, ${TURNS} turns reopened: ${describe(reopened)}`);
    const steps2 = (await wv2.page.evaluate(SCROLL_THROUGH)) as number;
    const reopenedScrolled = { name: 'reopened, scrolled through', turns: TURNS, steps: steps2, text, heap: minus(await measure(cdp2), base2), seconds: (Date.now() - t1) / 1000 };
    console.log(`[webview-memory] chat UI, ${TURNS} turns reopened, then scrolled through (${steps2} screens): ${describe(reopenedScrolled)}`);
    wv2.assertClean();
    await cdp2.detach();
    await wv2.close();
    return { streamed, streamedScrolled, reopened, reopenedScrolled };
  } finally {
    await b.close();
  }
}

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(2)} MB`;
const x = (r: number): string => `${r.toFixed(2)}×`;
const num = (n: number): string => Math.round(n).toLocaleString('en-US');
const total = (h: Heap): number => h.js + h.dom;

function describe(r: Row): string {
  return `JS ${mb(r.heap.js)} (${x(r.heap.js / r.text)} the text), DOM ${mb(r.heap.dom)}, ${num(r.heap.nodes)} nodes (${r.seconds.toFixed(0)} s)`;
}

function browserVersionOf(): string {
  try {
    return execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().replace(/\s+built on.*$/, '');
  } catch {
    return 'Chromium';
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const thinking = generateThinking(THINK_TOKENS);
  const answer = generateAnswer(ANSWER_TOKENS);
  const turnBytes = Buffer.byteLength(thinking) + Buffer.byteLength(answer);
  console.log(`[webview-memory] a turn: ${num(thinking.length)} + ${num(answer.length)} characters (${num(THINK_TOKENS)} + ${num(ANSWER_TOKENS)} tokens), ${num(turnBytes)} bytes`);
  const one = await oneTurn(thinking, answer);
  const conv = await conversation(thinking, answer);

  const inc = one.find((r) => r.name === 'incremental')!;
  const naive = one.find((r) => r.name === 'naive')!;
  const floor = one.find((r) => r.name === 'text only')!;
  const ours: Row[] = [inc, ...conv.streamed, conv.streamedScrolled, conv.reopened, conv.reopenedScrolled];
  const jsWorst = Math.max(...ours.map((r) => r.heap.js / r.text));
  const vsNaive = total(inc.heap) / total(naive.heap);
  const vsReopened = total(conv.streamedScrolled.heap) / total(conv.reopenedScrolled.heap);
  const shown = Math.max(total(conv.streamedScrolled.heap), total(conv.reopenedScrolled.heap)) / conv.reopenedScrolled.text;
  const ok = (b: boolean): string => (b ? 'yes' : '**NO**');
  const verdicts = [
    { name: `JS heap / text, worst of every measure of the real renderer and chat below (the text alone: ${x(floor.heap.js / floor.text)})`, value: x(jsWorst), target: `≤ ${CEILINGS.jsPerText}×`, ok: jsWorst <= CEILINGS.jsPerText },
    { name: 'one turn, JS + DOM at its end: incremental / naive (re-rendered whole)', value: x(vsNaive), target: `≤ ${CEILINGS.streamedVsNaive}×`, ok: vsNaive <= CEILINGS.streamedVsNaive },
    { name: `${TURNS} turns, JS + DOM once scrolled through: streamed one by one / reopened`, value: x(vsReopened), target: `≤ ${CEILINGS.streamedVsReopened}×`, ok: vsReopened <= CEILINGS.streamedVsReopened },
    { name: `${TURNS} turns, everything shown once: (JS + DOM) / text, the larger of the two`, value: x(shown), target: `≤ ${CEILINGS.shownPerText}×`, ok: shown <= CEILINGS.shownPerText },
  ];
  const rowOf = (what: string, r: Row): string =>
    `| ${what} | ${mb(r.text)} | ${mb(r.heap.js)} | **${x(r.heap.js / r.text)}** | ${mb(r.heap.dom)} | ${x(r.heap.dom / r.text)} | ${mb(total(r.heap))} | ${x(total(r.heap) / r.text)} | ${num(r.heap.nodes)} |`;
  const table = [
    '| what | text | JS heap | JS / text | DOM (Oilpan) | DOM / text | JS + DOM | (JS + DOM) / text | DOM nodes |',
    '|---|---|---|---|---|---|---|---|---|',
    rowOf('one turn: incremental (the real renderer, 96-char deltas)', inc),
    rowOf(`one turn: naive (whole re-render per delta, ${num(NAIVE_DELTA_CHARS)}-char deltas)`, naive),
    rowOf('one turn: the text alone, two JS strings', floor),
    ...conv.streamed.map((r) => rowOf(`chat UI: ${r.turns} turn${r.turns > 1 ? 's' : ''} streamed`, r)),
    rowOf(`chat UI: … then scrolled through from the top (${num(conv.streamedScrolled.steps)} screens)`, conv.streamedScrolled),
    rowOf(`chat UI: the same ${conv.reopened.turns} turns reopened in a fresh page (\`conversation\`)`, conv.reopened),
    rowOf(`chat UI: … then scrolled through from the top (${num(conv.reopenedScrolled.steps)} screens)`, conv.reopenedScrolled),
  ].join('\n');
  const elapsedS = Math.round((Date.now() - started) / 1000);
  const first = conv.streamed[0]!;
  const last = conv.streamed.at(-1)!;
  const perTurn = (total(last.heap) - total(first.heap)) / (last.turns - first.turns);
  const section = `<!-- bench:memory -->
## Chat webview memory: a long answer, a long chat (Chromium)

Latest run: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, \`${command}\` (${elapsedS} s). ${os.availableParallelism()} CPUs, load average (1 min)
${loadAtStart.toFixed(1)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end; ${browserVersionOf()}, headless, under the webview's CSP.
Made by test/bench/webviewMemoryBench.ts. The extension host's memory is in the chat section above.

A turn: ${num(THINK_TOKENS)} tokens of thinking then a ${num(ANSWER_TOKENS)}-token answer (test/support/markdownDoc.ts, as in the rendering
benchmark: ${num(turnBytes)} bytes of ASCII text), sent as the host sends it. Heap = CDP \`Runtime.getHeapUsage\` after two
\`HeapProfiler.collectGarbage\`, minus the same before the text arrived (each page first rendered a warm-up text, so
that highlight.js's grammars and the code compiled on first use are not counted): **JS** is V8's heap (the text as
strings, the renderers' state), **DOM** is Blink's Oilpan heap (elements, text nodes, their style and layout objects).

| ceiling | measured | target | met |
|---|---|---|---|
${verdicts.map((v) => `| ${v.name} | **${v.value}** | ${v.target} | ${ok(v.ok)} |`).join('\n')}

${table}

The JS heap holds a turn's text about once (the renderers' buffers; a streamed turn keeps no second copy) plus the
renderers' bookkeeping. The DOM is most of the memory (a highlighted code token is an element), and how much of it
Blink keeps depends on what has been on screen: the finished parts of an answer sit in ~8,000-character chunks with
\`content-visibility: auto\`, which Blink styles and lays out only when they come into view, and then keeps (a second
pass through the chat adds nothing). Here the turns arrive as fast as the page takes them, so most chunks never reach
the screen while they stream, and a chat reopened from history shows only its end: both cost least until they are
scrolled through, and then end alike (the ceiling that matters: streaming leaves nothing behind). Before that, each
further streamed turn adds ${mb(perTurn)} (${x(perTurn / turnBytes)} its text): memory grows with the text and nothing else. Once
everything has been shown, ~${Math.round(shown)}× the text is what a chat costs in the webview (a 70,000-token turn: ${mb(total(conv.reopenedScrolled.heap) / TURNS)}); lowering it
would take dropping the rendering of chunks far off screen, which the chat does not do. **incremental** and **naive**
ran on the rendering benchmark's page (test/bench/renderBenchPage.mts, no chat around it); the naive renderer (no
chunks, so all of it laid out) was fed larger deltas so that it ends in seconds: what it keeps is its last render of
the whole text, whatever the deltas were. The chat UI is src/webview/main.ts bundled like dist/webview.js in
test/harness/chatWebview.ts's page (900 × 900): each turn is \`turnStarted\`, its deltas (${DELTA_CHARS} characters),
\`turnFinished\`; "scrolled through" moves the chat from its top to its end a screen at a time, two animation frames
per screen.
<!-- /bench:memory -->`;

  console.log(`\n${verdicts.map((v) => `${v.name}: ${v.value} (target ${v.target}) ${v.ok ? 'met' : 'NOT met'}`).join('\n')}\n${table}`);
  if (docFile) {
    const doc = path.resolve(docFile);
    let text = fs.readFileSync(doc, 'utf8');
    const re = /<!-- bench:memory -->[\s\S]*?<!-- \/bench:memory -->/;
    text = re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(doc, text);
    console.log(`\nWrote the <!-- bench:memory --> section of ${path.relative(repoRoot, doc)} (${elapsedS} s).`);
  }
  if (!verdicts.every((v) => v.ok)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(`[webview-memory] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
