// Benchmark (not a test): extension-host memory of the chat while it streams a very long answer and across a 1,000-turn
// conversation, as heap growth per byte of text, side by side in one run with baselines. Part of `npm run bench --
// --only chat` (its section of docs/BENCHMARKS.md); alone:
//   npx tsc -p test/bench/tsconfig.json && node out/test/bench/chatMemoryBench.js [--quick] [--json FILE]
//
// The vLLM emulator runs in this process and serves as fast as it can; every measure runs in a child process
// (`node --expose-gc`, this file with --child) so that neither the emulator nor this script is in the heap measured.
// A figure is process.memoryUsage().heapUsed after two forced full GCs, minus the same right before the measure began
// (after warm-up turns, so that the code compiled on first use is not counted). "Text" is the UTF-8 size of what the
// model generated (thinking + answer; for a conversation, the users' messages too): the figures are heap growth / text.
//   1. one turn of 40,000 words of thinking + 160,000 of answer (~250,000 tokens), measured while it streams (the GC
//      run from inside the session's post() every ~0.2 MB of text) and once it finished and was saved:
//        ours    a real ChatSession (src/vscode/chat: streamChat over Node's fetch, SSE decoder, stream normaliser,
//                delta batcher, conversation, HistoryStore saves every 3 s), its posts counted, not kept;
//        naive   the same request read the obvious way (fetch, split lines, JSON.parse, `text += delta`);
//        floor   the same text held as two flat strings (what the text itself costs: ~1 byte per ASCII character).
//   2. a ChatSession sends 500 messages in a row (a 1,000-turn conversation); measured every 100 turns, then against
//      the same conversation reopened from the history file by a new session (baseline: nothing but the conversation).
// Ceilings (CEILINGS, checked by chatBench.ts): heap growth ≤ 4× the text at any checkpoint while a turn streams (one
// can fall while a save holds the JSON of the whole conversation: a second copy of the text, for as long as the write
// and its fsync take), ≤ 2× once the turn is finished and saved, ≤ 3× across the conversation (the live session also
// holds the last request's body, which Node's fetch keeps until the next request).
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostToWebview } from '../../src/shared/protocol';
import { ChatSession } from '../../src/vscode/chat/chatSession';
import { startEmulator } from '../emulator/server';
import { FakePlatform } from '../unit/chat/sessionKit';

export const CEILINGS = { streaming: 4, finished: 2, conversation: 3 };
const quick = process.argv.includes('--quick');
const THINK_WORDS = quick ? 4_000 : 40_000;
const ANSWER_WORDS = quick ? 16_000 : 160_000;
const CHECKPOINT_BYTES = quick ? 20_000 : 200_000;
const TURNS = quick ? 100 : 1000;
const TURN_EVERY = quick ? 20 : 100;

export interface Point {
  /** UTF-8 bytes of text so far. */
  text: number;
  /** Heap growth since the measure began. */
  heap: number;
  /** process.memoryUsage().arrayBuffers growth (buffers outside the JS heap, e.g. fetch's). */
  buffers: number;
}

export interface StreamResult {
  name: 'ours' | 'naive' | 'floor';
  points: Point[];
  /** After the turn ended (ours: finished and saved; naive: the body read to the end). */
  end: Point;
  seconds: number;
  /** Completion tokens of the turn (ours: its usage). */
  tokens?: number;
}

export interface ConversationResult {
  points: (Point & { turns: number })[];
  /** The same conversation reopened from its history file by a new session. */
  reopened: Point & { turns: number };
  fileBytes: number;
  seconds: number;
}

export interface MemoryResults {
  node: string;
  thinkWords: number;
  answerWords: number;
  streams: StreamResult[];
  conversation: ConversationResult;
}

// ───────────────────────────── the child (--expose-gc) ─────────────────────────────

const gc = (globalThis as { gc?: () => void }).gc;

