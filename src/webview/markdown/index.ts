// The streaming markdown renderer (docs/chat-design.md, "The streaming markdown renderer").
//
// Text is split into top-level segments by the Segmenter (boundaries decided from complete lines already received,
// so any chunking gives the same segments). A segment followed by another is final: rendered once (parse → sanitise
// → highlight) and never touched again. Only the last, still open segment (the tail) is re-rendered, at most once per
// animation frame; when the tail is an open top-level code fence, its text is appended to the existing <code> instead
// (highlighting happens once, when the fence closes or on finish()). The finished DOM is exactly renderMarkdown(text).
import type { Links } from 'marked';
import { clearTailCache, codeBlockShell, renderSegment } from './render';
import { Segmenter, segmentAll, type FenceInfo } from './segmenter';

export interface StreamingMarkdown {
  /** The container the renderer owns; insert it anywhere. */
  readonly element: HTMLElement;
  /** Buffers new text; rendering happens on the next animation frame. */
  append(text: string): void;
  /** The text is complete: renders synchronously and finalises (highlights all). Later append() calls throw. */
  finish(): void;
  /** Everything appended so far. */
  readonly text: string;
}

export interface StreamingMarkdownOptions {
  /** Schedules one render; defaults to requestAnimationFrame. */
  scheduler?: (cb: () => void) => void;
}

const CONTAINER_CLASS = 'markdown';
/**
 * Final segments are grouped into `div.md-chunk` elements of about this many source characters. markdown.css gives
 * each chunk `content-visibility: auto`, so the browser's per-frame style, layout and paint work stays about the same
 * however long the message grows (off-screen chunks are skipped as a whole).
 */
const CHUNK_CHARS = 8000;

function container(): HTMLDivElement {
  const el = document.createElement('div');
  el.className = CONTAINER_CLASS;
  return el;
}

/** The chunks of a container: final segments go into the current one until it holds CHUNK_CHARS. */
class Chunks {
  current: HTMLDivElement;
  private chars = 0;

  constructor(private readonly root: HTMLElement) {
    this.current = this.open();
  }

  private open(): HTMLDivElement {
    const c = document.createElement('div');
    c.className = 'md-chunk';
    this.root.append(c);
    return c;
  }

  add(fragment: DocumentFragment, sourceChars: number): void {
    this.current.append(fragment);
    this.chars += sourceChars;
    if (this.chars >= CHUNK_CHARS) {
      this.current = this.open();
      this.chars = 0;
    }
  }

  /** The text is complete: an empty last chunk goes. */
  end(): void {
    if (!this.current.hasChildNodes()) this.current.remove();
  }
}

/** A finished message (history): the same DOM a streamed render of the same text ends with. */
export function renderMarkdown(text: string): HTMLElement {
  const el = container();
  const chunks = new Chunks(el);
  let links: Links = Object.create(null) as Links;
  for (const segment of segmentAll(text)) {
    const r = renderSegment(segment, links);
    links = r.links;
    chunks.add(r.fragment, segment.length);
  }
  chunks.end();
  return el;
}

/** The open top-level fence shown as a growing code block. */
interface GrowingFence {
  fence: FenceInfo;
  code: HTMLElement;
  /** Offset up to which complete code lines were appended. */
  appendedTo: number;
  /** The incomplete last line, replaced on every frame. */
  partial: Text;
}

class Renderer implements StreamingMarkdown {
  readonly element = container();
  private readonly chunks = new Chunks(this.element);
  private buffer = '';
  private readonly segmenter = new Segmenter();
  /** Segments rendered final (their nodes precede the tail's). */
  private committed = 0;
  private links: Links = Object.create(null) as Links;
  /** Nodes of the current tail render, in order, after the final ones in the current chunk. */
  private tailNodes: ChildNode[] = [];
  /** The text the current tail render shows (to skip a frame with nothing new). */
  private tailShown = '';
  private growing: GrowingFence | undefined;
  private scheduled = false;
  private finished = false;
  private readonly schedule: (cb: () => void) => void;

