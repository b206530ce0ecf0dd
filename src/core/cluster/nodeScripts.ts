// POSIX sh scripts that look at a cluster node before anything starts, and their parsers: one round trip per node
// for its facts (the address its SSH connection arrives at, its interfaces, vLLM's and Ray's versions, its GPUs and
// who holds them, the model directory), and the network check between the head and a worker (a short-lived listener
// on the head, a connect from the worker). Every value is spliced in with quote()/quotePath(); the scripts print
// `key=value` lines (multi-line tool output between `begin=` / `end=` markers).
import type { ServerProfile } from '../config/serverProfile';
import { NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, type Gpu, type GpuProcess } from '../server/gpuProbe';
import { parseWhich, whichScript } from '../server/remoteScripts';
import { join, quote, quotePath } from '../server/shellQuote';
import { modelPath, shellCommand } from '../server/vllmCommand';

export const NODE_TOOLS = ['vllm', 'ray', 'nvidia-smi', 'python3'] as const;

/** Runs `argv` inside the profile's environment, its output (both streams) captured, never failing the script. */
function captured(profile: ServerProfile, argv: string[]): string {
  return `sh -c ${quote(shellCommand(profile, argv))} < /dev/null 2>&1`;
}

/** Everything the pre-flight needs to know about one node. */
export function nodeFactsScript(profile: ServerProfile, opts: { ray: boolean }): string {
  const dir = modelPath(profile);
  return [
    'printf "ssh=%s\\n" "$SSH_CONNECTION"',
    'printf "hostname=%s\\n" "$(hostname 2>/dev/null | head -n 1)"',
    "if command -v ip >/dev/null 2>&1; then ip -o addr show 2>/dev/null | awk '{ print \"addr=\" $2 \" \" $4 }'; fi",
    whichScript(profile.environment, NODE_TOOLS),
    `kv_v=$(${captured(profile, ['vllm', '--version'])} | tail -n 1); printf 'vllmVersion=%s\\n' "$kv_v"`,
    ...(opts.ray ? [`kv_v=$(${captured(profile, ['ray', '--version'])} | tail -n 1); printf 'rayVersion=%s\\n' "$kv_v"`] : []),
    'echo "begin=gpus"',
    `${captured(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus])}; echo "end=gpus $?"`,
    'echo "begin=apps"',
    `${captured(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes])}; echo "end=apps $?"`,
    `kv_m=${quotePath(dir)}`,
    'if [ -f "$kv_m/config.json" ]; then echo "model=present"; elif [ -d "$kv_m" ]; then echo "model=incomplete"; else echo "model=missing"; fi',
    "printf 'shards=%s\\n' \"$(ls -- \"$kv_m\" 2>/dev/null | grep -c '\\.safetensors$')\"",
  ].join('\n');
}

export interface NodeFacts {
  /** SSH_CONNECTION: "client-ip client-port server-ip server-port" (empty for a local head). */
  sshConnection: { clientIp: string; serverIp: string } | null;
  hostname: string;
  /** Interface → addresses (without prefix length). */
  addresses: { iface: string; ip: string }[];
  tools: Record<(typeof NODE_TOOLS)[number], string | null>;
  /** `0.15.1`, or null when vllm did not say. */
  vllmVersion: string | null;
  rayVersion: string | null;
  /** null when nvidia-smi failed (then `gpuError` says how). */
  gpus: Gpu[] | null;
  gpuError: { code: number; output: string } | null;
  processes: GpuProcess[];
  model: 'present' | 'incomplete' | 'missing';
  shards: number;
}

const VERSION = /(\d+\.\d+(?:\.\d+)?(?:[.+-][\w.+-]*)?)\s*$/;

