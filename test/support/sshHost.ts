// A REAL SSH host for tests (docs/ssh-test-hosts.md): its own network namespace with a veth pair and a private /30
// (10.213.N.0/30: .1 is this side, .2 the host), its own OpenSSH server (own host key, a generated client key,
// PasswordAuthentication no, PATH/HOME set with SetEnv so the fake vllm/nvidia-smi/modelscope are found), and an
// ssh config file with a Host alias, as a user would have in ~/.ssh/config.
//
// The "host" shares this machine's filesystem and process table — only the network is separate — so tests can
// look at the files and processes it creates. Its HOME is a private temp dir (SetEnv HOME), so `~` on the host
// is not this machine's home.
//
// Needs root (ip netns, veth). Without root, or where `ip netns add` fails, it falls back to an sshd on
// 127.0.0.1 with a free port (mode 'loopback'): same config, but blockTraffic() then freezes sshd (SIGSTOP)
// instead of taking the link down. Set KIMI_SSH_TEST_LOOPBACK=1 to force the fallback.
//
// Cleanup: stop() in an after hook; a process 'exit' handler removes whatever is left; and every start first
// deletes namespaces/temp dirs left by crashed runs (names carry the owning pid: kvssh-<pid>-<N>).
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SshHostOptions {
  /** A label for logs and the Host alias suffix. */
  name: string;
  /** Extra environment of every session on the host (SetEnv): e.g. KIMI_FAKE_GPUS, KIMI_FAKE_GPU_DIR. */
  env?: Record<string, string>;
  /** Directories put first on the host's PATH (e.g. test/emulator/bin). node's own directory is always added. */
  binDirs?: string[];
  /** Put the host on this shared network (createSshLan) instead of a private /30: hosts on one LAN reach each
   *  other (a GPU cluster's fabric), and this machine reaches them all. netns mode only. */
  lan?: SshLan;
}

/** A switch for several SSH hosts: a bridge in its own network namespace, with this machine on it as 10.214.K.1/24
 *  and each host as 10.214.K.(N+1). Nothing is routed or forwarded in this machine's own namespace. */
export interface SshLan {
  readonly namespace: string;
  /** `10.214.K`: the first three octets. */
  readonly prefix: string;
  stop(): void;
}

export interface SshHost {
  readonly name: string;
  /** `gpu-test-N`: the Host alias in configFile. */
  readonly alias: string;
  /** Where sshd listens. */
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** ssh config with the alias (pass with -F). */
  readonly configFile: string;
  /** The client's private key (authorized on the host). */
  readonly keyFile: string;
  /** $HOME of sessions on the host. */
  readonly home: string;
  /** Temp dir with keys, configs, sshd's pid file and log (sshd.log). */
  readonly dir: string;
  readonly mode: 'netns' | 'loopback';
  /** The network namespace (netns mode). */
  readonly namespace: string | null;
  /** `['-F', configFile, alias]`: append a command to run one. */
  sshArgs(): string[];
  /** argv that runs `argv` inside the host's network (ip netns exec …; unchanged in loopback mode). */
  inHost(argv: string[]): string[];
  /** Kills the established per-connection sshd processes (the listener stays): a dropped link. Resolves with how
   *  many were killed, once they are gone. */
  dropConnections(): Promise<number>;
  /** Packets stop flowing (netns: the host's veth goes down; loopback: sshd is frozen). */
  blockTraffic(): Promise<void>;
  unblockTraffic(): Promise<void>;
  /** This machine loses its way to the host while the host's own network stays up (on a LAN it still reaches the
   *  other hosts, as a GPU node keeps its cluster fabric when the VPN to it drops): an `unreachable` route for its
   *  address here — new connections fail at once with "No route to host" — and its established SSH sessions dropped.
   *  netns mode only. */
  cutFromHere(): Promise<void>;
  /** Undoes cutFromHere(): new connections get through again. */
  restoreFromHere(): Promise<void>;
  stop(): Promise<void>;
}

