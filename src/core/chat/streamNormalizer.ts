// The stream normaliser: every chunk shape vLLM (with or without its Kimi parsers) sends for a chat completion,
// turned into ONE ordered stream of events. Plain Node, no I/O: it takes raw chunk objects (or SSE data payloads)
// and returns events. Behaviour follows docs/vllm-kimi-protocol.md §2–§3.
//
// What it copes with:
//  - reasoning in `delta.reasoning` (vLLM ≥ 0.11.1), `delta.reasoning_content` (≤ 0.15.x) or both with the same text
//    (read as `reasoning ?? reasoning_content`: never doubled);
//  - no reasoning parser: reasoning inside `content`, starting mid-thought (no `<think>`, the prompt ended with it)
//    and closed by a literal ` </think> ` that may be split over deltas; a leading `<think>` is dropped; with no
//    `</think>` at all everything is reasoning, unless instant mode was asked for;
//  - reasoning, content and tool calls in the same chunk (processed in that order);
//  - tool calls streamed by the kimi_k2 parser (accumulated by `index`, explicit nulls ignored) and, without the
//    parser, raw `<|tool_calls_section_begin|>…<|tool_call_end|>` markers inside content (singular and plural
//    section spellings), which are parsed into the same tool-call events and never shown as answer text;
//  - `data: {"error": …}` events after the stream started (nested and flat bodies).
//
// Whitespace: the thinking text is trimmed at both ends and the answer at its start, so ` X </think> Y` (no parser)
// and reasoning ` X ` + content ` Y` (parser) give the same thinking "X" and answer "Y". Trailing whitespace of the
// thinking is held back until more thinking text arrives (it is dropped when the thinking ends).
//
// Chunk-boundary independence: the output depends only on the sequence of characters per channel (reasoning,
// content, tool-call arguments) and their relative order, never on how they were cut into chunks or SSE reads.
// Coalescing: adjacent events of the same kind produced by ONE push are merged (thinking/answer texts are joined,
// argument deltas of the same tool call are joined), so the number of events may differ between chunkings; the
// concatenated text per kind and the order of kinds do not.
import { appendStreamed } from './streamText';

export type ChatEvent =
  | { kind: 'thinking'; text: string }
  | { kind: 'answer'; text: string }
  | { kind: 'toolCall'; index: number; id?: string; name?: string; argumentsDelta: string }
  | { kind: 'toolCallsDone'; calls: CompletedToolCall[] }
  | { kind: 'usage'; prompt: number; completion: number; total: number }
  | { kind: 'error'; message: string; status?: number; type?: string }
  | { kind: 'done'; finishReason: string; stopReason?: number | string | null };

export interface CompletedToolCall {
  index: number;
  id: string;
  name: string;
  /** The arguments text exactly as streamed (normally JSON; parse it only once complete). */
  arguments: string;
}

export interface NormalizerOptions {
  /** The request asked for instant mode (`chat_template_kwargs: {thinking: false}`): content is answer unless it
   *  starts with `<think>`. */
  instant?: boolean;
  /** Does the server run a reasoning parser? true: content is always answer. false: reasoning is inside content.
   *  undefined (auto): a reasoning field in the stream means a parser; until one is seen, content is treated as
   *  reasoning up to `</think>` (the protocol sheet's fallback). A parser-equipped server whose model produced an
   *  empty thought in thinking mode is therefore reported as all-reasoning in auto mode — pass true when known. */
  reasoningParser?: boolean;
}

/** What the stream revealed about the server's configuration (for hints such as "started without a parser"). */
export interface StreamObservations {
  reasoningField: 'none' | 'reasoning' | 'reasoning_content' | 'both';
  /** `</think>` or `<think>` arrived inside content: the server has no reasoning parser. */
  thinkTagsInContent: boolean;
  /** Raw tool-call markers arrived inside content: the server has no tool-call parser. */
  rawToolMarkers: boolean;
}

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';
const SECTION_BEGIN = '<|tool_calls_section_begin|>';
const SECTION_BEGIN_1 = '<|tool_call_section_begin|>';
const SECTION_END = '<|tool_calls_section_end|>';
const SECTION_END_1 = '<|tool_call_section_end|>';
const CALL_BEGIN = '<|tool_call_begin|>';
const ARG_BEGIN = '<|tool_call_argument_begin|>';
const CALL_END = '<|tool_call_end|>';

