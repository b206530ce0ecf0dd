// Test helper: the project's fake `vllm serve` (test/emulator/bin/vllm) as a real child process, its output fed
// live, chunk by chunk as the pipe delivers it, into a VllmLogParser. No side effects on import (mocha --recursive
// loads this file too).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VllmLogParser, type LogEvent, type Phase } from '../../../src/core/server/logParser';
import { FakeVllm } from '../../emulator/vllm/spawnFake';

/** Every knob of the fakes, unset, so the caller's environment cannot change a test. */
const FAKE_KNOBS = [
  'KIMI_FAKE_VLLM_FAIL',
  'KIMI_FAKE_VLLM_VERSION',
  'KIMI_FAKE_VLLM_REAL_TIMES',
  'KIMI_FAKE_VLLM_IGNORE_SIGTERM',
  'KIMI_FAKE_VLLM_KV_GIB',
  'KIMI_FAKE_VLLM_SCRIPT',
  'KIMI_FAKE_VLLM_STATS_MS',
  'KIMI_FAKE_GPUS',
  'KIMI_FAKE_GPU_MODEL',
  'KIMI_FAKE_GPU_STATE',
  'KIMI_FAKE_NVIDIA_SMI',
  'CUDA_VISIBLE_DEVICES',
  'NO_COLOR',
  'VLLM_API_KEY',
  'VLLM_USE_MODELSCOPE',
  'VLLM_ALLOW_LONG_MAX_MODEL_LEN',
];

export interface ParsedRun {
  fake: FakeVllm;
  parser: VllmLogParser;
  /** Events in arrival order (live pushes; `finish()` appends the parser's end()). */
  events: LogEvent[];
  /** Wait for the exit (bounded), flush the parser, return the exit info. */
  finish(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start the fake with fast timings and a private GPU-claims directory; `env` overrides. */
export function startParsed(args: string[], env: Record<string, string | undefined> = {}): ParsedRun {
  const base: Record<string, string | undefined> = {};
  for (const k of FAKE_KNOBS) base[k] = undefined;
  const fake = new FakeVllm(args, { env: { ...base, KIMI_FAKE_VLLM_SHARD_MS: '1', KIMI_FAKE_VLLM_PHASE_MS: '2', ...env } });
  const parser = new VllmLogParser();
  const events: LogEvent[] = [];
  // FakeVllm set the encoding to utf8: chunks are strings, split wherever the pipe split them.
  fake.child.stdout!.on('data', (chunk: string) => events.push(...parser.push(chunk)));
  // 'exit' can come before the last bytes were read: finish() also waits for the end of the pipe.
  const drained = new Promise<void>((resolve) => {
    fake.child.stdout!.once('end', resolve);
    fake.child.stdout!.once('close', resolve);
  });
  let finished = false;
  return {
    fake,
    parser,
    events,
    async finish(timeoutMs = 20_000) {
      const info = await fake.exit(timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
      if (!finished) {
        finished = true;
        events.push(...parser.end());
      }
      return info;
    },
  };
}

export function phasesOf(events: LogEvent[]): Phase[] {
  return events.flatMap((e) => (e.kind === 'phase' ? [e.phase] : []));
}

export function failuresOf(events: LogEvent[]) {
  return events.flatMap((e) => (e.kind === 'failure' ? [e.diagnosis] : []));
}

export function progressOf(events: LogEvent[], phase: 'loadingWeights' | 'cudaGraphs'): string[] {
  return events.flatMap((e) => (e.kind === 'progress' && e.phase === phase ? [`${e.done}/${e.total}`] : []));
}

export function infoOf(events: LogEvent[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const e of events) if (e.kind === 'info') out[e.key] = e.value;
  return out;
}

export function linesOf(events: LogEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'line' ? [e.text] : []));
}

/** A temp directory holding `moonshotai/Kimi-K2.5` (the fake accepts any existing directory as the model). */
export function makeModelDir(): { root: string; model: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-logparser-test-'));
  const model = path.join(root, 'moonshotai', 'Kimi-K2.5');
  fs.mkdirSync(model, { recursive: true });
  return { root, model };
}

/** Feed `text` to a fresh parser in one piece, then end(). */
export function parseAll(text: string): { events: LogEvent[]; parser: VllmLogParser } {
  const parser = new VllmLogParser();
  const events = [...parser.push(text), ...parser.end()];
  return { events, parser };
}

/** Split `text` into random chunks: mostly tiny (1–8), sometimes medium, sometimes large. */
export function randomChunks(text: string, rnd: () => number): string[] {
  const chunks: string[] = [];
  let i = 0;
  while (i < text.length) {
    const r = rnd();
    const size = r < 0.5 ? 1 + Math.floor(rnd() * 8) : r < 0.9 ? 9 + Math.floor(rnd() * 500) : 500 + Math.floor(rnd() * 20_000);
    chunks.push(text.slice(i, i + size));
    i += size;
  }
  return chunks;
}