const PREFIX = 'kvssh';
const SSHD = '/usr/sbin/sshd';
const SSHD_PORT = 22022;

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

function runSyncQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
  } catch {
    /* best effort */
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive and not a zombie (a killed sshd child may linger as a zombie where init does not reap). */
function procRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Direct children of `pid` (from /proc, no procps needed). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Stale state from crashed runs

let staleCleaned = false;

/** Deletes namespaces and temp dirs of earlier runs whose process is gone (ours carry `kvssh-<pid>-<N>`). */
export function cleanupStaleSshHosts(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    /* no ip netns: nothing of ours can exist */
  }
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    killNamespacePids(ns);
    runSyncQuiet('ip', ['netns', 'del', ns]);
  }
  let etc: string[] = [];
  try {
    etc = fs.readdirSync('/etc/netns');
  } catch {
    /* none */
  }
  for (const ns of etc) {
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(ns);
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join('/etc/netns', ns), { recursive: true, force: true });
  }
  if (etc.length > 0) {
    try {
      fs.rmdirSync('/etc/netns'); // only if now empty
    } catch {
      /* in use by others */
    }
  }
  for (const entry of fs.readdirSync(os.tmpdir())) {
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(entry);
    if (m && !pidAlive(Number(m[1]))) {
      const dir = path.join(os.tmpdir(), entry);
      killSshdOf(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

function killNamespacePids(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const p of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  } catch {
    /* namespace already gone */
  }
}

/** A loopback-mode leftover: its sshd is found by the pid file in its dir. */
function killSshdOf(dir: string): void {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'sshd.pid'), 'utf8').trim());
    if (pid > 1) process.kill(pid, 'SIGKILL');
  } catch {
    /* none */
  }
}

// ---------------------------------------------------------------------------------------------------------------

const live = new Set<HostImpl>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const h of live) h.stopSync();
    for (const stop of liveClients) stop();
  });
}

/** Whether test HOSTS get their own network namespace (KIMI_SSH_TEST_LOOPBACK=1 forces the fallback). */
function netnsUsable(): boolean {
  return process.env.KIMI_SSH_TEST_LOOPBACK !== '1' && namespacesAvailable();
}

