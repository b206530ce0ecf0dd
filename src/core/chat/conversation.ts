// The conversation model (what the panel shows and the history store persists) and how it becomes the `messages`
// of the next request: attachments rendered with path and line numbers, images as data-URL parts, reasoning replayed
// the way vLLM 0.16+ expects. Also the pre-send checks: image size/type and the context-length estimate.
import { randomUUID } from 'node:crypto';
import type { ChatTurnResult } from './chatClient';
import { ChatError, type ChatErrorInit } from './errors';
import type { ChatMode, ContentPart, RequestMessage, RequestToolCall, ToolDefinition, Usage } from './types';

export interface TextAttachment {
  kind: 'file' | 'selection';
  /** Workspace-relative (or absolute) path, shown to the model. */
  path: string;
  text: string;
  /** 1-based first line of `text` in the file. Default 1. */
  startLine?: number;
  /** 1-based last line. Default: startLine + number of lines − 1. */
  endLine?: number;
  /** Fence language (VS Code languageId); default from the extension. */
  language?: string;
}

export type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';

export interface ImageAttachment {
  name?: string;
  mimeType: ImageMimeType;
  /** `data:<mime>;base64,…` — sent as is in an `image_url` part. */
  dataUrl: string;
  /** Decoded size in bytes. */
  bytes: number;
  width?: number;
  height?: number;
}

export interface UserTurn {
  role: 'user';
  id: string;
  createdAt: number;
  text: string;
  attachments?: TextAttachment[];
  images?: ImageAttachment[];
}

export interface ToolCallRecord {
  id: string;
  name: string;
  /** Arguments text as the model produced it. */
  arguments: string;
  /** The tool's output once executed (by the tool-calling loop). Calls without a result are not replayed. */
  result?: string;
  isError?: boolean;
  /** How the call ended, as its card shows it (the tool loop's final status); absent in older conversations. */
  status?: 'done' | 'error' | 'rejected' | 'cancelled' | 'skipped';
  /** How long it ran (approval wait excluded), in ms. */
  durationMs?: number;
}

export interface AssistantTurn {
  role: 'assistant';
  id: string;
  createdAt: number;
  mode: ChatMode;
  model?: string;
  thinking: string;
  answer: string;
  toolCalls: ToolCallRecord[];
  usage?: Usage;
  ttftMs?: number;
  tokensPerSecond?: number;
  thinkingMs?: number;
  durationMs?: number;
  finishReason?: string;
  /** The user pressed Stop: the text is partial. */
  stopped?: boolean;
  /** The turn failed; the text so far is kept. */
  error?: ChatErrorInit;
}

export type Turn = UserTurn | AssistantTurn;

export interface Conversation {
  version: 1;
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  turns: Turn[];
  /** Optional system prompt sent first. */
  systemPrompt?: string;
}

// ----- building the model -----

export function newConversation(opts: { id?: string; title?: string; now?: number; systemPrompt?: string } = {}): Conversation {
  const now = opts.now ?? Date.now();
  return {
    version: 1,
    id: opts.id ?? randomUUID(),
    title: opts.title ?? 'New chat',
    createdAt: now,
    updatedAt: now,
    turns: [],
    ...(opts.systemPrompt ? { systemPrompt: opts.systemPrompt } : {}),
  };
}

/** A title from the first line of the first message (at most 60 characters). */
export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  if (!line) return 'New chat';
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

export function addUserTurn(conv: Conversation, msg: { text: string; attachments?: TextAttachment[]; images?: ImageAttachment[] }, now = Date.now()): UserTurn {
  const turn: UserTurn = {
    role: 'user',
    id: randomUUID(),
    createdAt: now,
    text: msg.text,
    ...(msg.attachments?.length ? { attachments: msg.attachments } : {}),
    ...(msg.images?.length ? { images: msg.images } : {}),
  };
  if (!conv.turns.some((t) => t.role === 'user') && conv.title === 'New chat') conv.title = titleFrom(msg.text);
  conv.turns.push(turn);
  conv.updatedAt = now;
  return turn;
}

