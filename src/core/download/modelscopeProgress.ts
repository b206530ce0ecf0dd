// Reads `modelscope download` progress: tqdm bars on stderr, refreshed with `\r` and moved with ESC[A, one overall
// bar (`Processing 78 items: 12%|█▏ | 9.00/78.0 [03:10<24:22, 21.2s/it]` — counts printed with unit_scale) and one
// bar per file being fetched (`Downloading [model-00009-of-000064.safetensors]: 45%|████▌ | 4.41G/9.79G
// [00:41<00:50, 107MB/s]`). modelscope's file bars use unit_divisor=1024, so `9.79G` is 9.79 GiB; tqdm formats the
// RATE with the default divisor 1000, so `107MB/s` is 107e6 bytes/s.
//
// Bytes: the sum over the files seen (each at its latest count; a file only grows), against a total that is the
// larger of that sum and the estimate for the selection (so the percentage does not jump as new bars appear).
// Speed: bytes over the last ~5 s of progress (falls back to the bars' own rates); ETA = bytes left / speed.

export interface DownloadProgress {
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  /** bytes per second */
  speed?: number;
  etaSeconds?: number;
  currentFile?: string;
}

const SIZE_UNIT: Record<string, number> = { '': 1, k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };
const RATE_UNIT: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
const OVERALL = /Processing (\d+) items:\s*\d+%\|[^|]*\|\s*([\d.]+)([kMGT]?)\/([\d.]+)([kMGT]?)/;
const FILE = /Downloading \[([^\]]+)\]:\s*\d+%\|[^|]*\|\s*([\d.]+)([kMGTP]?)B?\/([\d.]+)([kMGTP]?)B?\s*\[[^\]]*?(?:,\s*([\d.]+|\?)([kMGTP]?)B\/s)?\]/;
const GOT = /Got (\d+) files, start to download/;

export interface ProgressParserOptions {
  /** Estimated bytes of the whole selection (estimateDownloadBytes). */
  expectedBytes?: number | undefined;
  /** Files in the selection. */
  expectedFiles?: number;
  now?: () => number;
}

