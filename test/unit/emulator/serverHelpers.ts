// Helpers for the emulator server tests: real HTTP against 127.0.0.1, SSE parsing, and waiting on events (never on
// sleeps). Not a test file itself.
import { startEmulator, type EmulatorServerHandle } from '../../emulator/server';
import type { EmulatorOptions, RequestEndInfo } from '../../emulator/types';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = any;

/** Start an emulator for one test and always close it. */
export async function withEmulator<T>(opts: EmulatorOptions, fn: (h: EmulatorServerHandle) => Promise<T>): Promise<T> {
  const h = await startEmulator(opts);
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

export interface JsonReply {
  status: number;
  headers: Headers;
  text: string;
  json: Json;
}

export async function request(
  url: string,
  init: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<JsonReply> {
  const hasBody = init.body !== undefined || init.rawBody !== undefined;
  const res = await fetch(url, {
    method: init.method ?? (hasBody ? 'POST' : 'GET'),
    headers: { ...(hasBody && init.rawBody === undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.rawBody ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
    signal: init.signal,
  });
  const text = await res.text();
  let json: Json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Split an SSE body into its events (the text between blank lines). */
export async function* sseEvents(res: Response): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let idx: number;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      yield ev;
    }
  }
  if (buf !== '') yield buf;
}

export interface StreamResult {
  status: number;
  contentType: string | null;
  /** Raw event texts, e.g. 'data: {...}'. */
  events: string[];
  /** Parsed JSON of every data event except [DONE]. */
  chunks: Json[];
  done: boolean;
  /** Arrival time (ms since the request started) of each event. */
  times: number[];
}

export async function stream(url: string, body: Json, headers: Record<string, string> = {}): Promise<StreamResult> {
  const started = Date.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const out: StreamResult = { status: res.status, contentType: res.headers.get('content-type'), events: [], chunks: [], done: false, times: [] };
  for await (const ev of sseEvents(res)) {
    out.events.push(ev);
    out.times.push(Date.now() - started);
    const data = ev.startsWith('data: ') ? ev.slice(6) : ev;
    if (data === '[DONE]') out.done = true;
    else out.chunks.push(JSON.parse(data));
  }
  return out;
}

/** The choice deltas of a chat stream, in order (usage-only chunks skipped). */
export function deltas(r: StreamResult): Json[] {
  return r.chunks.filter((c) => c.choices?.length).map((c) => c.choices[0].delta);
}

export function joined(r: StreamResult, key: 'content' | 'reasoning' | 'reasoning_content'): string {
  return deltas(r).map((d) => d[key] ?? '').join('');
}

/** The chunk carrying finish_reason. */
export function finishChunk(r: StreamResult): Json {
  const c = r.chunks.find((ch) => ch.choices?.[0]?.finish_reason);
  if (!c) throw new Error('no finish chunk');
  return c;
}

/** Resolve with the next request end matching `pred`, or reject after `ms`. */
export function nextRequestEnd(h: EmulatorServerHandle, pred: (i: RequestEndInfo) => boolean = () => true, ms = 10_000) {
  return new Promise<RequestEndInfo>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out waiting for the request to end'));
    }, ms);
    const off = h.onRequestEnd((info) => {
      if (!pred(info)) return;
      clearTimeout(timer);
      off();
      resolve(info);
    });
  });
}

/** A log sink that lets a test wait for a matching line. */
export function logCollector() {
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  return {
    lines,
    log: (line: string) => {
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    },
    waitFor(re: RegExp, ms = 10_000): Promise<string> {
      const hit = lines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line like ${re}`)), ms);
        waiters.push({ re, resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        } });
      });
    },
  };
}

/** Parse Prometheus text into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

export const TOOLS_SEED = ['add', 'mul', 'compare'].map((name) => ({
  type: 'function',
  function: {
    name,
    description: name,
    parameters: { type: 'object', properties: { a: { type: 'int', description: 'A number' }, b: { type: 'int', description: 'A number' } }, required: ['a', 'b'] },
  },
})).concat([{
  type: 'function',
  function: {
    name: 'count_letter_in_string',
    description: 'Count letter number in a string',
    parameters: { type: 'object', properties: { a: { type: 'str', description: 'source string' }, b: { type: 'str', description: 'letter' } }, required: ['a', 'b'] },
  },
}]);

export const TOOLS_FILES = [
  { type: 'function', function: { name: 'read_file', description: 'Read a file', parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } } },
  { type: 'function', function: { name: 'list_directory', description: 'List a directory', parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } } },
];