/** Where the content scanner is. 'lead': nothing decided yet (a leading `<think>` may still come). */
type ContentState = 'lead' | 'think' | 'answer' | 'between' | 'header' | 'args';

// Tags watched in each state. Every tag starts with '<' and contains no other '<', which keeps the scan simple.
const TAGS: Record<Exclude<ContentState, 'lead'>, readonly string[]> = {
  think: [THINK_CLOSE, SECTION_BEGIN, SECTION_BEGIN_1, CALL_BEGIN],
  answer: [SECTION_BEGIN, SECTION_BEGIN_1, CALL_BEGIN],
  between: [CALL_BEGIN, SECTION_END, SECTION_END_1],
  header: [ARG_BEGIN, CALL_END, SECTION_END, SECTION_END_1],
  args: [CALL_END, SECTION_END, SECTION_END_1],
};
const MAX_TAG = Math.max(...Object.values(TAGS).flat().map((t) => t.length));
// Bounds on what is held back, so no input can make a buffer grow without limit (defined by position in the text,
// so the output still does not depend on chunk boundaries).
const MAX_HELD_WS = 4096;
const MAX_HEADER = 1024;
/** One SSE line, or one event's data lines together, longer than this is not something vLLM sends; the stream is
 *  abandoned. */
export const MAX_SSE_LINE = 32 * 1024 * 1024;

interface CallState {
  id: string;
  name: string;
  args: string;
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function isWs(code: number): boolean {
  // The same set String.prototype.trim removes, fast path for ASCII.
  if (code <= 32) return code === 32 || (code >= 9 && code <= 13);
  return code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
    code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff;
}

function trailingWsStart(s: string): number {
  let i = s.length;
  while (i > 0 && isWs(s.charCodeAt(i - 1))) i--;
  return i;
}

export class StreamNormalizer {
  private readonly instant: boolean;
  private readonly parserOption: boolean | undefined;
  private out: ChatEvent[] = [];
  private cs: ContentState = 'lead';
  private leadNext: 'think' | 'answer';
  /** Content not yet classified: a possible tag prefix, or the lead. */
  private pending = '';
  private header = '';
  private thinkStarted = false;
  private heldWs = '';
  private answerStarted = false;
  private readonly calls = new Map<number, CallState>();
  private rawCall = -1;
  private rawCallsSeen = false;
  private finishReason: string | undefined;
  private stopReason: number | string | null | undefined;
  private terminated = false;
  private sawReasoning = false;
  private sawReasoningContent = false;
  private thinkTags = false;

  constructor(opts: NormalizerOptions = {}) {
    this.instant = opts.instant === true;
    this.parserOption = opts.reasoningParser;
    this.leadNext = this.instant || opts.reasoningParser === true ? 'answer' : 'think';
  }

  get observations(): StreamObservations {
    const field = this.sawReasoning && this.sawReasoningContent ? 'both' : this.sawReasoning ? 'reasoning'
      : this.sawReasoningContent ? 'reasoning_content' : 'none';
    return { reasoningField: field, thinkTagsInContent: this.thinkTags, rawToolMarkers: this.rawCallsSeen };
  }

  /** True once `done` or `error` was emitted: later input is ignored. */
  get finished(): boolean {
    return this.terminated;
  }

  /** One SSE `data:` payload: a JSON chunk, or `[DONE]`. */
  pushData(data: string): ChatEvent[] {
    if (this.terminated) return [];
    if (data === '[DONE]') return this.end();
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return this.fail({ message: `The server sent an event that is not JSON: ${data.length > 120 ? `${data.slice(0, 117)}…` : data}` });
    }
    return this.push(chunk);
  }

  /** One parsed chunk object (`chat.completion.chunk`, a usage-only chunk, or an error event). */
  push(chunk: unknown): ChatEvent[] {
    if (this.terminated || !isObj(chunk)) return [];
    this.out = [];
    const err = errorOf(chunk);
    if (err) return this.fail(err);
    const choices = chunk.choices;
    if (Array.isArray(choices)) {
      for (const choice of choices) {
        if (!isObj(choice) || (choice.index !== undefined && choice.index !== 0)) continue;
        const delta = choice.delta;
        if (isObj(delta)) this.delta(delta);
        if (typeof choice.finish_reason === 'string') {
          this.finishReason = choice.finish_reason;
          const sr = choice.stop_reason;
          if (typeof sr === 'number' || typeof sr === 'string' || sr === null) this.stopReason = sr;
        }
      }
    }
    const usage = chunk.usage;
    if (isObj(usage)) {
      const prompt = num(usage.prompt_tokens);
      const completion = num(usage.completion_tokens);
      const total = typeof usage.total_tokens === 'number' ? usage.total_tokens : prompt + completion;
      this.out.push({ kind: 'usage', prompt, completion, total });
    }
    return this.take();
  }

