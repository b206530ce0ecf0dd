// One long-running process of a cluster on one node — `ray start --block` or a headless `vllm serve` — managed the
// way the single-host server is (src/core/server/remoteScripts.ts): started detached in its own session with a pid
// file and a log in a state directory on that node, stopped INT → TERM → KILL as a process group, its log followed
// (`tail -F --pid`) so the extension sees every line and notices the moment the process ends.
import { Utf8Stream, type CommandStream, type HostRunner } from '../server/hostShell';
import { VllmLogParser, type LogEvent } from '../server/logParser';
import {
  parseStart,
  parseStatus,
  parseStop,
  parseTail,
  startDetachedScript,
  statusScript,
  stopScript,
  tailScript,
  type ServerStatus,
  type StartResult,
  type StopResult,
} from '../server/remoteScripts';
import { followScript } from '../server/serverManager';

const LOG_CHUNK = 256 * 1024;

export interface NodeFollow {
  /** Ends following (never the process). */
  stop(): void;
  /** Resolves once the process has ended (or following was stopped: then `stopped` is true). */
  readonly ended: Promise<{ stopped: boolean }>;
}

export class NodeProcess {
  constructor(
    readonly runner: HostRunner,
    readonly stateDir: string,
    private readonly scriptTimeoutMs = 20_000,
  ) {}

  async start(command: string, secrets?: { names: string[]; stdin: string }): Promise<StartResult> {
    const r = await this.runner.exec(startDetachedScript({ stateDir: this.stateDir, command, ...(secrets ? { secretEnv: secrets.names } : {}) }), {
      timeoutMs: 30_000,
      ...(secrets ? { stdin: secrets.stdin } : {}),
    });
    return parseStart(r);
  }

  async status(): Promise<ServerStatus> {
    return parseStatus((await this.runner.exec(statusScript({ stateDir: this.stateDir }), { timeoutMs: this.scriptTimeoutMs })).stdout);
  }

  async stop(grace: { intSec: number; termSec: number }): Promise<{ result: StopResult; pid: number | null }> {
    const r = await this.runner.exec(stopScript({ stateDir: this.stateDir, graceIntSec: grace.intSec, graceTermSec: grace.termSec }), {
      timeoutMs: (grace.intSec + grace.termSec + 25) * 1000,
    });
    return parseStop(r.stdout);
  }

  /** The last `lines` clean lines of the log (progress bars resolved, ANSI removed). */
  async tail(lines = 200): Promise<string[]> {
    const status = await this.status();
    const from = Math.max(0, status.logBytes - LOG_CHUNK);
    const chunk = parseTail((await this.runner.exec(tailScript({ stateDir: this.stateDir, offset: from, maxBytes: LOG_CHUNK }), { timeoutMs: this.scriptTimeoutMs })).stdoutBuffer, from);
    const text = from > 0 ? chunk.text.slice(chunk.text.indexOf('\n') + 1) : chunk.text;
    const parser = new VllmLogParser();
    return linesOf([...parser.push(text), ...parser.end()]).slice(-lines);
  }

