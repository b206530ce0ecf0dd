// Where Ray keeps its files on a node, as real Ray does: `<temp>/ray` with `<temp>` = $RAY_TMPDIR, else the system
// temp dir ($TMPDIR, /tmp) — each test host gets its own RAY_TMPDIR because all test "hosts" share one filesystem.
//   <root>/ray_current_cluster       "IP:PORT" of the cluster this node belongs to (ray status / ray.init use it)
//   <root>/session_<date>_<pid>/     one per `ray start`; session_latest links to the newest
//   <root>/session_…/fake_processes.json   the fake's process list for `ray stop` (real Ray scans the process table)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_RAY_VERSION = '2.49.2';
export const PYTHON_VERSION = '3.12.3';

export interface RaySettings {
  version: string;
  cpus: number;
  memoryBytes: number;
  /** Seconds a worker's `ray start` / `ray status` keeps trying to reach the GCS (Ray: 5 s per attempt). */
  gcsConnectTimeoutSec: number;
}

export function raySettings(env: NodeJS.ProcessEnv = process.env): RaySettings {
  const num = (name: string, fallback: number) => {
    const v = Number(env[name]);
    return env[name] !== undefined && env[name] !== '' && Number.isFinite(v) && v > 0 ? v : fallback;
  };
  return {
    version: env.KIMI_FAKE_RAY_VERSION?.trim() || DEFAULT_RAY_VERSION,
    cpus: num('KIMI_FAKE_RAY_CPUS', 96),
    memoryBytes: num('KIMI_FAKE_RAY_MEMORY_GIB', 1474) * 1024 ** 3,
    gcsConnectTimeoutSec: num('KIMI_FAKE_RAY_GCS_TIMEOUT_S', 5),
  };
}

export function rayRoot(env: NodeJS.ProcessEnv = process.env, tempDir?: string): string {
  if (tempDir) return tempDir;
  return path.join(env.RAY_TMPDIR || env.TMPDIR || os.tmpdir(), 'ray');
}

export function currentClusterFile(root: string): string {
  return path.join(root, 'ray_current_cluster');
}

export function readCurrentCluster(root: string): string | null {
  try {
    const v = fs.readFileSync(currentClusterFile(root), 'utf8').trim();
    return v || null;
  } catch {
    return null;
  }
}

export function writeCurrentCluster(root: string, address: string): void {
  fs.mkdirSync(root, { recursive: true });
  const tmp = `${currentClusterFile(root)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${address}\n`);
  fs.renameSync(tmp, currentClusterFile(root));
}

export function clearCurrentCluster(root: string, address?: string): void {
  if (address !== undefined && readCurrentCluster(root) !== address) return;
  fs.rmSync(currentClusterFile(root), { force: true });
}

function stamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}_${p(d.getMilliseconds() * 1000, 6)}`;
}

export function newSession(root: string): string {
  const dir = path.join(root, `session_${stamp()}_${process.pid}`);
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const latest = path.join(root, 'session_latest');
  try {
    fs.rmSync(latest, { force: true });
    fs.symlinkSync(dir, latest);
  } catch {
    /* another start raced us */
  }
  return dir;
}

export interface RecordedProcess {
  pid: number;
  type: 'gcs_server' | 'raylet' | 'ray start';
}

function processesFile(session: string): string {
  return path.join(session, 'fake_processes.json');
}

export function recordProcesses(session: string, procs: RecordedProcess[]): void {
  fs.writeFileSync(processesFile(session), JSON.stringify(procs));
}

/** Every process recorded by any session under `root`. */
export function recordedProcesses(root: string): { session: string; procs: RecordedProcess[] }[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(root).filter((n) => n.startsWith('session_') && n !== 'session_latest');
  } catch {
    return [];
  }
  const out: { session: string; procs: RecordedProcess[] }[] = [];
  for (const n of names) {
    const session = path.join(root, n);
    try {
      out.push({ session, procs: JSON.parse(fs.readFileSync(processesFile(session), 'utf8')) as RecordedProcess[] });
    } catch {
      /* no processes recorded */
    }
  }
  return out;
}

export function clearRecorded(session: string): void {
  fs.rmSync(processesFile(session), { force: true });
}

/** A fresh node id: 56 hex characters. */
export function newNodeId(): string {
  let s = '';
  while (s.length < 56) s += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, 56);
}

/** `2025-01-01 12:00:00,123`: Python logging's asctime. */
export function asctime(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

export function isAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
