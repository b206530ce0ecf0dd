// The SSH transport: the system's OpenSSH client (`ssh`), multiplexed through one ControlMaster per host so that
// each command costs a channel, not a connection. Plain Node, no vscode.
//
// Why the system ssh and not a JS implementation: it reads the user's ~/.ssh/config (aliases, ProxyJump, agents,
// certificates, known_hosts) exactly as their terminal does. It always runs with BatchMode=yes — the extension has
// no terminal to answer prompts on, so an interactive question would otherwise hang forever.
//
// Every call is bounded by a timeout; failures are classified into messages a user can act on (SshError).
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { quote } from './shellQuote';

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export type SshErrorKind =
  | 'destination' // the destination string is not usable
  | 'controlDir' // the control socket directory is unsafe or too long
  | 'unresolved' // Could not resolve hostname
  | 'refused' // Connection refused
  | 'timeout' // no answer (connect or banner), or the command exceeded its time
  | 'unreachable' // No route to host / Network is unreachable
  | 'auth' // Permission denied (publickey…)
  | 'hostKeyUnknown' // Host key verification failed: not in known_hosts
  | 'hostKeyChanged' // REMOTE HOST IDENTIFICATION HAS CHANGED
  | 'closed' // the connection was closed or reset
  | 'forward' // a port forward could not be set up
  | 'aborted' // the caller's AbortSignal fired
  | 'spawn' // ssh itself could not be started
  | 'ssh'; // any other exit 255

export class SshError extends Error {
  override readonly name = 'SshError';
  constructor(
    readonly kind: SshErrorKind,
    message: string,
    /** What ssh printed, for the log. */
    readonly stderr = '',
    readonly exitCode: number | null = null,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Destinations

export interface SshDestination {
  /** The destination argument ssh gets: `alias`, `host` or `user@host` (IPv6 without brackets). */
  target: string;
  host: string;
  user?: string;
  port?: number;
}

/** Characters that never belong in a destination (the settings schema refuses them too; this is the last gate
 *  before they reach a process). */
const DESTINATION_BAD = /[\s'"`$;&|<>\\!*?(){}#\x00-\x1f\x7f]/;

/**
 * `alias`, `host`, `user@host`, `user@host:port`, `[v6]:port`, `user@[v6]`, a bare IPv6 address, or
 * `ssh://[user@]host[:port]`. Anything starting with '-' is refused (ssh would read it as an option).
 */
export function parseDestination(input: string): SshDestination {
  const fail = (why: string): never => {
    throw new SshError('destination', `"${input}" is not a usable SSH destination: ${why}. Use an alias from ~/.ssh/config or user@host[:port].`);
  };
  if (input === '') fail('it is empty');
  if (DESTINATION_BAD.test(input)) fail('it contains spaces, quotes or shell characters');
  let rest = input.startsWith('ssh://') ? input.slice('ssh://'.length).replace(/\/$/, '') : input;
  if (rest.startsWith('-')) fail('it starts with "-"');
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (user === '') fail('the user name before "@" is empty');
    if (user.startsWith('-')) fail('the user name starts with "-"');
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) fail('"[" without "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) fail(`unexpected "${after}" after "]"`);
      portText = after.slice(1);
    }
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) [host, portText] = rest.split(':') as [string, string];
    else host = rest; // no port, or a bare IPv6 address (which cannot carry one without brackets)
  }
  if (host === '') fail('the host name is empty');
  if (host.startsWith('-')) fail('the host name starts with "-"');
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) fail(`"${portText}" is not a port number`);
    port = Number(portText);
  }
  return { target: user !== undefined ? `${user}@${host}` : host, host, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// Control directory

/** Unix socket paths are limited to 104 bytes on macOS (108 on Linux). The socket is `<dir>/%C` (40 hex chars),
 *  and ssh first binds a temporary `<dir>/%C.XXXXXXXXXXXXXXXX` (17 more) — so the directory gets what is left. */
export const MAX_CONTROL_DIR_BYTES = 104 - 1 - 40 - 17 - 1;

/** A short, stable per-user directory for control sockets: `/tmp/kimi-ssh-<uid>` (os.tmpdir() can be far too
 *  long on macOS). Stable so that a master survives a window reload and is reused. */
export function defaultControlDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : os.userInfo().uid;
  return `/tmp/kimi-ssh-${uid}`;
}

