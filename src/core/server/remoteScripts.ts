// POSIX sh scripts that manage `vllm serve` on its host. The same text runs locally (LocalShell: /bin/sh -c) and
// over SSH (SshConnection.exec), so there is one implementation of start/status/logs/stop for both.
//
// Every value is spliced in with quote()/quotePath(); scripts print `key=value` lines that the parse* functions
// read. Tools used: sh, coreutils (mkdir, mv, rm, cat, wc, tail, head, cut, dirname, df, sleep, nohup, timeout),
// util-linux setsid, procps ps, awk, sed, and iproute2 ss — present on a stock Debian/Ubuntu GPU host.
//
// The server's state lives in a per-profile directory (stateDirFor: `~/.kimi-vllm/<profile-slug>`):
//   server.pid  "<pid> <start time> <boot id>" — the pid is also the process-group id (the server runs under
//               setsid); the start time (field 22 of /proc/<pid>/stat) and the kernel's boot id tell a recycled pid
//               from ours after a crash or a reboot (a record that cannot prove its process is ours is "stale");
//   server.log  everything the server prints (server.log.1: the previous run's).
import type { ServerProfile } from '../config/serverProfile';
import type { ExecResult } from './ssh';
import { exportLine, isEnvName, join, quote, quotePath } from './shellQuote';
import { stateDirFor } from './stateDir';
import { wrapEnvironment } from './vllmCommand';

export { profileSlug, STATE_ROOT, stateDirFor } from './stateDir';

// ---------------------------------------------------------------------------------------------------------------
// Shared shell pieces

function stateVars(stateDir: string): string {
  return [`kv_dir=${quotePath(stateDir)}`, 'kv_pidf="$kv_dir/server.pid"', 'kv_log="$kv_dir/server.log"'].join('\n');
}

/** Process helpers. Liveness ignores zombies: an orphan whose parent does not reap it (a container's init may
 *  not) still answers `kill -0`, yet it is gone for every practical purpose. */
const PROCESS_FUNCS = String.raw`
kv_alive() {
  if [ -d /proc/self ]; then
    kv_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  else
    kv_st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  fi
  case $kv_st in ''|Z*|X*) return 1 ;; esac
  return 0
}
kv_starttime() {
  sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}
kv_group_alive() {
  if command -v ps >/dev/null 2>&1; then
    ps -e -o pgid= -o stat= 2>/dev/null | awk -v g="$1" '$1 == g && $2 !~ /^[ZX]/ { f = 1 } END { exit !f }'
  else
    kill -s 0 -- "-$1" 2>/dev/null
  fi
}
kv_read_state() {
  kv_pid=; kv_start=; kv_boot=; kv_state=none
  [ -f "$kv_pidf" ] || return 0
  read -r kv_pid kv_start kv_boot < "$kv_pidf" 2>/dev/null
  case $kv_pid in ''|*[!0-9]*) kv_pid=; kv_state=stale; return 0 ;; esac
  if [ "$kv_pid" -le 1 ]; then kv_pid=; kv_state=stale; return 0; fi
  # Recorded before the last reboot: whatever has that pid (or process group) now is not ours.
  if [ -n "$kv_boot" ] && [ -r /proc/sys/kernel/random/boot_id ] && [ "$(cat /proc/sys/kernel/random/boot_id)" != "$kv_boot" ]; then kv_state=stale; return 0; fi
  if kv_alive "$kv_pid"; then
    # Ours only if it started when the recorded process did; with /proc, a record without a start time proves nothing.
    if [ -n "$kv_start" ]; then
      if [ "$(kv_starttime "$kv_pid")" = "$kv_start" ]; then kv_state=running; else kv_state=stale; fi
    elif [ -d /proc/self ]; then kv_state=stale
    else kv_state=running
    fi
  elif kv_group_alive "$kv_pid"; then
    kv_state=orphaned
  else
    kv_state=exited
  fi
}
`.trim();

/** Runs in the detached process itself: records "$$ <start time> <boot id>" (atomically), then becomes the command. */
const LAUNCHER = String.raw`printf '%s %s %s\n' "$$" "$(sed 's/.*) //' /proc/$$/stat 2>/dev/null | cut -d' ' -f20)" "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)" > "$1.tmp" && mv -f -- "$1.tmp" "$1"; exec sh -c "$2"`;

// ---------------------------------------------------------------------------------------------------------------
// start