function sample(): { heap: number; buffers: number } {
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

function since(base: { heap: number; buffers: number }, text: number): Point {
  const s = sample();
  return { text, heap: s.heap - base.heap, buffers: s.buffers - base.buffers };
}

/** A platform whose post() keeps nothing: it counts the streamed bytes and sees the end of a turn. */
class MeasuringPlatform extends FakePlatform {
  streamed = 0;
  private onFinished: (() => void) | undefined;
  onText: ((bytes: number) => void) | undefined;
  override readonly post = (msg: HostToWebview): void => {
    if (typeof msg === 'string') {
      this.streamed += Buffer.byteLength(msg) - 1;
      this.onText?.(this.streamed);
    } else if (msg.type === 'turnFinished') {
      this.onFinished?.();
    }
  };
  /** Runs `start` and resolves at the next turnFinished. */
  turn(start: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.onFinished = () => {
        this.onFinished = undefined;
        resolve();
      };
      start().catch(reject);
    });
  }
}

async function sessionOf(dir: string, url: string, maxModelLen: number): Promise<{ p: MeasuringPlatform; s: ChatSession }> {
  const p = new MeasuringPlatform(dir, `${url}/v1`, { maxModelLen });
  const s = new ChatSession(p);
  await s.ready();
  return { p, s };
}

function prompt(think: number, answer: number, i = 0): string {
  return `Describe part ${i} of the scheduler long-thinking:${think} long-answer:${answer}`;
}

async function warmUp(url: string, maxModelLen: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-mem-warm-'));
  const { p, s } = await sessionOf(dir, url, maxModelLen);
  // Long enough for the hot paths to be optimised: their compiled code is not part of what a turn keeps.
  for (let i = 0; i < 2; i++) await p.turn(() => s.handle({ type: 'send', text: prompt(4_000, 16_000, i) }));
  await s.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function streamOurs(url: string, maxModelLen: number): Promise<StreamResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-mem-'));
  const t0 = performance.now();
  let s: ChatSession | undefined;
  try {
    const session = await sessionOf(dir, url, maxModelLen);
    s = session.s;
    const { p } = session;
    const base = sample();
    const points: Point[] = [];
    let next = CHECKPOINT_BYTES;
    p.onText = (bytes) => {
      if (bytes < next) return;
      points.push(since(base, bytes));
      while (next <= bytes) next += CHECKPOINT_BYTES;
    };
    await p.turn(() => session.s.handle({ type: 'send', text: prompt(THINK_WORDS, ANSWER_WORDS) }));
    await session.s.idle();
    p.onText = undefined;
    const turn = session.s.conversation.turns.at(-1);
    if (!turn || turn.role !== 'assistant' || turn.error) throw new Error(`the long turn failed: ${JSON.stringify(turn && 'error' in turn ? turn.error : turn)}`);
    const text = Buffer.byteLength(turn.thinking) + Buffer.byteLength(turn.answer);
    if (text !== p.streamed) throw new Error(`posted ${p.streamed} bytes of text, the turn holds ${text}`);
    const end = since(base, text);
    return { name: 'ours', points, end, seconds: (performance.now() - t0) / 1000, ...(turn.usage ? { tokens: turn.usage.completion } : {}) };
  } finally {
    await s?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The obvious client: no batching, no normaliser — lines split, JSON parsed, text appended. */
async function streamNaive(url: string): Promise<{ result: StreamResult; thinking: string; answer: string }> {
  const t0 = performance.now();
  const base = sample();
  const points: Point[] = [];
  let next = CHECKPOINT_BYTES;
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: '/models/Kimi-K2.5', stream: true, messages: [{ role: 'user', content: prompt(THINK_WORDS, ANSWER_WORDS) }] }),
  });
  if (!res.ok || !res.body) throw new Error(`naive client: HTTP ${res.status}`);
  const decoder = new TextDecoder();
  let buf = '';
  let thinking = '';
  let answer = '';
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const delta = (JSON.parse(line.slice(6)) as { choices?: { delta?: { reasoning?: string; reasoning_content?: string; content?: string } }[] }).choices?.[0]?.delta;
      const r = delta?.reasoning ?? delta?.reasoning_content;
      if (r) {
        thinking += r;
        bytes += Buffer.byteLength(r);
      }
      if (delta?.content) {
        answer += delta.content;
        bytes += Buffer.byteLength(delta.content);
      }
      if (bytes >= next) {
        points.push(since(base, bytes));
        while (next <= bytes) next += CHECKPOINT_BYTES;
      }
    }
  }
  const end = since(base, Buffer.byteLength(thinking) + Buffer.byteLength(answer));
  return { result: { name: 'naive', points, end, seconds: (performance.now() - t0) / 1000 }, thinking, answer };
}

