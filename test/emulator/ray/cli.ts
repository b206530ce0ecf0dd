// Entry point of the fake `ray` executable (test/emulator/bin/ray runs this after `tsc`): the parts of Ray's CLI a
// multi-node vLLM deployment uses, with Ray's own wording (ray/scripts/scripts.py; `ray status` from the autoscaler's
// formatter):
//   ray start --head [--port=6379] [--node-ip-address=IP] [--block] [--disable-usage-stats] [--temp-dir=D]
//   ray start --address=HEAD:PORT [--node-ip-address=IP] [--block] …
//   ray status [--address=HEAD:PORT]     ray stop [--force] [-g N]     ray --version
// Processes as in real Ray: the head runs a GCS server and a raylet, a worker node a raylet that registers with the
// head's GCS over TCP (a real connection from the node's network, so an unreachable head fails like Ray does).
// With --block `ray start` stays in the foreground watching them: one dying ends the rest ("Some Ray subprocesses
// exited unexpectedly"), SIGINT/SIGTERM end them all. Without it they run detached and `ray stop` ends them.
// Knobs: RAY_TMPDIR (per host!), RAY_ADDRESS, KIMI_FAKE_RAY_VERSION (2.49.2), KIMI_FAKE_RAY_CPUS (96),
// KIMI_FAKE_RAY_MEMORY_GIB (1474), KIMI_FAKE_RAY_GCS_TIMEOUT_S (5).
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection, connectWithin, joinAddress, splitAddress, type Message } from './protocol';
import {
  asctime,
  clearCurrentCluster,
  clearRecorded,
  isAlive,
  newSession,
  rayRoot,
  raySettings,
  readCurrentCluster,
  recordedProcesses,
  recordProcesses,
  writeCurrentCluster,
  PYTHON_VERSION,
  type RecordedProcess,
} from './session';

class ClickError extends Error {
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(message);
  }
}

const out = (s: string) => process.stdout.write(s);
const err = (s: string) => process.stderr.write(s);

interface Parsed {
  flags: Map<string, string | true>;
}

/** click-style options: `--name value`, `--name=value`, boolean flags. */
function parse(command: string, argv: string[], valued: string[], bools: string[], aliases: Record<string, string> = {}): Parsed {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    let name = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    name = aliases[name] ?? name;
    if (valued.includes(name)) {
      const value = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new ClickError(command, `Option '${name}' requires an argument.`);
      flags.set(name, value);
    } else if (bools.includes(name)) {
      flags.set(name, true);
    } else if (raw.startsWith('-')) {
      throw new ClickError(command, `No such option: ${name}`);
    } else {
      throw new ClickError(command, `Got unexpected extra argument (${raw})`);
    }
  }
  return { flags };
}

function detectIp(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Waits for the first stdout line of a child (its readiness report) or its exit. */
function firstLine(child: ChildProcess, timeoutMs: number): Promise<{ line?: string; code?: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let buf = '';
    let stderr = '';
    const timer = setTimeout(() => resolve({ stderr }), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ line: buf.slice(0, nl), stderr });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      setImmediate(() => resolve({ code, stderr, ...(buf ? { line: buf.split('\n')[0] } : {}) }));
    });
  });
}

function spawnDaemon(file: string, args: string[], block: boolean): ChildProcess {
  return spawn(process.execPath, [path.join(__dirname, file), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // With --block the daemons stay in `ray start`'s process group (a group signal reaches them); without it they
    // get their own session and outlive the command, like Ray's.
    detached: !block,
  });
}

function usageStatsNotice(): void {
  out(
    'Usage stats collection is enabled by default without user confirmation because this terminal is detected to be non-interactive. ' +
      'To disable this, add `--disable-usage-stats` to the command that starts the cluster, or run the following command: ' +
      '`ray disable-usage-stats` before starting the cluster. See https://docs.ray.io/en/master/cluster/usage-stats.html for more details.\n\n',
  );
}

function startedBanner(): void {
  const msg = 'Ray runtime started.';
  out(`\n${'-'.repeat(msg.length)}\n${msg}\n${'-'.repeat(msg.length)}\n\n`);
}