export interface StartOptions {
  /** Per-profile state directory on the host (stateDirFor). May start with `~/`. */
  stateDir: string;
  /** Shell text to run (vllmCommand.shellCommand). It runs as `sh -c <command>` in a new session. */
  command: string;
  /** Exported before the command starts. Not for secrets: this text can show up as a process argument. */
  env?: Readonly<Record<string, string>>;
  /** Names of variables whose values arrive on the script's stdin, one line each in this order (secretStdin):
   *  the API key reaches vLLM's environment without ever being part of a command line. */
  secretEnv?: readonly string[];
}

/**
 * Starts `command` detached: `setsid -f nohup sh -c <command> > stateDir/server.log 2>&1 < /dev/null`, so it
 * survives the SSH session and has its own process group (stop kills the whole group — vLLM's engine and worker
 * processes included). Refuses while a recorded server is alive. Prints result=started|running|error, pid=….
 */
export function startDetachedScript(o: StartOptions): string {
  const secrets = o.secretEnv ?? [];
  for (const name of secrets) if (!isEnvName(name)) throw new Error(`"${name}" is not a valid environment variable name`);
  const exports = exportLine(o.env ?? {});
  return [
    stateVars(o.stateDir),
    PROCESS_FUNCS,
    '(umask 077 && mkdir -p -- "$kv_dir") || { echo "result=error"; echo "error=cannot create the state directory $kv_dir"; exit 0; }',
    'kv_read_state',
    'case $kv_state in running|orphaned) echo "result=running"; echo "pid=$kv_pid"; echo "state=$kv_state"; exit 0 ;; esac',
    'command -v setsid >/dev/null 2>&1 || { echo "result=error"; echo "error=setsid is not installed on the host (package util-linux)"; exit 0; }',
    'rm -f -- "$kv_pidf" "$kv_pidf.tmp"',
    'if [ -f "$kv_log" ]; then mv -f -- "$kv_log" "$kv_log.1"; fi',
    ...(exports ? [exports] : []),
    ...secrets.map((n) => `IFS= read -r ${n} || true; export ${n}`),
    // Started as a FOREGROUND `setsid -f` (it forks by itself), not as `… &`: sh starts background jobs with
    // SIGINT ignored, an ignored signal stays ignored across exec, and Python (vLLM) then never sees Ctrl-C —
    // stop's SIGINT would be lost. `&` remains the fallback for util-linux older than 2.31 (no -f).
    `kv_launch() { setsid "$@" nohup sh -c ${quote(LAUNCHER)} kimi-vllm "$kv_pidf" ${quote(o.command)} > "$kv_log" 2>&1 < /dev/null; }`,
    "if setsid --help 2>&1 | grep -q -e '--fork'; then kv_launch -f; else kv_launch & fi",
    // The launcher writes the pid file itself (it is the session leader); wait for it, at most 10 s.
    'kv_n=0',
    'while [ ! -s "$kv_pidf" ]; do',
    '  kv_n=$((kv_n + 1))',
    '  if [ "$kv_n" -gt 200 ]; then echo "result=error"; echo "error=the server process did not start within 10 s (see $kv_log)"; exit 0; fi',
    '  sleep 0.05 2>/dev/null || sleep 1',
    'done',
    'kv_read_state',
    'echo "result=started"; echo "pid=$kv_pid"; echo "state=$kv_state"',
  ].join('\n');
}

/** The stdin for startDetachedScript's secretEnv: one value per line, in the same order. */
export function secretStdin(names: readonly string[], values: Readonly<Record<string, string>>): string {
  return names
    .map((n) => {
      const v = values[n] ?? '';
      if (/[\n\r\0]/.test(v)) throw new Error(`the value of ${n} contains a line break or NUL, which cannot be passed`);
      return `${v}\n`;
    })
    .join('');
}

export type StartResult = { kind: 'started'; pid: number } | { kind: 'running'; pid: number } | { kind: 'error'; message: string };

export function parseStart(r: ExecResult): StartResult {
  const kv = keyValues(r.stdout);
  const pid = Number(kv.get('pid'));
  const result = kv.get('result');
  if (result === 'started' && pid > 0) return { kind: 'started', pid };
  if (result === 'running' && pid > 0) return { kind: 'running', pid };
  const why = kv.get('error') ?? (r.stderr.trim().split('\n').pop() || `the start script failed (exit ${r.code})`);
  return { kind: 'error', message: why };
}

// ---------------------------------------------------------------------------------------------------------------
// status

