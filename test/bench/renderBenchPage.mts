// Browser side of the rendering benchmark (test/bench/renderBench.ts): feeds a recorded-style turn (thinking, then
// answer) as host deltas into either the real streaming renderer (src/webview/markdown) or a naive renderer that
// re-parses, re-highlights and re-sanitises the whole message on every delta (written only here, for comparison).
import createDOMPurify from 'dompurify';
import { Marked } from 'marked';
import { createStreamingMarkdown, renderMarkdown, type StreamingMarkdown } from '../../src/webview/markdown/index';
import { highlightCode } from '../../src/webview/markdown/highlight';

type Channel = 't' | 'a';

interface Sink {
  append(text: string): void;
  finish(): void;
}

// ---- the naive renderer -------------------------------------------------------------------------------------------

const naivePurify = createDOMPurify(window);
naivePurify.setConfig({
  ALLOWED_TAGS: ['a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'li', 'ol', 'p', 'pre', 'span', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul'],
  ALLOWED_ATTR: ['href', 'title', 'start', 'align', 'class'],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
});
const naiveMarked = new Marked({
  gfm: true,
  renderer: {
    code({ text, lang }) {
      const l = (lang ?? '').split(/\s/)[0] ?? '';
      const body = highlightCode(text, l) ?? text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
      return `<pre><code class="hljs language-${l}">${body}</code></pre>\n`;
    },
  },
});

function naive(el: HTMLElement): Sink {
  let text = '';
  const render = (): void => {
    const html = naiveMarked.parse(text, { async: false });
    el.replaceChildren(naivePurify.sanitize(html) as unknown as DocumentFragment);
  };
  return {
    append(delta) {
      text += delta;
      render();
      follow();
    },
    finish() {
      render();
    },
  };
}

// ---- per-frame accounting ------------------------------------------------------------------------------------------

/** Work (ms) done by the renderers since the last animation frame, and the per-frame totals. */
let workSinceFrame = 0;
let frameWork: number[] = [];
let frameIntervals: number[] = [];
let lastFrame = 0;
let frameLoop = false;

/**
 * What a chat that sticks to the bottom does after each render: reads the height (forcing the style and layout the
 * render caused, so a measure includes them) and scrolls, which keeps the growing tail on screen and painted.
 */
function follow(): void {
  const se = document.scrollingElement as HTMLElement;
  se.scrollTop = se.scrollHeight;
}

function startFrames(): void {
  frameWork = [];
  frameIntervals = [];
  workSinceFrame = 0;
  lastFrame = 0;
  frameLoop = true;
  const tick = (t: number): void => {
    if (!frameLoop) return;
    if (lastFrame) {
      frameIntervals.push(t - lastFrame);
      frameWork.push(workSinceFrame);
    }
    workSinceFrame = 0;
    lastFrame = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function stopFrames(): { work: number[]; intervals: number[] } {
  frameLoop = false;
  if (workSinceFrame > 0) frameWork.push(workSinceFrame);
  return { work: frameWork, intervals: frameIntervals };
}

// ---- the turn -------------------------------------------------------------------------------------------------------

interface Turn {
  kind: 'incremental' | 'naive';
  thinking: Sink;
  answer: Sink;
  thinkingEl: HTMLElement;
  answerEl: HTMLElement;
  current: Channel;
}

let turn: Turn | undefined;

function incremental(md: StreamingMarkdown): Sink {
  return { append: (t) => md.append(t), finish: () => md.finish() };
}

/** A scheduler that runs the renderer's frame inside requestAnimationFrame and accounts its work (+ layout). */
function accountedScheduler(): (cb: () => void) => void {
  return (cb) =>
    requestAnimationFrame(() => {
      const t0 = performance.now();
      cb();
      follow();
      workSinceFrame += performance.now() - t0;
    });
}

export function setup(kind: 'incremental' | 'naive'): void {
  const app = document.getElementById('app') as HTMLElement;
  app.replaceChildren();
  let thinkingEl: HTMLElement;
  let answerEl: HTMLElement;
  let thinking: Sink;
  let answer: Sink;
  if (kind === 'incremental') {
    const t = createStreamingMarkdown({ scheduler: accountedScheduler() });
    const a = createStreamingMarkdown({ scheduler: accountedScheduler() });
    thinkingEl = t.element;
    answerEl = a.element;
    thinking = incremental(t);
    answer = incremental(a);
  } else {
    thinkingEl = document.createElement('div');
    answerEl = document.createElement('div');
    thinkingEl.className = answerEl.className = 'markdown';
    thinking = naive(thinkingEl);
    answer = naive(answerEl);
  }
  thinkingEl.classList.add('thinking');
  answerEl.classList.add('answer');
  app.append(thinkingEl, answerEl);
  turn = { kind, thinking, answer, thinkingEl, answerEl, current: 't' };
}

/** Host messages: '\u0000done' ends a phase; otherwise 't'/'a' + text, as the chat protocol's StreamDelta. */
let phaseDone: (() => void) | undefined;
window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const msg = e.data;
  if (typeof msg !== 'string' || !turn) return;
  if (msg === '\u0000done') {
    phaseDone?.();
    return;
  }
  const channel = msg[0] as Channel;
  const t0 = performance.now();
  if (channel === 'a' && turn.current === 't') {
    turn.thinking.finish(); // the answer starts: the thinking is complete
    turn.current = 'a';
  }
  (channel === 't' ? turn.thinking : turn.answer).append(msg.slice(1));
  workSinceFrame += performance.now() - t0;
});

