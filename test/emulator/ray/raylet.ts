// The fake raylet of one node: registers the node (address, GPUs as nvidia-smi reports them, CPUs, memory) with the
// GCS and stays connected — the node is alive exactly as long as this connection. It starts the actors the GCS asks
// for (vLLM's RayWorkerWrapper: a real process per GPU, holding fake GPU memory through a claim file the fake
// nvidia-smi on this node reads) and ends them when told, when the GCS goes away, or when the raylet itself ends.
//   node raylet.js <gcs address> <node ip> <ray version>
//   stdout: "registered <node id>" | "version-mismatch <cluster version>" | "unreachable"
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { defaultGpuDir, writeClaim } from '../nvidiaSmi/claims';
import { queryGpus } from '../vllm/gpus';
import { Connection, connectWithin, splitAddress, type GpuSpec, type Message } from './protocol';
import { newNodeId, PYTHON_VERSION, raySettings } from './session';

/** An actor: takes its title from argv and lives until its stdin (a pipe from the raylet) closes. */
const ACTOR_SRC = [
  'process.title = process.argv[1];',
  "process.stdin.on('end', () => process.exit(0));",
  "process.stdin.on('error', () => process.exit(0));",
  'process.stdin.resume();',
  'setInterval(() => {}, 1 << 30);',
].join('\n');

interface Actor {
  child: ChildProcess;
  pid: number;
  gpuIndex: number;
  claimFile?: string;
  killed: boolean;
}

const [gcsAddress = '', nodeIp = '127.0.0.1', version = '2.49.2'] = process.argv.slice(2);
const settings = raySettings();
const actors = new Map<string, Actor>();
const gpuDir = defaultGpuDir();

function killAll(): void {
  for (const a of actors.values()) {
    a.killed = true;
    try {
      a.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    if (a.claimFile) fs.rmSync(a.claimFile, { force: true });
  }
  actors.clear();
}

async function gpuSpecs(): Promise<GpuSpec[]> {
  const probe = await queryGpus(process.env);
  return probe.ok ? probe.gpus.map((g) => ({ index: g.index, totalMiB: g.totalMiB, freeMiB: g.freeMiB })) : [];
}

async function main(): Promise<void> {
  const target = splitAddress(gcsAddress);
  if (!target) {
    process.stdout.write('unreachable\n');
    process.exit(2);
  }
  let conn: Connection;
  try {
    conn = new Connection(await connectWithin(target.host, target.port, settings.gcsConnectTimeoutSec * 1000));
  } catch {
    process.stdout.write('unreachable\n');
    process.exit(2);
  }
  const nodeId = newNodeId();
  conn.onEvent((m: Message) => void handle(conn, m));
  const r = await conn.request({
    t: 'register',
    node: {
      nodeId,
      ip: nodeIp,
      hostname: os.hostname(),
      gpus: await gpuSpecs(),
      cpus: settings.cpus,
      memoryBytes: settings.memoryBytes,
      objectStoreBytes: Math.round(settings.memoryBytes * 0.3),
      rayVersion: version,
      pythonVersion: PYTHON_VERSION,
    },
  });
  if (r.t === 'version-mismatch') {
    process.stdout.write(`version-mismatch ${String(r.clusterVersion)}\n`);
    process.exit(3);
  }
  if (r.t !== 'registered') {
    process.stdout.write('unreachable\n');
    process.exit(2);
  }
  process.stdout.write(`registered ${nodeId}\n`);
  // Without its GCS a raylet cannot do anything: it ends, and its actors with it.
  void conn.closed.then(() => {
    killAll();
    process.exit(1);
  });
}

async function handle(conn: Connection, m: Message): Promise<void> {
  if (m.t === 'spawn') {
    const actorId = String(m.actorId);
    const gpuIndex = Number(m.gpuIndex);
    const child = spawn(process.execPath, ['-e', ACTOR_SRC, 'ray::RayWorkerWrapper'], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin?.on('error', () => {});
    const ok = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', () => resolve(false));
    });
    if (!ok || child.pid === undefined) {
      conn.notify({ t: 'spawn-failed', actorId, message: 'the worker process could not be started' });
      return;
    }
    const actor: Actor = { child, pid: child.pid, gpuIndex, killed: false };
    actors.set(actorId, actor);
    child.once('exit', (code, signal) => {
      if (actor.claimFile) fs.rmSync(actor.claimFile, { force: true });
      if (!actor.killed) conn.notify({ t: 'actor-exit', actorId, code: code ?? signal });
      actors.delete(actorId);
    });
    const gpu = (await gpuSpecs()).find((g) => g.index === gpuIndex) ?? { index: gpuIndex, totalMiB: 0, freeMiB: 0 };
    conn.notify({ t: 'spawned', actorId, pid: child.pid, hostIp: process.env.VLLM_HOST_IP || nodeIp, gpu });
  } else if (m.t === 'claim') {
    const a = actors.get(String(m.actorId));
    if (!a) return;
    const previous = a.claimFile;
    a.claimFile = writeClaim(gpuDir, { owner: a.pid, gpus: [{ index: a.gpuIndex, pid: a.pid, processName: 'ray::RayWorkerWrapper', usedMiB: Math.round(Number(m.usedMiB)) }] });
    if (previous) fs.rmSync(previous, { force: true });
  } else if (m.t === 'kill') {
    const a = actors.get(String(m.actorId));
    if (!a) return;
    a.killed = true;
    a.child.kill('SIGKILL');
    if (a.claimFile) fs.rmSync(a.claimFile, { force: true });
    actors.delete(String(m.actorId));
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(0);
  });
}
process.on('exit', killAll);
void main();