/** none: never started (no pid file) · running · orphaned: the leader died but processes of its group live on
 *  (they may hold GPU memory — stop kills them) · exited: it ended by itself (read the log) · stale: the recorded
 *  pid now belongs to another process. */
export type ServerState = 'none' | 'running' | 'orphaned' | 'exited' | 'stale';

export interface ServerStatus {
  state: ServerState;
  /** running or orphaned. */
  alive: boolean;
  pid: number | null;
  logBytes: number;
}

export function statusScript(o: { stateDir: string }): string {
  return [
    stateVars(o.stateDir),
    PROCESS_FUNCS,
    'kv_read_state',
    'echo "state=$kv_state"; echo "pid=$kv_pid"',
    'if [ -f "$kv_log" ]; then echo "logBytes=$(wc -c < "$kv_log" | tr -d \' \')"; else echo "logBytes=0"; fi',
  ].join('\n');
}

const STATES: ServerState[] = ['none', 'running', 'orphaned', 'exited', 'stale'];

export function parseStatus(stdout: string): ServerStatus {
  const kv = keyValues(stdout);
  const raw = kv.get('state') ?? '';
  const state: ServerState = (STATES as string[]).includes(raw) ? (raw as ServerState) : 'none';
  const pid = Number(kv.get('pid'));
  return { state, alive: state === 'running' || state === 'orphaned', pid: pid > 0 ? pid : null, logBytes: Number(kv.get('logBytes')) || 0 };
}

// ---------------------------------------------------------------------------------------------------------------
// logs

export interface TailOptions {
  stateDir: string;
  /** Byte offset to read from (the previous call's nextOffset). */
  offset: number;
  /** At most this many bytes. */
  maxBytes: number;
  /** The log's identity from the previous call (TailChunk.logId): when the log was replaced (a restart rotates
   *  it), reading starts over at 0. */
  logId?: string;
}

/** Prints `size=N from=F id=I`, then the log's bytes from F (at most maxBytes). */
export function tailScript(o: TailOptions): string {
  const offset = Math.max(0, Math.floor(o.offset));
  const max = Math.max(1, Math.floor(o.maxBytes));
  return [
    stateVars(o.stateDir),
    'if [ ! -f "$kv_log" ]; then echo "size=0 from=0 id=none"; exit 0; fi',
    // First line only: ls prints a file name containing a newline as two lines.
    "kv_id=$(ls -di -- \"$kv_log\" 2>/dev/null | awk 'NR == 1 { print $1 }')",
    "kv_size=$(wc -c < \"$kv_log\" | tr -d ' ')",
    `kv_from=${offset}`,
    'if [ "$kv_from" -gt "$kv_size" ]; then kv_from=0; fi',
    ...(o.logId !== undefined ? [`if [ "$kv_id" != ${quote(o.logId)} ]; then kv_from=0; fi`] : []),
    'echo "size=$kv_size from=$kv_from id=$kv_id"',
    `tail -c +$((kv_from + 1)) -- "$kv_log" | head -c ${max}`,
  ].join('\n');
}

export interface TailChunk {
  /** Decoded text; an incomplete UTF-8 sequence at the end is left for the next call. */
  text: string;
  nextOffset: number;
  /** Log size when read. */
  size: number;
  logId: string;
  /** The log was replaced or truncated: `text` starts at its beginning, not at the requested offset. */
  reset: boolean;
}

export function parseTail(stdout: Buffer, requestedOffset: number): TailChunk {
  const nl = stdout.indexOf(0x0a);
  const header = (nl < 0 ? stdout : stdout.subarray(0, nl)).toString('utf8');
  const body = nl < 0 ? Buffer.alloc(0) : stdout.subarray(nl + 1);
  const fields = new Map(header.split(' ').map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] as [string, string]));
  const from = Number(fields.get('from')) || 0;
  const usable = completeUtf8Length(body);
  return {
    text: body.subarray(0, usable).toString('utf8'),
    nextOffset: from + usable,
    size: Number(fields.get('size')) || 0,
    logId: fields.get('id') ?? 'none',
    reset: from !== requestedOffset,
  };
}

/** Length of `buf` without a trailing, incomplete UTF-8 sequence. */
function completeUtf8Length(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? buf.length - back : buf.length;
  }
  return buf.length;
}

// ---------------------------------------------------------------------------------------------------------------
// stop

export interface StopOptions {
  stateDir: string;
  /** Seconds to wait after SIGINT (vLLM's clean shutdown) before SIGTERM. */
  graceIntSec: number;
  /** Seconds to wait after SIGTERM before SIGKILL. */
  graceTermSec: number;
}

