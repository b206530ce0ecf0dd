// The host a profile runs on, as the lifecycle core sees it: a ShellRunner for short scripts (LocalShell here,
// SshConnection over a multiplexed master there), a Streamer for long-running commands whose output arrives as it is
// printed (`tail -F` of the server log, `modelscope download`), and the port forward of a remote host.
//
// Streaming uses the same transport as exec: `/bin/sh -c` here, the same `ssh … -- host 'sh -c …'` argv through the
// same ControlMaster there (ssh.ts builds the argv; nothing here re-implements quoting). Every streamed command runs
// under streamScript(): in its own session (setsid, so SIGINT reaches a Python program — a background `&` job would
// start with SIGINT ignored), with a watchdog that reads the stream's stdin and, when it ends — the caller cancelled,
// the local ssh was killed, or the SSH link dropped and sshd closed the channel — sends SIGINT to the command's
// process group (SIGKILL 10 s later). So a cancelled download or a dead link never leaves an orphan on the host.
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { ServerProfile } from '../config/serverProfile';
import { quote } from './shellQuote';
import {
  classifySshFailure,
  defaultControlDir,
  ensureControlDir,
  LocalShell,
  remoteCommand,
  SshConnection,
  SshError,
  sshArgv,
  type ExecOptions,
  type ExecResult,
  type ShellRunner,
  type SpawnFn,
  type SshTarget,
} from './ssh';

/** Port forwarding through the host's master connection (remote hosts only). */
export interface Tunnel {
  /** Forwards 127.0.0.1:localPort here to remoteHost:remotePort as seen from the host. */
  forward(localPort: number, remoteHost: string, remotePort: number): Promise<void>;
  cancelForward(localPort: number, remoteHost: string, remotePort: number): Promise<void>;
}

/** What the core runs short scripts with: LocalShell / SshConnection, or a wrapper of one (hostShellFor's runners
 *  also stream). */
export type HostRunner = ShellRunner & Partial<Tunnel> & Partial<Streamer> & { close?(): Promise<void> };

export interface StreamOptions {
  /** Raw stdout bytes as they arrive. */
  onStdout?(chunk: Buffer): void;
  /** Raw stderr bytes as they arrive. */
  onStderr?(chunk: Buffer): void;
  /** Aborting ends the command the way cancel() does. */
  signal?: AbortSignal;
}

export interface StreamEnd {
  /** The command's exit status (128+N when killed by signal N); 255 or -1 when the transport failed. */
  code: number;
  /** Set when ssh itself failed (link dropped, host unreachable…), classified like SshConnection.exec's errors. */
  error?: SshError;
  /** The last 4 KiB of stderr (for messages). */
  stderrTail: string;
  /** cancel() or the signal ended it. */
  cancelled: boolean;
}

export interface CommandStream {
  /** Ends the command: its stdin closes, the watchdog on the host sends SIGINT to its process group (SIGKILL after
   *  10 s). Resolves when the local process has exited; after `hardAfterMs` (default 15 s) it is killed here. */
  cancel(hardAfterMs?: number): Promise<StreamEnd>;
  /** Ends it now without waiting: over SSH the local ssh is killed (the channel closes and the host's watchdog ends
   *  the command); locally stdin is closed (the watchdog ends the command) and the wrapper is killed after 2 s. */
  kill(): void;
  readonly done: Promise<StreamEnd>;
}

export interface Streamer {
  stream(script: string, opts?: StreamOptions): CommandStream;
}

/**
 * Wraps `script` for streaming: a watchdog on stdin, the script in its own session (setsid -w -f: fork, wait, and
 * pass the exit status on), and the session's id in a temp file for the watchdog. The script's exit status is the
 * wrapper's.
 */
