// The engine's counters, rendered the way vLLM's /metrics (prometheus_client, text format 0.0.4) renders them, and
// the periodic `Engine 000: Avg prompt throughput …` stats line computed from the same numbers.
import { versionAtLeast } from './vllmFormat';

// Bucket bounds copied from vLLM V1's loggers so that dashboards built on real vLLM read the emulator the same way.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
  40.0, 80.0, 160.0, 640.0, 2560.0];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
  80.0];
const LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
  480.0, 960.0, 1920.0, 7680.0];

/** KV cache size in tokens ("GPU KV cache size: 3,522,400 tokens" in the startup log of the sheet). */
export const KV_CACHE_TOKENS = 3_522_400;
/** vLLM's prefix cache works in blocks; only whole blocks can hit. */
const BLOCK_SIZE = 16;
/** vLLM V1's finish reasons, all exported from the start (at 0) like vLLM does. */
export const FINISH_REASONS = ['stop', 'length', 'abort'] as const;

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: number[]) {
    this.counts = bounds.map(() => 0);
  }
  observe(v: number) {
    this.sum += v;
    this.count++;
    this.bounds.forEach((b, i) => {
      if (v <= b) this.counts[i]++;
    });
  }
}

/** Python's repr() of a float, as prometheus_client prints sample values (1 → "1.0", 1e-05 → "1e-05"). */
export function pyFloat(n: number): string {
  if (n === Infinity) return '+Inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return n.toFixed(1);
  if (n !== 0 && Math.abs(n) < 1e-4) {
    const [mant, exp] = n.toExponential().split('e');
    const e = Number(exp);
    return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return String(n);
}

export interface RequestOutcome {
  finishReason: 'stop' | 'length' | 'tool_calls' | 'abort' | 'error';
}

export class EngineMetrics {
  running = 0;
  waiting = 0;
  /** KV-cache tokens held by running requests (prompt + generated so far). */
  kvTokens = 0;
  promptTokens = 0;
  generationTokens = 0;
  preemptions = 0;
  prefixQueries = 0;
  prefixHits = 0;
  aborted = 0;
  readonly success = new Map<string, number>(FINISH_REASONS.map((r) => [r, 0]));
  readonly ttft = new Histogram(TTFT_BUCKETS);
  readonly itl = new Histogram(ITL_BUCKETS);
  readonly e2e = new Histogram(LATENCY_BUCKETS);
  readonly queue = new Histogram(LATENCY_BUCKETS);
  private readonly createdAt = Date.now() / 1000;
  /** Recent prompts (as token lists) for the prefix-cache estimate. */
  private readonly recentPrompts: string[][] = [];

  /** Prefix caching: the longest common prefix with a recent prompt, in whole blocks, never the whole prompt
   *  (vLLM always recomputes at least the last token). Counted when the prompt is prefilled. */
  recordPrefill(promptTokenList: string[], promptTokens: number) {
    let best = 0;
    for (const prev of this.recentPrompts) {
      const n = Math.min(prev.length, promptTokenList.length);
      let i = 0;
      while (i < n && prev[i] === promptTokenList[i]) i++;
      best = Math.max(best, i);
    }
    const hits = Math.min(Math.floor(best / BLOCK_SIZE) * BLOCK_SIZE, Math.max(0, promptTokens - 1));
    this.prefixQueries += promptTokens;
    this.prefixHits += hits;
    this.promptTokens += promptTokens;
    this.recentPrompts.unshift(promptTokenList);
    if (this.recentPrompts.length > 8) this.recentPrompts.pop();
  }

  kvUsage(): number {
    return Math.min(1, this.kvTokens / KV_CACHE_TOKENS);
  }

  /** Prometheus text exposition. Labels are sorted by name, as prometheus_client prints them. */
  render(modelName: string, vllmVersion: string): string {
    const labels = (extra: Record<string, string> = {}) => {
      const all: Record<string, string> = { engine: '0', model_name: modelName, ...extra };
      const body = Object.keys(all)
        .sort()
        .map((k) => `${k}="${all[k].replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`)
        .join(',');
      return `{${body}}`;
    };
    const out: string[] = [];
    const header = (name: string, help: string, type: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const gauge = (name: string, help: string, value: number) => {
      header(name, help, 'gauge');
      out.push(`${name}${labels()} ${pyFloat(value)}`);
    };
    const counter = (name: string, help: string, values: [Record<string, string>, number][]) => {
      header(`${name}_total`, help, 'counter');
      for (const [l, v] of values) out.push(`${name}_total${labels(l)} ${pyFloat(v)}`);
      for (const [l] of values) out.push(`${name}_created${labels(l)} ${pyFloat(this.createdAt)}`);
    };
    const histogram = (name: string, help: string, h: Histogram) => {
      header(name, help, 'histogram');
      h.bounds.forEach((b, i) => out.push(`${name}_bucket${labels({ le: pyFloat(b) })} ${pyFloat(h.counts[i])}`));
      out.push(`${name}_bucket${labels({ le: '+Inf' })} ${pyFloat(h.count)}`);
      out.push(`${name}_count${labels()} ${pyFloat(h.count)}`);
      out.push(`${name}_sum${labels()} ${pyFloat(h.sum)}`);
      out.push(`${name}_created${labels()} ${pyFloat(this.createdAt)}`);
    };

    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', this.running);
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', this.waiting);
    if (versionAtLeast(vllmVersion, '0.9.0')) {
      gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', this.kvUsage());
    } else {
      gauge('vllm:gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage.', this.kvUsage());
    }
    counter('vllm:num_preemptions', 'Cumulative number of preemption from the engine.', [[{}, this.preemptions]]);
    counter('vllm:prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.',
      [[{}, this.prefixQueries]]);
    counter('vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.', [[{}, this.prefixHits]]);
    counter('vllm:prompt_tokens', 'Number of prefill tokens processed.', [[{}, this.promptTokens]]);
    counter('vllm:generation_tokens', 'Number of generation tokens processed.', [[{}, this.generationTokens]]);
    counter('vllm:request_success', 'Count of successfully processed requests.',
      [...this.success.entries()].map(([reason, v]) => [{ finished_reason: reason }, v]));
    histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', this.ttft);
    histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', this.itl);
    histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', this.e2e);
    histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', this.queue);
    return out.join('\n') + '\n';
  }
}

/** Emits vLLM's periodic stats line while the engine is busy (and once more after it went idle, like vLLM, whose
 *  last line shows the throughput dropping to 0). */
export class StatsLogger {
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  private lastPrompt = 0;
  private lastGen = 0;
  private lastPrefixQueries = 0;
  private lastPrefixHits = 0;
  private idleTicks = 0;

  constructor(
    private readonly metrics: EngineMetrics,
    private readonly sink: ((line: string) => void) | undefined,
    private readonly intervalMs: number,
  ) {}

  /** Call when a request starts: starts the interval if it is not running. */
  wake() {
    if (!this.sink || this.timer) return;
    this.lastAt = Date.now();
    this.lastPrompt = this.metrics.promptTokens;
    this.lastGen = this.metrics.generationTokens;
    this.lastPrefixQueries = this.metrics.prefixQueries;
    this.lastPrefixHits = this.metrics.prefixHits;
    this.idleTicks = 0;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The line for the interval that ends now. */
  line(): string {
    const m = this.metrics;
    const now = Date.now();
    const secs = Math.max(1e-3, (now - this.lastAt) / 1000);
    const promptTput = (m.promptTokens - this.lastPrompt) / secs;
    const genTput = (m.generationTokens - this.lastGen) / secs;
    const queries = m.prefixQueries - this.lastPrefixQueries;
    const hitRate = queries > 0 ? ((m.prefixHits - this.lastPrefixHits) / queries) * 100 : 0;
    this.lastAt = now;
    this.lastPrompt = m.promptTokens;
    this.lastGen = m.generationTokens;
    this.lastPrefixQueries = m.prefixQueries;
    this.lastPrefixHits = m.prefixHits;
    return (
      `Engine 000: Avg prompt throughput: ${promptTput.toFixed(1)} tokens/s, ` +
      `Avg generation throughput: ${genTput.toFixed(1)} tokens/s, ` +
      `Running: ${m.running} reqs, Waiting: ${m.waiting} reqs, ` +
      `GPU KV cache usage: ${(m.kvUsage() * 100).toFixed(1)}%, Prefix cache hit rate: ${hitRate.toFixed(1)}%`
    );
  }

  private tick() {
    const busy = this.metrics.running > 0 || this.metrics.waiting > 0 ||
      this.metrics.generationTokens !== this.lastGen || this.metrics.promptTokens !== this.lastPrompt;
    this.sink?.(this.line());
    this.idleTicks = busy ? 0 : this.idleTicks + 1;
    if (this.idleTicks >= 1) this.stop();
  }
}