export function parseNodeFacts(stdout: string): NodeFacts {
  const lines = stdout.split('\n').map((l) => l.replace(/\r$/, ''));
  const kv = new Map<string, string>();
  const sections = new Map<string, { text: string[]; code: number }>();
  const addresses: { iface: string; ip: string }[] = [];
  let section: string | null = null;
  let body: string[] = [];
  for (const line of lines) {
    if (section !== null) {
      const end = /^end=(\S+)(?: (\d+))?$/.exec(line);
      if (end && end[1] === section) {
        sections.set(section, { text: body, code: Number(end[2] ?? 0) });
        section = null;
        body = [];
      } else body.push(line);
      continue;
    }
    const begin = /^begin=(\S+)$/.exec(line);
    if (begin) {
      section = begin[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'addr') {
      const [iface, cidr] = value.split(' ');
      if (iface && cidr) addresses.push({ iface: iface.replace(/@.*$/, ''), ip: cidr.replace(/\/\d+$/, '') });
    } else kv.set(key, value);
  }
  const ssh = (kv.get('ssh') ?? '').trim().split(/\s+/);
  const gpus = sections.get('gpus');
  const apps = sections.get('apps');
  let parsedGpus: Gpu[] | null = null;
  let gpuError: NodeFacts['gpuError'] = null;
  if (gpus && gpus.code === 0) {
    try {
      parsedGpus = parseGpuQuery(gpus.text.join('\n'));
    } catch (e) {
      gpuError = { code: 1, output: e instanceof Error ? e.message : String(e) };
    }
  } else gpuError = { code: gpus?.code ?? 127, output: (gpus?.text ?? []).join('\n').trim() };
  let processes: GpuProcess[] = [];
  if (apps && apps.code === 0) {
    try {
      processes = parseComputeApps(apps.text.join('\n'));
    } catch {
      processes = [];
    }
  }
  const version = (k: string) => VERSION.exec(kv.get(k) ?? '')?.[1] ?? null;
  const which = parseWhich(lines.join('\n'), NODE_TOOLS) as NodeFacts['tools'];
  const model = kv.get('model');
  return {
    sshConnection: ssh.length >= 4 ? { clientIp: ssh[0]!, serverIp: ssh[2]! } : null,
    hostname: kv.get('hostname') ?? '',
    addresses,
    tools: which,
    vllmVersion: which.vllm ? version('vllmVersion') : null,
    rayVersion: which.ray ? version('rayVersion') : null,
    gpus: parsedGpus,
    gpuError,
    processes,
    model: model === 'present' || model === 'incomplete' ? model : 'missing',
    shards: Number(kv.get('shards')) || 0,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The network between the nodes

/** Python for a listener that accepts (and drops) connections for `seconds`; prints listen=ok or listen=error. */
const LISTENER = [
  'import socket, sys, time',
  'host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])',
  's = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)',
  's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  'try:',
  '    s.bind((host, port))',
  'except OSError as e:',
  '    print("listen=error [Errno %s] %s" % (e.errno, e.strerror), flush=True)',
  '    sys.exit(0)',
  's.listen(64)',
  's.settimeout(0.5)',
  'print("listen=ok", flush=True)',
  'end = time.time() + secs',
  'while time.time() < end:',
  '    try:',
  '        c, _ = s.accept()',
  '        c.close()',
  '    except socket.timeout:',
  '        pass',
].join('\n');

/** Listens on ip:port on the head for `seconds` (the workers connect meanwhile). Needs python3 on the head; prints
 *  listen=nopython without it. */
export function listenerScript(ip: string, port: number, seconds: number): string {
  return `if command -v python3 >/dev/null 2>&1; then exec python3 -c ${quote(LISTENER)} ${join([ip, String(port), String(seconds)])}; else echo "listen=nopython"; fi`;
}

const CONNECT = [
  'import socket, sys',
  'try:',
  '    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()',
  '    print("connect=ok")',
  'except socket.timeout:',
  '    print("connect=fail timed out after %s s (a firewall dropping the packets, or no route)" % sys.argv[3])',
  'except OSError as e:',
  '    print("connect=fail [Errno %s] %s" % (e.errno, e.strerror))',
].join('\n');

/** From a worker: can it open a TCP connection to ip:port? python3, else bash's /dev/tcp; connect=ok|fail|unknown. */
export function connectScript(ip: string, port: number, timeoutSec = 5): string {
  return [
    `kv_h=${quote(ip)}; kv_p=${port}; kv_t=${timeoutSec}`,
    'if command -v python3 >/dev/null 2>&1; then',
    `  python3 -c ${quote(CONNECT)} "$kv_h" "$kv_p" "$kv_t"`,
    'elif command -v bash >/dev/null 2>&1; then',
    `  if timeout "$kv_t" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$kv_h" "$kv_p" 2>/dev/null; then echo "connect=ok"; else echo "connect=fail refused or timed out"; fi`,
    'else',
    '  echo "connect=unknown"',
    'fi',
  ].join('\n');
}

export function parseConnect(stdout: string): { ok: boolean | null; reason: string } {
  const line = stdout.split('\n').find((l) => l.startsWith('connect=')) ?? '';
  const v = line.slice('connect='.length);
  if (v === 'ok') return { ok: true, reason: '' };
  if (v === 'unknown' || v === '') return { ok: null, reason: 'neither python3 nor bash is available to test it' };
  return { ok: false, reason: v.replace(/^fail\s*/, '') };
}

// ---------------------------------------------------------------------------------------------------------------
// Ray

/** `ray status` on the head: how many nodes are active and how many GPUs the cluster has. */
export function parseRayStatus(text: string): { nodes: number; gpus: number; gpusUsed: number } | null {
  if (!/Node status/.test(text)) return null;
  const active = /Active:\n((?: .*\n?)*)/.exec(text)?.[1] ?? '';
  const nodes = active
    .split('\n')
    .map((l) => /^\s*(\d+)\s+node_/.exec(l))
    .reduce((n, m) => n + (m ? Number(m[1]) : 0), 0);
  const gpu = /^\s*([\d.]+)\/([\d.]+) GPU\s*$/m.exec(text);
  return { nodes, gpus: gpu ? Number(gpu[2]) : 0, gpusUsed: gpu ? Number(gpu[1]) : 0 };
}

export function rayStatusCommand(profile: ServerProfile, address: string): string {
  return `${shellCommand(profile, ['ray', 'status', `--address=${address}`])} 2>&1`;
}