/** The text alone: two flat strings of the same content. */
function floorOf(thinking: string, answer: string): StreamResult {
  const t0 = performance.now();
  const tb = Buffer.from(thinking);
  const ab = Buffer.from(answer);
  const base = sample();
  const held = [tb.toString('utf8'), ab.toString('utf8')];
  const end = since(base, tb.length + ab.length);
  if (held.join('').length !== thinking.length + answer.length) throw new Error('unreachable');
  return { name: 'floor', points: [], end, seconds: (performance.now() - t0) / 1000 };
}

async function conversation(url: string, maxModelLen: number): Promise<ConversationResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-mem-conv-'));
  const t0 = performance.now();
  try {
    // Warm-up: the same kind of turns in a throwaway session (history elsewhere), so that the code these paths compile
    // is not counted as the conversation's.
    const warmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-mem-conv-warm-'));
    const warm = await sessionOf(warmDir, url, maxModelLen);
    for (let i = 0; i < 60; i++) await warm.p.turn(() => warm.s.handle({ type: 'send', text: prompt(80, 240, i) }));
    await warm.s.dispose();
    fs.rmSync(warmDir, { recursive: true, force: true });

    const { p, s } = await sessionOf(dir, url, maxModelLen);
    const base = sample();
    const points: ConversationResult['points'] = [];
    let text = 0;
    for (let i = 0; i < TURNS / 2; i++) {
      const q = prompt(80, 240, i);
      await p.turn(() => s.handle({ type: 'send', text: q }));
      await s.idle();
      const a = s.conversation.turns.at(-1);
      if (!a || a.role !== 'assistant' || a.error) throw new Error(`turn ${i * 2 + 2} failed: ${JSON.stringify(a && 'error' in a ? a.error : a)}`);
      text += Buffer.byteLength(q) + Buffer.byteLength(a.thinking) + Buffer.byteLength(a.answer);
      const turns = s.conversation.turns.length;
      if (turns % TURN_EVERY === 0) points.push({ turns, ...since(base, text) });
    }
    const id = s.conversation.id;
    const fileBytes = fs.statSync(path.join(dir, `conv-${id}.json`)).size;
    await s.dispose();
    // Baseline: a new session that reopens the conversation (a window reload): the conversation parsed from its file.
    const base2 = sample();
    const again = await sessionOf(dir, url, maxModelLen);
    if (again.s.conversation.id !== id) throw new Error('the reload did not reopen the conversation');
    const reopened = { turns: again.s.conversation.turns.length, ...since(base2, text) };
    await again.s.dispose();
    return { points, reopened, fileBytes, seconds: (performance.now() - t0) / 1000 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function child(url: string, maxModelLen: number): Promise<void> {
  await warmUp(url, maxModelLen);
  const streams: StreamResult[] = [];
  // Interleaved so that neither side gets a quieter machine: ours, naive (+ floor).
  streams.push(await streamOurs(url, maxModelLen));
  const naive = await streamNaive(url);
  streams.push(naive.result);
  streams.push(floorOf(naive.thinking, naive.answer));
  const conv = await conversation(url, maxModelLen);
  const out: MemoryResults = { node: process.version, thinkWords: THINK_WORDS, answerWords: ANSWER_WORDS, streams, conversation: conv };
  // Fetch's keep-alive sockets would keep the child alive: it is done once the parent has the figures.
  process.send?.(out, () => process.exit(0));
}

// ───────────────────────────── the parent: emulator + report ─────────────────────────────

export async function runMemoryBench(): Promise<MemoryResults> {
  const maxModelLen = 4_000_000; // the 1,000-turn conversation is sent whole with every message
  const h = await startEmulator({ maxModelLen });
  // The emulator records every request; the conversation's are the whole conversation each (hundreds of MB in all).
  h.onRequestEnd(() => void (h.requests as unknown[]).splice(0));
  try {
    const args = ['--child', h.url, String(maxModelLen), ...(quick ? ['--quick'] : [])];
    const proc = fork(__filename, args, { execArgv: ['--expose-gc', '--no-flush-bytecode'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let got: MemoryResults | undefined;
    proc.on('message', (m) => (got = m as MemoryResults));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    if (code !== 0 || !got) throw new Error(`the memory child exited with ${code}`);
    return got;
  } finally {
    await h.close();
  }
}

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(2)} MB`;
const x = (r: number): string => `${r.toFixed(2)}×`;

/** The worst heap growth / text of a run (checkpoints from the first on, and the end). */
export function worstRatio(r: StreamResult): number {
  return Math.max(...[...r.points, r.end].map((p) => p.heap / p.text));
}

export function report(r: MemoryResults): string {
  const lines: string[] = [];
  const ours = r.streams.find((s) => s.name === 'ours')!;
  const naive = r.streams.find((s) => s.name === 'naive')!;
  const floor = r.streams.find((s) => s.name === 'floor')!;
  lines.push(`Chat host memory (plain Node ${r.node}, --expose-gc --no-flush-bytecode; heapUsed after 2 forced GCs, growth since the start of each measure)`);
  lines.push('');
  lines.push(`One turn: ${r.thinkWords.toLocaleString('en-US')} words of thinking + ${r.answerWords.toLocaleString('en-US')} of answer (${ours.tokens?.toLocaleString('en-US') ?? '?'} completion tokens), the emulator as fast as it can:`);
  const rows = [['text so far', ...ours.points.map((p) => mb(p.text)), 'after the turn', 'worst']];
  rows.push(['ours: heap / text', ...ours.points.map((p) => x(p.heap / p.text)), x(ours.end.heap / ours.end.text), x(worstRatio(ours))]);
  rows.push(['naive: heap / text', ...naive.points.map((p) => x(p.heap / p.text)), x(naive.end.heap / naive.end.text), x(worstRatio(naive))]);
  rows.push(['floor: heap / text', ...ours.points.map(() => ''), x(floor.end.heap / floor.end.text), '']);
  rows.push(['ours: heap', ...ours.points.map((p) => mb(p.heap)), mb(ours.end.heap), '']);
  rows.push(['ours: array buffers', ...ours.points.map((p) => mb(p.buffers)), mb(ours.end.buffers), '']);
  lines.push(...table(rows));
  lines.push('');
  const c = r.conversation;
  lines.push(`A ${c.points.at(-1)?.turns.toLocaleString('en-US')}-turn conversation sent message by message (320 words per answer; history file ${mb(c.fileBytes)}):`);
  const crows = [['turns', ...c.points.map((p) => p.turns.toLocaleString('en-US')), 'reopened by a new session']];
  crows.push(['text', ...c.points.map((p) => mb(p.text)), mb(c.reopened.text)]);
  crows.push(['heap', ...c.points.map((p) => mb(p.heap)), mb(c.reopened.heap)]);
  crows.push(['heap / text', ...c.points.map((p) => x(p.heap / p.text)), x(c.reopened.heap / c.reopened.text)]);
  lines.push(...table(crows));
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const out: string[] = [];
  for (const [i, r] of rows.entries()) {
    out.push(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ').trimEnd());
    if (i === 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  return out;
}

if (require.main === module) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) {
    child(process.argv[i + 1]!, Number(process.argv[i + 2])).catch((e: unknown) => {
      console.error(`[chat-memory] ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      process.exit(1);
    });
  } else {
    runMemoryBench()
      .then((r) => {
        console.log(report(r));
        const j = process.argv.indexOf('--json');
        if (j >= 0) fs.writeFileSync(process.argv[j + 1]!, JSON.stringify(r, null, 2));
      })
      .catch((e: unknown) => {
        console.error(`[chat-memory] ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
        process.exitCode = 1;
      });
  }
}