function namespacesAvailable(): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function setEnvValue(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad env name ${name}`);
  if (/["\\\n\r\0]/.test(value)) throw new Error(`env ${name}: sshd_config SetEnv cannot carry quotes, backslashes or newlines`);
  return `"${name}=${value}"`;
}

class HostImpl implements SshHost {
  alias = '';
  address = '';
  port = 0;
  user = '';
  configFile = '';
  keyFile = '';
  home = '';
  dir = '';
  mode: 'netns' | 'loopback' = 'loopback';
  namespace: string | null = null;
  private veth = '';
  private sshdPid = 0;
  private frozen: number[] = [];
  private stopped = false;
  private cut = false;

  constructor(readonly name: string) {}

  sshArgs(): string[] {
    return ['-F', this.configFile, this.alias];
  }

  inHost(argv: string[]): string[] {
    return this.namespace ? ['ip', 'netns', 'exec', this.namespace, ...argv] : [...argv];
  }

  async start(o: SshHostOptions): Promise<void> {
    if (!staleCleaned) {
      staleCleaned = true;
      cleanupStaleSshHosts();
    }
    installExitHook();
    live.add(this);
    try {
      if (netnsUsable()) {
        try {
          await this.createNamespace(o.lan);
        } catch (e) {
          if (o.lan) throw e;
          // e.g. a container without CAP_NET_ADMIN: fall back rather than fail every SSH test.
          console.warn(`sshHost: no network namespace (${(e as Error).message.split('\n')[0]}); using sshd on 127.0.0.1`);
          this.dropNamespace();
          await this.useLoopback();
        }
      } else {
        if (o.lan) throw new Error('an SSH host on a LAN needs network namespaces (root)');
        await this.useLoopback();
      }
      await this.writeKeysAndConfig(o);
      await this.startSshd();
    } catch (e) {
      this.stopSync();
      throw e;
    }
  }

  /** Takes the first free N: the namespace name carries our pid (others' runs cannot clash with it), the veth name
   *  does not — `ip link add` refuses a name in use, and then we try the next N. */
  private async createNamespace(lan?: SshLan): Promise<void> {
    const first = 1 + (process.pid % 200);
    for (let i = 0; i < 250; i++) {
      const n = ((first + i - 1) % 250) + 1;
      const ns = `${PREFIX}-${process.pid}-${n}`;
      const veth = `kvs${n}h`;
      try {
        await run('ip', ['netns', 'add', ns]);
      } catch (e) {
        if (/exists/i.test((e as Error).message)) continue;
        throw e;
      }
      this.namespace = ns;
      try {
        // The peer is created directly inside the namespace, so deleting the namespace deletes the pair.
        await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `kvs${n}n`, 'netns', ns]);
      } catch (e) {
        runSyncQuiet('ip', ['netns', 'del', ns]);
        this.namespace = null;
        if (/exists/i.test((e as Error).message)) continue; // that N is taken by another run: try the next
        throw e;
      }
      this.veth = veth;
      this.mode = 'netns';
      this.address = lan ? `${lan.prefix}.${n + 1}` : `10.213.${n}.2`;
      // A route left by a crashed run's cutFromHere() (the address is ours now: N is ours while the veth name is).
      runSyncQuiet('ip', ['route', 'del', 'unreachable', `${this.address}/32`]);
      this.port = SSHD_PORT;
      this.alias = `gpu-test-${n}`;
      this.user = 'root';
      this.dir = path.join(os.tmpdir(), `${PREFIX}-${process.pid}-${n}`);
      if (lan) {
        // This machine's end goes into the switch, on its bridge; this machine reaches the LAN through the switch.
        await run('ip', ['link', 'set', veth, 'netns', lan.namespace]);
        await run('ip', ['netns', 'exec', lan.namespace, 'ip', 'link', 'set', veth, 'master', 'kvlanbr']);
        await run('ip', ['netns', 'exec', lan.namespace, 'ip', 'link', 'set', veth, 'up']);
        await run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${this.address}/24`, 'dev', `kvs${n}n`]);
      } else {
        await run('ip', ['addr', 'add', `10.213.${n}.1/30`, 'dev', veth]);
        await run('ip', ['link', 'set', veth, 'up']);
        await run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `10.213.${n}.2/30`, 'dev', `kvs${n}n`]);
      }
      await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', `kvs${n}n`, 'up']);
      await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      return;
    }
    throw new Error('no free 10.213.N.0/30 for an SSH test host');
  }

  private dropNamespace(): void {
    if (this.namespace) {
      killNamespacePids(this.namespace);
      runSyncQuiet('ip', ['netns', 'del', this.namespace]);
    }
    if (this.veth) runSyncQuiet('ip', ['link', 'del', this.veth]);
    this.namespace = null;
    this.veth = '';
  }

  private async useLoopback(): Promise<void> {
    this.mode = 'loopback';
    this.address = '127.0.0.1';
    this.port = await freePort();
    this.alias = `gpu-test-lo${this.port}`;
    this.user = os.userInfo().username;
    this.dir = path.join(os.tmpdir(), `${PREFIX}-${process.pid}-lo${this.port}`);
  }

  private async writeKeysAndConfig(o: SshHostOptions): Promise<void> {
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.home = path.join(this.dir, 'home');
    fs.mkdirSync(this.home, { mode: 0o700 });
    const hostKey = path.join(this.dir, 'host_ed25519');
    this.keyFile = path.join(this.dir, 'client_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `kimi-test-host-${this.name}`, '-f', hostKey]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `kimi-test-client-${this.name}`, '-f', this.keyFile]);
    fs.copyFileSync(`${this.keyFile}.pub`, path.join(this.dir, 'authorized_keys'));

    const pathDirs = [...(o.binDirs ?? []), path.dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
    const env: Record<string, string> = { ...(o.env ?? {}), PATH: pathDirs.join(':'), HOME: this.home };
    const sshdConfig = [
      `ListenAddress ${this.address}:${this.port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${path.join(this.dir, 'authorized_keys')}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      'PrintMotd no',
      'X11Forwarding no',
      'AllowTcpForwarding yes',
      'MaxSessions 100',
      'MaxStartups 100:30:200',
      'LogLevel VERBOSE',
      `SetEnv ${Object.entries(env).map(([k, v]) => setEnvValue(k, v)).join(' ')}`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(this.dir, 'sshd_config'), sshdConfig);

    this.configFile = path.join(this.dir, 'ssh_config');
    fs.writeFileSync(
      this.configFile,
      [
        `Host ${this.alias}`,
        `  HostName ${this.address}`,
        `  Port ${this.port}`,
        `  User ${this.user}`,
        `  IdentityFile ${this.keyFile}`,
        '  IdentitiesOnly yes',
        '  StrictHostKeyChecking no',
        '  UserKnownHostsFile /dev/null',
        '  LogLevel ERROR',
        '',
      ].join('\n'),
    );
  }

  private async startSshd(): Promise<void> {
    // sshd running as root insists on its privilege-separation directory.
    if (typeof process.getuid === 'function' && process.getuid() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const cfg = path.join(this.dir, 'sshd_config');
    const log = path.join(this.dir, 'sshd.log');
    await run(...splitArgv(this.inHost([SSHD, '-f', cfg, '-E', log])));
    const pidFile = path.join(this.dir, 'sshd.pid');
    const logTail = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : '(no log)');
    try {
      await waitFor('sshd pid file', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '', 10_000);
      this.sshdPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      await waitFor(`sshd on ${this.address}:${this.port}`, () => canConnect(this.address, this.port), 10_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nsshd log:\n${logTail()}`);
    }
  }

  async dropConnections(): Promise<number> {
    const victims = childrenOf(this.sshdPid);
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await waitFor('killed sshd sessions to be gone', () => victims.every((p) => !procRunning(p)), 5000);
    return victims.length;
  }

  async blockTraffic(): Promise<void> {
    if (this.namespace) {
      await run('ip', ['netns', 'exec', this.namespace, 'ip', 'link', 'set', this.veth.replace(/h$/, 'n'), 'down']);
      return;
    }
    this.frozen = [this.sshdPid, ...childrenOf(this.sshdPid)];
    for (const pid of this.frozen) process.kill(pid, 'SIGSTOP');
  }

  async unblockTraffic(): Promise<void> {
    if (this.namespace) {
      await run('ip', ['netns', 'exec', this.namespace, 'ip', 'link', 'set', this.veth.replace(/h$/, 'n'), 'up']);
      return;
    }
    for (const pid of this.frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    this.frozen = [];
  }

  async cutFromHere(): Promise<void> {
    if (!this.namespace) throw new Error('cutFromHere needs a network namespace (netns mode)');
    await run('ip', ['route', 'add', 'unreachable', `${this.address}/32`]);
    this.cut = true;
    await this.dropConnections();
  }

  async restoreFromHere(): Promise<void> {
    if (!this.cut) return;
    await run('ip', ['route', 'del', 'unreachable', `${this.address}/32`]);
    this.cut = false;
  }

  async stop(): Promise<void> {
    this.stopSync();
  }

  /** Synchronous, so it also works from the process 'exit' handler. Idempotent. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    if (this.cut) runSyncQuiet('ip', ['route', 'del', 'unreachable', `${this.address}/32`]);
    for (const pid of this.frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    if (this.sshdPid > 1) {
      for (const pid of [this.sshdPid, ...childrenOf(this.sshdPid)]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    // Everything still running in the host's network: detached servers started over ssh, their workers.
    this.dropNamespace();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function splitArgv(argv: string[]): [string, string[]] {
  return [argv[0]!, argv.slice(1)];
}

/** A network for an ssh CLIENT with nothing in it but loopback and a resolver that cannot answer (its
 *  resolv.conf names 127.0.0.1, where nothing listens): name lookups fail at once, and no packet leaves this
 *  machine — for testing "Could not resolve hostname" without asking a real DNS server. */
export interface IsolatedClient {
  /** A drop-in for child_process.spawn that runs the command inside that network. */
  spawn: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  /** null in loopback mode (no namespaces): then spawn is the plain one and lookups use the system resolver. */
  namespace: string | null;
  stop(): void;
}

let clientSeq = 0;

export async function isolatedClientNetwork(): Promise<IsolatedClient> {
  // Without root, name lookups go to the system resolver (one query for a `.invalid` name): documented caveat.
  if (!namespacesAvailable()) return { spawn: (c, a, o) => spawn(c, [...a], o), namespace: null, stop: () => {} };
  if (!staleCleaned) {
    staleCleaned = true;
    cleanupStaleSshHosts();
  }
  const ns = `${PREFIX}-${process.pid}-c${++clientSeq}`;
  const etcDir = path.join('/etc/netns', ns);
  const stop = () => {
    runSyncQuiet('ip', ['netns', 'del', ns]);
    fs.rmSync(etcDir, { recursive: true, force: true });
    try {
      fs.rmdirSync('/etc/netns'); // only if empty: we may have created it
    } catch {
      /* not empty, or absent */
    }
    liveClients.delete(stop);
  };
  liveClients.add(stop);
  installExitHook();
  try {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    fs.mkdirSync(etcDir, { recursive: true });
    fs.writeFileSync(path.join(etcDir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  } catch (e) {
    stop();
    throw e;
  }
  return { spawn: (c, a, o) => spawn('ip', ['netns', 'exec', ns, c, ...a], o), namespace: ns, stop };
}

const liveClients = new Set<() => void>();

let lanSeq = 0;

/** A LAN for SSH hosts (see SshLan). Needs root and network namespaces. */
export async function createSshLan(): Promise<SshLan> {
  if (!namespacesAvailable()) throw new Error('an SSH LAN needs network namespaces (root)');
  if (!staleCleaned) {
    staleCleaned = true;
    cleanupStaleSshHosts();
  }
  installExitHook();
  const first = 1 + ((process.pid + lanSeq++) % 200);
  for (let i = 0; i < 250; i++) {
    const k = ((first + i - 1) % 250) + 1;
    const ns = `${PREFIX}-${process.pid}-lan${k}`;
    const veth = `kvl${k}h`;
    try {
      await run('ip', ['netns', 'add', ns]);
    } catch (e) {
      if (/exists/i.test((e as Error).message)) continue;
      throw e;
    }
    const stop = () => {
      runSyncQuiet('ip', ['netns', 'del', ns]);
      runSyncQuiet('ip', ['link', 'del', veth]);
      liveClients.delete(stop);
    };
    try {
      await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `kvl${k}s`, 'netns', ns]);
    } catch (e) {
      runSyncQuiet('ip', ['netns', 'del', ns]);
      if (/exists/i.test((e as Error).message)) continue;
      throw e;
    }
    liveClients.add(stop);
    try {
      const inNs = (...args: string[]) => run('ip', ['netns', 'exec', ns, 'ip', ...args]);
      await inNs('link', 'add', 'kvlanbr', 'type', 'bridge');
      await inNs('link', 'set', 'kvlanbr', 'up');
      await inNs('link', 'set', `kvl${k}s`, 'master', 'kvlanbr');
      await inNs('link', 'set', `kvl${k}s`, 'up');
      await run('ip', ['addr', 'add', `10.214.${k}.1/24`, 'dev', veth]);
      await run('ip', ['link', 'set', veth, 'up']);
    } catch (e) {
      stop();
      throw e;
    }
    return { namespace: ns, prefix: `10.214.${k}`, stop };
  }
  throw new Error('no free 10.214.K.0/24 for an SSH LAN');
}

export async function startSshHost(o: SshHostOptions): Promise<SshHost> {
  const host = new HostImpl(o.name);
  await host.start(o);
  return host;
}
