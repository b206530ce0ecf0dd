// At most one render per interval while text streams (an inline explanation re-renders its whole comment, so it must
// not do so per token), the first one without delay, and the final state always rendered at once (flush).

export interface ThrottleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ThrottleClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class RenderThrottle {
  private last = -Infinity;
  private timer: unknown;
  private disposed = false;

  constructor(
    private readonly render: () => void,
    /** Minimum time between two renders. Default 100 ms (≤ 10 renders per second). */
    readonly intervalMs = 100,
    private readonly clock: ThrottleClock = realClock,
  ) {}

  /** Something changed: render now if the last render is old enough, else once the interval has passed. */
  request(): void {
    if (this.disposed || this.timer !== undefined) return;
    const wait = this.last + this.intervalMs - this.clock.now();
    if (wait <= 0) {
      this.run();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, wait);
  }

  /** Renders now (the final state), cancelling a scheduled render. */
  flush(): void {
    if (this.disposed) return;
    this.cancel();
    this.run();
  }

  dispose(): void {
    this.cancel();
    this.disposed = true;
  }

  private cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    this.last = this.clock.now();
    this.render();
  }
}