/** The assistant turn to store for a finished (or stopped, or failed) streamChat call. */
export function assistantTurnFromResult(result: ChatTurnResult, meta: { mode: ChatMode; model?: string; now?: number }): AssistantTurn {
  return {
    role: 'assistant',
    id: randomUUID(),
    createdAt: meta.now ?? Date.now(),
    mode: meta.mode,
    ...(meta.model ? { model: meta.model } : {}),
    thinking: result.thinking,
    answer: result.answer,
    toolCalls: result.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
    ...(result.usage ? { usage: result.usage } : {}),
    ...(result.ttftMs !== undefined ? { ttftMs: Math.round(result.ttftMs) } : {}),
    ...(result.tokensPerSecond !== undefined ? { tokensPerSecond: Math.round(result.tokensPerSecond * 10) / 10 } : {}),
    ...(result.thinkingMs !== undefined ? { thinkingMs: Math.round(result.thinkingMs) } : {}),
    durationMs: Math.round(result.durationMs),
    ...(result.finishReason ? { finishReason: result.finishReason } : {}),
    ...(result.stopped ? { stopped: true } : {}),
    ...(result.error ? { error: result.error.toJSON() } : {}),
  };
}

// ----- rendering for the request -----

const EXT_LANG: Record<string, string> = {
  ts: 'typescript', tsx: 'tsx', js: 'javascript', jsx: 'jsx', mjs: 'javascript', cjs: 'javascript', py: 'python',
  rs: 'rust', go: 'go', java: 'java', kt: 'kotlin', c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', hpp: 'cpp', cs: 'csharp',
  rb: 'ruby', php: 'php', sh: 'bash', bash: 'bash', zsh: 'bash', json: 'json', yaml: 'yaml', yml: 'yaml', toml: 'toml',
  md: 'markdown', html: 'html', css: 'css', scss: 'scss', sql: 'sql', swift: 'swift', lua: 'lua', r: 'r',
};

function fenceFor(text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(Math.max(3, longest + 1));
}

/** One attachment as markdown: a header naming the path and the line range, then the text in a fence. */
export function renderAttachment(a: TextAttachment): string {
  const lines = a.text === '' ? 1 : a.text.split('\n').length - (a.text.endsWith('\n') ? 1 : 0);
  const start = a.startLine ?? 1;
  const end = a.endLine ?? start + Math.max(lines, 1) - 1;
  const range = start === end ? `line ${start}` : `lines ${start}-${end}`;
  const what = a.kind === 'selection' ? 'Selection from' : 'File';
  const ext = /\.([A-Za-z0-9]+)$/.exec(a.path)?.[1]?.toLowerCase();
  const lang = a.language ?? (ext ? EXT_LANG[ext] ?? ext : '');
  const fence = fenceFor(a.text);
  const body = a.text.endsWith('\n') ? a.text : `${a.text}\n`;
  return `${what} \`${a.path}\` (${range}):\n${fence}${lang}\n${body}${fence}`;
}

/** The text of a user turn as sent: attachments first (context), then the message. */
export function renderUserText(turn: Pick<UserTurn, 'text' | 'attachments'>): string {
  const parts = (turn.attachments ?? []).map(renderAttachment);
  if (turn.text) parts.push(turn.text);
  return parts.join('\n\n');
}

function versionAtLeast(version: string, min: [number, number, number]): boolean {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim());
  if (!m) return true;
  const v = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i];
  return true;
}

export interface ToRequestOptions {
  /** The server's vLLM version when known. ≥ 0.16 (or unknown): replayed reasoning goes in `reasoning` only;
   *  older: in both `reasoning` and `reasoning_content`. */
  vllmVersion?: string;
}

/** The `messages` of the next request. Rules:
 *  - user turns: attachments + text; with images, content parts `[text, image_url…]`;
 *  - assistant turns: the answer (a stopped turn's partial answer included); turns that failed with no text are
 *    skipped; executed tool calls become `tool_calls` + one `tool` message per result, and ONLY such turns carry
 *    their reasoning (`reasoning`, what vLLM ≥ 0.16 reads — Kimi replays reasoning for multi-turn tool calling);
 *    plain answers are sent without reasoning. Calls that were never executed (no result) are not replayed. */
