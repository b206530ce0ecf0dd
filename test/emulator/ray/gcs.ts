// The fake Ray head's GCS server (`gcs_server` in real Ray): a TCP server on the head's address and `--port`. It keeps
// the node table (a node is alive while its raylet's connection is open), answers `ray status`, and serves drivers
// (the fake vLLM with --distributed-executor-backend ray): placement groups of one GPU per bundle, packed onto the
// fewest nodes with the first bundle on the driver's node, and actors spawned by the raylets of those nodes. When a
// driver disconnects its actors are killed; when a raylet disconnects its node is dead and the drivers using it hear.
//   node gcs.js <ip> <port> <ray version>     prints "listening" once bound; errors on stderr, exit 1
import * as net from 'node:net';
import { jsonLines, type ActorInfo, type GpuSpec, type Message, type NodeInfo } from './protocol';

interface NodeEntry {
  info: NodeInfo;
  send: (m: Message) => void;
  alive: boolean;
  /** GPU index → driver id using it. */
  used: Map<number, string>;
  /** Spawn requests waiting for the raylet's answer. */
  spawns: Map<string, (m: Message) => void>;
}

interface DriverEntry {
  id: string;
  send: (m: Message) => void;
  actors: ActorInfo[];
}

const [ip = '127.0.0.1', portText = '6379', version = '2.49.2'] = process.argv.slice(2);
const nodes: NodeEntry[] = [];
const failures: { nodeId: string; ip: string }[] = [];
const drivers = new Map<string, DriverEntry>();
let actorSeq = 0;
let driverSeq = 0;

function freeGpus(n: NodeEntry): GpuSpec[] {
  return n.info.gpus.filter((g) => !n.used.has(g.index));
}

function statusOf(): Message {
  return {
    t: 'status',
    version,
    nodes: nodes.map((n) => ({ ...n.info, alive: n.alive, usedGpus: n.used.size })),
    failures,
  };
}

function place(bundles: number, pinIp: string | undefined): { nodeId: string; ip: string; gpuIndex: number }[] | null {
  const alive = nodes.filter((n) => n.alive);
  const total = alive.reduce((s, n) => s + freeGpus(n).length, 0);
  if (total < bundles) return null;
  const pinned = pinIp ? alive.find((n) => n.info.ip === pinIp && freeGpus(n).length > 0) : undefined;
  if (pinIp && !pinned) return null; // the first bundle must be on the driver's node ({'node:IP': 0.001})
  const order = pinned ? [pinned, ...alive.filter((n) => n !== pinned)] : alive;
  const out: { nodeId: string; ip: string; gpuIndex: number }[] = [];
  for (const n of order) {
    for (const g of freeGpus(n)) {
      if (out.length === bundles) break;
      out.push({ nodeId: n.info.nodeId, ip: n.info.ip, gpuIndex: g.index });
    }
  }
  return out;
}

function releaseDriver(d: DriverEntry): void {
  drivers.delete(d.id);
  for (const a of d.actors) {
    const n = nodes.find((x) => x.info.nodeId === a.nodeId);
    if (!n) continue;
    n.used.delete(a.gpuIndex);
    if (n.alive) n.send({ t: 'kill', actorId: a.actorId });
  }
  for (const n of nodes) for (const [gpu, owner] of n.used) if (owner === d.id) n.used.delete(gpu);
}

function nodeDied(n: NodeEntry): void {
  if (!n.alive) return;
  n.alive = false;
  failures.push({ nodeId: n.info.nodeId, ip: n.info.ip });
  for (const w of n.spawns.values()) w({ t: 'error', message: `node ${n.info.ip} died` });
  n.spawns.clear();
  for (const d of drivers.values()) {
    const lost = d.actors.filter((a) => a.nodeId === n.info.nodeId);
    if (lost.length > 0) d.send({ t: 'node-died', nodeId: n.info.nodeId, ip: n.info.ip, actors: lost });
  }
  n.used.clear();
}

