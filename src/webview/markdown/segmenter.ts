// Splits markdown into top-level segments that can be rendered independently, deciding every boundary from the
// lines seen so far only (never from text that has not arrived yet). Because of that, feeding the same text in any
// chunking gives the same segments, and a segment that is followed by another one is final: the streaming renderer
// renders it once and never touches it again.
//
// A new segment starts (only at the start of a complete line, and only once the current segment has content):
// - after the closing line of a top-level code fence, and after an ATX heading line (single-line blocks);
// - at a top-level fence opener (indent 0, or 1–3 when no list is open: CommonMark lets a fence interrupt anything);
// - at an ATX heading at indent 0 (a heading is never a lazy continuation);
// - at an unindented line after a blank line, unless a list is open and the line is another list item.
// These are places where CommonMark ends the previous top-level block too, so rendering segments separately gives
// the same HTML as rendering the whole text, except for rare raw-HTML blocks spanning blank lines and reference
// links used before their definition (definitions apply to their own segment and every later one).

export interface FenceInfo {
  /** Offset of the opener line in the whole text. */
  openAt: number;
  /** Offset just after the opener line's newline: where the code starts. */
  codeAt: number;
  char: '`' | '~';
  length: number;
  indent: number;
  /** The info string's first word ('' when none). */
  lang: string;
}

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const LIST_MARKER = /^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)/;
const ATX_HEADING = /^#{1,6}(?:[ \t]|$)/;
const BLANK = /^[ \t]*$/;

/** Leading indentation in columns (a tab advances to the next multiple of 4). */
function indentOf(line: string): number {
  let col = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32) col++;
    else if (c === 9) col += 4 - (col % 4);
    else break;
  }
  return col;
}

export function parseFenceOpener(line: string): { char: '`' | '~'; length: number; indent: number; info: string } | undefined {
  const m = FENCE_OPEN.exec(line);
  if (!m) return undefined;
  const fence = m[2] as string;
  const info = m[3] as string;
  if (fence[0] === '`' && info.includes('`')) return undefined; // an inline code span, not a fence
  return { char: fence[0] as '`' | '~', length: fence.length, indent: (m[1] as string).length, info: info.trim() };
}

function isClosingFence(line: string, fence: FenceInfo): boolean {
  const indent = indentOf(line);
  if (indent > 3) return false;
  const rest = line.trimStart();
  let n = 0;
  while (n < rest.length && rest[n] === fence.char) n++;
  return n >= fence.length && BLANK.test(rest.slice(n));
}

/** The language word of a fence info string, restricted to characters safe in a class name. */
export function fenceLang(info: string): string {
  const word = info.split(/[\s{]/, 1)[0] ?? '';
  return /^[\w+#.-]{1,40}$/.test(word) ? word : '';
}

export class Segmenter {
  /** Start offsets of the segments; segment i spans [starts[i], starts[i+1]) and the last one runs to the end. */
  readonly starts: number[] = [0];
  /** Offset of the first line not scanned yet (always a line start). */
  scanned = 0;
  /** The open top-level fence of the last segment, if any. */
  fence: FenceInfo | undefined;
  private hasContent = false;
  private afterBlank = false;
  private listOpen = false;

  /** Scans every complete line of text from `scanned` on (text only ever grows). */
  scan(text: string): void {
    let pos = this.scanned;
    for (;;) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break;
      this.line(text, pos, nl);
      pos = nl + 1;
    }
    this.scanned = pos;
  }

  /** Number of segments known to be final (all but the last). */
  get finalCount(): number {
    return this.starts.length - 1;
  }

  private line(text: string, start: number, nl: number): void {
    let line = text.slice(start, nl);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const next = nl + 1;
    if (this.fence) {
      if (isClosingFence(line, this.fence)) {
        this.fence = undefined;
        this.startSegment(next);
      }
      return;
    }
    if (BLANK.test(line)) {
      if (this.hasContent) this.afterBlank = true;
      return;
    }
    const indent = indentOf(line);
    const opener = indent <= 3 ? parseFenceOpener(line) : undefined;
    const topFence = opener !== undefined && (indent === 0 || !this.listOpen);
    const heading = indent === 0 && ATX_HEADING.test(line);
    const listItem = LIST_MARKER.test(line);
    const breaks = topFence || heading || (this.afterBlank && indent === 0 && !(this.listOpen && listItem));
    if (breaks && this.hasContent) this.startSegment(start);
    if (breaks) this.listOpen = false;
    this.hasContent = true;
    this.afterBlank = false;
    if (topFence && opener) {
      this.fence = { openAt: start, codeAt: next, char: opener.char, length: opener.length, indent: opener.indent, lang: fenceLang(opener.info) };
    } else if (heading) {
      this.startSegment(next);
    } else if (listItem) {
      this.listOpen = true;
    }
  }

  private startSegment(at: number): void {
    if (this.starts[this.starts.length - 1] !== at) this.starts.push(at);
    this.hasContent = false;
    this.afterBlank = false;
    this.listOpen = false;
  }
}

/** All segments of a finished text (the last line counts as complete even without a newline). */
export function segmentAll(text: string): string[] {
  const s = new Segmenter();
  s.scan(text.endsWith('\n') ? text : `${text}\n`);
  const out: string[] = [];
  for (let i = 0; i < s.starts.length; i++) out.push(text.slice(s.starts[i], s.starts[i + 1] ?? text.length));
  return out;
}