export function toRequestMessages(conv: Pick<Conversation, 'turns' | 'systemPrompt'>, opts: ToRequestOptions = {}): RequestMessage[] {
  const legacy = opts.vllmVersion !== undefined && !versionAtLeast(opts.vllmVersion, [0, 16, 0]);
  const out: RequestMessage[] = [];
  if (conv.systemPrompt) out.push({ role: 'system', content: conv.systemPrompt });
  for (const t of conv.turns) {
    if (t.role === 'user') {
      const text = renderUserText(t);
      if (t.images?.length) {
        const parts: ContentPart[] = [];
        if (text) parts.push({ type: 'text', text });
        for (const img of t.images) parts.push({ type: 'image_url', image_url: { url: img.dataUrl } });
        out.push({ role: 'user', content: parts });
      } else {
        out.push({ role: 'user', content: text });
      }
      continue;
    }
    const executed = t.toolCalls.filter((c) => c.result !== undefined);
    if (!executed.length) {
      if (t.answer === '') continue; // nothing the model said that it should see again
      out.push({ role: 'assistant', content: t.answer });
      continue;
    }
    const toolCalls: RequestToolCall[] = executed.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
    out.push({
      role: 'assistant',
      content: t.answer,
      tool_calls: toolCalls,
      ...(t.thinking ? { reasoning: t.thinking, ...(legacy ? { reasoning_content: t.thinking } : {}) } : {}),
    });
    for (const c of executed) out.push({ role: 'tool', tool_call_id: c.id, content: c.result ?? '' });
  }
  return out;
}

// ----- the context pre-check -----

/** Characters per token assumed by the estimate. Kimi's tokenizer averages ~4 characters per token on English
 *  prose and ~1.5–2 on CJK; 3 errs on the side of more tokens for code and mixed text. */
export const CHARS_PER_TOKEN = 3;
/** Chat-template tokens per message (`<|im_user|>user<|im_middle|>…<|im_end|>` and similar). */
export const MESSAGE_OVERHEAD_TOKENS = 8;
/** An image whose size cannot be read. */
export const UNKNOWN_IMAGE_TOKENS = 1500;
/** Default room kept for the answer. */
export const DEFAULT_RESERVE_OUTPUT_TOKENS = 256;

/** Tokens one image costs, approximately: Kimi-K2.5's vision encoder uses 14-pixel patches merged 2×2, i.e. one
 *  token per 28×28 pixels, and downsizes large images (capped here at 4,096 tokens). */
export function imageTokens(width: number | undefined, height: number | undefined): number {
  if (!width || !height) return UNKNOWN_IMAGE_TOKENS;
  return Math.min(4096, Math.ceil(width / 28) * Math.ceil(height / 28)) + 4;
}

// CJK ideographs, kana and hangul: about one token per 1–2 characters in Kimi's vocabulary, counted as one each.
const CJK_RE = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]/g;

function textTokens(s: string): number {
  const cjk = s.match(CJK_RE)?.length ?? 0;
  return cjk + Math.ceil((s.length - cjk) / CHARS_PER_TOKEN);
}

/** A documented, conservative estimate of a request's prompt tokens: ⌈characters / 3⌉ (CJK characters count one
 *  token each) for every text (content,
 *  replayed reasoning, tool-call names/arguments/ids, tool results), 8 tokens per message, images by size, the
 *  tool declarations as JSON, and 8 tokens of generation prompt. */
