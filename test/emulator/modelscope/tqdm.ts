// A byte-faithful port of the parts of tqdm (std.py, 4.6x) that modelscope's progress output goes through:
// format_meter, the smooth-block bar, EMA rate smoothing, mininterval/miniters throttling and — because
// modelscope downloads several files at once — tqdm's multi-bar positioning with '\n' and ESC[A cursor moves.
//
// Like the real tqdm this writes '\r' before every refresh whether or not the stream is a terminal; a reader of
// a pipe sees '\r'-separated updates and a '\n' only when a bar closes. Only the bar width depends on the
// terminal: ncols = terminal width on a TTY, else COLUMNS-1 when COLUMNS and LINES are set, else a 10-cell bar.
import { formatInterval, formatSizeof, pyFixed } from './pyfmt';

const UTF_BLOCKS = ` ${Array.from({ length: 8 }, (_, i) => String.fromCharCode(0x258f - i)).join('')}`; // " ▏▎▍▌▋▊▉█"
const MOVE_UP = '\x1b[A';

export interface TqdmScreen {
  write(s: string): void;
  /** Seconds, monotonic. */
  now(): number;
  ncols?: number;
  nrows?: number;
}

/** What tqdm shares between bars of one process: the output stream and the set of live bars. */
export class TqdmGroup {
  readonly instances = new Set<Tqdm>();
  constructor(readonly screen: TqdmScreen) {}

  freePos(except: Tqdm): number {
    const used = new Set<number>();
    for (const i of this.instances) if (i !== except && i.pos !== undefined) used.add(Math.abs(i.pos));
    for (let p = 0; ; p++) if (!used.has(p)) return p;
  }
}

/** tqdm.format_meter for a known total and the default bar format. */
export function formatMeter(o: {
  n: number; total: number | null; elapsed: number; ncols?: number; prefix: string; unit: string;
  unitScale: boolean; rate: number | null; unitDivisor: number; initial: number;
}): string {
  let total = o.total;
  const n = o.n;
  if (total && n >= total + 0.5) total = null;
  const elapsedStr = formatInterval(o.elapsed);
  let rate = o.rate;
  if (rate === null && o.elapsed) rate = (n - o.initial) / o.elapsed;
  const invRate = rate ? 1 / rate : null;
  const rateNoinvFmt = `${rate ? (o.unitScale ? formatSizeof(rate) : pyFixed(rate, 2, 5)) : '?'}${o.unit}/s`;
  const rateInvFmt = `${invRate ? (o.unitScale ? formatSizeof(invRate) : pyFixed(invRate, 2, 5)) : '?'}s/${o.unit}`;
  const rateFmt = invRate && invRate > 1 ? rateInvFmt : rateNoinvFmt;
  const nFmt = o.unitScale ? formatSizeof(n, '', o.unitDivisor) : String(n);
  const totalFmt = total !== null ? (o.unitScale ? formatSizeof(total, '', o.unitDivisor) : String(total)) : '?';
  const remaining = rate && total ? (total - n) / rate : 0;
  const remainingStr = rate ? formatInterval(remaining) : '?';
  let lBar = o.prefix ? (o.prefix.endsWith(': ') ? o.prefix : `${o.prefix}: `) : '';
  const rBar = `| ${nFmt}/${totalFmt} [${elapsedStr}<${remainingStr}, ${rateFmt}]`;
  if (!total) {
    const res = `${o.prefix ? `${o.prefix}: ` : ''}${nFmt}${o.unit} [${elapsedStr}, ${rateFmt}]`;
    return o.ncols ? trim(res, o.ncols) : res;
  }
  const frac = n / total;
  lBar += `${pyFixed(frac * 100, 0, 3)}%|`;
  if (o.ncols === 0) return lBar.slice(0, -1) + rBar.slice(1);
  const nobarLen = [...lBar].length + [...rBar].length;
  const width = o.ncols ? Math.max(1, o.ncols - nobarLen) : 10;
  const res = lBar + bar(frac, width) + rBar;
  return o.ncols ? trim(res, o.ncols) : res;
}

function bar(frac: number, width: number): string {
  const nsyms = UTF_BLOCKS.length - 1;
  const cells = Math.trunc(frac * width * nsyms);
  const full = Math.floor(cells / nsyms);
  const part = cells % nsyms;
  let res = UTF_BLOCKS[nsyms]!.repeat(full);
  if (full < width) res += UTF_BLOCKS[part]! + ' '.repeat(width - full - 1);
  return res;
}

function trim(s: string, ncols: number): string {
  const chars = [...s];
  return chars.length > ncols ? chars.slice(0, ncols).join('') : s;
}

/** tqdm's EMA: smoothing 0.3, bias-corrected. */
class Ema {
  private last = 0;
  private calls = 0;
  constructor(private readonly alpha = 0.3) {}
  call(x?: number): number {
    const beta = 1 - this.alpha;
    if (x !== undefined) {
      this.last = this.alpha * x + beta * this.last;
      this.calls++;
    }
    return this.calls ? this.last / (1 - beta ** this.calls) : this.last;
  }
}

export interface TqdmOptions {
  desc: string;
  total: number;
  unit?: string;
  unitScale?: boolean;
  unitDivisor?: number;
  initial?: number;
  leave?: boolean;
}