export function streamScript(script: string): string {
  const watchdog = [
    // fd 3 = the stream's stdin: without job control, sh gives a background list /dev/null as its stdin (dash does
    // so even with an explicit `<&0`), so the watchdog reads the saved descriptor instead.
    'exec 3<&0',
    '(',
    '  cat <&3 >/dev/null 2>&1',
    '  kv_i=0',
    // The command may not have written its process-group id yet: wait for it while the file is there but empty.
    '  while [ -f "$kv_pgf" ] && [ ! -s "$kv_pgf" ] && [ "$kv_i" -lt 40 ]; do kv_i=$((kv_i + 1)); sleep 0.05 2>/dev/null || sleep 1; done',
    '  kv_pg=$(cat "$kv_pgf" 2>/dev/null)',
    "  case $kv_pg in ''|*[!0-9]*) exit 0 ;; esac",
    '  kill -s INT -- "-$kv_pg" 2>/dev/null || exit 0',
    '  kv_i=0',
    '  while kill -s 0 -- "-$kv_pg" 2>/dev/null; do',
    '    kv_i=$((kv_i + 1))',
    '    if [ "$kv_i" -gt 100 ]; then kill -s KILL -- "-$kv_pg" 2>/dev/null; exit 0; fi',
    '    sleep 0.1 2>/dev/null || { sleep 1; kv_i=$((kv_i + 9)); }',
    '  done',
    ') >/dev/null 2>&1 &',
  ].join('\n');
  const inner = 'printf %s "$$" > "$0"; exec sh -c "$1"';
  return [
    'kv_pgf=$(mktemp "${TMPDIR:-/tmp}/kimi-stream.XXXXXX") || { echo "cannot create a temp file on the host" >&2; exit 125; }',
    watchdog,
    'kv_wd=$!',
    `setsid -w -f sh -c ${quote(inner)} "$kv_pgf" ${quote(script)} < /dev/null 3<&-`,
    'kv_rc=$?',
    'rm -f -- "$kv_pgf"',
    'kill "$kv_wd" 2>/dev/null',
    'exit "$kv_rc"',
  ].join('\n');
}

const STDERR_TAIL = 4096;

/** Runs `command args` with piped stdio and turns it into a CommandStream. `group`: own process group (local). */
function spawnStream(
  spawnFn: SpawnFn,
  command: string,
  args: readonly string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; group: boolean; classify?: (stderr: string, code: number) => SshError | null },
  opts: StreamOptions,
  before?: Promise<void>,
): CommandStream {
  let child: ChildProcess | undefined;
  let cancelled = false;
  let ended = false;
  let killRequested = false;
  let stderrTail = '';
  let resolveDone!: (e: StreamEnd) => void;
  const done = new Promise<StreamEnd>((r) => (resolveDone = r));
  const finish = (e: StreamEnd) => {
    if (ended) return;
    ended = true;
    opts.signal?.removeEventListener('abort', onAbort);
    resolveDone(e);
  };
  const killLocal = () => {
    killRequested = true;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      if (o.group) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  const cancel = (hardAfterMs = 15_000): Promise<StreamEnd> => {
    cancelled = true;
    if (child) {
      child.stdin?.end();
      const t = setTimeout(killLocal, hardAfterMs);
      t.unref?.();
      void done.then(() => clearTimeout(t));
    }
    return done;
  };
  const onAbort = () => void cancel();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const launch = () => {
    if (cancelled || killRequested) {
      finish({ code: -1, stderrTail: '', cancelled: true });
      return;
    }
    try {
      child = spawnFn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: o.env, cwd: o.cwd, detached: o.group });
    } catch (e) {
      finish({ code: -1, error: new SshError('spawn', `Cannot start ${command}: ${(e as Error).message}`), stderrTail: '', cancelled });
      return;
    }
    const c = child;
    c.stdin?.on('error', () => {});
    c.stdout?.on('data', (d: Buffer) => opts.onStdout?.(d));
    c.stderr?.on('data', (d: Buffer) => {
      stderrTail = (stderrTail + d.toString('utf8')).slice(-STDERR_TAIL);
      opts.onStderr?.(d);
    });
    c.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      finish({
        code: -1,
        error: new SshError('spawn', code === 'ENOENT' ? `${command} is not installed (not found on PATH)` : `Cannot start ${command}: ${e.message}`),
        stderrTail,
        cancelled,
      });
    });
    c.on('close', (code, signal) => {
      c.stdin?.destroy();
      const status = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : -1);
      const error = killRequested || cancelled ? undefined : (o.classify?.(stderrTail, status) ?? undefined);
      finish({ code: status, ...(error ? { error } : {}), stderrTail, cancelled: cancelled || killRequested });
    });
    if (cancelled) void cancel();
  };
  if (before) {
    before.then(launch, (err: unknown) =>
      finish({ code: -1, error: err instanceof SshError ? err : new SshError('ssh', String(err)), stderrTail: '', cancelled }),
    );
  } else {
    launch();
  }
  // Local: the wrapper IS the local process, and SIGKILL would take its watchdog along and leave the command (in
  // its own session) running — so end stdin and let the watchdog stop it; SIGKILL only if that takes over 2 s.
  const kill = o.group ? () => void cancel(2000) : killLocal;
  return { cancel, kill, done };
}

