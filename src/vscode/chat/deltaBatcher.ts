// Host-side batching of streamed text (docs/chat-design.md, "Protocol rules"). Text is coalesced per channel and
// posted as a bare StreamDelta string ('t' + thinking text, 'a' + answer text):
//  - at most once per frame (16 ms) while text streams;
//  - a batch goes out once it holds ≥ 96 bytes, or 100 ms after its first byte (whichever comes first, never
//    sooner than a frame after the previous batch);
//  - a channel switch (thinking → answer) sends the pending text of the old channel first;
//  - any other message goes through post(), which sends the pending text first: the order is always kept.
// No vscode import (unit-tested in plain Node); the clock and timers are injectable.
import type { HostToWebview, StreamDelta } from '../../shared/protocol';

export type DeltaChannel = 't' | 'a';

export interface BatchClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: BatchClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface DeltaBatcherOptions {
  /** Minimum time between two batches. Default 16 ms (one animation frame). */
  frameMs?: number;
  /** A batch this large goes out at the next frame. Default 96 bytes. */
  minBytes?: number;
  /** Pending text never waits longer than this after its first byte (plus at most one frame). Default 100 ms. */
  maxDelayMs?: number;
  clock?: BatchClock;
}

export interface DeltaBatcherStats {
  /** UTF-8 bytes of text handed to text(). */
  textBytes: number;
  /** UTF-8 bytes of the StreamDelta strings posted (channel character included). */
  postedBytes: number;
  /** StreamDelta messages posted. */
  batches: number;
}

export class DeltaBatcher {
  private readonly frameMs: number;
  private readonly minBytes: number;
  private readonly maxDelayMs: number;
  private readonly clock: BatchClock;
  private channel: DeltaChannel | undefined;
  private parts: string[] = [];
  private bytes = 0;
  private firstAt = 0;
  private lastBatchAt = Number.NEGATIVE_INFINITY;
  private timer: unknown;
  private timerDue = 0;
  private disposed = false;
  readonly stats: DeltaBatcherStats = { textBytes: 0, postedBytes: 0, batches: 0 };

  constructor(private readonly sink: (msg: HostToWebview) => void, opts: DeltaBatcherOptions = {}) {
    this.frameMs = opts.frameMs ?? 16;
    this.minBytes = opts.minBytes ?? 96;
    this.maxDelayMs = opts.maxDelayMs ?? 100;
    this.clock = opts.clock ?? realClock;
  }

  /** New text of the streaming turn. */
  text(channel: DeltaChannel, text: string): void {
    if (text === '' || this.disposed) return;
    if (this.bytes > 0 && channel !== this.channel) this.flush();
    const bytes = Buffer.byteLength(text, 'utf8');
    if (this.bytes === 0) this.firstAt = this.clock.now();
    this.channel = channel;
    this.parts.push(text);
    this.bytes += bytes;
    this.stats.textBytes += bytes;
    this.schedule();
  }

  /** Any other message: the pending text goes first. */
  post(msg: HostToWebview): void {
    if (this.disposed) return;
    this.flush();
    this.sink(msg);
  }

  /** Sends the pending text now. */
  flush(): void {
    this.cancelTimer();
    if (this.bytes === 0 || !this.channel) return;
    const text = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    const msg = `${this.channel}${text}` as StreamDelta;
    this.parts = [];
    this.stats.postedBytes += this.bytes + 1;
    this.stats.batches++;
    this.bytes = 0;
    this.lastBatchAt = this.clock.now();
    this.sink(msg);
  }

  /** Forgets the pending text (the caller re-sends the whole turn, e.g. to a reloaded webview). */
  discard(): void {
    this.cancelTimer();
    this.parts = [];
    this.bytes = 0;
    this.channel = undefined;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  dispose(): void {
    this.discard();
    this.disposed = true;
  }

  private schedule(): void {
    const now = this.clock.now();
    const notBefore = this.lastBatchAt + this.frameMs;
    const due = this.bytes >= this.minBytes ? Math.max(notBefore, now) : Math.max(notBefore, this.firstAt + this.maxDelayMs);
    if (due <= now) {
      this.flush();
      return;
    }
    if (this.timer !== undefined) {
      if (this.timerDue <= due) return; // an earlier wake-up is already set; it re-evaluates then
      this.cancelTimer();
    }
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.bytes > 0) this.schedule();
    }, due - now);
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
