// Incremental parser of `vllm serve` output (docs/vllm-kimi-protocol.md §4): turns raw chunks, split anywhere,
// into typed events — startup phases, shard/CUDA-graph progress, facts (version, URL, KV cache size…), periodic
// stats, clean log lines and diagnosed failures.
//
// What real vLLM output looks like, and what this copes with:
//  - every line starts with `(APIServer pid=N) `, `(EngineCore_DP0 pid=N) `, `(Worker_TP3 pid=N) `, a prefix that is
//    ANSI-coloured even when piped (0.15-era releases);
//  - vLLM log records are `LEVEL MM-DD HH:MM:SS [file.py:line] message`; multi-line records repeat the header and are
//    joined with "\r\n"; uvicorn's lines are `INFO:     message`;
//  - tqdm bars start with "\r" (shards: one line per update) or refresh in place with "\r" and end with one "\n"
//    (CUDA graphs). A "\r" not followed by "\n" ends a *segment*: segments are parsed for progress as soon as they
//    are complete, and the line shown in logs is what a terminal would show (prefix + last segment);
//  - stdout and stderr may arrive merged (`2>&1`) or separately: `push(chunk, stream)` keeps one buffer per stream.
//
// Output is the same however the input is chunked (a trailing "\r" waits for the next character to know whether it
// ends the line), and memory is bounded: a line keeps at most `maxLineChars` characters and is truncated beyond.
import { cleanText, diagnose, specificity, type DiagnoseContext, type Diagnosis } from './diagnosis';

export type Phase = 'resolving' | 'loadingWeights' | 'profiling' | 'cudaGraphs' | 'startingApi' | 'ready' | 'stopping';
export type ProgressPhase = 'loadingWeights' | 'cudaGraphs';
export type StreamName = 'stdout' | 'stderr';

export type LogEvent =
  | { kind: 'phase'; phase: Phase; detail?: string }
  | { kind: 'progress'; phase: ProgressPhase; done: number; total: number }
  | { kind: 'info'; key: 'version' | 'servedUrl' | 'architecture' | 'modelPath'; value: string }
  | { kind: 'info'; key: 'maxModelLen' | 'kvCacheTokens' | 'maxConcurrency'; value: number }
  | {
      kind: 'stats';
      /** `Engine 000` → 0. */
      engine: number;
      promptTps: number;
      genTps: number;
      running: number;
      waiting: number;
      kvCachePct: number;
      /** null on releases that do not print it. */
      prefixHitPct: number | null;
    }
  | { kind: 'failure'; diagnosis: Diagnosis }
  | { kind: 'line'; text: string; stream?: StreamName };

export type InfoKey = Extract<LogEvent, { kind: 'info' }>['key'];

/** Default cap of one line (and of each \r segment), in UTF-16 code units. */
export const MAX_LINE_CHARS = 64 * 1024;
const TRUNCATED_MARK = ' …[line truncated]';

export const PHASE_ORDER: readonly Phase[] = ['resolving', 'loadingWeights', 'profiling', 'cudaGraphs', 'startingApi', 'ready', 'stopping'];
const rank = (p: Phase | null): number => (p === null ? -1 : PHASE_ORDER.indexOf(p));

const PREFIX = /^\(([\w.-]+) pid=\d+(?:, ip=[\w.:%-]+)?\) /;
const LOG_HEADER = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL) \d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)? \[[^\]]*\] ?/;
const UVICORN = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+/;
/** The last line of a Python traceback: `ValueError: …`, `torch.OutOfMemoryError: …`, `KeyboardInterrupt`. */
const EXCEPTION_LINE = /^(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Interrupt)(?::|$)/;

const SHARDS = /checkpoint shards:\s{0,8}\d{1,3}%(?:[^|]{0,200}\|){1,2}\s*(\d+)\/(\d+)/;
const CUDA_GRAPHS = /^Capturing CUDA graph[^:]*:\s*\d+%\|[^|]*\|\s*(\d+)\/(\d+)/i;

interface Segment {
  raw: string;
  truncated: boolean;
}

/** Per-stream line assembly state. */
class LineBuffer {
  /** First segment of the current line once a "\r" ended it (usually the `(Proc pid=N) ` prefix). */
  head: Segment | null = null;
  /** Last non-empty segment after the head. */
  last: Segment | null = null;
  cur = '';
  curTruncated = false;
  /** The chunk ended with "\r": whether it ends the line depends on the next character. */
  pendingCR = false;

  get size(): number {
    return (this.head?.raw.length ?? 0) + (this.last?.raw.length ?? 0) + this.cur.length;
  }
}

export interface VllmLogParserOptions {
  /** Cap of one line; longer lines are cut and marked. Default MAX_LINE_CHARS (64 KiB). */
  maxLineChars?: number;
}

