// The host-side delta batcher (src/vscode/chat/deltaBatcher.ts) on a virtual clock: what the webview receives and
// when — at most one batch per frame, never more than ~100 ms late, order kept across channels and other messages,
// and the bytes posted within 1.1× the text at the speeds Kimi really streams.
import { strict as assert } from 'node:assert';
import type { HostToWebview } from '../../../src/shared/protocol';
import { DeltaBatcher, type BatchClock } from '../../../src/vscode/chat/deltaBatcher';
import { seededRandom } from './helpers';

/** A virtual clock: timers run only when the test advances time. */
class FakeClock implements BatchClock {
  t = 1000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pendingTimers(): number {
    return this.timers.size;
  }
  /** Moves time forward, running due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
}

interface Posted {
  at: number;
  msg: HostToWebview;
}

function setup() {
  const clock = new FakeClock();
  const posted: Posted[] = [];
  const b = new DeltaBatcher((msg) => posted.push({ at: clock.now(), msg }), { clock });
  const deltas = () => posted.filter((p) => typeof p.msg === 'string').map((p) => p.msg as string);
  return { clock, posted, b, deltas };
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Text the way a tokenizer cuts it: words with their leading space, long words in pieces of ≤ 7 characters. */
function tokens(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\s*[^\s]+|\s+/g)) {
    let w = m[0];
    while (w.length > 7) {
      out.push(w.slice(0, 7));
      w = w.slice(7);
    }
    if (w) out.push(w);
  }
  return out;
}

const PROSE = `The scheduler keeps a paged KV cache per request. When a request arrives, its prompt is prefilled in chunks;
the decode loop then produces one token per step for every running sequence. Preemption frees blocks when memory runs out.

| setting | effect |
|---|---|
| --max-model-len | the longest sequence |
| --gpu-memory-utilization | the share of each GPU |

\`\`\`ts
export function pick(queue: Request[]): Request | undefined {
  return queue.sort((a, b) => a.arrival - b.arrival)[0];
}
\`\`\`
调度器为每个请求维护分页的 KV 缓存。`;