/** Which signal ended the server: INT/TERM/KILL; not-running (nothing alive — the pid file is removed); stale (the
 *  pid belongs to someone else now — nothing is signalled); survived (even SIGKILL left processes: uninterruptible
 *  sleep in the driver; the pid file is kept). */
export type StopResult = 'INT' | 'TERM' | 'KILL' | 'not-running' | 'stale' | 'survived';

/**
 * Stops the whole process group: `kill -INT -PGID`, wait up to graceIntSec for every process of the group to be
 * gone, then -TERM, then -KILL (waiting up to 10 s more). Prints result=… and pid=….
 */
export function stopScript(o: StopOptions): string {
  const tenths = (s: number) => Math.max(0, Math.round(s * 10));
  return [
    stateVars(o.stateDir),
    PROCESS_FUNCS,
    'kv_wait_gone() {',
    '  kv_n=$1',
    '  while kv_group_alive "$kv_pid"; do',
    '    [ "$kv_n" -le 0 ] && return 1',
    '    kv_n=$((kv_n - 1))',
    '    sleep 0.1 2>/dev/null || { sleep 1; kv_n=$((kv_n - 9)); }',
    '  done',
    '  return 0',
    '}',
    'kv_read_state',
    'case $kv_state in',
    '  none) echo "result=not-running"; exit 0 ;;',
    '  exited) rm -f -- "$kv_pidf"; echo "result=not-running"; echo "pid=$kv_pid"; exit 0 ;;',
    '  stale) rm -f -- "$kv_pidf"; echo "result=stale"; echo "pid=$kv_pid"; exit 0 ;;',
    'esac',
    'echo "pid=$kv_pid"',
    'kill -s INT -- "-$kv_pid" 2>/dev/null',
    `if kv_wait_gone ${tenths(o.graceIntSec)}; then kv_sig=INT`,
    'else',
    '  kill -s TERM -- "-$kv_pid" 2>/dev/null',
    `  if kv_wait_gone ${tenths(o.graceTermSec)}; then kv_sig=TERM`,
    '  else',
    '    kill -s KILL -- "-$kv_pid" 2>/dev/null',
    '    if kv_wait_gone 100; then kv_sig=KILL; else kv_sig=survived; fi',
    '  fi',
    'fi',
    '[ "$kv_sig" = survived ] || rm -f -- "$kv_pidf"',
    'echo "result=$kv_sig"',
  ].join('\n');
}

export function parseStop(stdout: string): { result: StopResult; pid: number | null } {
  const kv = keyValues(stdout);
  const results: StopResult[] = ['INT', 'TERM', 'KILL', 'not-running', 'stale', 'survived'];
  const raw = kv.get('result') ?? '';
  const pid = Number(kv.get('pid'));
  if (!(results as string[]).includes(raw)) throw new Error(`unexpected output of the stop script: ${JSON.stringify(stdout.slice(0, 200))}`);
  return { result: raw as StopResult, pid: pid > 0 ? pid : null };
}

/**
 * Removes the pid file once the process it records has ended (exited, or stale) — only while it still records
 * `pid`, so a run that another session started meanwhile keeps its own. For runs nobody stops (a download that
 * finished or failed): no stale record is left behind. Prints result=cleared|kept|none.
 */
