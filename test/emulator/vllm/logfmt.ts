// How vLLM's output looks on the wire, byte for byte:
//  - every process decorates its stdout/stderr with `(Name pid=N) ` at the start of each line
//    (vllm/utils/system_utils.py `_add_prefix`), cyan-coloured: always before NEW_LOG_WORDING unless NO_COLOR is set,
//    from then on only on a TTY;
//  - vLLM's logger formats `LEVEL MM-DD HH:MM:SS [file.py:line] message` to stdout, and its NewLineFormatter
//    repeats that header on every line of a multi-line message, joining lines with "\r\n";
//  - uvicorn's own lines (`INFO:     Started server process [N]`) go to stderr, its access log to stdout;
//  - Python tracebacks and tqdm bars go to stderr.
import { newWording } from './version';

export const CYAN = '\x1b[0;36m';
export const RESET = '\x1b[0;0m';

export interface Proc {
  /** `APIServer`, `EngineCore_DP0`, `Worker_TP0`, … */
  name: string;
  pid: number;
  /** Ray prints the node of an actor on another node: `(RayWorkerWrapper pid=N, ip=10.0.0.2)`. */
  ip?: string;
}

export type Level = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export interface OutputOptions {
  version: string;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  noColor: boolean;
  write(stream: 'stdout' | 'stderr', text: string): void;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** `11-28 12:57:05`: vLLM's `%m-%d %H:%M:%S` in local time. */
export function logDate(d = new Date()): string {
  return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export class Output {
  constructor(private readonly o: OutputOptions) {}

  get version(): string {
    return this.o.version;
  }

  private colored(stream: 'stdout' | 'stderr'): boolean {
    if (this.o.noColor) return false;
    // 0.15-era vLLM coloured the prefix unconditionally (real log captures show `^[[0;36m(APIServer pid=31)^[[0;0m`
    // in piped docker logs); newer releases only colour a terminal.
    if (!newWording(this.o.version)) return true;
    return stream === 'stdout' ? this.o.stdoutIsTTY : this.o.stderrIsTTY;
  }

  prefix(proc: Proc | null, stream: 'stdout' | 'stderr'): string {
    if (!proc) return '';
    const label = `(${proc.name} pid=${proc.pid}${proc.ip ? `, ip=${proc.ip}` : ''})`;
    return this.colored(stream) ? `${CYAN}${label}${RESET} ` : `${label} `;
  }

  /** Write `text` through a decorated stream: the prefix goes at the start of every line. */
  raw(proc: Proc | null, stream: 'stdout' | 'stderr', text: string): void {
    const p = this.prefix(proc, stream);
    if (!p) {
      this.o.write(stream, text);
      return;
    }
    let out = '';
    let atLineStart = true;
    for (let i = 0; i < text.length; i++) {
      if (atLineStart) out += p;
      const ch = text[i];
      out += ch;
      atLineStart = ch === '\n';
    }
    this.o.write(stream, out);
  }

  /** One vLLM logger record (stdout). Multi-line messages repeat the header, joined by "\r\n" like NewLineFormatter. */
  log(proc: Proc | null, level: Level, fileinfo: string, message: string): void {
    const header = `${level} ${logDate()} [${fileinfo}] `;
    const body = message
      .split('\n')
      .map((line) => header + line)
      .join('\r\n');
    this.raw(proc, 'stdout', body + '\n');
  }

  info(proc: Proc | null, fileinfo: string, message: string): void {
    this.log(proc, 'INFO', fileinfo, message);
  }

  warning(proc: Proc | null, fileinfo: string, message: string): void {
    this.log(proc, 'WARNING', fileinfo, message);
  }

  /** uvicorn's default formatter: `INFO:     message` on stderr. */
  uvicorn(proc: Proc | null, message: string): void {
    this.raw(proc, 'stderr', `INFO:     ${message}\n`);
  }

  /** Plain lines on stderr (tracebacks, argparse errors). */
  stderr(proc: Proc | null, lines: string[]): void {
    if (lines.length === 0) return;
    this.raw(proc, 'stderr', lines.join('\n') + '\n');
  }
}
