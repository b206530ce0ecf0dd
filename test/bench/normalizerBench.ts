// Benchmark (not a test): the stream normaliser's throughput against JSON.parse alone on the same recorded chunks,
// and the time to reopen a 1,000-turn conversation from the history store.
//   npx tsc -p tsconfig.test.json && node out/test/bench/normalizerBench.js [--quick]
// Streams are recorded once from the vLLM emulator over real HTTP (≈20,000 tokens of thinking then ≈50,000 of
// answer, one token per chunk as vLLM sends them), then replayed in memory. Each figure is the median of several
// runs after a warm-up. For reference it also times the openai SDK's own SSE parsing of the same bytes (the
// extension does not use it; see src/core/chat/chatClient.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stream } from 'openai/core/streaming';
import { HistoryStore } from '../../src/core/chat/historyStore';
import { SseDecoder, StreamNormalizer, type NormalizerOptions } from '../../src/core/chat/streamNormalizer';
import { startEmulator } from '../emulator/server';
import type { EmulatorOptions } from '../emulator/types';
import { longConversation } from '../unit/chat/helpers';

const quick = process.argv.includes('--quick');
const THINK = quick ? 2000 : 20000;
const ANSWER = quick ? 5000 : 50000;
const RUNS = quick ? 3 : 5;
const SYNC_RUNS = quick ? 5 : 15;

interface Recording {
  name: string;
  bytes: Buffer;
  data: string[];
  opts: NormalizerOptions;
}

async function record(name: string, emulator: EmulatorOptions, body: Record<string, unknown>, opts: NormalizerOptions = {}): Promise<Recording> {
  const h = await startEmulator(emulator);
  try {
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: h.config.servedModelName, stream: true, stream_options: { include_usage: true }, ...body }),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const data = bytes.toString('utf8').split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
    return { name, bytes, data, opts };
  } finally {
    await h.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median time of each function, the functions taking turns within every run (so drift, GC and JIT state hit
 *  them alike). Two warm-up rounds. */
function interleaved(fns: (() => void)[]): number[] {
  const times = fns.map(() => [] as number[]);
  for (let run = -2; run < SYNC_RUNS; run++) {
    fns.forEach((fn, i) => {
      const t0 = performance.now();
      fn();
      if (run >= 0) times[i]!.push(performance.now() - t0);
    });
  }
  return times.map(median);
}

async function timeAsync(fn: () => Promise<void>): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

let sink = 0;

/** The bytes in 16 KiB pieces, as a socket delivers them. */
function pieces(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 16384) out.push(bytes.subarray(i, i + 16384));
  return out;
}

async function main() {
  const prompt = `long-thinking:${THINK} long-answer:${ANSWER}`;
  const tools = [{ type: 'function', function: { name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } } }];
  const recordings = [
    await record('vLLM 0.16.0 (reasoning)', { vllmVersion: '0.16.0' }, { messages: [{ role: 'user', content: prompt }] }),
    await record('vLLM 0.15.1 (both fields)', { vllmVersion: '0.15.1' }, { messages: [{ role: 'user', content: prompt }] }),
    await record('no reasoning parser (</think> in content)', { vllmVersion: '0.16.0', reasoningParser: false }, { messages: [{ role: 'user', content: prompt }] }),
    await record('no tool parser, tools offered (marker scan)', { vllmVersion: '0.16.0', toolCallParser: false }, { messages: [{ role: 'user', content: prompt }], tools }),
  ];

  console.log(`Stream normaliser vs JSON.parse alone (median of ${SYNC_RUNS} interleaved runs; openai SDK: ${RUNS} runs; ` +
    `${THINK.toLocaleString('en-US')} words of thinking + ${ANSWER.toLocaleString('en-US')} of answer)\n`);
  const rows: string[][] = [['stream', 'chunks', 'MB', 'JSON.parse', 'normalise', '(ratio)', 'parse+normalise', 'ratio', 'SSE+parse+normalise', 'ratio', 'MB/s', 'openai SDK SSE+parse']];
  for (const r of recordings) {
    const objects = r.data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as unknown);
    const chunks = pieces(r.bytes);
    const [parseOnly, normaliseOnly, parseAndNormalise, full] = interleaved([
      () => {
        for (const d of r.data) if (d !== '[DONE]') sink += (JSON.parse(d) as { created: number }).created;
      },
      () => {
        const n = new StreamNormalizer(r.opts);
        for (const o of objects) sink += n.push(o).length;
        sink += n.end().length;
      },
      () => {
        const n = new StreamNormalizer(r.opts);
        for (const d of r.data) sink += n.pushData(d).length;
      },
      () => {
        const sse = new SseDecoder();
        const n = new StreamNormalizer(r.opts);
        for (const c of chunks) for (const d of sse.push(c)) sink += n.pushData(d).length;
      },
    ]) as [number, number, number, number];
    const sdk = await timeAsync(async () => {
      const body = new ReadableStream<Uint8Array>({
        start(ctrl) {
          for (const c of chunks) ctrl.enqueue(c);
          ctrl.close();
        },
      });
      const stream = Stream.fromSSEResponse<{ created?: number }>(new Response(body, { headers: { 'content-type': 'text/event-stream' } }), new AbortController());
      for await (const item of stream) sink += item.created ?? 0;
    });
    const mb = r.bytes.length / 1024 / 1024;
    rows.push([
      r.name, objects.length.toLocaleString('en-US'), mb.toFixed(1), `${parseOnly.toFixed(1)} ms`, `${normaliseOnly.toFixed(1)} ms`,
      `${(normaliseOnly / parseOnly).toFixed(2)}×`, `${parseAndNormalise.toFixed(1)} ms`,
      `${(parseAndNormalise / parseOnly).toFixed(2)}×`, `${full.toFixed(1)} ms`, `${(full / parseOnly).toFixed(2)}×`, (mb / (full / 1000)).toFixed(0), `${sdk.toFixed(1)} ms`,
    ]);
  }
  printTable(rows);
  console.log('\nratio = time / JSON.parse-alone time on the same chunks. "normalise" runs on pre-parsed chunk objects ' +
    '(the normaliser\'s own cost); "parse+normalise" is JSON.parse plus the normaliser (1.00× would mean it costs nothing); ' +
    '"SSE+…" adds UTF-8 decoding and SSE framing of the raw bytes in 16 KiB reads (the whole client-side path).');

  // ----- history -----
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-history-'));
  try {
    console.log(`\nHistory store: reopen (fresh store, read + JSON.parse + schema check; median of ${RUNS} runs)\n`);
    const hrows: string[][] = [['conversation', 'file size', 'open', 'save']];
    for (const turns of [1000, 2000]) {
      const conv = longConversation(turns);
      const store = new HistoryStore(dir);
      const save = await timeAsync(() => store.save(conv));
      const size = fs.statSync(path.join(dir, `conv-${conv.id}.json`)).size;
      const open = await timeAsync(async () => {
        sink += (await new HistoryStore(dir).open(conv.id)).turns.length;
      });
      hrows.push([`${turns.toLocaleString('en-US')} turns (${turns / 2} exchanges)`, `${(size / 1024 / 1024).toFixed(2)} MB`, `${open.toFixed(1)} ms`, `${save.toFixed(1)} ms`]);
    }
    printTable(hrows);
    console.log('\nBudget: a 1,000-turn conversation reopens in ≤ 100 ms of extension-host time.');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (sink === 42) console.log('');
}

function printTable(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [k, r] of rows.entries()) {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