async function start(argv: string[]): Promise<number> {
  const { flags } = parse(
    'start',
    argv,
    ['--port', '--address', '--node-ip-address', '--num-gpus', '--num-cpus', '--temp-dir', '--dashboard-host', '--dashboard-port', '--include-dashboard', '--object-store-memory', '--resources'],
    ['--head', '--block', '--disable-usage-stats', '-v', '--verbose'],
  );
  const settings = raySettings();
  const head = flags.get('--head') === true;
  const block = flags.get('--block') === true;
  const root = rayRoot(process.env, typeof flags.get('--temp-dir') === 'string' ? (flags.get('--temp-dir') as string) : undefined);
  const address = flags.get('--address');
  if (!head && typeof address !== 'string') {
    err('`--address` is a required flag unless starting a head node with `--head`.\n');
    return 1;
  }
  if (!head && flags.has('--port')) {
    err('`--port` should only be specified when starting head node with `--head`.\n');
    return 1;
  }
  const ip = typeof flags.get('--node-ip-address') === 'string' ? (flags.get('--node-ip-address') as string) : detectIp();
  const children: { type: RecordedProcess['type']; child: ChildProcess }[] = [];
  const killChildren = (signal: NodeJS.Signals) => {
    for (const c of children) {
      try {
        c.child.kill(signal);
      } catch {
        /* gone */
      }
    }
  };
  let gcsAddress: string;
  if (head) {
    if (flags.get('--disable-usage-stats') !== true) usageStatsNotice();
    const port = Number(flags.get('--port') ?? 6379);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ClickError('start', `Invalid value for '--port': '${String(flags.get('--port'))}' is not a valid integer.`);
    out(`Local node IP: ${ip}\n`);
    gcsAddress = joinAddress(ip, port);
    const running = readCurrentCluster(root);
    if (running === gcsAddress && (await reachable(ip, port))) {
      err(
        `ConnectionError: Ray is trying to start at ${gcsAddress}, but is already running at ${running}. ` +
          'Please specify a different port using the `--port` flag of `ray start` command.\n',
      );
      return 1;
    }
    const gcs = spawnDaemon('gcs.js', [ip, String(port), settings.version], block);
    children.push({ type: 'gcs_server', child: gcs });
    const g = await firstLine(gcs, 15_000);
    if (g.line !== 'listening') {
      killChildren('SIGKILL');
      err(`RuntimeError: Failed to start GCS. Last 1 lines of error files:\n${g.stderr.trim() || 'gcs_server exited'}\n`);
      return 1;
    }
  } else {
    const target = splitAddress(String(address));
    if (!target) {
      err(`Cannot canonicalize address \`--address=${String(address)}\`.\n`);
      return 1;
    }
    gcsAddress = joinAddress(target.host, target.port);
    out(`Local node IP: ${ip}\n`);
  }
  const raylet = spawnDaemon('raylet.js', [gcsAddress, ip, settings.version], block);
  children.push({ type: 'raylet', child: raylet });
  const r = await firstLine(raylet, (settings.gcsConnectTimeoutSec + 15) * 1000);
  if (!r.line?.startsWith('registered')) {
    killChildren('SIGKILL');
    if (r.line?.startsWith('version-mismatch')) {
      const cluster = r.line.split(' ')[1] ?? '?';
      err(
        `RuntimeError: Version mismatch: The cluster was started with:\n    Ray: ${cluster}\n    Python: ${PYTHON_VERSION}\n` +
          `This process on node ${ip} was started with:\n    Ray: ${settings.version}\n    Python: ${PYTHON_VERSION}\n`,
      );
    } else {
      const d = new Date();
      err(`[${asctime(d).replace(',', '.')} W ${process.pid} ${process.pid}] gcs_rpc_client.h:151: Failed to connect to GCS at address ${gcsAddress} within ${settings.gcsConnectTimeoutSec} seconds.\n`);
      err('Timed out while waiting for GCS to become available.\n');
    }
    return 1;
  }
  const session = newSession(root);
  writeCurrentCluster(root, gcsAddress);
  startedBanner();
  if (head) {
    out('Next steps\n');
    out('  To add another node to this Ray cluster, run\n');
    out(`    ray start --address='${gcsAddress}'\n\n`);
    out('  To connect to this Ray cluster:\n    import ray\n    ray.init()\n\n');
    out('  To terminate the Ray runtime, run\n    ray stop\n\n');
    out('  To view the status of the cluster, use\n    ray status\n');
  } else {
    out('To terminate the Ray runtime, run\n  ray stop\n');
  }
  if (!block) {
    recordProcesses(session, children.map((c) => ({ pid: c.child.pid ?? 0, type: c.type })));
    for (const c of children) {
      c.child.stdout?.destroy();
      c.child.stderr?.destroy();
      c.child.unref();
    }
    return 0;
  }
  recordProcesses(session, [{ pid: process.pid, type: 'ray start' }, ...children.map((c) => ({ pid: c.child.pid ?? 0, type: c.type }))]);
  out('\n--block\n');
  out('  This command will now block forever until terminated by a signal.\n');
  out('  Running subprocesses are monitored and a message will be printed if any of them terminate unexpectedly. Subprocesses exit with SIGTERM will be treated as graceful, thus NOT reported.\n');
  return new Promise<number>((resolve) => {
    let done = false;
    let stopping = false;
    const end = (code: number) => {
      if (done) return;
      done = true;
      clearRecorded(session);
      clearCurrentCluster(root, gcsAddress);
      resolve(code);
    };
    for (const c of children) {
      c.child.stdout?.resume();
      c.child.stderr?.resume();
      c.child.once('exit', (code, signal) => {
        if (stopping || done) return;
        const rc = code ?? (signal ? -(os.constants.signals[signal] ?? 0) : 0);
        if ([0, 15, -15, 143].includes(rc)) return;
        err('\nSome Ray subprocesses exited unexpectedly:\n');
        err(`  ${c.type} [exit code=${rc}]\n`);
        err('\nRemaining processes will be killed.\n');
        killChildren('SIGKILL');
        end(1);
      });
    }
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        if (stopping) return;
        stopping = true;
        killChildren('SIGTERM');
        const alive = children.filter((c) => c.child.exitCode === null && c.child.signalCode === null);
        let left = alive.length;
        if (left === 0) end(0);
        for (const c of alive) c.child.once('exit', () => --left === 0 && end(0));
        setTimeout(() => {
          killChildren('SIGKILL');
          end(0);
        }, 5000).unref();
      });
    }
  });
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function gcsAddressFor(flags: Map<string, string | true>): string | null {
  const a = flags.get('--address');
  if (typeof a === 'string' && a !== 'auto') return a;
  if (process.env.RAY_ADDRESS && process.env.RAY_ADDRESS !== 'auto') return process.env.RAY_ADDRESS;
  return readCurrentCluster(rayRoot());
}