/** One parser per `vllm serve` process: phases only move forward and the diagnosis only gets more specific. */
export class VllmLogParser {
  private readonly cap: number;
  private readonly buffers = new Map<string, LineBuffer>();
  private current: Phase | null = null;
  private readonly lastProgress = new Map<ProgressPhase, string>();
  private readonly infos = new Map<InfoKey, string | number>();
  private best: Diagnosis | null = null;
  private readonly ctx: DiagnoseContext = {};
  private out: LogEvent[] = [];

  constructor(opts: VllmLogParserOptions = {}) {
    const cap = Math.floor(opts.maxLineChars ?? MAX_LINE_CHARS);
    this.cap = Number.isFinite(cap) ? Math.max(256, cap) : MAX_LINE_CHARS;
  }

  /** The latest phase reached (phases only move forward). */
  get phase(): Phase | null {
    return this.current;
  }

  /** The most specific failure seen so far. */
  get diagnosis(): Diagnosis | null {
    return this.best;
  }

  /** Facts learned so far (version, servedUrl, maxModelLen, …). */
  get info(): ReadonlyMap<InfoKey, string | number> {
    return this.infos;
  }

  /** Characters held for incomplete lines, over all streams (bounded by about 3 × maxLineChars per stream). */
  get pendingChars(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.size;
    return n;
  }

  /** Feed output as it arrives. Chunks may split lines, ANSI sequences or "\r\n" anywhere. */
  push(chunk: string, stream?: StreamName): LogEvent[] {
    this.out = [];
    if (typeof chunk !== 'string' || chunk.length === 0) return this.out;
    const key = stream ?? '';
    let buf = this.buffers.get(key);
    if (!buf) this.buffers.set(key, (buf = new LineBuffer()));
    this.feed(buf, chunk, stream);
    return this.out;
  }

