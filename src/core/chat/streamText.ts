// Text that grows by many small appends while a stream runs (a turn's thinking and answer, a tool call's arguments).
//
// In V8 `text += delta` does not copy: it makes a rope, one ConsString node (32 bytes) pointing at the old text and at
// the delta's own string (~24 bytes for a token of a few characters), until something reads the string as a whole.
// A streamed answer, one token per delta, then costs 10–15× its text while it streams (measured: docs/BENCHMARKS.md,
// "Chat host", memory). appendStreamed() keeps the rope short: whenever the text crosses a multiple of
// FLATTEN_EVERY characters it is flattened (V8 copies it into one flat string in place and the nodes and the deltas'
// strings become garbage), so the text costs about its own size plus at most FLATTEN_EVERY characters of rope. The
// copy is of the text so far, once per FLATTEN_EVERY characters: a few MB of copying for the longest answer a
// 262,144-token context allows, spread over the stream.

/** Characters between two flattenings (a power of two). */
export const FLATTEN_EVERY = 32 * 1024;
const SHIFT = Math.log2(FLATTEN_EVERY);

let sink = 0;

/** Makes V8 flatten `s` in place (reading a character of a rope flattens it); the result goes to a module variable so
 *  that no compiler can drop the read as unused. */
function flatten(s: string): void {
  sink = (sink + s.charCodeAt(0)) | 0;
}

/** `text + delta`, flattened whenever it crosses a multiple of FLATTEN_EVERY characters. */
export function appendStreamed(text: string, delta: string): string {
  const out = text + delta;
  if (out.length >>> SHIFT !== text.length >>> SHIFT) flatten(out);
  return out;
}
