// A deterministic stand-in for Kimi-K2.5's tokenizer (the real one is a 160K-vocabulary tiktoken BPE that nobody
// wants to ship in a test emulator). It drives three things: how output is cut into streamed pieces, the usage
// numbers, and the context-length check. The rule is simple enough for a test to reason about:
//
//  - a Kimi special marker (`<|im_end|>`, `<|tool_call_begin|>` …) or `<think>` / `</think>` is ONE token;
//  - a run of newlines is one token;
//  - CJK text: one token per 1–2 characters (Kimi's vocabulary holds most common two-character words);
//  - Latin / Greek / Cyrillic letters: up to 6 per token, a single leading space belongs to the word (BPE style);
//  - digits: groups of up to 3 (as tiktoken does);
//  - any other symbols: up to 3 per token, again with an optional leading space;
//  - a run of spaces before a word keeps its last space for the word, the rest is one token.
//
// English prose comes out at about 4 characters per token, Chinese at about 2, which is close enough to the real
// tokenizer for usage numbers and context checks to look plausible.

const CJK = '\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7af\\uf900-\\ufaff';
const WORD = 'A-Za-z\\u00c0-\\u024f\\u0370-\\u03ff\\u0400-\\u04ff';

const TOKEN_RE = new RegExp(
  [
    '<\\|[a-z_]+\\|>', // Kimi special markers
    '<\\/?think>',
    '\\n+',
    ` ?[${CJK}]{1,2}`,
    ` ?[${WORD}]{1,6}`,
    ' ?[0-9]{1,3}',
    ` ?[^\\s0-9${WORD}${CJK}]{1,3}`,
    '[ \\t]+(?=[ \\t])',
    '[\\s\\S]', // anything else, one code point at a time (the `u` flag keeps surrogate pairs whole)
  ].join('|'),
  'guy',
);

/** Cut text into token-sized pieces; joining them gives the text back exactly. */
export function splitTokens(text: string): string[] {
  const pieces: string[] = [];
  TOKEN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN_RE.lastIndex < text.length && (m = TOKEN_RE.exec(text)) !== null) pieces.push(m[0]);
  return pieces;
}

export function countTokens(text: string): number {
  return splitTokens(text).length;
}

/** What a vision encoder turns one image into. Fixed, so tests can predict it. */
export const IMAGE_TOKENS = 576;

// ----- the chat template, as far as token counting needs it -----

export interface TemplateMessage {
  role?: unknown;
  content?: unknown;
  name?: unknown;
  tool_calls?: unknown;
  tool_call_id?: unknown;
  reasoning?: unknown;
  reasoning_content?: unknown;
}

/** The text parts of an OpenAI message `content` (a string, or an array of parts), joined by newlines. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => {
      if (part && typeof part === 'object' && (part as { type?: unknown }).type === 'text') {
        const t = (part as { text?: unknown }).text;
        return typeof t === 'string' ? t : '';
      }
      return '';
    })
    .filter((t) => t !== '')
    .join('\n');
}

export function countImages(content: unknown): number {
  if (!Array.isArray(content)) return 0;
  return content.filter((p: unknown) => p && typeof p === 'object' && (p as { type?: unknown }).type === 'image_url')
    .length;
}

/** Render messages the way Kimi-K2.5's chat template does (close enough for counting): tool declarations in a
 *  `tool_declare` system turn, `<|im_user|>user<|im_middle|>…<|im_end|>` turns, earlier tool calls as raw markers,
 *  and the generation prompt ending with `<think>` (thinking) or `<think></think>` (instant). */
export function renderChatPrompt(messages: TemplateMessage[], tools: unknown[] | undefined, thinking: boolean): string {
  let out = '';
  if (tools && tools.length) out += `<|im_system|>tool_declare<|im_middle|>${JSON.stringify(tools)}<|im_end|>`;
  for (const m of messages) {
    const role = typeof m.role === 'string' ? m.role : 'user';
    const tag = role === 'assistant' ? 'im_assistant' : role === 'system' ? 'im_system' : 'im_user';
    const name = role === 'tool' ? 'tool' : role;
    let body = contentText(m.content);
    const reasoning = typeof m.reasoning === 'string' ? m.reasoning : typeof m.reasoning_content === 'string'
      ? m.reasoning_content : '';
    if (role === 'assistant' && reasoning) body = `<think>${reasoning}</think>${body}`;
    if (role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length) {
      body += '<|tool_calls_section_begin|>';
      for (const call of m.tool_calls as { id?: unknown; function?: { arguments?: unknown } }[]) {
        const args = typeof call?.function?.arguments === 'string' ? call.function.arguments : '';
        body += `<|tool_call_begin|>${String(call?.id ?? '')}<|tool_call_argument_begin|>${args}<|tool_call_end|>`;
      }
      body += '<|tool_calls_section_end|>';
    }
    if (role === 'tool' && typeof m.tool_call_id === 'string') body = `## Return of ${m.tool_call_id}\n${body}`;
    out += `<|${tag}|>${name}<|im_middle|>${body}<|im_end|>`;
  }
  out += `<|im_assistant|>assistant<|im_middle|>${thinking ? '<think>' : '<think></think>'}`;
  return out;
}

/** Prompt tokens of a chat request: the rendered template plus a fixed count per image. */
export function countChatPromptTokens(messages: TemplateMessage[], tools: unknown[] | undefined, thinking: boolean) {
  const images = messages.reduce((n, m) => n + countImages(m.content), 0);
  return countTokens(renderChatPrompt(messages, tools, thinking)) + images * IMAGE_TOKENS;
}
