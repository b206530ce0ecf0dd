// Streamed text stays about the size of the text (src/core/chat/streamText.ts): appended token by token, a turn's
// thinking and answer and a tool call's arguments must not keep V8's rope of one node + one small string per token
// (10–15× the text). Sizes, measured after a forced full GC (v8 --expose-gc switched on at run time), not times.
import { strict as assert } from 'node:assert';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { streamChat } from '../../../src/core/chat/chatClient';
import { appendStreamed, FLATTEN_EVERY } from '../../../src/core/chat/streamText';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Distinct token strings as JSON.parse makes them (each its own small string), ~5 characters each. */
function tokens(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((JSON.parse(`{"t":" w${i % 1000}"}`) as { t: string }).t);
  return out;
}

/** Heap the built string keeps, per byte of its text: measured with the tokens dropped (only `build`'s result lives),
 *  after a small warm-up run (the first run's compiled code is not the text's). */
function bytesPerChar(build: (toks: string[]) => string, n: number): { ratio: number; text: string } {
  build(tokens(2000));
  const base = heapUsed();
  let toks: string[] | undefined = tokens(n);
  const text = build(toks);
  toks = undefined;
  const ratio = (heapUsed() - base) / text.length;
  return { ratio, text };
}

describe('streamed text: bounded memory (appendStreamed)', () => {
  it('200,000 appended tokens keep ≤ 2 bytes per (one-byte) character, and the text is the plain concatenation', function () {
    this.timeout(60_000);
    const n = 200_000;
    const expected = tokens(n).join('');
    const { ratio, text } = bytesPerChar((toks) => {
      let s = '';
      for (const t of toks) s = appendStreamed(s, t);
      return s;
    }, n);
    assert.equal(text, expected);
    // The rope left between two flattenings is at most FLATTEN_EVERY characters: ~1 byte per character plus that.
    assert.ok(ratio <= 2, `appendStreamed kept ${ratio.toFixed(2)} bytes per character (text ${text.length} chars, flattened every ${FLATTEN_EVERY})`);
  });

  it('streamChat: a 100,000-token answer and a 100,000-token tool call come back at ≤ 3 bytes per character', async function () {
    this.timeout(60_000);
    const enc = new TextEncoder();
    const chunk = (delta: object, extra = '') => `data: {"choices":[{"index":0,"delta":${JSON.stringify(delta)},"finish_reason":null}]${extra}}\n\n`;
    // An SSE body made as it is read (nothing of it is held by the test): one token per chunk, ~40 chunks per read.
    const fakeFetch = (n: number) => async (): Promise<Response> => {
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(ctrl) {
          let s = '';
          for (let k = 0; k < 40 && i < 2 * n; k++, i++) {
            if (i < n) s += chunk({ content: ` w${i % 1000}` });
            else s += chunk({ tool_calls: [{ index: 0, ...(i === n ? { id: 'call_0', function: { name: 'write_file', arguments: '' } } : { function: { arguments: ` a${i % 1000}` } }) }] });
          }
          if (i >= 2 * n) {
            s += 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n';
            ctrl.enqueue(enc.encode(s));
            ctrl.close();
            return;
          }
          ctrl.enqueue(enc.encode(s));
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    };
    const run = (n: number) => streamChat(
      { baseUrl: 'http://127.0.0.1:9/v1', model: 'm', messages: [{ role: 'user', content: 'x' }], mode: 'instant' },
      { fetch: fakeFetch(n) as typeof fetch, reasoningParser: true },
    );
    await run(2000); // warm-up: the first run compiles fetch's, the streams' and our code (~3 MB of heap)
    const base = heapUsed();
    const r = await run(100_000);
    const grown = heapUsed() - base;
    assert.equal(r.error, undefined);
    assert.equal(r.toolCalls.length, 1);
    const chars = r.answer.length + r.toolCalls[0]!.arguments.length;
    assert.ok(r.answer.length > 400_000 && r.toolCalls[0]!.arguments.length > 400_000, `answer ${r.answer.length}, arguments ${r.toolCalls[0]!.arguments.length} chars`);
    assert.ok(grown / chars <= 3, `streamChat's result kept ${(grown / chars).toFixed(2)} bytes per character of text (${grown} bytes for ${chars} chars)`);
  });
});
