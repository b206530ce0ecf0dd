// Helpers for the chat core tests: recording raw SSE bodies from the emulator, seeded re-chunking, and the
// canonical form of an event stream (what must not depend on chunk boundaries). Not a test file itself.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { addUserTurn, newConversation, type Conversation } from '../../../src/core/chat/conversation';
import type { ChatEvent } from '../../../src/core/chat/streamNormalizer';
import { seededRandom } from '../../support/seededRandom';
import { startEmulator, type EmulatorServerHandle } from '../../emulator/server';
import type { EmulatorOptions } from '../../emulator/types';
import { repoRoot } from '../../support/paths';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = any;

export { seededRandom };

export async function withEmulator<T>(opts: EmulatorOptions, fn: (h: EmulatorServerHandle, baseUrl: string) => Promise<T>): Promise<T> {
  const h = await startEmulator(opts);
  try {
    return await fn(h, `${h.url}/v1`);
  } finally {
    await h.close();
  }
}

/** The raw SSE body of one streaming chat request, exactly as the emulator sent it. */
export async function recordSse(h: EmulatorServerHandle, body: Json): Promise<string> {
  const res = await fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: h.config.servedModelName, stream: true, stream_options: { include_usage: true }, ...body }),
  });
  if (res.status !== 200) throw new Error(`recording failed: HTTP ${res.status} ${await res.text()}`);
  return res.text();
}

/** The data payloads of an SSE body. */
export function sseData(text: string): string[] {
  return text.split(/\n\n/).filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
}

/** Merge adjacent events of the same kind (thinking/answer text, argument deltas of the same call): the form in
 *  which two chunkings of the same stream must agree. */
export function canonical(events: ChatEvent[]): ChatEvent[] {
  const out: ChatEvent[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (last && (e.kind === 'thinking' || e.kind === 'answer') && last.kind === e.kind) {
      last.text += e.text;
      continue;
    }
    if (last && e.kind === 'toolCall' && last.kind === 'toolCall' && last.index === e.index && !e.id && !e.name) {
      last.argumentsDelta += e.argumentsDelta;
      continue;
    }
    out.push({ ...e } as ChatEvent);
  }
  return out;
}

export function textOf(events: ChatEvent[], kind: 'thinking' | 'answer'): string {
  return events.map((e) => (e.kind === kind ? e.text : '')).join('');
}

/** Cut bytes into random pieces of 1..maxPiece bytes (so UTF-8 sequences, `data:` and `\n\n` get split). */
export function cutBytes(buf: Uint8Array, rnd: () => number, maxPiece: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < buf.length;) {
    const n = 1 + Math.floor(rnd() * maxPiece);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

function cutText(s: string, rnd: () => number): string[] {
  if (s.length <= 1) return [s];
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    const n = 1 + Math.floor(rnd() * Math.min(8, s.length));
    out.push(s.slice(i, i + n));
    i += n;
  }
  return out;
}

/** Re-chunk at the delta-text level: every reasoning/content/arguments string is cut at random points into
 *  several chunks (reasoning pieces before content pieces before tool-call pieces, as within one delta), and
 *  runs of adjacent single-field chunks are randomly merged back together. The finish_reason stays on the last
 *  piece. Chunks without a delta (usage, errors) pass through. */