  /** Waits until a line of the log matches `pattern` (resolves with it), the process ends (rejects with the log's
   *  last lines) or `ms` passes (rejects). Polls: this is for short waits such as `Ray runtime started.`. */
  async waitForLine(pattern: RegExp, ms: number, cancelled: () => boolean): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (cancelled()) throw new NodeProcessError('cancelled', []);
      const lines = await this.tail(400);
      const hit = lines.find((l) => pattern.test(l));
      if (hit) return hit;
      const status = await this.status();
      if (!status.alive) throw new NodeProcessError('exited', await this.tail(40));
      if (Date.now() > deadline) throw new NodeProcessError('timeout', lines.slice(-40));
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Follows the log from its current end: every clean line to `onLine`, until the process ends or stop(). Streams
   * when the runner can (`tail -F --pid`), else polls every `pollMs`. A dropped link is retried with backoff (doubling
   * from `backoffMs.initial` to `backoffMs.max`, default 1 s to 10 s) and reported through `onLink` (the reason when
   * the node cannot be asked, undefined once it answers again); only a process that is really gone ends following.
   */
  follow(
    onLine: (line: string, parser: VllmLogParser) => void,
    opts: { pollMs?: number; fromStart?: boolean; backoffMs?: { initial: number; max: number }; onLink?: (lost: string | undefined) => void } = {},
  ): NodeFollow {
    let active = true;
    let stream: CommandStream | undefined;
    const parser = new VllmLogParser();
    const emit = (events: LogEvent[]) => {
      for (const l of linesOf(events)) onLine(l, parser);
    };
    const backoff = opts.backoffMs ?? { initial: 1000, max: 10_000 };
    let wait = backoff.initial;
    let lost: string | undefined;
    const linkDown = async (err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      if (reason !== lost) {
        lost = reason;
        opts.onLink?.(reason);
      }
      await delay(wait);
      wait = Math.min(backoff.max, wait * 2);
    };
    const linkUp = () => {
      wait = backoff.initial;
      if (lost === undefined) return;
      lost = undefined;
      opts.onLink?.(undefined);
    };
    const ended = (async (): Promise<{ stopped: boolean }> => {
      // The node must answer first: a link that is down now is no reason to think the process is gone.
      let status: ServerStatus | undefined;
      while (active && !status) {
        try {
          status = await this.status();
        } catch (err) {
          if (active) await linkDown(err);
        }
      }
      if (!status) return { stopped: true };
      linkUp();
      let cursor = opts.fromStart ? 0 : status.logBytes;
      const pid = status.pid;
      if (!status.alive || !pid) return { stopped: !active };
      while (active) {
        let streamFailed = false;
        if (typeof this.runner.stream === 'function') {
          const utf8 = new Utf8Stream();
          const start = cursor;
          stream = this.runner.stream(followScript(this.stateDir, start, pid), {
            onStdout: (d) => {
              cursor = start + utf8.bytes + d.length;
              emit(parser.push(utf8.push(d)));
            },
          });
          const end = await stream.done;
          stream = undefined;
          emit(parser.push(utf8.end()));
          if (!active) break;
          streamFailed = end.error !== undefined;
        } else {
          try {
            const chunk = parseTail((await this.runner.exec(tailScript({ stateDir: this.stateDir, offset: cursor, maxBytes: LOG_CHUNK }), { timeoutMs: this.scriptTimeoutMs })).stdoutBuffer, cursor);
            cursor = chunk.nextOffset;
            emit(parser.push(chunk.text));
          } catch {
            /* the link: the status below tells */
          }
          await delay(opts.pollMs ?? 500);
        }
        if (!active) break;
        // Asked until the node answers (a stream started meanwhile could run for hours without saying the link is back).
        let now: ServerStatus | undefined;
        while (active && !now) {
          try {
            now = await this.status();
          } catch (err) {
            if (active) await linkDown(err);
          }
        }
        if (!now) break;
        linkUp();
        if (!now.alive || now.pid !== pid) {
          // The rest of the log, then it is over.
          try {
            const rest = parseTail((await this.runner.exec(tailScript({ stateDir: this.stateDir, offset: cursor, maxBytes: LOG_CHUNK }), { timeoutMs: this.scriptTimeoutMs })).stdoutBuffer, cursor);
            if (!rest.reset) emit(parser.push(rest.text));
          } catch {
            /* what we have */
          }
          emit(parser.end());
          return { stopped: !active };
        }
        // The stream failed although the node answers (e.g. sshd refused one more session): not at once again.
        if (streamFailed) await delay(1000);
      }
      return { stopped: true };
    })();
    return {
      stop: () => {
        active = false;
        stream?.kill();
      },
      ended,
    };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class NodeProcessError extends Error {
  constructor(
    readonly kind: 'exited' | 'timeout' | 'cancelled',
    readonly lastLines: string[],
  ) {
    super(kind === 'exited' ? 'the process ended' : kind === 'timeout' ? 'timed out' : 'cancelled');
  }
}

export function linesOf(events: LogEvent[]): string[] {
  return events.filter((e): e is Extract<LogEvent, { kind: 'line' }> => e.kind === 'line').map((e) => e.text);
}

/** The last line that looks like an error (an exception, ERROR, "error:", Ray's "exited unexpectedly"), else the last
 *  non-empty line. */
export function lastErrorLine(lines: readonly string[]): string | undefined {
  const clean = lines.map((l) => l.replace(/^\([\w.-]+ pid=\d+(?:, ip=[\w.:%-]+)?\) /, '').trim()).filter(Boolean);
  for (let i = clean.length - 1; i >= 0 && i >= clean.length - 200; i--) {
    const l = clean[i]!;
    if (/(?:Error|Exception)(?::|\b)|\bERROR\b|error:|Traceback|Killed|exited unexpectedly|Failed to connect|Timed out/.test(l)) return l.slice(0, 500);
  }
  return clean.at(-1)?.slice(0, 500);
}