describe('delta batcher', () => {
  it('holds small text until 100 ms after its first byte, then posts it as one delta', () => {
    const { clock, b, deltas } = setup();
    b.text('a', 'Hel');
    clock.advance(40);
    b.text('a', 'lo');
    clock.advance(59);
    assert.deepEqual(deltas(), [], 'nothing yet at 99 ms');
    clock.advance(1);
    assert.deepEqual(deltas(), ['aHello']);
  });

  it('posts as soon as 96 bytes are pending (UTF-8 bytes, not characters)', () => {
    const { clock, b, deltas } = setup();
    b.text('t', 'x'.repeat(95));
    assert.deepEqual(deltas(), []);
    b.text('t', 'y');
    assert.deepEqual(deltas(), [`t${'x'.repeat(95)}y`]);
    clock.advance(200);
    // 32 CJK characters are 96 bytes.
    b.text('a', '调'.repeat(31));
    assert.equal(deltas().length, 1);
    b.text('a', '度');
    assert.equal(deltas().length, 2);
    assert.equal(deltas()[1], `a${'调'.repeat(31)}度`);
  });

  it('never posts two batches within one 16 ms frame, however fast text arrives, and loses nothing', () => {
    const { clock, b, posted, deltas } = setup();
    let sent = '';
    for (let i = 0; i < 2000; i++) {
      const piece = `tok${i} `;
      sent += piece;
      b.text('a', piece);
      clock.advance(0.25); // 4,000 tokens per second
    }
    clock.advance(200);
    const times = posted.map((p) => p.at);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 16, `batches ${i - 1} and ${i} ${times[i]! - times[i - 1]!} ms apart`);
    assert.equal(deltas().map((d) => d.slice(1)).join(''), sent);
    assert.ok(deltas().every((d) => d[0] === 'a'));
  });

  it('a slow trickle is never held more than 100 ms (plus one frame)', () => {
    const { clock, b, posted } = setup();
    const arrivals: number[] = [];
    for (let i = 0; i < 50; i++) {
      arrivals.push(clock.now());
      b.text('a', 'ab');
      clock.advance(37);
    }
    clock.advance(200);
    // Each piece was posted no later than 116 ms after it arrived.
    let pieceIndex = 0;
    for (const p of posted) {
      const pieces = ((p.msg as string).length - 1) / 2;
      for (let k = 0; k < pieces; k++, pieceIndex++) assert.ok(p.at - arrivals[pieceIndex]! <= 116, `piece ${pieceIndex} waited ${p.at - arrivals[pieceIndex]!} ms`);
    }
    assert.equal(pieceIndex, 50);
  });

  it('a channel switch sends the thinking before the answer; per-channel text and order are exact', () => {
    const { clock, b, deltas } = setup();
    b.text('t', 'I should ');
    b.text('t', 'compare.');
    b.text('a', 'Here');
    b.text('a', ' it is.');
    assert.deepEqual(deltas(), ['tI should compare.'], 'the switch flushed the thinking at once');
    clock.advance(100);
    assert.deepEqual(deltas(), ['tI should compare.', 'aHere it is.']);
  });

  it('any other message goes out after the pending text (turnFinished carries no text, so nothing is left behind)', () => {
    const { clock, b, posted } = setup();
    b.text('a', 'partial answ');
    b.post({ type: 'turnFinished', assistantId: 'x1', meta: { mode: 'thinking', startedAt: 0, metrics: {}, toolCalls: [] } });
    assert.deepEqual(posted.map((p) => (typeof p.msg === 'string' ? p.msg : p.msg.type)), ['apartial answ', 'turnFinished']);
    assert.equal(b.pendingBytes, 0);
    clock.advance(500);
    assert.equal(posted.length, 2, 'no late duplicate');
    assert.equal(clock.pendingTimers, 0, 'no timer left running');
  });

  it('discard drops pending text (the whole turn is re-sent to a reloaded webview); dispose stops all posting', () => {
    const { clock, b, deltas, posted } = setup();
    b.text('a', 'will be re-sent');
    b.discard();
    clock.advance(500);
    assert.deepEqual(deltas(), []);
    b.text('t', 'after');
    b.dispose();
    b.text('t', 'more');
    b.post({ type: 'focusInput' });
    clock.advance(500);
    assert.equal(posted.length, 0);
  });

  describe('bytes posted ≤ 1.1 × bytes of text at realistic speeds', () => {
    // Kimi-K2.5 decodes ~30–100 tokens/s per request on 8×H200; the emulator and small models go far faster.
    for (const tps of [30, 60, 100, 250, 1000, 5000]) {
      it(`${tps} tokens/s, thinking then answer, jittered arrivals`, () => {
        const { clock, b, deltas } = setup();
        const rnd = seededRandom(tps);
        const thinking = tokens(PROSE.repeat(3));
        const answer = tokens(PROSE.repeat(6));
        let textBytes = 0;
        const feed = (channel: 't' | 'a', toks: string[]) => {
          for (const tok of toks) {
            b.text(channel, tok);
            textBytes += utf8(tok);
            clock.advance((1000 / tps) * (0.5 + rnd()));
          }
        };
        feed('t', thinking);
        feed('a', answer);
        b.flush();
        const postedBytes = deltas().reduce((n, d) => n + utf8(d), 0);
        assert.equal(b.stats.textBytes, textBytes);
        assert.equal(b.stats.postedBytes, postedBytes);
        assert.equal(deltas().filter((d) => d[0] === 't').map((d) => d.slice(1)).join(''), thinking.join(''));
        assert.equal(deltas().filter((d) => d[0] === 'a').map((d) => d.slice(1)).join(''), answer.join(''));
        const ratio = postedBytes / textBytes;
        assert.ok(ratio <= 1.1, `posted ${postedBytes} bytes for ${textBytes} bytes of text (${ratio.toFixed(3)}×) in ${deltas().length} batches`);
      });
    }
  });
});