export function rechunkDeltas(chunks: Json[], rnd: () => number): Json[] {
  const split: Json[] = [];
  for (const c of chunks) {
    const choice = c?.choices?.[0];
    const d = choice?.delta;
    if (!d) {
      split.push(c);
      continue;
    }
    const pieces: Json[] = [];
    const r = typeof d.reasoning === 'string' ? d.reasoning : undefined;
    const rc = typeof d.reasoning_content === 'string' ? d.reasoning_content : undefined;
    const reasoningText = r || rc;
    if (reasoningText) {
      for (const p of cutText(reasoningText, rnd)) {
        const nd: Json = {};
        if (r !== undefined) nd.reasoning = r ? p : r;
        if (rc !== undefined) nd.reasoning_content = rc ? p : rc;
        pieces.push(nd);
      }
    }
    if (typeof d.content === 'string' && d.content !== '') for (const p of cutText(d.content, rnd)) pieces.push({ content: p });
    for (const tc of d.tool_calls ?? []) {
      const args: string = tc.function?.arguments ?? '';
      const parts = args ? cutText(args, rnd) : [''];
      parts.forEach((p, i) => {
        pieces.push({ tool_calls: [i === 0 ? { ...tc, function: { ...tc.function, arguments: p } } : { index: tc.index, function: { arguments: p } }] });
      });
    }
    if (!pieces.length) {
      split.push(c);
      continue;
    }
    pieces.forEach((pd, i) => {
      const last = i === pieces.length - 1;
      split.push({ ...c, choices: [{ ...choice, delta: pd, finish_reason: last ? choice.finish_reason : null, ...(last ? {} : { stop_reason: undefined }) }] });
    });
  }
  // Random merges of neighbours that carry the same single text field and no finish_reason.
  const merged: Json[] = [];
  for (const c of split) {
    const prev = merged[merged.length - 1];
    const field = singleField(c);
    if (prev && field && field === singleField(prev) && rnd() < 0.5) {
      const pd = prev.choices[0].delta;
      const cd = c.choices[0].delta;
      const nd: Json = { ...pd };
      for (const k of Object.keys(cd)) nd[k] = (pd[k] ?? '') + cd[k];
      merged[merged.length - 1] = { ...prev, choices: [{ ...prev.choices[0], delta: nd }] };
      continue;
    }
    merged.push(c);
  }
  return merged;
}

function singleField(c: Json): string | undefined {
  const ch = c?.choices?.[0];
  if (!ch?.delta || ch.finish_reason) return undefined;
  const keys = Object.keys(ch.delta).filter((k) => ch.delta[k] !== undefined && ch.delta[k] !== null);
  const sig = keys.sort().join('+');
  return sig === 'content' || sig === 'reasoning' || sig === 'reasoning_content' || sig === 'reasoning+reasoning_content' ? sig : undefined;
}

/** Spawn the emulator as its own process (so a test can SIGKILL a real server). Resolves with its base URL. */
export async function spawnEmulator(args: string[] = []): Promise<{ child: ChildProcess; baseUrl: string }> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'out/test/emulator/cli.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('emulator did not start')), 10_000);
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(`${m[1]}/v1`);
      }
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { child, baseUrl };
}

/** A writable that collects text (for runChat's io). */
export class Sink {
  chunks: string[] = [];
  isTTY?: boolean;
  constructor(tty = false) {
    if (tty) this.isTTY = true;
  }
  write(s: string | Uint8Array): boolean {
    this.chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString('utf8'));
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `node <script> args…` without blocking the event loop (the emulator lives in this process). */
export function runNode(script: string, args: string[], env: Record<string, string | undefined> = {}, ms = 15_000): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: ${stderr}`));
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A realistic long conversation: 1,000 turns (500 exchanges) with thinking, markdown answers, an attachment now
 *  and then, usage and timings. */
export function longConversation(turns = 1000): Conversation {
  const c = newConversation({ title: 'Long one' });
  const para = 'The engine streams tokens from a paged cache while every request waits for its turn. ';
  for (let i = 0; i < turns / 2; i++) {
    addUserTurn(c, {
      text: `Question ${i}: how does part ${i} work? ${para}`,
      ...(i % 10 === 0 ? { attachments: [{ kind: 'selection' as const, path: `src/file${i}.ts`, text: 'export const x = 1;\n'.repeat(20), startLine: 10 }] } : {}),
    });
    c.turns.push({
      role: 'assistant', id: `a${i}`, createdAt: Date.now(), mode: 'thinking', thinking: para.repeat(8),
      answer: `## Part ${i}\n\n${para.repeat(6)}\n\n\`\`\`ts\nconst y = ${i};\n\`\`\`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n`,
      toolCalls: [], usage: { prompt: 1000 + i, completion: 300, total: 1300 + i }, ttftMs: 420, tokensPerSecond: 61.5, thinkingMs: 3000, durationMs: 9000, finishReason: 'stop',
    });
  }
  return c;
}