async function spawnActors(d: DriverEntry, placements: { nodeId: string; gpuIndex: number }[]): Promise<ActorInfo[] | string> {
  const results = await Promise.all(
    placements.map(
      (p) =>
        new Promise<ActorInfo | string>((resolve) => {
          const n = nodes.find((x) => x.info.nodeId === p.nodeId && x.alive);
          if (!n) {
            resolve(`node ${p.nodeId} is not alive`);
            return;
          }
          const actorId = (++actorSeq).toString(16).padStart(32, '0');
          n.spawns.set(actorId, (m) => {
            n.spawns.delete(actorId);
            if (m.t !== 'spawned') resolve(String(m.message ?? 'the actor could not be started'));
            else resolve({ actorId, nodeId: n.info.nodeId, ip: n.info.ip, hostIp: String(m.hostIp), pid: Number(m.pid), gpuIndex: p.gpuIndex, gpu: m.gpu as GpuSpec });
          });
          n.used.set(p.gpuIndex, d.id);
          n.send({ t: 'spawn', actorId, gpuIndex: p.gpuIndex, driver: d.id });
        }),
    ),
  );
  const bad = results.find((r): r is string => typeof r === 'string');
  const ok = results.filter((r): r is ActorInfo => typeof r !== 'string');
  d.actors.push(...ok);
  return bad ?? ok;
}

const server = net.createServer((socket) => {
  socket.on('error', () => {});
  let node: NodeEntry | undefined;
  let driver: DriverEntry | undefined;
  const send = jsonLines(socket, (m) => {
    const id = m.id;
    const reply = (r: Message) => send({ ...r, id });
    switch (m.t) {
      case 'register': {
        const info = m.node as NodeInfo;
        if (info.rayVersion !== version) {
          reply({ t: 'version-mismatch', clusterVersion: version });
          return;
        }
        node = { info, send, alive: true, used: new Map(), spawns: new Map() };
        nodes.push(node);
        reply({ t: 'registered', nodeId: info.nodeId });
        return;
      }
      case 'spawned':
      case 'spawn-failed': {
        const w = node?.spawns.get(String(m.actorId));
        w?.(m);
        return;
      }
      case 'actor-exit': {
        for (const d of drivers.values()) {
          const a = d.actors.find((x) => x.actorId === m.actorId);
          if (a) d.send({ t: 'actor-died', actor: a, code: m.code });
        }
        return;
      }
      case 'status':
        reply(statusOf());
        return;
      case 'driver': {
        driver = { id: `driver-${++driverSeq}`, send, actors: [] };
        drivers.set(driver.id, driver);
        reply({ t: 'ok', version });
        return;
      }
      case 'pg': {
        const placements = place(Number(m.bundles), typeof m.pinIp === 'string' ? m.pinIp : undefined);
        reply({ t: 'pg', ready: placements !== null, ...(placements ? { placements } : {}) });
        return;
      }
      case 'actors': {
        if (!driver) return reply({ t: 'error', message: 'not a driver' });
        void spawnActors(driver, m.placements as { nodeId: string; gpuIndex: number }[]).then((r) =>
          reply(typeof r === 'string' ? { t: 'error', message: r } : { t: 'actors', actors: r }),
        );
        return;
      }
      case 'claim': {
        const a = driver?.actors.find((x) => x.actorId === m.actorId);
        const n = a && nodes.find((x) => x.info.nodeId === a.nodeId && x.alive);
        n?.send({ t: 'claim', actorId: a!.actorId, usedMiB: m.usedMiB });
        return;
      }
      default:
        reply({ t: 'error', message: `unknown request ${m.t}` });
    }
  });
  socket.on('close', () => {
    if (node) nodeDied(node);
    if (driver) releaseDriver(driver);
  });
});

server.once('error', (e: NodeJS.ErrnoException) => {
  process.stderr.write(`${e.code === 'EADDRINUSE' ? `Address already in use: ${ip}:${portText}` : e.code === 'EADDRNOTAVAIL' ? `Cannot assign requested address: ${ip}` : e.message}\n`);
  process.exit(1);
});
server.listen(Number(portText), ip, () => process.stdout.write('listening\n'));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));