/** After the last delta: one animation frame (the renderer's pending render runs in it), then a task. */
function settle(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

/**
 * Feeds deltas[from, to) on one channel: 'fast' posts them all at once (each is its own message task, handled as
 * fast as the page can), a number paces them at that many deltas per second of wall-clock time.
 */
export async function feed(deltas: string[], mode: 'fast' | number, finishAtEnd: boolean): Promise<{ wallMs: number }> {
  const started = performance.now();
  const done = new Promise<void>((resolve) => (phaseDone = resolve));
  if (mode === 'fast') {
    for (const d of deltas) window.postMessage(d, '*');
    window.postMessage('\u0000done', '*');
  } else {
    const interval = 1000 / mode;
    let i = 0;
    const t0 = performance.now();
    const tick = (): void => {
      const due = Math.min(deltas.length, Math.floor((performance.now() - t0) / interval) + 1);
      for (; i < due; i++) window.postMessage(deltas[i], '*');
      if (i < deltas.length) setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
      else window.postMessage('\u0000done', '*');
    };
    tick();
  }
  await done;
  await settle();
  if (finishAtEnd && turn) {
    const t0 = performance.now();
    (turn.current === 't' ? turn.thinking : turn.answer).finish();
    workSinceFrame += performance.now() - t0;
    await settle();
  }
  return { wallMs: performance.now() - started };
}

/** Long animation frames (> 50 ms) seen by the browser, via the Long Animation Frames API when available. */
let loafs: number[] = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) loafs.push(e.duration);
  }).observe({ type: 'long-animation-frame', buffered: false });
} catch {
  /* not supported: reported as such */
}

export function takeLongFrames(): number[] {
  const out = loafs;
  loafs = [];
  return out;
}

export function summary(): { thinkingChars: number; answerChars: number; answerHtmlChars: number; codeBlocks: number; tables: number; highlighted: number } {
  const t = turn as Turn;
  return {
    thinkingChars: t.thinkingEl.textContent?.length ?? 0,
    answerChars: t.answerEl.textContent?.length ?? 0,
    answerHtmlChars: t.answerEl.innerHTML.length,
    codeBlocks: t.answerEl.querySelectorAll('pre').length,
    tables: t.answerEl.querySelectorAll('table').length,
    highlighted: t.answerEl.querySelectorAll('pre span[class^="hljs-"]').length,
  };
}

declare global {
  interface Window {
    kimiBench: typeof api;
  }
}
/** Puts an already finished message above the turn (how the per-frame cost depends on what is on the page). */
export function preload(text: string): void {
  const app = document.getElementById('app') as HTMLElement;
  app.prepend(renderMarkdown(text));
}

const api = { setup, feed, preload, startFrames, stopFrames, takeLongFrames, summary };
window.kimiBench = api;
