// The fake vLLM as a Ray driver (--distributed-executor-backend ray), the way vLLM's ray_utils.initialize_ray_cluster
// and RayDistributedExecutor go about it:
//   ray.init(address=RAY_ADDRESS or the node's current cluster) — "Connecting to existing Ray cluster at address: …";
//     no cluster → "Started a local Ray instance." with this node's GPUs only (the classic multi-node mistake);
//   a placement group of world_size bundles {'GPU': 1.0}, the first pinned to this node ({'node:<ip>': 0.001}),
//     waited for with "Waiting for creating a placement group of specs for N seconds…" (10 s, doubling) and given up
//     after PG_WAIT_TIMEOUT (1800 s; KIMI_FAKE_VLLM_PG_TIMEOUT_S) with vLLM's ValueError;
//   one RayWorkerWrapper actor per bundle, started by the raylet of its node (fake/ray/raylet.ts), holding GPU memory
//     on that node; "Every node should have a unique IP address" when VLLM_HOST_IP makes two nodes look alike.
// The driver's connection to the GCS is its liveness: when this process dies, Ray kills its actors (GPU memory freed
// on every node). When a node dies, the driver hears it (ActorDiedError).
import * as os from 'node:os';
import { Connection, connectWithin, splitAddress, type ActorInfo, type GpuSpec, type Message } from '../ray/protocol';
import { asctime, rayRoot, readCurrentCluster } from '../ray/session';

export interface RayClusterView {
  nodes: { nodeId: string; ip: string; gpus: GpuSpec[]; alive: boolean; usedGpus: number }[];
}

export type RayEvent = { kind: 'node-died'; nodeId: string; ip: string; actors: ActorInfo[] } | { kind: 'actor-died'; actor: ActorInfo; code: unknown };

/** Ray's own python log line: `2025-03-18 11:21:32,945\tINFO worker.py:1636 -- message`. */
export function rayLogLine(level: 'INFO' | 'WARNING', where: string, message: string): string {
  return `${asctime()}\t${level} ${where} -- ${message}`;
}

export class RayDriver {
  private constructor(
    readonly address: string,
    private readonly conn: Connection,
  ) {}

  /** The address vLLM's ray.init() would use, or null (it would start a local instance). */
  static discover(env: NodeJS.ProcessEnv): string | null {
    const fromEnv = env.RAY_ADDRESS;
    if (fromEnv && fromEnv !== 'auto') return fromEnv;
    return readCurrentCluster(rayRoot(env));
  }

  static async connect(address: string, timeoutMs = 5000): Promise<RayDriver | null> {
    const target = splitAddress(address);
    if (!target) return null;
    try {
      const conn = new Connection(await connectWithin(target.host, target.port, timeoutMs));
      const r = await conn.request({ t: 'driver' }, 10_000);
      if (r.t !== 'ok') {
        conn.close();
        return null;
      }
      return new RayDriver(address, conn);
    } catch {
      return null;
    }
  }

  async view(): Promise<RayClusterView> {
    const r = (await this.conn.request({ t: 'status' }, 10_000)) as Message & { nodes?: RayClusterView['nodes'] };
    return { nodes: (r.nodes ?? []).map((n) => ({ nodeId: n.nodeId, ip: n.ip, gpus: n.gpus, alive: n.alive, usedGpus: n.usedGpus })) };
  }

  async placementGroup(bundles: number, pinIp: string): Promise<{ nodeId: string; ip: string; gpuIndex: number }[] | null> {
    const r = await this.conn.request({ t: 'pg', bundles, pinIp }, 10_000);
    return r.t === 'pg' && r.ready ? (r.placements as { nodeId: string; ip: string; gpuIndex: number }[]) : null;
  }

  async actors(placements: { nodeId: string; gpuIndex: number }[]): Promise<ActorInfo[] | string> {
    const r = await this.conn.request({ t: 'actors', placements }, 60_000);
    return r.t === 'actors' ? (r.actors as ActorInfo[]) : String(r.message ?? 'the actors could not be created');
  }

  claim(actorId: string, usedMiB: number): void {
    this.conn.notify({ t: 'claim', actorId, usedMiB });
  }

  onEvent(listener: (e: RayEvent) => void): void {
    this.conn.onEvent((m) => {
      if (m.t === 'node-died') listener({ kind: 'node-died', nodeId: String(m.nodeId), ip: String(m.ip), actors: m.actors as ActorInfo[] });
      else if (m.t === 'actor-died') listener({ kind: 'actor-died', actor: m.actor as ActorInfo, code: m.code });
    });
  }

  /** The GCS went away (the head's Ray was stopped). */
  get closed(): Promise<void> {
    return this.conn.closed;
  }

  close(): void {
    this.conn.close();
  }
}

/** vLLM's get_ip(): VLLM_HOST_IP, else the first non-loopback IPv4 address. */
export function driverIp(env: NodeJS.ProcessEnv): string {
  if (env.VLLM_HOST_IP) return env.VLLM_HOST_IP;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Python's repr of the placement group specs: [{'GPU': 1.0, 'node:10.0.0.1': 0.001}, {'GPU': 1.0}, …]. */
export function specsRepr(world: number, pinIp: string): string {
  const items = Array.from({ length: world }, (_, i) => (i === 0 ? `{'GPU': 1.0, 'node:${pinIp}': 0.001}` : "{'GPU': 1.0}"));
  return `[${items.join(', ')}]`;
}