export function estimateTokens(messages: RequestMessage[], tools?: ToolDefinition[]): number {
  let n = 8;
  if (tools?.length) n += textTokens(JSON.stringify(tools)) + MESSAGE_OVERHEAD_TOKENS;
  for (const m of messages) {
    n += MESSAGE_OVERHEAD_TOKENS;
    if (typeof m.content === 'string') {
      n += textTokens(m.content);
    } else {
      for (const p of m.content) {
        if (p.type === 'text') n += textTokens(p.text);
        else n += imageTokens(...imageSizeFromDataUrl(p.image_url.url));
      }
    }
    if (m.role === 'assistant') {
      if (m.reasoning) n += textTokens(m.reasoning) + 2;
      for (const c of m.tool_calls ?? []) n += textTokens(c.id) + textTokens(c.function.name) + textTokens(c.function.arguments) + 4;
    }
    if (m.role === 'tool') n += textTokens(m.tool_call_id) + 4;
  }
  return n;
}

export interface ContextCheck {
  estimate: number;
  maxModelLen: number;
  reserve: number;
}

/** Refuses (throws ChatError `contextPrecheck`, not retryable) a request that cannot fit max_model_len. */
export function checkContextFits(messages: RequestMessage[], opts: { maxModelLen: number; tools?: ToolDefinition[]; reserveOutputTokens?: number }): ContextCheck {
  const estimate = estimateTokens(messages, opts.tools);
  const reserve = Math.min(opts.reserveOutputTokens ?? DEFAULT_RESERVE_OUTPUT_TOKENS, Math.floor(opts.maxModelLen / 4));
  if (estimate + reserve > opts.maxModelLen) {
    const fmt = (x: number) => x.toLocaleString('en-US');
    throw new ChatError({
      kind: 'contextPrecheck',
      retryable: false,
      action: 'newChat',
      message: `This message was not sent: the conversation needs about ${fmt(estimate)} tokens (estimated at ~${CHARS_PER_TOKEN} ` +
        `characters per token), plus ${fmt(reserve)} for the answer, but the server's context is ${fmt(opts.maxModelLen)} tokens ` +
        '(max_model_len). Shorten the message, remove attachments, or start a new chat.',
    });
  }
  return { estimate, maxModelLen: opts.maxModelLen, reserve };
}

// ----- images -----

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
export const ALLOWED_IMAGE_TYPES: readonly ImageMimeType[] = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

function invalid(message: string): ChatError {
  return new ChatError({ kind: 'invalidInput', retryable: false, message });
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The real type from the first bytes, whatever the name or the declared type say. */
export function sniffImageType(head: Uint8Array): ImageMimeType | undefined {
  const b = head;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'image/gif';
  if (b.length >= 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP') return 'image/webp';
  return undefined;
}

/** Width and height from the image header (PNG, GIF, WebP, JPEG); undefined when unreadable. */
export function imageSize(b: Uint8Array): [number | undefined, number | undefined] {
  const type = sniffImageType(b);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    if (type === 'image/png' && b.length >= 24) return [dv.getUint32(16), dv.getUint32(20)];
    if (type === 'image/gif' && b.length >= 10) return [dv.getUint16(6, true), dv.getUint16(8, true)];
    if (type === 'image/webp' && b.length >= 30) {
      const chunk = String.fromCharCode(...b.subarray(12, 16));
      if (chunk === 'VP8X') return [1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16)), 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16))];
      if (chunk === 'VP8L') {
        const bits = dv.getUint32(21, true);
        return [1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)];
      }
      if (chunk === 'VP8 ') return [dv.getUint16(26, true) & 0x3fff, dv.getUint16(28, true) & 0x3fff];
    }
    if (type === 'image/jpeg') {
      let i = 2;
      while (i + 9 < b.length) {
        if (b[i] !== 0xff) return [undefined, undefined];
        const marker = b[i + 1]!;
        if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0xff) {
          i += marker === 0xff ? 1 : 2;
          continue;
        }
        const len = dv.getUint16(i + 2);
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          return [dv.getUint16(i + 7), dv.getUint16(i + 5)];
        }
        i += 2 + len;
      }
    }
  } catch {
    /* truncated header */
  }
  return [undefined, undefined];
}

const DATA_URL_RE = /^data:([^;,]*)((?:;[^;,]*)*),/;