export interface LocalStreamerOptions {
  spawn?: SpawnFn;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Streams scripts with /bin/sh on this machine. */
export class LocalStreamer implements Streamer {
  constructor(private readonly opts: LocalStreamerOptions = {}) {}

  stream(script: string, opts: StreamOptions = {}): CommandStream {
    return spawnStream(
      this.opts.spawn ?? (nodeSpawn as SpawnFn),
      '/bin/sh',
      ['-c', streamScript(script)],
      { env: this.opts.env, cwd: this.opts.cwd ?? os.homedir(), group: true },
      opts,
    );
  }
}

export interface SshStreamerOptions extends SshTarget {
  spawn?: SpawnFn;
  sshPath?: string;
}

/** Streams scripts on a host through the master of `connection` (started first, so errors are classified once). */
export class SshStreamer implements Streamer {
  constructor(
    private readonly connection: Pick<SshConnection, 'ensureMaster'>,
    private readonly target: SshStreamerOptions,
  ) {}

  stream(script: string, opts: StreamOptions = {}): CommandStream {
    const args = sshArgv(this.target, [], remoteCommand(streamScript(script)));
    return spawnStream(
      this.target.spawn ?? (nodeSpawn as SpawnFn),
      this.target.sshPath ?? 'ssh',
      args,
      {
        group: false,
        classify: (stderr, code) => (code === 255 ? classifySshFailure(stderr, code, this.target.destination, this.target.connectTimeoutSec ?? 10) : null),
      },
      opts,
      this.connection.ensureMaster(),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The factory

export interface HostShellOptions {
  /** Local host: the shell's environment (default this process's) and working directory (default $HOME). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Remote hosts: `-F` config file, `-i` key, extra `-o` options, ConnectTimeout (default 10 s). */
  sshConfigFile?: string;
  identityFile?: string;
  sshOptions?: readonly string[];
  connectTimeoutSec?: number;
  /** Parent of the private control directory (default /tmp/kimi-ssh-<uid>); each HostShell gets its own
   *  directory inside, so closing it never takes down a master another process (the CLI, another window) uses. */
  controlRoot?: string;
  spawn?: SpawnFn;
  sshPath?: string;
}

export interface HostShell {
  /** Runs scripts, streams (the same object as `streamer`), and forwards ports on remote hosts. */
  readonly runner: HostRunner & Streamer;
  readonly streamer: Streamer;
  /** 'local', or the SSH destination. */
  readonly host: string;
  /** The private control directory (remote hosts). */
  readonly controlDir?: string;
}

/** LocalShell that also streams, with the same environment and working directory. */
class LocalHostRunner extends LocalShell implements Streamer {
  private readonly streamer: LocalStreamer;
  constructor(o: LocalStreamerOptions) {
    super(o);
    this.streamer = new LocalStreamer(o);
  }
  stream(script: string, opts?: StreamOptions): CommandStream {
    return this.streamer.stream(script, opts);
  }
}

/** Delegates to an SshConnection and streams through its master; close() also removes the private control
 *  directory. */
class SshHostRunner implements HostRunner, Streamer {
  constructor(
    readonly connection: SshConnection,
    private readonly controlDir: string,
    private readonly streamer: SshStreamer,
  ) {}
  stream(script: string, opts?: StreamOptions): CommandStream {
    return this.streamer.stream(script, opts);
  }
  exec(script: string, opts?: ExecOptions): Promise<ExecResult> {
    return this.connection.exec(script, opts);
  }
  forward(localPort: number, remoteHost: string, remotePort: number): Promise<void> {
    return this.connection.forward(localPort, remoteHost, remotePort);
  }
  cancelForward(localPort: number, remoteHost: string, remotePort: number): Promise<void> {
    return this.connection.cancelForward(localPort, remoteHost, remotePort);
  }
  async close(): Promise<void> {
    await this.connection.close();
    fs.rmSync(this.controlDir, { recursive: true, force: true });
  }
}

/** A private, short control directory: `/tmp/kimi-ssh-<uid>/m-XXXXXX` (mode 700). */
export function privateControlDir(root: string = defaultControlDir()): string {
  ensureControlDir(root);
  const dir = fs.mkdtempSync(path.join(root, 'm-'));
  fs.chmodSync(dir, 0o700);
  return ensureControlDir(dir);
}

/** LocalShell + LocalStreamer for host 'local'; SshConnection (private control dir) + SshStreamer otherwise. The ssh
 *  config file is `o.sshConfigFile`, else the profile's `sshConfigFile` (`~/` = this machine's home), else ssh's own
 *  ~/.ssh/config. */
export function hostShellFor(profile: Pick<ServerProfile, 'host'> & Partial<Pick<ServerProfile, 'sshConfigFile'>>, o: HostShellOptions = {}): HostShell {
  if (profile.host === 'local') {
    const runner = new LocalHostRunner({ ...(o.env ? { env: o.env } : {}), ...(o.cwd ? { cwd: o.cwd } : {}), ...(o.spawn ? { spawn: o.spawn } : {}) });
    return { host: 'local', runner, streamer: runner };
  }
  const controlDir = privateControlDir(o.controlRoot);
  const target: SshTarget = {
    destination: profile.host,
    controlDir,
    ...(o.sshConfigFile !== undefined ? { configFile: o.sshConfigFile } : profile.sshConfigFile ? { configFile: expandHome(profile.sshConfigFile) } : {}),
    ...(o.identityFile !== undefined ? { identityFile: o.identityFile } : {}),
    ...(o.sshOptions !== undefined ? { extraOptions: o.sshOptions } : {}),
    connectTimeoutSec: o.connectTimeoutSec ?? 10,
  };
  let connection: SshConnection;
  try {
    connection = new SshConnection({ ...target, ...(o.spawn ? { spawn: o.spawn } : {}), ...(o.sshPath ? { sshPath: o.sshPath } : {}) });
  } catch (e) {
    fs.rmSync(controlDir, { recursive: true, force: true });
    throw e;
  }
  const runner = new SshHostRunner(connection, controlDir, new SshStreamer(connection, { ...target, ...(o.spawn ? { spawn: o.spawn } : {}), ...(o.sshPath ? { sshPath: o.sshPath } : {}) }));
  return { host: profile.host, controlDir, runner, streamer: runner };
}

/** The streamer for a runner: its own stream() (hostShellFor's runners), else none — a plain LocalShell's
 *  environment and an SshConnection's target are private, so callers poll. */
export function streamerOf(runner: ShellRunner & Partial<Streamer>): Streamer | undefined {
  return typeof runner.stream === 'function' ? (runner as Streamer) : undefined;
}

/** `~` and `~/…` on this machine. */
function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(os.homedir(), file.slice(1)) : file;
}

/** A free TCP port on 127.0.0.1 (for the local end of a tunnel). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Decodes a byte stream to text without splitting UTF-8 sequences, counting the bytes consumed. */
export class Utf8Stream {
  private readonly decoder = new StringDecoder('utf8');
  bytes = 0;
  push(chunk: Buffer): string {
    this.bytes += chunk.length;
    return this.decoder.write(chunk);
  }
  end(): string {
    return this.decoder.end();
  }
}