/** Bytes as Ray's status formats them: `1.44TiB`, `372.53GiB`, `0B`. */
function bytes(n: number): string {
  if (n <= 0) return '0B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(2)}${units[i]}`;
}

async function status(argv: string[]): Promise<number> {
  const { flags } = parse('status', argv, ['--address'], ['-v', '--verbose']);
  const settings = raySettings();
  const address = gcsAddressFor(flags);
  if (!address) {
    err('ConnectionError: Could not find any running Ray instance. Please specify the one to connect to by setting `--address` flag or `RAY_ADDRESS` environment variable.\n');
    return 1;
  }
  const target = splitAddress(address);
  let conn: Connection;
  try {
    if (!target) throw new Error('bad address');
    conn = new Connection(await connectWithin(target.host, target.port, settings.gcsConnectTimeoutSec * 1000));
  } catch {
    err(`Failed to connect to GCS at address ${address} within ${settings.gcsConnectTimeoutSec} seconds.\nTimed out while waiting for GCS to become available.\n`);
    return 1;
  }
  const s = (await conn.request({ t: 'status' }, 10_000)) as Message & {
    nodes?: { nodeId: string; ip: string; alive: boolean; cpus: number; gpus: unknown[]; usedGpus: number; memoryBytes: number; objectStoreBytes: number }[];
    failures?: { nodeId: string; ip: string }[];
  };
  conn.close();
  if (s.t !== 'status') {
    err(`Failed to connect to GCS at address ${address}.\n`);
    return 1;
  }
  const alive = (s.nodes ?? []).filter((n) => n.alive);
  const now = new Date();
  const sum = (f: (n: (typeof alive)[number]) => number) => alive.reduce((a, n) => a + f(n), 0);
  const lines = [
    `======== Autoscaler status: ${asctime(now).replace(',', '.')}000 ========`,
    'Node status',
    '---------------------------------------------------------------',
    'Active:',
    ...alive.map((n) => ` 1 node_${n.nodeId}`),
    'Pending:',
    ' (no pending nodes)',
    'Recent failures:',
    ...((s.failures ?? []).length ? (s.failures ?? []).map((f) => ` node_${f.nodeId}: NodeTerminated (ip: ${f.ip})`) : [' (no failures)']),
    '',
    'Resources',
    '---------------------------------------------------------------',
    'Usage:',
    ` 0.0/${sum((n) => n.cpus).toFixed(1)} CPU`,
    ` ${sum((n) => n.usedGpus).toFixed(1)}/${sum((n) => n.gpus.length).toFixed(1)} GPU`,
    ` 0B/${bytes(sum((n) => n.memoryBytes))} memory`,
    ` 0B/${bytes(sum((n) => n.objectStoreBytes))} object_store_memory`,
    '',
    'Demands:',
    ' (no resource demands)',
  ];
  out(`${lines.join('\n')}\n`);
  return 0;
}

