// Shaping tool output for the model and the UI: size caps with a visible note, previews, line numbers.

/** Cut `text` to at most `max` characters (at a line break when one is near), adding a visible note that says
 *  how much was left out. `hint` tells the model how to get the rest. */
export function capText(text: string, max: number, hint = ''): string {
  if (text.length <= max) return text;
  const note = (shown: number) => `\n[truncated: showing the first ${shown.toLocaleString('en-US')} of ${text.length.toLocaleString('en-US')} characters${hint ? `; ${hint}` : ''}]`;
  const room = Math.max(0, max - note(max).length);
  let cut = text.lastIndexOf('\n', room);
  if (cut < room * 0.8) cut = room;
  // Never split a surrogate pair.
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut--;
  return text.slice(0, cut) + note(cut);
}

/** The first line(s) of a result for a compact card: at most `max` characters, whitespace collapsed. */
export function previewOf(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export const MAX_LINE_CHARS = 2_000;

/** `N: text` lines, numbers right-aligned; overlong lines are cut with a note. */
export function numberLines(lines: readonly string[], firstLine: number): string {
  const width = String(firstLine + lines.length - 1).length;
  return lines
    .map((l, i) => `${String(firstLine + i).padStart(width)}: ${l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)} …[line cut at ${MAX_LINE_CHARS} characters]` : l}`)
    .join('\n');
}

/** Split file text into lines (`\n` or `\r\n`); a final newline does not make an extra empty line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
