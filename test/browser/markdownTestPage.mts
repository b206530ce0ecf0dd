// Browser side of the markdown e2e tests (test/e2e/markdown*.e2e.test.ts): the real renderer from
// src/webview/markdown, bundled by esbuild, plus helpers the Node side drives through page.evaluate().
import { createStreamingMarkdown, renderMarkdown, type StreamingMarkdown } from '../../src/webview/markdown/index';
import type { MarkdownTestApi, Snapshot, StreamOptions, StreamResult, TurnResult } from '../support/markdownTestApi';
import { seededRandom } from '../support/seededRandom';

export function chunk(text: string, seed: number, maxChunk: number): string[] {
  const r = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(r() * r() * maxChunk);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

// ---- the DOM audit: what rendered model output may contain --------------------------------------------------------

const ALLOWED_ELEMENTS = new Set([
  'A', 'ABBR', 'B', 'BLOCKQUOTE', 'BR', 'CODE', 'DD', 'DEL', 'DETAILS', 'DL', 'DT', 'EM', 'H1', 'H2', 'H3', 'H4', 'H5',
  'H6', 'HR', 'I', 'INS', 'KBD', 'LI', 'MARK', 'OL', 'P', 'PRE', 'S', 'SAMP', 'SMALL', 'SPAN', 'STRONG', 'SUB',
  'SUMMARY', 'SUP', 'TABLE', 'TBODY', 'TD', 'TFOOT', 'TH', 'THEAD', 'TR', 'U', 'UL', 'VAR',
  // made by the renderer itself, never from model HTML
  'DIV', 'BUTTON',
]);
const ALLOWED_ATTRIBUTES = new Set(['href', 'rel', 'title', 'start', 'align', 'colspan', 'rowspan', 'open', 'class', 'data-lang', 'data-action', 'type']);

/** Everything in root that the sanitiser should never have let through; [] when clean. */
export function audit(root: Element): string[] {
  const problems: string[] = [];
  const all = root.querySelectorAll('*');
  for (const el of all) {
    const tag = el.tagName;
    if (el.namespaceURI !== 'http://www.w3.org/1999/xhtml') problems.push(`foreign element <${el.localName}> (${el.namespaceURI})`);
    if (!ALLOWED_ELEMENTS.has(tag)) problems.push(`element <${el.localName}>`);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) problems.push(`event handler ${name} on <${el.localName}>`);
      else if (!ALLOWED_ATTRIBUTES.has(name)) problems.push(`attribute ${name} on <${el.localName}>`);
    }
    const chunk = el.className === 'md-chunk' && el.parentElement === root;
    if (tag === 'DIV' && !(chunk || el.classList.contains('code-block') || el.classList.contains('code-actions'))) problems.push(`div not made by the renderer (class "${el.className}")`);
    if (tag === 'DIV' && el.classList.contains('code-block') && !(el.children[0]?.classList.contains('code-actions') && el.children[1]?.tagName === 'PRE')) problems.push('malformed code block');
    if (tag === 'BUTTON' && !(el.parentElement?.classList.contains('code-actions') && ['copy', 'insert'].includes(el.getAttribute('data-action') ?? ''))) problems.push('button outside code actions');
    if (tag === 'A') {
      const href = el.getAttribute('href');
      if (href !== null) {
        if (!/^(https?:|mailto:)/i.test(href)) problems.push(`link href ${JSON.stringify(href)}`);
        if (el.getAttribute('rel') !== 'noopener noreferrer') problems.push(`link without rel=noopener noreferrer: ${href}`);
      }
    }
    const cls = el.getAttribute('class');
    if (cls !== null && !['DIV', 'CODE', 'SPAN'].includes(tag)) problems.push(`class on <${el.localName}>`);
  }
  return problems;
}

// ---- streaming ----------------------------------------------------------------------------------------------------

const app = (): HTMLElement => document.getElementById('app') as HTMLElement;

/** Streams text through a fresh renderer in random chunks; returns the finished innerHTML. */
export async function stream(text: string, opts: StreamOptions): Promise<StreamResult> {
  const r = seededRandom(opts.seed ^ 0x9e3779b9);
  const pending: (() => void)[] = [];
  let frames = 0;
  const problems: string[] = [];
  let md: StreamingMarkdown;
  const runFrames = (): void => {
    for (const cb of pending.splice(0)) {
      cb();
      frames++;
      if (opts.audit) problems.push(...audit(md.element));
    }
  };
  if (opts.scheduler === 'manual') {
    md = createStreamingMarkdown({ scheduler: (cb) => pending.push(cb) });
  } else {
    md = createStreamingMarkdown({
      scheduler: (cb) =>
        requestAnimationFrame(() => {
          cb();
          frames++;
          if (opts.audit) problems.push(...audit(md.element));
        }),
    });
  }
  if (opts.className) md.element.classList.add(opts.className);
  if (opts.attach) app().append(md.element);
  const chunks = chunk(text, opts.seed, opts.maxChunk);
  for (const c of chunks) {
    md.append(c);
    if (opts.scheduler === 'manual') {
      if (r() < (opts.frameChance ?? 0.3)) runFrames();
    } else if (r() < 0.05) {
      await new Promise((res) => requestAnimationFrame(() => res(undefined)));
    }
  }
  if (md.text !== text) problems.push('text getter differs from the appended text');
  md.finish();
  problems.push(...audit(md.element));
  return { html: md.element.innerHTML, frames, chunks: chunks.length, problems };
}