  constructor(opts: StreamingMarkdownOptions) {
    this.schedule = opts.scheduler ?? ((cb) => void requestAnimationFrame(() => cb()));
  }

  get text(): string {
    return this.buffer;
  }

  append(text: string): void {
    if (this.finished) throw new Error('StreamingMarkdown: append() after finish()');
    if (!text) return;
    this.buffer += text;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.frame());
    }
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const text = this.buffer;
    // The last line counts as complete, exactly as segmentAll() treats it.
    this.segmenter.scan(text.endsWith('\n') ? text : `${text}\n`);
    const starts = this.segmenter.starts;
    this.commitUpTo(starts.length, text);
    this.dropTail();
    this.chunks.end();
    this.growing = undefined;
    clearTailCache();
  }

  private frame(): void {
    this.scheduled = false;
    if (this.finished) return;
    const text = this.buffer;
    this.segmenter.scan(text);
    this.commitUpTo(this.segmenter.finalCount, text);
    this.renderTail(text);
  }

  /** Renders segments [committed, n) final and appends them before the tail (the tail render is dropped). */
  private commitUpTo(n: number, text: string): void {
    if (n <= this.committed) return;
    this.dropTail();
    this.growing = undefined;
    clearTailCache();
    const starts = this.segmenter.starts;
    for (let i = this.committed; i < n; i++) {
      const end = i + 1 < starts.length ? (starts[i + 1] as number) : text.length;
      const src = text.slice(starts[i], end);
      const r = renderSegment(src, this.links);
      this.links = r.links;
      this.chunks.add(r.fragment, src.length);
    }
    this.committed = n;
  }

  private dropTail(): void {
    for (const node of this.tailNodes) node.remove();
    this.tailNodes = [];
    this.tailShown = '';
  }

  private renderTail(text: string): void {
    const start = this.segmenter.starts[this.committed] as number;
    const fence = this.segmenter.fence;
    if (fence && fence.openAt >= start) {
      this.growFence(text, fence);
      return;
    }
    const src = text.slice(start);
    if (src === this.tailShown) return;
    this.dropTail();
    this.tailShown = src;
    if (!src.trim()) return;
    const { fragment } = renderSegment(src, this.links, true);
    this.tailNodes = [...fragment.childNodes];
    this.chunks.current.append(fragment);
  }

  /** The tail is an open fence: append the new code text to its <code>, replace only the incomplete last line. */
  private growFence(text: string, fence: FenceInfo): void {
    let g = this.growing;
    if (!g || g.fence !== fence) {
      this.dropTail();
      // Blank lines before the opener (after a heading, say) render to nothing: only the code block is shown.
      const block = codeBlockShell(fence.lang);
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      code.className = fence.lang ? `hljs language-${fence.lang}` : 'hljs';
      const partial = document.createTextNode('');
      code.append(partial);
      pre.append(code);
      block.append(pre);
      this.chunks.current.append(block);
      this.tailNodes = [block];
      g = { fence, code, appendedTo: fence.codeAt, partial };
      this.growing = g;
    }
    const complete = this.segmenter.scanned; // every line before this offset is complete (and not the closing fence)
    if (complete > g.appendedTo) {
      const lines = text.slice(g.appendedTo, complete);
      g.code.insertBefore(document.createTextNode(stripIndent(lines, fence.indent)), g.partial);
      g.appendedTo = complete;
    }
    const partial = text.length > complete ? stripIndent(text.slice(complete), fence.indent) : '';
    if (g.partial.data !== partial) g.partial.data = partial;
  }
}

/** Removes up to `n` leading spaces from every line (a fence's indentation, as CommonMark does for its content). */
function stripIndent(s: string, n: number): string {
  if (n === 0) return s;
  const re = new RegExp(`^ {1,${n}}`, 'gm');
  return s.replace(re, '');
}

export function createStreamingMarkdown(opts: StreamingMarkdownOptions = {}): StreamingMarkdown {
  return new Renderer(opts);
}