export function clearPidScript(o: { stateDir: string; pid: number }): string {
  if (!Number.isInteger(o.pid) || o.pid <= 1) throw new Error(`${o.pid} is not a pid`);
  return [
    stateVars(o.stateDir),
    PROCESS_FUNCS,
    'kv_read_state',
    'case $kv_state in',
    '  none) echo "result=none" ;;',
    `  exited|stale) read -r kv_first kv_rest < "$kv_pidf"; if [ "$kv_first" = ${o.pid} ]; then rm -f -- "$kv_pidf"; echo "result=cleared"; else echo "result=kept"; fi ;;`,
    '  *) echo "result=kept" ;;',
    'esac',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// probes

/** ss's listening sockets matched against host:port; a wildcard listener (0.0.0.0, ::, *) matches any host. */
const SS_MATCH = String.raw`
$1 == "LISTEN" {
  a = $4; n = split(a, parts, ":"); port = parts[n]
  addr = substr(a, 1, length(a) - length(port) - 1)
  gsub(/^\[|\]$/, "", addr); sub(/%.*/, "", addr)
  h = ENVIRON["KV_H"]
  if (port == ENVIRON["KV_P"] && (addr == "0.0.0.0" || addr == "*" || addr == "::" || addr == h || h == "0.0.0.0" || h == "::" || (h == "localhost" && (addr == "127.0.0.1" || addr == "::1")))) f = 1
}
END { exit !f }
`.trim();

/**
 * Is something listening on host:port on the target? `ss -ltn` (iproute2) when present, else bash's /dev/tcp
 * (a real connect, 3 s at most). Prints open=0|1 and method=ss|bash|none. vLLM binds its port before the engine
 * has loaded, so "open" means bound, not ready — readiness is /health.
 */
export function portOpenScript(host: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${port} is not a port number`);
  const connectHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return [
    `kv_host=${quote(host)}; kv_port=${port}`,
    'if command -v ss >/dev/null 2>&1; then',
    `  if ss -ltn 2>/dev/null | KV_H="$kv_host" KV_P="$kv_port" awk ${quote(SS_MATCH)}; then echo "open=1"; else echo "open=0"; fi`,
    '  echo "method=ss"',
    'elif command -v bash >/dev/null 2>&1; then',
    `  if timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' ${quote(connectHost)} "$kv_port" 2>/dev/null; then echo "open=1"; else echo "open=0"; fi`,
    '  echo "method=bash"',
    'else',
    '  echo "open=0"; echo "method=none"',
    'fi',
  ].join('\n');
}

export function parsePortOpen(stdout: string): { open: boolean; method: 'ss' | 'bash' | 'none' } {
  const kv = keyValues(stdout);
  const m = kv.get('method');
  return { open: kv.get('open') === '1', method: m === 'ss' || m === 'bash' ? m : 'none' };
}

/** Free space where `dir` is or would be created: `df -Pk` on the nearest existing parent. */
export function diskFreeScript(dir: string): string {
  return [
    `kv_d=${quotePath(dir)}`,
    'while [ ! -d "$kv_d" ]; do',
    '  kv_p=$(dirname -- "$kv_d")',
    '  [ "$kv_p" = "$kv_d" ] && break',
    '  kv_d=$kv_p',
    'done',
    "printf 'path=%s\\n' \"$kv_d\"",
    `df -Pk -- "$kv_d" 2>/dev/null | awk ${quote('NR == 2 { print "totalKiB=" $2; print "availKiB=" $4; m = $6; for (i = 7; i <= NF; i++) m = m " " $i; print "mount=" m }')}`,
  ].join('\n');
}

export interface DiskFree {
  /** The existing directory that was measured. */
  path: string;
  mount: string;
  totalBytes: number;
  availableBytes: number;
}

export function parseDiskFree(stdout: string): DiskFree | null {
  const kv = keyValues(stdout);
  const total = Number(kv.get('totalKiB'));
  const avail = Number(kv.get('availKiB'));
  if (!Number.isFinite(total) || !Number.isFinite(avail) || !kv.has('availKiB')) return null;
  return { path: kv.get('path') ?? '', mount: kv.get('mount') ?? '', totalBytes: total * 1024, availableBytes: avail * 1024 };
}

export const DEFAULT_TOOLS = ['vllm', 'modelscope', 'nvidia-smi'] as const;

/** Where each tool is found inside the profile's environment (venv / commandPrefix / conda): `tool=/path` or
 *  `tool=` when missing. Each check runs in its own `sh -c`, so a broken activation or prefix only blanks the
 *  answers (its error goes to stderr) instead of breaking the script. */
export function whichScript(environment: ServerProfile['environment'], tools: readonly string[] = DEFAULT_TOOLS): string {
  return tools
    .map((t) => {
      if (!/^[A-Za-z0-9._-]+$/.test(t)) throw new Error(`"${t}" is not a tool name`);
      const check = wrapEnvironment(environment, join(['sh', '-c', `command -v ${t}`]));
      return `kv_w=$(sh -c ${quote(check)} < /dev/null | head -n 1); printf '%s=%s\\n' ${quote(t)} "$kv_w"`;
    })
    .join('\n');
}

export function parseWhich(stdout: string, tools: readonly string[] = DEFAULT_TOOLS): Record<string, string | null> {
  const kv = keyValues(stdout);
  return Object.fromEntries(tools.map((t) => [t, kv.get(t) ? kv.get(t)! : null]));
}

// ---------------------------------------------------------------------------------------------------------------

function keyValues(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1).replace(/\r$/, ''));
  }
  return m;
}