export function oneShot(text: string, attach = false, className?: string): { html: string; problems: string[] } {
  const el = renderMarkdown(text);
  if (className) el.classList.add(className);
  if (attach) app().append(el);
  return { html: el.innerHTML, problems: audit(el) };
}

/**
 * One assistant turn the way the chat shows it: a thinking renderer then an answer renderer, both attached to the
 * page, streamed (random chunks, real animation frames) or rendered one-shot.
 */
export async function turn(thinking: string, answer: string, mode: 'stream' | 'oneShot', seed: number): Promise<TurnResult> {
  if (mode === 'oneShot') {
    const t = oneShot(thinking, true, 'thinking');
    const a = oneShot(answer, true, 'answer');
    return { problems: [...t.problems, ...a.problems], thinkingHtml: t.html, answerHtml: a.html };
  }
  const t = await stream(thinking, { seed, maxChunk: 12, scheduler: 'raf', audit: true, attach: true, className: 'thinking' });
  const a = await stream(answer, { seed: seed + 1, maxChunk: 12, scheduler: 'raf', audit: true, attach: true, className: 'answer' });
  return { problems: [...t.problems, ...a.problems], thinkingHtml: t.html, answerHtml: a.html };
}

/** A deterministic walk through a stream, for the growth tests: returns the renderer and a manual frame trigger. */
export function manual(): { md: StreamingMarkdown; frame: () => number } {
  const pending: (() => void)[] = [];
  const md = createStreamingMarkdown({ scheduler: (cb) => pending.push(cb) });
  app().append(md.element);
  return {
    md,
    frame: () => {
      const n = pending.length;
      for (const cb of pending.splice(0)) cb();
      return n;
    },
  };
}

export function clear(): void {
  app().replaceChildren();
  session = undefined;
}

// ---- step-by-step sessions (manual frames) for the growth tests -----------------------------------------------------

let session: { md: StreamingMarkdown; frame: () => number } | undefined;
const ids = new WeakMap<Node, number>();
let nextId = 1;
function idOf(n: Node | null | undefined): number {
  if (!n) return 0;
  let i = ids.get(n);
  if (!i) {
    i = nextId++;
    ids.set(n, i);
  }
  return i;
}

function snapshotOf(el: HTMLElement, frames: number): Snapshot {
  return {
    frames,
    html: el.innerHTML,
    children: [...el.querySelectorAll(':scope > .md-chunk > *')].map((c) => ({ id: idOf(c), tag: c.tagName.toLowerCase() })),
    codes: [...el.querySelectorAll('.code-block')].map((b) => {
      const code = b.querySelector('pre > code');
      return {
        id: idOf(code),
        lang: b.getAttribute('data-lang'),
        codeClass: code?.className ?? '',
        text: code?.textContent ?? '',
        spans: b.querySelectorAll('code span[class]').length,
        buttons: [...b.querySelectorAll(':scope > .code-actions > button')].map((x) => x.getAttribute('data-action')),
        structure: [...b.children].map((c) => `${c.tagName.toLowerCase()}${c.className ? `.${c.className}` : ''}>${[...c.children].map((g) => g.tagName.toLowerCase()).join(',')}`).join(' '),
      };
    }),
    problems: audit(el),
  };
}

export function start(): void {
  clear();
  session = manual();
}

/** Appends text to the session's renderer; runs the pending frame unless told not to. */
export function step(text: string, runFrame = true): Snapshot {
  if (!session) throw new Error('no session: call start()');
  session.md.append(text);
  return snapshotOf(session.md.element, runFrame ? session.frame() : 0);
}

/** finish() the session; also returns what renderMarkdown gives for the same text, and what a late append does. */
export function finishSession(): Snapshot & { oneShot: string; text: string; appendAfterFinish: string } {
  if (!session) throw new Error('no session: call start()');
  session.md.finish();
  let appendAfterFinish = 'no error';
  try {
    session.md.append('late');
  } catch (e) {
    appendAfterFinish = e instanceof Error ? e.message : String(e);
  }
  return { ...snapshotOf(session.md.element, 0), oneShot: renderMarkdown(session.md.text).innerHTML, text: session.md.text, appendAfterFinish };
}

/** How often the renderer asks its scheduler for a frame while `chunks` are appended back to back, twice over. */
export async function schedulerCalls(chunks: string[]): Promise<{ first: number; second: number; html: string; oneShot: string }> {
  let calls = 0;
  const md = createStreamingMarkdown({
    scheduler: (cb) => {
      calls++;
      requestAnimationFrame(cb);
    },
  });
  for (const c of chunks) md.append(c);
  const first = calls;
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  for (const c of chunks) md.append(c);
  const second = calls - first;
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  md.finish();
  return { first, second, html: md.element.innerHTML, oneShot: renderMarkdown(md.text).innerHTML };
}

/** Two animation frames and a task: anything a render could have started (loads, errors, handlers) has fired. */
export function settle(): Promise<void> {
  return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0))));
}

declare global {
  interface Window {
    kimiMd: typeof api;
  }
}
const api = { stream, oneShot, turn, manual, clear, audit, chunk, start, step, finishSession, schedulerCalls, settle, renderMarkdown, createStreamingMarkdown } satisfies MarkdownTestApi & Record<string, unknown>;
window.kimiMd = api;