/** The decoded head (up to `maxBytes`) of a base64 data URL, without decoding the whole image. */
function dataUrlHead(dataUrl: string, comma: number, maxBytes: number): Uint8Array {
  const chars = Math.ceil(maxBytes / 3) * 4;
  return Buffer.from(dataUrl.slice(comma + 1, comma + 1 + chars), 'base64');
}

function base64Bytes(dataUrl: string, comma: number): number {
  let len = dataUrl.length - comma - 1;
  let pad = 0;
  if (dataUrl.endsWith('==')) pad = 2;
  else if (dataUrl.endsWith('=')) pad = 1;
  len = Math.floor((len * 3) / 4) - pad;
  return Math.max(0, len);
}

function imageSizeFromDataUrl(url: string): [number | undefined, number | undefined] {
  const m = DATA_URL_RE.exec(url);
  if (!m || !/;base64$/i.test(m[2] ?? '')) return [undefined, undefined];
  return imageSize(dataUrlHead(url, m[0].length - 1, 64 * 1024));
}

export interface ImageOptions {
  name?: string;
  /** Default MAX_IMAGE_BYTES (10 MB). */
  maxBytes?: number;
}

function describe(name: string | undefined): string {
  return name ? `"${name}"` : 'The image';
}

function checkType(declared: string, sniffed: ImageMimeType | undefined, name: string | undefined): ImageMimeType {
  if (!sniffed) {
    const what = declared === 'image/svg+xml' ? 'an SVG' : declared ? `of type ${declared}` : 'not a recognised image';
    throw invalid(`${describe(name)} cannot be sent: it is ${what}. Kimi accepts PNG, JPEG, WebP and GIF images.`);
  }
  return sniffed;
}

function checkSize(bytes: number, maxBytes: number, name: string | undefined) {
  if (bytes > maxBytes) {
    throw invalid(`${describe(name)} is ${mb(bytes)}; the limit is ${mb(maxBytes)} per image. Resize or compress it and try again.`);
  }
  if (bytes === 0) throw invalid(`${describe(name)} is empty.`);
}

/** Validates a pasted/dropped image given as a data URL (size, type by content) → an attachment. Throws a
 *  ChatError `invalidInput` with a message for the user. */
export function imageFromDataUrl(dataUrl: string, opts: ImageOptions = {}): ImageAttachment {
  const m = DATA_URL_RE.exec(dataUrl);
  if (!m || !/;base64$/i.test(m[2] ?? '')) throw invalid(`${describe(opts.name)} cannot be sent: not a base64 data URL.`);
  const declared = (m[1] ?? '').toLowerCase();
  const comma = m[0].length - 1;
  const maxBytes = opts.maxBytes ?? MAX_IMAGE_BYTES;
  const bytes = base64Bytes(dataUrl, comma);
  const head = dataUrlHead(dataUrl, comma, 64 * 1024);
  const mimeType = checkType(declared, sniffImageType(head), opts.name);
  checkSize(bytes, maxBytes, opts.name);
  const [width, height] = imageSize(head);
  const url = declared === mimeType ? dataUrl : `data:${mimeType};base64,${dataUrl.slice(comma + 1)}`;
  return { ...(opts.name ? { name: opts.name } : {}), mimeType, dataUrl: url, bytes, ...(width ? { width } : {}), ...(height ? { height } : {}) };
}

/** The same from raw bytes (a dropped file). `declaredType` only improves the error message. */
export function imageFromBytes(bytes: Uint8Array, opts: ImageOptions & { declaredType?: string } = {}): ImageAttachment {
  const maxBytes = opts.maxBytes ?? MAX_IMAGE_BYTES;
  const mimeType = checkType(opts.declaredType ?? '', sniffImageType(bytes.subarray(0, 16)), opts.name);
  checkSize(bytes.length, maxBytes, opts.name);
  const [width, height] = imageSize(bytes.subarray(0, 64 * 1024));
  const dataUrl = `data:${mimeType};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
  return { ...(opts.name ? { name: opts.name } : {}), mimeType, dataUrl, bytes: bytes.length, ...(width ? { width } : {}), ...(height ? { height } : {}) };
}
