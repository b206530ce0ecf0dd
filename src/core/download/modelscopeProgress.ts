// Reads `modelscope download` progress: tqdm bars on stderr, refreshed with `\r` and moved with ESC[A, one overall
// bar (`Processing 78 items: 12%|█▏ | 9.00/78.0 [03:10<24:22, 21.2s/it]`, counts printed with unit_scale) and one
// bar per file being fetched (`Downloading [model-00009-of-000064.safetensors]: 45%|████▌ | 4.41G/9.79G
// [00:41<00:50, 107MB/s]`). Sizes are tqdm's unit_scale with divisor 1000 (k, M, G, T).

export interface DownloadProgress {
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  /** bytes per second, summed over the files being fetched */
  speed?: number;
  etaSeconds?: number;
  currentFile?: string;
}

const UNIT: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
const OVERALL = /Processing (\d+) items:\s*\d+%\|[^|]*\|\s*([\d.]+)([kMGT]?)\/([\d.]+)([kMGT]?)\s*\[([^\]<]*)<([^,\]]*)/;
const FILE = /Downloading \[([^\]]+)\]:\s*\d+%\|[^|]*\|\s*([\d.]+)([kMGTP]?)B?\/([\d.]+)([kMGTP]?)B?\s*\[[^<]*<([^,\]]*),\s*([\d.]+|\?)([kMGTP]?)B\/s/;

function num(value: string, unit: string): number {
  return Number(value) * (UNIT[unit] ?? 1);
}

/** `01:02:03` / `24:22` → seconds; `?` → undefined */
function clock(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+(:\d+){1,2}$/.test(t)) return undefined;
  return t.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

export class ModelscopeProgressParser {
  private readonly perFile = new Map<string, { done: number; total: number; speed: number }>();
  private overall: { done: number; total: number; eta?: number } | undefined;
  private current: string | undefined;
  private pending = '';

  /** Feed raw stderr text (any chunking); returns the progress after it, or undefined when nothing changed. */
  push(chunk: string): DownloadProgress | undefined {
    const text = this.pending + chunk;
    // A bar is complete when the next \r, \n or ESC arrives; keep the unfinished tail for the next chunk.
    const parts = text.split(/\r|\n|\x1b\[A/);
    this.pending = (parts.pop() ?? '').slice(-4096);
    let changed = false;
    for (const part of parts) changed = this.line(part) || changed;
    return changed ? this.progress() : undefined;
  }

  progress(): DownloadProgress {
    let done = 0;
    let total = 0;
    let speed = 0;
    let active = 0;
    for (const f of this.perFile.values()) {
      done += f.done;
      total += f.total;
      if (f.done < f.total) {
        speed += f.speed;
        active++;
      }
    }
    const eta = this.overall?.eta ?? (speed > 0 ? (total - done) / speed : undefined);
    return {
      files: { done: Math.round(this.overall?.done ?? 0), total: Math.round(this.overall?.total ?? 0) },
      bytes: { done, total },
      ...(active && speed > 0 ? { speed } : {}),
      ...(eta !== undefined ? { etaSeconds: Math.round(eta) } : {}),
      ...(this.current ? { currentFile: this.current } : {}),
    };
  }

  private line(raw: string): boolean {
    const o = OVERALL.exec(raw);
    if (o) {
      this.overall = { done: num(o[2]!, o[3]!), total: Number(o[1]), ...(clock(o[7]!) !== undefined ? { eta: clock(o[7]!)! } : {}) };
      return true;
    }
    const f = FILE.exec(raw);
    if (f) {
      const [, name, d, du, t, tu, , sp, su] = f;
      const prev = this.perFile.get(name!);
      const done = Math.max(prev?.done ?? 0, num(d!, du!));
      this.perFile.set(name!, { done, total: num(t!, tu!), speed: sp === '?' ? 0 : num(sp!, su!) });
      if (done < num(t!, tu!)) this.current = name;
      return true;
    }
    return false;
  }
}

/** A download's failure, from the tool's last words, in plain language. */
export function explainDownloadFailure(output: string, exitCode: number): { title: string; explanation: string } {
  if (/No space left on device|Errno 28/.test(output)) {
    return { title: 'The disk is full', explanation: 'ModelScope ran out of disk space. Free space (Kimi-K2.5 needs about 595 GB) or choose another download directory; a rerun resumes from the partial files.' };
  }
  if (/IncompleteRead|Connection broken|ConnectionError|MaxRetryError|Read timed out|Connection reset/.test(output)) {
    return { title: 'The download was interrupted', explanation: 'The connection to ModelScope broke. Run "Download Model" again: finished files are skipped and the partial one resumes.' };
  }
  if (/modelscope: (command )?not found|command not found: modelscope|No module named '?modelscope/.test(output) || exitCode === 127) {
    return { title: 'ModelScope is not installed on the host', explanation: 'Install it with `pip install modelscope` in the environment the profile uses (environment.venv / conda / commandPrefix).' };
  }
  if (/404|not exist|does not exist|NotExist|Repo.*not found|model.*not found/i.test(output)) {
    return { title: 'ModelScope does not know this model', explanation: `Check the model id in the server profile (it should be moonshotai/Kimi-K2.5). ${lastLine(output)}` };
  }
  if (exitCode === 130 || /KeyboardInterrupt/.test(output)) return { title: 'The download was cancelled', explanation: 'Partial files are kept; "Download Model" resumes.' };
  return { title: 'The download failed', explanation: lastLine(output) || `modelscope exited with ${exitCode}` };
}

function lastLine(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split(/[\r\n]/).map((l) => l.trim()).filter(Boolean).at(-1)?.slice(0, 300) ?? '';
}