export class ModelscopeProgressParser {
  private readonly perFile = new Map<string, { done: number; total: number; rate: number }>();
  private overall: { done: number; total: number } | undefined;
  private got: number | undefined;
  private current: string | undefined;
  private pending = '';
  private readonly samples: { t: number; bytes: number }[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: ProgressParserOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** Feed raw output (any chunking); returns the progress after it, or undefined when nothing changed. */
  push(chunk: string): DownloadProgress | undefined {
    const text = this.pending + chunk;
    // A bar is complete when the next \r, \n or ESC arrives; keep the unfinished tail for the next chunk.
    const parts = text.split(/\r|\n|\x1b\[A/);
    this.pending = (parts.pop() ?? '').slice(-4096);
    let changed = false;
    for (const part of parts) changed = this.line(part) || changed;
    if (!changed) return undefined;
    const p = this.progress();
    this.samples.push({ t: this.now(), bytes: p.bytes.done });
    while (this.samples.length > 2 && this.samples[0]!.t < this.now() - 5000) this.samples.shift();
    return this.progress();
  }

  /** The output ended: parse what is left. */
  end(): DownloadProgress | undefined {
    const rest = this.pending;
    this.pending = '';
    return rest && this.line(rest) ? this.progress() : undefined;
  }

  progress(): DownloadProgress {
    let done = 0;
    let seenTotal = 0;
    let barRate = 0;
    for (const f of this.perFile.values()) {
      done += f.done;
      seenTotal += f.total;
      if (f.done < f.total) barRate += f.rate;
    }
    // Remaining files modelscope announced ("Got N files") but whose bars have not appeared yet.
    const filesTotal = Math.round(this.overall?.total ?? this.got ?? 0);
    let expected = this.opts.expectedBytes ?? 0;
    if (expected && this.opts.expectedFiles && filesTotal && filesTotal < this.opts.expectedFiles) {
      expected = (expected * filesTotal) / this.opts.expectedFiles; // a resumed run: some files are already there
    }
    const total = Math.max(seenTotal, Math.round(expected));
    const first = this.samples[0];
    const last = this.samples.at(-1);
    const measured = first && last && last.t - first.t >= 500 ? ((last.bytes - first.bytes) * 1000) / (last.t - first.t) : 0;
    const speed = measured > 0 ? measured : barRate;
    const eta = speed > 0 && total > done ? (total - done) / speed : undefined;
    return {
      files: { done: Math.round(this.overall?.done ?? 0), total: filesTotal },
      bytes: { done: Math.round(done), total },
      ...(speed > 0 ? { speed: Math.round(speed) } : {}),
      ...(eta !== undefined ? { etaSeconds: Math.round(eta) } : {}),
      ...(this.current ? { currentFile: this.current } : {}),
    };
  }

  private line(raw: string): boolean {
    const got = GOT.exec(raw);
    if (got) {
      this.got = Number(got[1]);
      return true;
    }
    const o = OVERALL.exec(raw);
    if (o) {
      this.overall = { done: Number(o[2]) * (RATE_UNIT[o[3]!] ?? 1), total: Number(o[1]) };
      return true;
    }
    const f = FILE.exec(raw);
    if (f) {
      const [, name, d, du, t, tu, sp, su] = f;
      const prev = this.perFile.get(name!);
      const total = Number(t) * (SIZE_UNIT[tu!] ?? 1);
      const done = Math.min(total, Math.max(prev?.done ?? 0, Number(d) * (SIZE_UNIT[du!] ?? 1)));
      this.perFile.set(name!, { done, total, rate: sp === undefined || sp === '?' ? 0 : Number(sp) * (RATE_UNIT[su!] ?? 1) });
      if (done < total) this.current = name;
      else if (this.current === name) this.current = undefined;
      return true;
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// How much a selection weighs

const KIMI_SHARDS = 64;
const KIMI_SHARD_BYTES = 595 * 1024 ** 3;
/** The 14 files besides the shards (config, tokenizer, code, index, docs): about 12 MB together. */
const KIMI_OTHER_FILES = [
  'LICENSE', 'README.md', 'chat_template.jinja', 'config.json', 'configuration.json', 'configuration_kimi_k25.py', 'docs/deploy_guidance.md',
  'generation_config.json', 'kimi_k25_processor.py', 'model.safetensors.index.json', 'modeling_kimi_k25.py', 'tiktoken.model',
  'tokenization_kimi.py', 'tokenizer_config.json',
];
const KIMI_OTHER_BYTES = 12 * 1024 ** 2;

/** fnmatch-style glob (`*`, `?`, `[…]`, `[!…]`) → RegExp; a trailing `/` means everything below. */
export function globRegex(glob: string): RegExp {
  let g = glob.endsWith('/') ? `${glob}*` : glob;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = g.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = g.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  g = re;
  return new RegExp(`^${g}$`);
}

/**
 * What a download of `model` with these include/exclude globs weighs: for Kimi-K2.5 from its 64 shards (595 GiB)
 * and 14 other files (~12 MB); for another model nothing is known (`known: false`).
 */
export function estimateDownloadBytes(model: string, include: readonly string[] = [], exclude: readonly string[] = []): { bytes: number; files: number; known: boolean } {
  if (model.toLowerCase() !== 'moonshotai/kimi-k2.5') return { bytes: 0, files: 0, known: false };
  const split = (gs: readonly string[]) => gs.flatMap((g) => g.split(',')).map((g) => g.trim()).filter(Boolean).map(globRegex);
  const inc = split(include);
  const exc = split(exclude);
  const wanted = (f: string) => (inc.length === 0 || inc.some((r) => r.test(f))) && !exc.some((r) => r.test(f));
  const shardName = (i: number) => `model-${String(i).padStart(5, '0')}-of-${String(KIMI_SHARDS).padStart(6, '0')}.safetensors`;
  let shards = 0;
  for (let i = 1; i <= KIMI_SHARDS; i++) if (wanted(shardName(i))) shards++;
  const others = KIMI_OTHER_FILES.filter(wanted).length;
  return { bytes: Math.round((shards * KIMI_SHARD_BYTES) / KIMI_SHARDS + (others * KIMI_OTHER_BYTES) / KIMI_OTHER_FILES.length), files: shards + others, known: true };
}

/** `595.0 GiB`, `12.3 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A download's failure, from the tool's last words, in plain language. */
export function explainDownloadFailure(output: string, exitCode: number): { title: string; explanation: string } {
  if (/No space left on device|Errno 28/.test(output)) {
    return {
      title: 'The disk is full',
      explanation: 'ModelScope ran out of disk space. Free space (Kimi-K2.5 needs about 595 GB) or choose another download directory; a rerun resumes from the partial files.',
    };
  }
  if (/IncompleteRead|Connection broken|ConnectionError|MaxRetryError|Read timed out|Connection reset|ChunkedEncodingError/.test(output)) {
    return {
      title: 'The download was interrupted',
      explanation: 'The connection to ModelScope broke. Run the download again — a rerun resumes: finished files are skipped and the partial one continues where it stopped.',
    };
  }
  if (/modelscope: (command )?not found|command not found: modelscope|No module named '?modelscope/.test(output) || exitCode === 127) {
    return {
      title: 'ModelScope is not installed on the host',
      explanation: 'Install it with `pip install modelscope` in the environment the profile uses (environment.venv / conda / commandPrefix), or set that environment.',
    };
  }
  if (/404|not exist|does not exist|NotExist|Repo.*not found|model.*not found/i.test(output)) {
    return { title: 'ModelScope does not know this model', explanation: `Check the model id in the server profile (it should be moonshotai/Kimi-K2.5). ${lastLine(output)}` };
  }
  if (exitCode === 130 || /KeyboardInterrupt/.test(output)) return { title: 'The download was cancelled', explanation: 'Partial files are kept; a rerun resumes.' };
  return { title: 'The download failed', explanation: lastLine(output) || `modelscope exited with ${exitCode}` };
}

function lastLine(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split(/[\r\n]/).map((l) => l.trim()).filter(Boolean).at(-1)?.slice(0, 300) ?? '';
}