export class Tqdm {
  pos: number | undefined;
  n: number;
  private readonly desc: string;
  private readonly total: number;
  private readonly unit: string;
  private readonly unitScale: boolean;
  private readonly unitDivisor: number;
  private readonly initial: number;
  private readonly leave: boolean;
  private readonly mininterval = 0.1;
  private readonly maxinterval = 10;
  private miniters = 0;
  private lastPrintN: number;
  private lastPrintT = 0;
  private startT: number | undefined;
  private disabled = false;
  private lastLen = 0;
  private readonly emaDn = new Ema();
  private readonly emaDt = new Ema();
  private readonly emaMiniters = new Ema();
  private rateFromEma = true;

  constructor(private readonly group: TqdmGroup, o: TqdmOptions) {
    this.desc = o.desc;
    this.total = o.total;
    this.unit = o.unit ?? 'it';
    this.unitScale = o.unitScale ?? false;
    this.unitDivisor = o.unitDivisor ?? 1000;
    this.initial = o.initial ?? 0;
    this.leave = o.leave ?? true;
    this.n = this.initial;
    this.lastPrintN = this.initial;
    group.instances.add(this);
    this.pos = group.freePos(this);
    this.refresh();
    this.lastPrintT = this.screen.now();
    this.startT = this.lastPrintT;
  }

  private get screen(): TqdmScreen {
    return this.group.screen;
  }

  private get nrows(): number {
    return this.screen.nrows || 20;
  }

  /** Returns true when the update was displayed. */
  update(n = 1): boolean {
    if (this.disabled) return false;
    if (n < 0) this.lastPrintN += n;
    this.n += n;
    if (this.n - this.lastPrintN >= this.miniters) {
      let curT = this.screen.now();
      const dt = curT - this.lastPrintT;
      if (dt >= this.mininterval && this.startT !== undefined && curT >= this.startT) {
        curT = this.screen.now();
        const dn = this.n - this.lastPrintN;
        if (dt && dn) {
          this.emaDn.call(dn);
          this.emaDt.call(dt);
        }
        this.refresh();
        if (this.maxinterval && dt >= this.maxinterval) {
          this.miniters = (dn * this.mininterval) / dt;
        } else {
          this.miniters = this.emaMiniters.call(dn * (this.mininterval && dt ? this.mininterval / dt : 1));
        }
        this.lastPrintN = this.n;
        this.lastPrintT = curT;
        return true;
      }
    }
    return false;
  }

  close(): void {
    if (this.disabled) return;
    this.disabled = true;
    const pos = Math.abs(this.pos ?? 0);
    this.decrInstances();
    if (this.leave) {
      // Closing reports the overall average rate, not the smoothed one.
      this.rateFromEma = false;
      this.display(undefined, 0);
      this.screen.write('\n');
    } else if (this.display('', pos) && !pos) {
      this.screen.write('\r');
    }
  }

  /** tqdm._decr_instances: forget this bar; a bar hidden below the screen takes its place. */
  private decrInstances(): void {
    this.group.instances.delete(this);
    const last = this.nrows - 1;
    const overflow = [...this.group.instances].filter((i) => i.pos !== undefined && last <= i.pos);
    if (overflow.length) {
      const inst = overflow.reduce((a, b) => ((a.pos ?? 0) <= (b.pos ?? 0) ? a : b));
      inst.clear();
      inst.pos = Math.abs(this.pos ?? 0);
    }
  }

  clear(): void {
    if (this.disabled) return;
    const pos = Math.abs(this.pos ?? 0);
    if (pos < this.nrows) {
      this.moveto(pos);
      this.printStatus('');
      this.screen.write('\r');
      this.moveto(-pos);
    }
  }

  refresh(): void {
    if (!this.disabled) this.display();
  }

  private moveto(n: number): void {
    this.screen.write('\n'.repeat(Math.max(0, n)) + MOVE_UP.repeat(Math.max(0, -n)));
  }

  private printStatus(s: string): void {
    const len = [...s].length;
    this.screen.write(`\r${s}${' '.repeat(Math.max(this.lastLen - len, 0))}`);
    this.lastLen = len;
  }

  private display(msg?: string, posArg?: number): boolean {
    const pos = posArg ?? Math.abs(this.pos ?? 0);
    if (pos >= this.nrows - 1) {
      if (pos >= this.nrows) return false;
      if (msg || msg === undefined) msg = ' ... (more hidden) ...';
    }
    if (pos) this.moveto(pos);
    this.printStatus(msg ?? this.toString());
    if (pos) this.moveto(-pos);
    return true;
  }

  toString(): string {
    const emaDt = this.emaDt.call();
    return formatMeter({
      n: this.n,
      total: this.total,
      elapsed: this.startT !== undefined ? this.screen.now() - this.startT : 0,
      ncols: this.screen.ncols,
      prefix: this.desc,
      unit: this.unit,
      unitScale: this.unitScale,
      rate: this.rateFromEma && emaDt ? this.emaDn.call() / emaDt : null,
      unitDivisor: this.unitDivisor,
      initial: this.initial,
    });
  }
}
