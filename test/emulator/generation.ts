// The engine loop shared by /v1/chat/completions and /v1/completions: paces the planned steps (first token after
// ttftMs, then tokensPerSecond), keeps the engine metrics moving, and stops at once when the request is aborted.
import type { Step } from './kimiOutput';
import type { EngineMetrics, StatsLogger } from './metrics';

/** Why a generation stopped early: the client went away, the server is closing, or the engine died. */
export type AbortReason = 'client' | 'close' | 'dead';

export interface EngineContext {
  metrics: EngineMetrics;
  stats: StatsLogger;
}

export interface GenerationParams {
  steps: Step[];
  /** Add the end-of-turn token (`<|im_end|>`) after the steps: it takes time and counts as generated. */
  endOfTurnToken: boolean;
  promptTokens: number;
  promptTokenList: string[];
  /** When the request arrived (ms); TTFT is measured from here. */
  startedAt: number;
  ttftMs: number;
  tokensPerSecond: number;
  signal: AbortSignal;
  /** Called once per step when it is due, with the tokens generated so far and the visible characters before it.
   *  Return 'stop' to end the generation here (a scripted failure). */
  onStep(step: Step, tokensSoFar: number, charsBefore: number): 'continue' | 'stop' | Promise<'continue' | 'stop'>;
}

export type GenerationOutcome = 'finished' | 'stopped' | AbortReason;

/** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runGeneration(engine: EngineContext, p: GenerationParams): Promise<GenerationOutcome> {
  const { metrics } = engine;
  const steps = p.endOfTurnToken ? [...p.steps, { tokens: 1, chars: 0 }] : p.steps;
  const aborted = (): AbortReason | undefined => (p.signal.aborted ? (p.signal.reason as AbortReason) : undefined);
  let kvHeld = p.promptTokens;
  metrics.running++;
  metrics.kvTokens += kvHeld;
  engine.stats.wake();
  let tokens = 0;
  let chars = 0;
  let lastTokenAt = 0;
  let outcome: GenerationOutcome = 'finished';
  try {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const due = p.startedAt + p.ttftMs + (p.tokensPerSecond > 0 ? ((tokens + step.tokens - 1) * 1000) / p.tokensPerSecond : 0);
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait, p.signal);
      else if (i % 32 === 31) await yieldToLoop(); // let aborts and other requests in during fast output
      const reason = aborted();
      if (reason) return (outcome = reason);

      const now = Date.now();
      if (i === 0) {
        // Prefill happened: the prompt is counted now, as vLLM's iteration stats do.
        metrics.recordPrefill(p.promptTokenList, p.promptTokens);
        metrics.queue.observe(0);
        metrics.ttft.observe((now - p.startedAt) / 1000);
      } else {
        for (let k = 0; k < step.tokens; k++) metrics.itl.observe((now - lastTokenAt) / 1000 / step.tokens);
      }
      lastTokenAt = now;
      tokens += step.tokens;
      metrics.generationTokens += step.tokens;
      metrics.kvTokens += step.tokens;
      kvHeld += step.tokens;

      const verdict = await p.onStep(step, tokens, chars);
      chars += step.chars;
      const late = aborted();
      if (late) return (outcome = late);
      if (verdict === 'stop') return (outcome = 'stopped');
    }
    metrics.e2e.observe((Date.now() - p.startedAt) / 1000);
    return outcome;
  } finally {
    metrics.running--;
    metrics.kvTokens -= kvHeld;
    if (outcome === 'client' || outcome === 'close' || outcome === 'dead') metrics.aborted++;
  }
}