  /** Emit what is held back (a possible tag prefix, an unfinished raw tool call's arguments). For a stream that
   *  ends without `[DONE]` (stopped, dropped): the partial text is kept. Idempotent. */
  flush(): ChatEvent[] {
    if (this.terminated) return [];
    this.out = [];
    this.flushPending();
    return this.take();
  }

  /** The stream is complete (`[DONE]`): flush, then `toolCallsDone` (when there were calls) and `done`. */
  end(): ChatEvent[] {
    if (this.terminated) return [];
    this.out = [];
    this.flushPending();
    if (this.calls.size) {
      const calls = [...this.calls.entries()].sort((a, b) => a[0] - b[0])
        .map(([index, c]) => ({ index, id: c.id, name: c.name, arguments: c.args }));
      this.out.push({ kind: 'toolCallsDone', calls });
    }
    let finishReason = this.finishReason ?? 'unknown';
    // Raw markers parsed here are tool calls the server's (absent) parser could not report.
    if (this.rawCallsSeen && finishReason === 'stop') finishReason = 'tool_calls';
    this.out.push({ kind: 'done', finishReason, ...(this.stopReason !== undefined ? { stopReason: this.stopReason } : {}) });
    this.terminated = true;
    return this.take();
  }

  // ----- internals -----

  private take(): ChatEvent[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  private fail(err: { message: string; status?: number; type?: string }): ChatEvent[] {
    this.out = [];
    this.flushPending();
    this.out.push({ kind: 'error', ...err });
    this.terminated = true;
    return this.take();
  }

  private delta(delta: Json) {
    const r = delta.reasoning;
    const rc = delta.reasoning_content;
    const hasR = typeof r === 'string' && r !== '';
    const hasRc = typeof rc === 'string' && rc !== '';
    if (hasR) this.sawReasoning = true;
    if (hasRc) this.sawReasoningContent = true;
    if (hasR || hasRc) {
      if (this.parserOption === undefined && this.cs === 'lead') this.leadNext = 'answer';
      this.thinking((hasR ? r : rc) as string);
    }
    const content = delta.content;
    if (typeof content === 'string' && content !== '') this.content(content);
    const calls = delta.tool_calls;
    if (Array.isArray(calls)) for (const c of calls) if (isObj(c)) this.parsedToolCall(c);
  }

  private parsedToolCall(tc: Json) {
    const index = typeof tc.index === 'number' ? tc.index : 0;
    const fn = isObj(tc.function) ? tc.function : {};
    const id = typeof tc.id === 'string' && tc.id !== '' ? tc.id : undefined;
    const name = typeof fn.name === 'string' && fn.name !== '' ? fn.name : undefined;
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    let call = this.calls.get(index);
    if (!call) this.calls.set(index, (call = { id: '', name: '', args: '' }));
    if (id) call.id = id;
    if (name) call.name = name;
    call.args = appendStreamed(call.args, args);
    if (id || name || args) this.emitToolCall(index, id, name, args);
  }

  private content(text: string) {
    let s = this.pending === '' ? text : this.pending + text;
    this.pending = '';
    while (s.length) {
      if (this.cs === 'lead') {
        let i = 0;
        while (i < s.length && isWs(s.charCodeAt(i))) i++;
        const t = i ? s.slice(i) : s;
        // Whitespace before the first content is never shown (both kinds trim their start), so it is not kept.
        if (t === '' || (t.length < THINK_OPEN.length && THINK_OPEN.startsWith(t))) {
          this.pending = t;
          return;
        }
        if (t.startsWith(THINK_OPEN)) {
          this.thinkTags = true;
          this.cs = 'think';
          s = t.slice(THINK_OPEN.length);
          continue;
        }
        this.cs = this.leadNext;
        s = t;
        continue;
      }
      const state = this.cs;
      const lt = s.indexOf('<');
      if (lt < 0) {
        this.text(state, s);
        return;
      }
      // The earliest complete tag.
      let at = -1;
      let tag = '';
      for (const t of TAGS[state]) {
        const k = s.indexOf(t, lt);
        if (k >= 0 && (at < 0 || k < at)) {
          at = k;
          tag = t;
        }
      }
      if (at >= 0) {
        if (at > 0) this.text(state, s.slice(0, at));
        this.tag(tag);
        s = s.slice(at + tag.length);
        continue;
      }
      // No complete tag: hold back a suffix that could still become one (it starts at the last '<').
      const last = s.lastIndexOf('<');
      if (s.length - last < MAX_TAG) {
        const tail = s.slice(last);
        if (TAGS[state].some((t) => t.startsWith(tail))) {
          if (last > 0) this.text(state, s.slice(0, last));
          this.pending = tail;
          return;
        }
      }
      this.text(state, s);
      return;
    }
  }

  private text(state: ContentState, s: string) {
    switch (state) {
      case 'think':
        this.thinking(s);
        return;
      case 'answer':
        this.answer(s);
        return;
      case 'header':
        if (this.header.length < MAX_HEADER) this.header = (this.header + s).slice(0, MAX_HEADER);
        return;
      case 'args': {
        const call = this.calls.get(this.rawCall);
        if (call) {
          call.args = appendStreamed(call.args, s);
          this.emitToolCall(this.rawCall, undefined, undefined, s);
        }
        return;
      }
      default:
        return; // between calls: whitespace, never shown
    }
  }

  private tag(tag: string) {
    switch (tag) {
      case THINK_CLOSE:
        this.thinkTags = true;
        this.endThinking();
        this.cs = 'answer';
        return;
      case SECTION_BEGIN:
      case SECTION_BEGIN_1:
        this.rawCallsSeen = true;
        this.endThinking();
        this.cs = 'between';
        return;
      case CALL_BEGIN:
        this.rawCallsSeen = true;
        this.endThinking();
        this.header = '';
        this.cs = 'header';
        return;
      case ARG_BEGIN:
        this.startRawCall();
        this.cs = 'args';
        return;
      case CALL_END:
        if (this.cs === 'header') this.startRawCall();
        this.cs = 'between';
        return;
      default: // section end
        if (this.cs === 'header') this.startRawCall();
        this.cs = 'answer';
    }
  }

  /** `functions.read_file:0 ` → id `functions.read_file:0`, name `read_file`. */
  private startRawCall() {
    const h = this.header.trim();
    this.header = '';
    const m = /^(?:functions\.)?(.+?)(?::\d+)?$/s.exec(h);
    const name = m?.[1] ?? h;
    let index = 0;
    for (const k of this.calls.keys()) index = Math.max(index, k + 1);
    const id = h || `functions.${name}:${index}`;
    this.calls.set(index, { id, name, args: '' });
    this.rawCall = index;
    this.emitToolCall(index, id, name, '');
  }

  private flushPending() {
    const s = this.pending;
    this.pending = '';
    if (this.cs === 'lead') this.cs = this.leadNext;
    if (s) this.text(this.cs, s);
    this.heldWs = '';
  }

  private thinking(text: string) {
    if (!this.thinkStarted) {
      let i = 0;
      while (i < text.length && isWs(text.charCodeAt(i))) i++;
      if (i === text.length) return;
      if (i) text = text.slice(i);
      this.thinkStarted = true;
    }
    const t = this.heldWs === '' ? text : this.heldWs + text;
    let end = trailingWsStart(t);
    // Bounded: of a trailing whitespace run only the last MAX_HELD_WS characters are held, the rest goes out now
    // (so the emitted text is the same however the run was cut).
    if (t.length - end > MAX_HELD_WS) end = t.length - MAX_HELD_WS;
    this.heldWs = end === t.length ? '' : t.slice(end);
    if (end > 0) this.emitText('thinking', end === t.length ? t : t.slice(0, end));
  }

  private endThinking() {
    this.heldWs = '';
  }

  private answer(text: string) {
    this.endThinking();
    if (!this.answerStarted) {
      let i = 0;
      while (i < text.length && isWs(text.charCodeAt(i))) i++;
      if (i === text.length) return;
      if (i) text = text.slice(i);
      this.answerStarted = true;
    }
    this.emitText('answer', text);
  }

  private emitText(kind: 'thinking' | 'answer', text: string) {
    const last = this.out[this.out.length - 1];
    if (last && last.kind === kind) last.text += text;
    else this.out.push({ kind, text });
  }

  private emitToolCall(index: number, id: string | undefined, name: string | undefined, args: string) {
    this.endThinking();
    const last = this.out[this.out.length - 1];
    if (last && last.kind === 'toolCall' && last.index === index && !id && !name) {
      last.argumentsDelta += args;
      return;
    }
    this.out.push({ kind: 'toolCall', index, ...(id ? { id } : {}), ...(name ? { name } : {}), argumentsDelta: args });
  }
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** A mid-stream error event: `{"error": {...}}` (nested), `{"object":"error", ...}` (flat, before 0.10.1) or
 *  `{"error": "text"}`. */
function errorOf(chunk: Json): { message: string; status?: number; type?: string } | undefined {
  let e: Json | undefined;
  if (isObj(chunk.error)) e = chunk.error;
  else if (typeof chunk.error === 'string') return { message: chunk.error };
  else if (chunk.object === 'error') e = chunk;
  if (!e) return undefined;
  const message = typeof e.message === 'string' && e.message ? e.message : JSON.stringify(e);
  const status = typeof e.code === 'number' ? e.code : typeof e.code === 'string' && /^\d+$/.test(e.code) ? Number(e.code) : undefined;
  const type = typeof e.type === 'string' ? e.type : undefined;
  return { message, ...(status !== undefined ? { status } : {}), ...(type ? { type } : {}) };
}

// ----- SSE -----

export class SseLineTooLongError extends Error {
  constructor(what: 'an event line' | 'an event' = 'an event line') {
    super(`the server sent ${what} longer than ${MAX_SSE_LINE / 1024 / 1024} MiB`);
    this.name = 'SseLineTooLongError';
  }
}

/** Splits a `text/event-stream` body into event data payloads. Accepts bytes cut anywhere (inside a UTF-8
 *  sequence, inside `data:`, between `\r` and `\n`); handles `\n`, `\r\n` and `\r` line ends, multi-line data,
 *  comments and other fields. An event is dispatched at its blank line; an unterminated last event is dropped (as
 *  the SSE spec says), which is what a connection cut mid-event must do. */
export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private buf = '';
  private data: string[] = [];
  /** Characters in `data` (an event's lines so far): bounded like a line, so data lines without the blank line that
   *  ends an event cannot pile up for the rest of the stream. */
  private dataChars = 0;
  private lastWasCr = false;

  push(chunk: Uint8Array | string): string[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (text === '') return [];
    if (this.lastWasCr) {
      this.lastWasCr = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    if (text.indexOf('\r') >= 0) {
      this.lastWasCr = text.charCodeAt(text.length - 1) === 13;
      text = text.replace(/\r\n?/g, '\n');
    }
    if (text.indexOf('\n') < 0) {
      // No line ends here: only append (searching the whole buffer again on every read would make a long line cost
      // the square of its length).
      this.buf += text;
      this.checkLine();
      return [];
    }
    const buf = this.buf === '' ? text : this.buf + text;
    const events: string[] = [];
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf('\n', pos);
      if (nl < 0) break;
      if (nl === pos) {
        if (this.data.length) {
          events.push(this.data.length === 1 ? this.data[0]! : this.data.join('\n'));
          this.data = [];
          this.dataChars = 0;
        }
      } else if (buf.startsWith('data:', pos)) {
        const start = buf.charCodeAt(pos + 5) === 32 ? pos + 6 : pos + 5;
        this.dataChars += nl - start + 1;
        if (this.dataChars > MAX_SSE_LINE) {
          this.data = [];
          this.dataChars = 0;
          this.buf = '';
          throw new SseLineTooLongError('an event');
        }
        this.data.push(buf.slice(start, nl));
      }
      // other fields (event:, id:, retry:) and comments (':') carry nothing we use
      pos = nl + 1;
    }
    this.buf = pos === 0 ? buf : buf.slice(pos);
    this.checkLine();
    return events;
  }

  private checkLine(): void {
    if (this.buf.length > MAX_SSE_LINE) {
      this.buf = '';
      throw new SseLineTooLongError();
    }
  }

  /** The body ended. Returns nothing: a last event without its blank line is incomplete. */
  end(): string[] {
    this.decoder.decode();
    this.buf = '';
    this.data = [];
    this.dataChars = 0;
    return [];
  }
}

/** Convenience: normalise a whole recorded SSE body (bytes or text) in one go. */
export function normalizeSseBody(body: Uint8Array | string, opts: NormalizerOptions = {}): ChatEvent[] {
  const sse = new SseDecoder();
  const n = new StreamNormalizer(opts);
  const out: ChatEvent[] = [];
  for (const d of sse.push(body)) out.push(...n.pushData(d));
  if (!n.finished) out.push(...n.flush());
  return out;
}