/** Creates `dir` (mode 700) or checks an existing one: a real directory (not a symlink), owned by us, closed to
 *  group and others — anyone who can write there could plant a socket and see or hijack our sessions. */
export function ensureControlDir(dir: string): string {
  if (Buffer.byteLength(dir) > MAX_CONTROL_DIR_BYTES) {
    throw new SshError('controlDir', `The SSH control directory "${dir}" is too long for a socket path (at most ${MAX_CONTROL_DIR_BYTES} bytes).`);
  }
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new SshError('controlDir', `Cannot create the SSH control directory ${dir}: ${(e as Error).message}`);
  }
  const st = fs.lstatSync(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (!st.isDirectory() || st.isSymbolicLink()) throw new SshError('controlDir', `${dir} exists and is not a directory; remove it.`);
  if (st.uid !== uid) throw new SshError('controlDir', `${dir} belongs to another user; remove it or choose another directory.`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------
// argv

export interface SshTarget {
  /** As in the profile: alias, user@host[:port], [v6]:port. */
  destination: string;
  /** Where control sockets live (see ensureControlDir); short, mode 700. */
  controlDir: string;
  /** `-F`: use this config file instead of ~/.ssh/config. */
  configFile?: string;
  /** `-i`. */
  identityFile?: string;
  /** More `Key=Value` options. They come BEFORE the defaults: ssh keeps the first value it obtains for an option,
   *  so these override (e.g. `ServerAliveInterval=2` to notice a dead link sooner). */
  extraOptions?: readonly string[];
  /** ConnectTimeout in seconds (default 10); also bounds the SSH banner exchange. */
  connectTimeoutSec?: number;
}

const OPTION = /^[A-Za-z][A-Za-z0-9]*=[^\n\r\0]*$/;

/** Options common to every ssh call, without the destination. */
export function sshBaseArgs(t: SshTarget): string[] {
  const dest = parseDestination(t.destination);
  const args: string[] = [];
  if (t.configFile !== undefined) args.push('-F', t.configFile);
  if (t.identityFile !== undefined) args.push('-i', t.identityFile);
  for (const o of t.extraOptions ?? []) {
    if (!OPTION.test(o)) throw new SshError('destination', `"${o}" is not an ssh option of the form Key=Value`);
    args.push('-o', o);
  }
  args.push(
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${t.connectTimeoutSec ?? 10}`,
    '-o', 'ServerAliveInterval=15',
    '-o', 'ServerAliveCountMax=3',
    '-o', 'ControlMaster=auto',
    // ssh expands %-tokens in ControlPath; a literal % in the directory must be doubled. %C = hash of the
    // connection (local host, remote host, port, user), so every destination gets its own short socket name.
    '-o', `ControlPath=${t.controlDir.replace(/%/g, '%%')}/%C`,
    '-o', 'ControlPersist=600',
  );
  if (dest.port !== undefined) args.push('-p', String(dest.port));
  return args;
}

/** Full argv after `ssh`: options, `extra`, then `--` and the destination (so nothing after it is read as an
 *  option), then the remote command if any. */
export function sshArgv(t: SshTarget, extra: readonly string[] = [], remoteCommand?: string): string[] {
  const argv = [...sshBaseArgs(t), ...extra, '--', parseDestination(t.destination).target];
  if (remoteCommand !== undefined) argv.push(remoteCommand);
  return argv;
}

export const checkMasterArgs = (t: SshTarget): string[] => sshArgv(t, ['-O', 'check']);
export const exitMasterArgs = (t: SshTarget): string[] => sshArgv(t, ['-O', 'exit']);
/** Start a background master: authenticate, then fork (-f) without a command (-N); ControlPersist keeps it. */
export const startMasterArgs = (t: SshTarget): string[] => sshArgv(t, ['-f', '-N']);

/** `127.0.0.1:LOCAL:REMOTEHOST:REMOTE` — bound to loopback only: a tunnel must not open the server to the LAN. */
export function forwardSpec(localPort: number, remoteHost: string, remotePort: number): string {
  for (const p of [localPort, remotePort]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new SshError('forward', `${p} is not a port number`);
  }
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+)$/.test(remoteHost) || remoteHost.startsWith('-')) {
    throw new SshError('forward', `"${remoteHost}" is not a host name or address`);
  }
  const host = remoteHost.includes(':') && !remoteHost.startsWith('[') ? `[${remoteHost}]` : remoteHost;
  return `127.0.0.1:${localPort}:${host}:${remotePort}`;
}

export const forwardArgs = (t: SshTarget, localPort: number, remoteHost: string, remotePort: number): string[] =>
  sshArgv(t, ['-O', 'forward', '-L', forwardSpec(localPort, remoteHost, remotePort)]);
export const cancelForwardArgs = (t: SshTarget, localPort: number, remoteHost: string, remotePort: number): string[] =>
  sshArgv(t, ['-O', 'cancel', '-L', forwardSpec(localPort, remoteHost, remotePort)]);

/** Largest script exec() accepts: the remote command is one argument of the login shell (Linux: 128 KiB), and
 *  the encoded form is 4/3 of the script. */
export const MAX_SCRIPT_BYTES = 90 * 1024;

/**
 * The remote command for a script: ONE argument, `sh -c '<script>'`. sshd hands it to the user's LOGIN shell,
 * which may be bash, zsh, fish or tcsh; they agree on single quotes only for printable ASCII without `\`
 * (fish treats it as an escape inside quotes), `!` (csh history) and newlines (csh). Other scripts — anything
 * multi-line or carrying arbitrary values — travel base64-encoded, which every login shell passes through
 * untouched, and the POSIX sh on the host decodes and evaluates them.
 */
export function remoteCommand(script: string): string {
  if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) throw new SshError('ssh', `script too long for one SSH command (${Buffer.byteLength(script)} bytes)`);
  if (/^[\x20-\x7e]*$/.test(script) && !/[\\!]/.test(script)) return `sh -c ${quote(script)}`;
  const b64 = Buffer.from(script, 'utf8').toString('base64');
  return `sh -c 'eval "$(printf %s ${b64} | base64 -d)"'`;
}

// ---------------------------------------------------------------------------------------------------------------
// Error classification

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/**
 * Turns what ssh printed on a failure (exit 255) into an SshError a user can act on. Returns null when stderr has
 * none of the known signs and the exit code is not 255 (then the remote command itself failed).
 */
export function classifySshFailure(stderr: string, exitCode: number | null, where: string, connectTimeoutSec = 10): SshError | null {
  const mk = (kind: SshErrorKind, message: string) => new SshError(kind, message, stderr, exitCode);
  if (/Could not resolve hostname/i.test(stderr)) {
    return mk('unresolved', `Cannot find host ${where}: the name does not resolve. Check the spelling, or the Host alias and HostName in ~/.ssh/config.`);
  }
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    return mk(
      'hostKeyChanged',
      `The host key of ${where} has changed since you last connected. If the host was reinstalled, remove the old key ` +
        `(ssh-keygen -R <host>) and connect once in a terminal to accept the new one; otherwise the connection may be intercepted — do not proceed.`,
    );
  }
  if (/Host key verification failed|host key is known/i.test(stderr)) {
    return mk(
      'hostKeyUnknown',
      `${where} is not in your known_hosts, and the extension cannot ask you to accept its key. ` +
        `Connect once in a terminal (ssh ${where}), check and accept the host key, then retry.`,
    );
  }
  if (/Permission denied|Too many authentication failures|no mutual signature|Authentication failed/i.test(stderr)) {
    return mk(
      'auth',
      `${where} refused the login (${lastLine(stderr) || 'permission denied'}). The extension runs ssh in BatchMode and never prompts for ` +
        `passwords or passphrases (BatchMode: set up key auth): install your key on the host (ssh-copy-id ${where}) or load it into an agent (ssh-add), then retry.`,
    );
  }
  if (/Connection refused/i.test(stderr)) {
    return mk('refused', `${where} refused the connection: no SSH server listens on that port. Is sshd running, and is the port right?`);
  }
  if (/timed out|Operation timed out/i.test(stderr)) {
    return mk('timeout', `No answer from ${where} within ${connectTimeoutSec} s (connection timed out): the host is down, unreachable, or a firewall drops the traffic.`);
  }
  if (/No route to host|Network is unreachable|Host is unreachable/i.test(stderr)) {
    return mk('unreachable', `${where} is unreachable from this machine (${lastLine(stderr)}). Check the network or VPN.`);
  }
  if (/Connection closed|Connection reset|closed by remote host|Broken pipe|kex_exchange_identification/i.test(stderr)) {
    return mk('closed', `The SSH connection to ${where} was closed (${lastLine(stderr)}). The host may be overloaded or restarting, or sshd refused more sessions; retry.`);
  }
  if (exitCode === 255) return mk('ssh', `ssh to ${where} failed (exit 255)${stderr.trim() ? `: ${lastLine(stderr)}` : ''}.`);
  return null;
}

/** Failures between the ssh client and its own master (not the network): safe to retry with a fresh master. */
const MUX_FAILURE = /mux_client|master failed|Control socket connect|ControlSocket .* already exists|read from master/i;

// ---------------------------------------------------------------------------------------------------------------
// Running processes

export interface ExecOptions {
  /** Written to the command's stdin, then stdin is closed (it is closed at once when absent). */
  stdin?: string | Buffer;
  /** Kill the command and fail after this long. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Exit status; 128+N when killed by signal N. */
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as received (for byte offsets, e.g. when following a log). */
  stdoutBuffer: Buffer;
}

/** Runs a POSIX sh script somewhere: LocalShell here, SshConnection on a host. Scripts are the same for both. */
export interface ShellRunner {
  exec(script: string, opts?: ExecOptions): Promise<ExecResult>;
}

interface RunResult extends ExecResult {
  failure?: 'timeout' | 'aborted';
}

interface RunOptions extends ExecOptions {
  spawn: SpawnFn;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Start the child in its own process group and kill the whole group on timeout/abort. */
  group?: boolean;
  /** Called with the child once it runs (to kill it on close()). */
  track?: (child: ChildProcess, done: boolean) => void;
}

/** After the child exits, how long to keep reading its pipes: a background grandchild that inherited them must
 *  not make us wait forever. */
const PIPE_GRACE_MS = 1000;

function signalCode(signal: NodeJS.Signals | null): number {
  if (signal === null) return -1;
  return 128 + (os.constants.signals[signal] ?? 0);
}

function runProcess(command: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(new SshError('aborted', 'cancelled'));
      return;
    }
    let child: ChildProcess;
    try {
      child = o.spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: o.env, cwd: o.cwd, detached: o.group === true });
    } catch (e) {
      reject(new SshError('spawn', `Cannot start ${command}: ${(e as Error).message}`));
      return;
    }
    o.track?.(child, false);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    let failure: RunResult['failure'];
    let exitCode: number | null = null;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const kill = () => {
      try {
        if (o.group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      o.signal?.removeEventListener('abort', onAbort);
      o.track?.(child, true);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const stdoutBuffer = Buffer.concat(out);
      resolve({
        code: exitCode ?? -1,
        stdout: stdoutBuffer.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBuffer,
        ...(failure ? { failure } : {}),
      });
    };
    const stop = (why: 'timeout' | 'aborted') => {
      if (settled) return;
      failure ??= why;
      kill();
      // If even SIGKILL does not bring 'close' (pipes held elsewhere), give up on the pipes.
      timers.push(setTimeout(finish, PIPE_GRACE_MS));
    };
    const onAbort = () => stop('aborted');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.timeoutMs !== undefined) timers.push(setTimeout(() => stop('timeout'), o.timeoutMs));

    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      o.signal?.removeEventListener('abort', onAbort);
      o.track?.(child, true);
      const code = (e as NodeJS.ErrnoException).code;
      reject(new SshError('spawn', code === 'ENOENT' ? `${command} is not installed (not found on PATH)` : `Cannot start ${command}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      exitCode = code ?? signalCode(signal);
      if (!settled) timers.push(setTimeout(finish, PIPE_GRACE_MS));
    });
    child.on('close', (code, signal) => {
      exitCode ??= code ?? signalCode(signal);
      finish();
    });
    // EPIPE when the command does not read its stdin is not our failure.
    child.stdin?.on('error', () => {});
    if (o.stdin !== undefined) child.stdin?.end(o.stdin);
    else child.stdin?.end();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Local shell

export interface LocalShellOptions {
  spawn?: SpawnFn;
  /** Environment of the shell (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default 60 s. */
  defaultTimeoutMs?: number;
}

/** Runs scripts with /bin/sh on this machine — the same scripts SshConnection runs on a host. */
export class LocalShell implements ShellRunner {
  private readonly spawnFn: SpawnFn;
  constructor(private readonly opts: LocalShellOptions = {}) {
    this.spawnFn = opts.spawn ?? (nodeSpawn as SpawnFn);
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.opts.defaultTimeoutMs ?? 60_000;
    const r = await runProcess('/bin/sh', ['-c', script], {
      ...opts,
      timeoutMs,
      spawn: this.spawnFn,
      env: this.opts.env,
      cwd: this.opts.cwd ?? os.homedir(),
      group: true,
    });
    if (r.failure === 'aborted') throw new SshError('aborted', 'cancelled', r.stderr);
    if (r.failure === 'timeout') throw new SshError('timeout', `A local command did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped.`, r.stderr);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, stdoutBuffer: r.stdoutBuffer };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// SSH connection

export interface SshConnectionOptions extends SshTarget {
  spawn?: SpawnFn;
  /** The ssh client (default `ssh` from PATH). */
  sshPath?: string;
  /** Default timeout of exec() (default 60 s). */
  defaultTimeoutMs?: number;
}

/**
 * One host, reached through a multiplexed master. exec() runs `sh -c` on the host through the master; the first
 * call starts the master (ensureMaster). If the link drops, the master dies with it, and the next call — which
 * runs with ControlMaster=auto — becomes the new master: recovery needs no bookkeeping.
 */
export class SshConnection implements ShellRunner {
  readonly destination: SshDestination;
  private readonly spawnFn: SpawnFn;
  private readonly running = new Set<ChildProcess>();
  private masterUp = false;
  private ensuring: Promise<void> | undefined;

  constructor(private readonly opts: SshConnectionOptions) {
    this.destination = parseDestination(opts.destination);
    sshBaseArgs(opts); // validate options now rather than at the first call
    this.spawnFn = opts.spawn ?? (nodeSpawn as SpawnFn);
  }

  private get where(): string {
    return this.opts.destination;
  }

  private get connectTimeoutMs(): number {
    return (this.opts.connectTimeoutSec ?? 10) * 1000;
  }

  private ssh(args: string[], o: ExecOptions): Promise<RunResult> {
    return runProcess(this.opts.sshPath ?? 'ssh', args, {
      ...o,
      spawn: this.spawnFn,
      track: (child, done) => (done ? this.running.delete(child) : this.running.add(child)),
    });
  }

  private failureOf(r: RunResult, what: string, timeoutMs: number): SshError | null {
    if (r.failure === 'aborted') return new SshError('aborted', 'cancelled', r.stderr);
    if (r.failure === 'timeout') {
      return new SshError('timeout', `${what} on ${this.where} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped.`, r.stderr);
    }
    if (r.code !== 255) return null;
    return classifySshFailure(r.stderr, r.code, this.where, this.opts.connectTimeoutSec ?? 10);
  }

  /** Whether a master for this destination answers (`ssh -O check`). */
  async isMasterAlive(): Promise<boolean> {
    const r = await this.ssh(checkMasterArgs(this.opts), { timeoutMs: 5000 });
    return r.failure === undefined && r.code === 0;
  }

  /** Makes sure a master connection is up (starting one if needed), within ConnectTimeout + 15 s. */
  ensureMaster(): Promise<void> {
    this.ensuring ??= (async () => {
      if (await this.isMasterAlive()) {
        this.masterUp = true;
        return;
      }
      const timeoutMs = this.connectTimeoutMs + 15_000;
      const r = await this.ssh(startMasterArgs(this.opts), { timeoutMs });
      const err = this.failureOf(r, 'Connecting', timeoutMs);
      if (err) throw err;
      if (r.code !== 0) throw new SshError('ssh', `ssh to ${this.where} failed (exit ${r.code})${r.stderr.trim() ? `: ${lastLine(r.stderr)}` : ''}.`, r.stderr, r.code);
      this.masterUp = true;
    })().finally(() => {
      this.ensuring = undefined;
    });
    return this.ensuring;
  }

  /**
   * Runs `script` with `sh -c` on the host. Resolves with the exit status of the script (any status but 255);
   * rejects with a classified SshError when ssh itself fails (exit 255), on timeout, or when aborted. On timeout
   * the local ssh is killed; a remote command that ignores its closed channel may keep running there.
   */
  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.opts.defaultTimeoutMs ?? 60_000;
    const started = Date.now();
    if (!this.masterUp) await this.ensureMaster();
    const args = sshArgv(this.opts, [], remoteCommand(script));
    let r = await this.ssh(args, { ...opts, timeoutMs });
    if (r.failure === undefined && r.code === 255 && MUX_FAILURE.test(r.stderr) && r.stdout === '') {
      // The master died under us (dropped link) before the command ran: start a new one and run it once more.
      this.masterUp = false;
      await this.ensureMaster();
      r = await this.ssh(args, { ...opts, timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)) });
    }
    const err = this.failureOf(r, 'A command', timeoutMs);
    if (err) {
      // A timeout counts too: after a dropped link this call (ControlMaster=auto) may itself have been connecting as
      // the new master, and was killed mid-handshake by the command's timeout. The next call must connect through
      // ensureMaster (ConnectTimeout + 15 s), not again within the command's timeout: on a loaded machine a
      // handshake that does not fit in it would be killed every time, and the link would never come back.
      if (err.kind !== 'aborted') this.masterUp = false;
      throw err;
    }
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, stdoutBuffer: r.stdoutBuffer };
  }

  /** Forwards 127.0.0.1:localPort here to remoteHost:remotePort as seen from the host, through the master. The
   *  forward lives as long as the master; after a dropped link call forward() again. */
  async forward(localPort: number, remoteHost: string, remotePort: number): Promise<void> {
    const args = forwardArgs(this.opts, localPort, remoteHost, remotePort);
    await this.ensureMaster();
    const r = await this.ssh(args, { timeoutMs: this.connectTimeoutMs + 5000 });
    if (r.failure === undefined && r.code === 0) return;
    const err = this.failureOf(r, 'Setting up a port forward', this.connectTimeoutMs + 5000);
    if (err && err.kind !== 'ssh') throw err;
    throw new SshError(
      'forward',
      `Could not forward local port ${localPort} to ${remoteHost}:${remotePort} on ${this.where}${/forwarding failed|bind|in use/i.test(r.stderr) ? ' — is local port ' + localPort + ' already in use?' : ''} (${lastLine(r.stderr) || `exit ${r.code}`}).`,
      r.stderr,
      r.code,
    );
  }

  async cancelForward(localPort: number, remoteHost: string, remotePort: number): Promise<void> {
    const r = await this.ssh(cancelForwardArgs(this.opts, localPort, remoteHost, remotePort), { timeoutMs: 5000 });
    if (r.failure === undefined && r.code === 0) return;
    throw new SshError('forward', `Could not cancel the forward of local port ${localPort} (${lastLine(r.stderr) || `exit ${r.code}`}).`, r.stderr, r.code);
  }

  /** Stops the master (and with it every forward) and kills commands still running. Processes started detached on
   *  the host (remoteScripts' start) are not affected. Never throws. */
  async close(): Promise<void> {
    for (const child of this.running) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.masterUp = false;
    try {
      await this.ssh(exitMasterArgs(this.opts), { timeoutMs: 5000 });
    } catch {
      /* no master, or ssh missing: nothing to close */
    }
  }
}