async function stop(argv: string[]): Promise<number> {
  const { flags } = parse('stop', argv, ['--grace-period'], ['--force', '-v', '--verbose'], { '-f': '--force', '-g': '--grace-period' });
  const root = rayRoot();
  const force = flags.get('--force') === true;
  const grace = Number(flags.get('--grace-period') ?? 16);
  const found: number[] = [];
  for (const { session, procs } of recordedProcesses(root)) {
    for (const p of procs) if (p.pid > 0 && p.pid !== process.pid && isAlive(p.pid)) found.push(p.pid);
    clearRecorded(session);
  }
  for (const pid of found) {
    try {
      process.kill(pid, force ? 'SIGKILL' : 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + grace * 1000;
  while (found.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const stubborn = found.filter(isAlive);
  for (const pid of stubborn) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  clearCurrentCluster(root);
  if (found.length === 0) out('Did not find any active Ray processes.\n');
  else if (stubborn.length === 0) out(`Stopped all ${found.length} Ray processes.\n`);
  else
    out(
      `Stopped only ${found.length - stubborn.length} out of ${found.length} Ray processes within the grace period ${grace} seconds. ` +
        `Set \`-v\` to see more details. Remaining processes [${stubborn.join(', ')}] will be forcefully terminated.\n`,
    );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === '--version') {
      out(`ray, version ${raySettings().version}\n`);
      return 0;
    }
    if (cmd === 'start') return await start(rest);
    if (cmd === 'status') return await status(rest);
    if (cmd === 'stop') return await stop(rest);
    if (cmd === undefined || cmd === '--help') {
      out('Usage: ray [OPTIONS] COMMAND [ARGS]...\n\nCommands:\n  start   Start Ray processes manually on the local machine.\n  status  Print cluster status, including autoscaling info.\n  stop    Stop Ray processes manually on the local machine.\n');
      return cmd === undefined ? 2 : 0;
    }
    err(`Usage: ray [OPTIONS] COMMAND [ARGS]...\nTry 'ray --help' for help.\n\nError: No such command '${cmd}'.\n`);
    return 2;
  } catch (e) {
    if (e instanceof ClickError) {
      err(`Usage: ray ${e.command} [OPTIONS]\nTry 'ray ${e.command} --help' for help.\n\nError: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    err(`fake ray crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