  /** The output ended (process exit): flush every incomplete line. */
  end(): LogEvent[] {
    this.out = [];
    for (const [key, buf] of this.buffers) {
      const stream = key === '' ? undefined : (key as StreamName);
      if (buf.pendingCR) {
        buf.pendingCR = false;
        this.endLine(buf, stream);
      } else if (buf.head !== null || buf.cur.length > 0) {
        this.endLine(buf, stream);
      }
    }
    this.buffers.clear();
    return this.out;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // line assembly

  private feed(buf: LineBuffer, s: string, stream: StreamName | undefined): void {
    let i = 0;
    if (buf.pendingCR) {
      buf.pendingCR = false;
      if (s.charCodeAt(0) === 10) {
        this.endLine(buf, stream);
        i = 1;
      } else {
        this.endSegment(buf);
      }
    }
    // Next "\r" and "\n" positions, searched again only once passed (a fresh search per line would make a big
    // chunk of many lines quadratic).
    let nextCR = s.indexOf('\r', i);
    let nextLF = s.indexOf('\n', i);
    while (i < s.length) {
      if (nextCR >= 0 && nextCR < i) nextCR = s.indexOf('\r', i);
      if (nextLF >= 0 && nextLF < i) nextLF = s.indexOf('\n', i);
      const j = nextCR < 0 ? nextLF : nextLF < 0 ? nextCR : Math.min(nextCR, nextLF);
      if (j < 0) {
        this.append(buf, s, i, s.length);
        return;
      }
      this.append(buf, s, i, j);
      if (j === nextLF) {
        this.endLine(buf, stream);
        i = j + 1;
      } else if (j + 1 >= s.length) {
        buf.pendingCR = true;
        return;
      } else if (s.charCodeAt(j + 1) === 10) {
        // "\r\n": vLLM's multi-line record join, or a CRLF line end.
        this.endLine(buf, stream);
        i = j + 2;
      } else {
        this.endSegment(buf);
        i = j + 1;
      }
    }
  }

  private append(buf: LineBuffer, s: string, from: number, to: number): void {
    if (to <= from || buf.curTruncated) {
      if (to > from) buf.curTruncated = true;
      return;
    }
    const room = this.cap - buf.cur.length;
    if (to - from <= room) {
      buf.cur += s.slice(from, to);
    } else {
      buf.cur += s.slice(from, from + room);
      buf.curTruncated = true;
    }
  }

  /** A "\r" inside a line: the segment so far is complete (a tqdm refresh). */
  private endSegment(buf: LineBuffer): void {
    const seg: Segment = { raw: buf.cur, truncated: buf.curTruncated };
    buf.cur = '';
    buf.curTruncated = false;
    if (buf.head === null) buf.head = seg;
    else if (seg.raw.length > 0) buf.last = seg;
    // Progress as it happens: a bar refreshed in place reports each state, not only the final one.
    const text = finish(seg);
    if (text.length > 0) this.classify(text, true);
  }

  private endLine(buf: LineBuffer, stream: StreamName | undefined): void {
    const final: Segment = { raw: buf.cur, truncated: buf.curTruncated };
    let text: string;
    if (buf.head === null) {
      text = finish(final);
    } else {
      // What a terminal shows: the prefix, then the last non-empty segment.
      const head = finish(buf.head);
      const isPrefix = /^\([\w.-]+ pid=\d+(?:, ip=[\w.:%-]+)?\) $/.test(head) || head.trim() === '';
      const last = final.raw.length > 0 ? final : buf.last;
      text = isPrefix ? head + (last ? finish(last) : '') : last ? finish(last) : head;
    }
    buf.head = null;
    buf.last = null;
    buf.cur = '';
    buf.curTruncated = false;
    this.out.push(stream === undefined ? { kind: 'line', text } : { kind: 'line', text, stream });
    this.classify(text, false);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // classification

  /** Derive events from one clean line (or, with `segmentOnly`, one \r segment: progress and phases only). */
  private classify(text: string, segmentOnly: boolean): void {
    let rest = text;
    let proc: string | undefined;
    const p = PREFIX.exec(rest);
    if (p) {
      proc = p[1];
      rest = rest.slice(p[0].length);
    }
    let msg = rest;
    let uvicorn = false;
    const h = LOG_HEADER.exec(rest);
    if (h) msg = rest.slice(h[0].length);
    else {
      const u = UVICORN.exec(rest);
      if (u) {
        msg = rest.slice(u[0].length);
        uvicorn = true;
      }
    }

    if (this.progress(msg)) return;
    if (segmentOnly) return;

    this.milestones(msg, uvicorn);
    this.stats(msg);
    this.failure(text, msg, proc);
  }

  private progress(msg: string): boolean {
    let m = SHARDS.exec(msg);
    let phase: ProgressPhase = 'loadingWeights';
    if (!m) {
      m = CUDA_GRAPHS.exec(msg);
      phase = 'cudaGraphs';
    }
    if (!m) return false;
    const done = Number(m[1]);
    const total = Number(m[2]);
    // Progress of a phase already left is dropped: read separately, stderr (tqdm) can lag stdout (the log).
    if (rank(this.current) > rank(phase)) return true;
    this.enter(phase);
    const key = `${done}/${total}`;
    if (this.lastProgress.get(phase) === key) return true; // tqdm prints the closing state twice
    this.lastProgress.set(phase, key);
    this.out.push({ kind: 'progress', phase, done, total });
    return true;
  }

  /** Phase markers and the facts they carry. */
  private milestones(msg: string, uvicorn: boolean): void {
    let m: RegExpExecArray | null;
    // resolving
    if ((m = /(?:^|\s)version v?(\d+\.\d+[\w.+-]*)\s*$/.exec(msg))) {
      this.enter('resolving');
      this.setInfo('version', m[1]);
    } else if (msg.startsWith('non-default args:')) {
      this.enter('resolving');
      this.readArgs(msg);
    } else if ((m = /^Resolved architecture: (\S+)/.exec(msg))) {
      this.enter('resolving');
      this.setInfo('architecture', m[1]);
    } else if ((m = /^Using max model len (\d+)/.exec(msg))) {
      this.enter('resolving');
      this.setInfo('maxModelLen', Number(m[1]));
    } else if ((m = /^Initializing an? (?:V1 )?LLM engine \(v([^)\s]+)\)/.exec(msg))) {
      this.enter('resolving');
      if (!this.infos.has('version')) this.setInfo('version', m[1]);
      const model = /with config: model='([^']*)'/.exec(msg);
      if (model && !this.infos.has('modelPath')) this.setInfo('modelPath', model[1]);
    }
    // loadingWeights
    else if ((m = /^Starting to load model (.+?)(?:\.\.\.)?$/.exec(msg))) {
      this.enter('loadingWeights', m[1]);
      this.setInfo('modelPath', m[1]);
    } else if (/^Loading weights took |^Model loading took /.test(msg)) {
      this.enter('loadingWeights');
    }
    // profiling: torch.compile runs inside vLLM's profile run, then the KV cache is sized
    else if (/^Dynamo bytecode transform time|^torch\.compile takes|^Compiling a graph for|^Memory profiling takes/.test(msg)) {
      this.enter('profiling', 'torch.compile');
    } else if (/^Available KV cache memory:/.test(msg)) {
      this.enter('profiling', 'KV cache');
    } else if ((m = /^GPU KV cache size: ([\d,]+) tokens/.exec(msg))) {
      this.enter('profiling', 'KV cache');
      this.setInfo('kvCacheTokens', Number(m[1].replace(/,/g, '')));
    } else if ((m = /^Maximum concurrency for [\d,]+ tokens per request: ([\d.]+)x/.exec(msg))) {
      this.enter('profiling', 'KV cache');
      this.setInfo('maxConcurrency', Number(m[1]));
    }
    // cudaGraphs
    else if (/^Graph capturing finished|^init engine \(profile, create kv cache, warmup model\) took/.test(msg)) {
      this.enter('cudaGraphs');
    }
    // startingApi: "Starting vLLM API server 0 on http://…" (≤0.16) / "Starting vLLM server on http://…" (newer)
    else if ((m = /^Starting vLLM (?:API )?server(?: \d+)? on (\S+)/.exec(msg))) {
      this.setInfo('servedUrl', m[1]);
      this.enter('startingApi', m[1]);
    } else if (/^Available routes are:|^Route: /.test(msg) || (uvicorn && /^Started server process|^Waiting for application startup\./.test(msg))) {
      this.enter('startingApi');
    }
    // ready: uvicorn's line, and only that one
    else if (msg === 'Application startup complete.') {
      const url = this.infos.get('servedUrl');
      this.enter('ready', typeof url === 'string' ? url : undefined);
    }
    // stopping
    else if (
      msg === 'Shutting down FastAPI HTTP server.' ||
      (uvicorn && (msg === 'Shutting down' || msg === 'Waiting for application shutdown.' || msg === 'Application shutdown complete.')) ||
      msg === 'Shutting down.'
    ) {
      this.enter('stopping');
    }
  }

  /** `Engine 000: Avg prompt throughput: 512.3 tokens/s, Avg generation throughput: 88.1 tokens/s, Running: 1 reqs,
   *  Waiting: 0 reqs, GPU KV cache usage: 0.4%, Prefix cache hit rate: 0.0%` (fields looked up one by one: releases
   *  add and drop some). */
  private stats(msg: string): void {
    const e = /^Engine (\d+): Avg prompt throughput: ([\d.]+) tokens\/s/.exec(msg);
    if (!e) return;
    const field = (re: RegExp): number | null => {
      const m = re.exec(msg);
      return m ? Number(m[1]) : null;
    };
    this.out.push({
      kind: 'stats',
      engine: Number(e[1]),
      promptTps: Number(e[2]),
      genTps: field(/Avg generation throughput: ([\d.]+)/) ?? 0,
      running: field(/Running: (\d+) reqs/) ?? 0,
      waiting: field(/Waiting: (\d+) reqs/) ?? 0,
      kvCachePct: field(/GPU KV cache usage: ([\d.]+)%/) ?? 0,
      prefixHitPct: field(/Prefix cache hit rate: ([\d.]+)%/),
    });
  }

  /** Context for diagnoses from `non-default args: {'port': 8001, 'gpu_memory_utilization': 0.95, …}`. */
  private readArgs(msg: string): void {
    const port = /'port': (\d{1,5})\b/.exec(msg);
    this.ctx.port = port ? Number(port[1]) : 8000; // vLLM's default, absent from the non-default args
    const util = /'gpu_memory_utilization': ([\d.]+)/.exec(msg);
    if (util) this.ctx.gpuMemoryUtilization = Number(util[1]);
  }

  private failure(text: string, msg: string, proc: string | undefined): void {
    const d = diagnose(text, { ...this.ctx, proc });
    if (d) {
      // Keep the most specific diagnosis: "Engine core initialization failed. See root cause above." comes after
      // the root cause and must not replace it; the same error repeated by other processes is reported once.
      if (this.best === null || specificity(d.code) > specificity(this.best.code)) {
        this.best = d;
        this.out.push({ kind: 'failure', diagnosis: d });
      }
    }
    if ((d === null || specificity(d.code) === 2) && EXCEPTION_LINE.test(msg)) {
      this.ctx.lastError = msg.length > 500 ? `${msg.slice(0, 500)}…` : msg;
    }
  }

  private enter(phase: Phase, detail?: string): void {
    if (rank(phase) <= rank(this.current)) return;
    this.current = phase;
    this.out.push(detail === undefined ? { kind: 'phase', phase } : { kind: 'phase', phase, detail });
  }

  private setInfo(key: 'version' | 'servedUrl' | 'architecture' | 'modelPath', value: string): void;
  private setInfo(key: 'maxModelLen' | 'kvCacheTokens' | 'maxConcurrency', value: number): void;
  private setInfo(key: InfoKey, value: string | number): void {
    if (typeof value === 'number' && !Number.isFinite(value)) return;
    if (this.infos.get(key) === value) return;
    this.infos.set(key, value);
    this.out.push({ kind: 'info', key, value } as LogEvent);
  }
}

/** Clean text of a segment; a cut segment loses a dangling half surrogate pair and gets a mark. */
function finish(seg: Segment): string {
  let raw = seg.raw;
  if (seg.truncated) {
    const last = raw.charCodeAt(raw.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) raw = raw.slice(0, -1);
  }
  const text = cleanText(raw);
  return seg.truncated ? text + TRUNCATED_MARK : text;
}
