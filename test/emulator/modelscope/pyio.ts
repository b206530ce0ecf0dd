// Python's stdio as modelscope experiences it:
//  - stdout is block-buffered when it is not a terminal (unless PYTHONUNBUFFERED is set): a parent reading the
//    pipe gets "Downloading Model from …" only when the process exits, and gets nothing if it is SIGKILLed or
//    SIGTERMed;
//  - stderr (tqdm bars, logging, tracebacks) reaches the reader immediately.
// Writes are synchronous (fs.writeSync) so nothing is lost when the process ends by re-raising a signal.
import * as fs from 'node:fs';
import * as tty from 'node:tty';

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // the reader is slow: wait, then retry
    }
  }
}

export class PyStdio {
  private pending = '';
  readonly stdoutIsTty = tty.isatty(1);
  readonly stderrIsTty = tty.isatty(2);

  constructor(private readonly unbuffered: boolean) {}

  /** print(): buffered unless stdout is a terminal or PYTHONUNBUFFERED is set. */
  print(text: string): void {
    this.write(`${text}\n`);
  }

  /** sys.stdout.write(). */
  write(text: string): void {
    if (this.stdoutIsTty || this.unbuffered) writeAll(1, text);
    else this.pending += text;
  }

  stderr(text: string): void {
    writeAll(2, text);
  }

  /** What the interpreter does at a normal exit (also after an uncaught exception or KeyboardInterrupt). */
  flush(): void {
    if (this.pending) writeAll(1, this.pending);
    this.pending = '';
  }
}

/** `2026-01-27 21:24:31,637` — logging's default asctime. */
function asctime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

/** modelscope's logger: `%(asctime)s - %(name)s - %(levelname)s - %(message)s` on stderr. */
export function logLine(level: 'INFO' | 'WARNING' | 'ERROR', message: string, now: Date = new Date()): string {
  return `${asctime(now)} - modelscope - ${level} - ${message}\n`;
}
