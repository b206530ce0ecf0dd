// One segment of markdown → a sanitised DocumentFragment: marked (GFM) → HTML string → DOMPurify allow-list →
// code blocks wrapped with their action buttons (built with DOM calls, never from model HTML).
import { Marked, type Links, type Tokens } from 'marked';
import { highlightCode } from './highlight';
import { fenceLang } from './segmenter';
import { sanitize } from './sanitize';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** While rendering the open tail, a code block is highlighted only once its fence is closed (and then memoised). */
let tailMode = false;
const tailHighlights = new Map<string, string>();

function closedFence(raw: string): boolean {
  const m = /^ {0,3}(`{3,}|~{3,})/.exec(raw);
  if (!m) return true; // an indented code block: complete as far as it goes
  const fence = m[1] as string;
  const lines = raw.replace(/\n+$/, '').split('\n');
  if (lines.length < 2) return false;
  const last = (lines[lines.length - 1] as string).trim();
  return last.length >= fence.length && [...last].every((ch) => ch === fence[0]);
}

function codeHtml(token: Tokens.Code): string {
  const lang = fenceLang(token.lang ?? '');
  const text = token.text;
  let body: string | undefined;
  if (lang) {
    if (!tailMode) {
      body = highlightCode(text, lang);
    } else if (closedFence(token.raw)) {
      const key = `${lang}\u0000${text}`;
      body = tailHighlights.get(key);
      if (body === undefined) {
        body = highlightCode(text, lang);
        if (body !== undefined) tailHighlights.set(key, body);
      }
    }
  }
  const cls = lang ? `hljs language-${lang}` : 'hljs';
  return `<pre><code class="${cls}">${body ?? escapeHtml(text)}</code></pre>\n`;
}

/**
 * Raw HTML in model output is shown as source text, except a few formatting tags written bare (no attributes), which
 * are kept: `<br>` in table cells, `<kbd>`, `<sub>`, `<details>`… So no attribute a model writes ever reaches an HTML
 * parser (not even the sanitiser's inert one, where Chromium already reports an `on*` attribute as a CSP violation);
 * the sanitiser's allow-list below still applies to everything.
 */
const BARE_TAG = /&lt;(\/?)(br|b|i|u|s|em|strong|del|ins|mark|kbd|sub|sup|small|code|details|summary)\s*(\/?)&gt;/gi;
export function rawHtml(text: string): string {
  return escapeHtml(text).replace(BARE_TAG, (_m, close: string, tag: string, self: string) => `<${close}${tag.toLowerCase()}${self ? ' /' : ''}>`);
}

const md = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code(token) {
      return codeHtml(token);
    },
    // Images are never loaded: a model-written image becomes a plain link to it (its href is checked like any link).
    image({ href, title, text }) {
      const t = title ? ` title="${escapeHtml(title)}"` : '';
      return `<a href="${escapeHtml(href)}"${t}>${escapeHtml(text || href)}</a>`;
    },
    html({ text, block }: Tokens.HTML | Tokens.Tag) {
      return block ? `<p>${rawHtml(text.trim())}</p>\n` : rawHtml(text);
    },
    // Task list items: a character, not an <input>.
    checkbox({ checked }) {
      return checked ? '\u2611 ' : '\u2610 ';
    },
  },
});

/** Creates the `div.code-block` around a sanitised `<pre>` (its `<code>` gets the hljs class if it lacks it). */
function wrapCodeBlock(pre: HTMLPreElement): void {
  let code = pre.firstElementChild;
  if (!code || code.tagName !== 'CODE' || pre.childElementCount !== 1) {
    code = document.createElement('code');
    code.append(...pre.childNodes);
    pre.append(code);
  }
  if (!code.classList.contains('hljs')) code.classList.add('hljs');
  const langClass = [...code.classList].find((c) => c.startsWith('language-'));
  const block = codeBlockShell(langClass ? langClass.slice('language-'.length) : '');
  pre.replaceWith(block);
  block.append(pre);
}

/** `<div class="code-block" data-lang><div class="code-actions"><button data-action="copy">…` without the pre. */
export function codeBlockShell(lang: string): HTMLDivElement {
  const block = document.createElement('div');
  block.className = 'code-block';
  block.setAttribute('data-lang', lang);
  const actions = document.createElement('div');
  actions.className = 'code-actions';
  actions.append(actionButton('copy', 'Copy'), actionButton('insert', 'Insert at Cursor'));
  block.append(actions);
  return block;
}

function actionButton(action: string, label: string): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.setAttribute('data-action', action);
  b.textContent = label;
  return b;
}

export interface SegmentRender {
  fragment: DocumentFragment;
  /** Reference definitions known after this segment (the input map plus the segment's own). */
  links: Links;
}

/**
 * Renders one segment. `links` holds the reference definitions of the segments before it. `tail` marks a render
 * of the still-growing last segment: unclosed code is left unhighlighted.
 */
export function renderSegment(src: string, links: Links, tail = false): SegmentRender {
  const lexer = new md.Lexer(md.defaults);
  Object.assign(lexer.tokens.links, links);
  const tokens = lexer.lex(src);
  tailMode = tail;
  let html: string;
  try {
    html = md.parser(tokens);
  } finally {
    tailMode = false;
  }
  const fragment = html ? sanitize(html) : document.createDocumentFragment();
  for (const pre of fragment.querySelectorAll('pre')) wrapCodeBlock(pre);
  return { fragment, links: lexer.tokens.links };
}

/** Forget memoised tail highlights (called when the tail segment is committed). */
export function clearTailCache(): void {
  tailHighlights.clear();
}
