// tqdm as vLLM uses it.
//  - Shard loading uses a fixed bar_format ending in "\n" (vllm/model_executor/model_loader/weight_utils.py
//    `_BAR_FORMAT`), so every update is its own line, on a TTY and in a log file alike: `\r` + text + `\n`. tqdm shows
//    0/N first, then one line per shard, then on close the final line again with the overall average rate, then "\n".
//  - CUDA graph capture uses a default tqdm bar: `\r`-refreshed in place, one "\n" at the end.
import { pyFixed } from './pyrepr';

/** tqdm.format_interval: `05:10`, `1:02:03`. */
export function formatInterval(secs: number): string {
  const t = Math.max(0, Math.floor(secs));
  const mins = Math.floor(t / 60);
  const s = t % 60;
  const h = Math.floor(mins / 60);
  const m = mins % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

/** tqdm's rate_fmt without unit_scale: `{:5.2f}s/it` when slower than 1 it/s, else `{:5.2f}it/s`. */
export function formatRate(secsPerIt: number | null): string {
  if (secsPerIt === null || !(secsPerIt > 0)) return '?it/s';
  return secsPerIt > 1 ? `${pyFixed(secsPerIt, 2).padStart(5)}s/it` : `${pyFixed(1 / secsPerIt, 2).padStart(5)}it/s`;
}

function percent(n: number, total: number): string {
  return pyFixed((n / total) * 100, 0).padStart(3);
}

/** One `{desc}: {percentage:3.0f}% Completed | {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]` line. */
export function completedLine(desc: string, n: number, total: number, elapsed: number, secsPerIt: number | null): string {
  const remaining = secsPerIt === null ? '?' : formatInterval((total - n) * secsPerIt);
  return `${desc}: ${percent(n, total)}% Completed | ${n}/${total} [${formatInterval(elapsed)}<${remaining}, ${formatRate(secsPerIt)}]`;
}

/** tqdm's bias-corrected exponential moving average (smoothing 0.3) of seconds per iteration. */
export class Ema {
  private last = 0;
  private calls = 0;
  constructor(private readonly alpha = 0.3) {}
  update(x: number): number {
    const beta = 1 - this.alpha;
    this.last = this.alpha * x + beta * this.last;
    this.calls++;
    return this.last / (1 - beta ** this.calls);
  }
}

const BAR_CHARS = ' ▏▎▍▌▋▊▉█';

/** A default tqdm bar: `Capturing CUDA graphs (decode, FULL):  40%|████      | 14/35 [00:01<00:02,  9.12it/s]`. */
export function barLine(desc: string, n: number, total: number, elapsed: number, secsPerIt: number | null): string {
  const width = 10;
  const nsyms = BAR_CHARS.length - 1;
  const filled = Math.floor((n / total) * width * nsyms);
  const full = Math.floor(filled / nsyms);
  const part = filled % nsyms;
  let bar = BAR_CHARS[nsyms].repeat(full);
  if (full < width) bar += BAR_CHARS[part] + ' '.repeat(width - full - 1);
  const remaining = secsPerIt === null ? '?' : formatInterval((total - n) * secsPerIt);
  return `${desc}: ${percent(n, total)}%|${bar}| ${n}/${total} [${formatInterval(elapsed)}<${remaining}, ${formatRate(secsPerIt)}]`;
}
