// The fake Ray's own wire protocol between its processes (GCS server, raylets, `ray` CLI, and the fake vLLM as a
// Ray driver): one JSON object per line over TCP. Invented for the fake — real Ray speaks gRPC — but the processes,
// who connects to whom, and what happens when one of them dies follow Ray's architecture: every node's raylet
// registers with the head's GCS and stays connected (its connection IS the node's liveness), drivers ask the GCS for
// a placement group and actors, and actors live in their node's raylet.
import * as net from 'node:net';

export interface GpuSpec {
  index: number;
  totalMiB: number;
  freeMiB: number;
}

export interface NodeInfo {
  /** 56 hex characters, like Ray's node ids. */
  nodeId: string;
  ip: string;
  hostname: string;
  gpus: GpuSpec[];
  cpus: number;
  memoryBytes: number;
  objectStoreBytes: number;
  rayVersion: string;
  pythonVersion: string;
}

export interface ActorInfo {
  actorId: string;
  nodeId: string;
  /** The node's address as Ray knows it. */
  ip: string;
  /** VLLM_HOST_IP in the actor's environment (inherited from `ray start`), else the node's address. */
  hostIp: string;
  pid: number;
  gpuIndex: number;
  gpu: GpuSpec;
}

export type Message = Record<string, unknown> & { t: string };

/** Sends and receives JSON lines on `socket`. */
export function jsonLines(socket: net.Socket, onMessage: (m: Message) => void): (m: Message) => void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        const m = JSON.parse(line) as Message;
        if (m && typeof m.t === 'string') onMessage(m);
      } catch {
        /* not ours */
      }
    }
  });
  return (m) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(m)}\n`);
  };
}

/** `host:port` (IPv6 in brackets) → parts. */
export function splitAddress(address: string): { host: string; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) return null;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1]!, port } : null;
}

export function joinAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One TCP connection attempt with a deadline. */
export function connectOnce(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Retries connecting until `timeoutMs` has passed (the GCS may be starting). */
export async function connectWithin(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw last instanceof Error ? last : new Error('timed out');
    try {
      return await connectOnce(host, port, Math.min(left, 2000));
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
  }
}

/** A request/response client on one connection: replies carry the request's `id`; other messages are events. */
export class Connection {
  private seq = 0;
  private readonly pending = new Map<number, (m: Message) => void>();
  private readonly listeners = new Set<(m: Message) => void>();
  private readonly send: (m: Message) => void;
  readonly closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    this.send = jsonLines(socket, (m) => {
      const id = typeof m.id === 'number' ? m.id : undefined;
      const waiter = id !== undefined ? this.pending.get(id) : undefined;
      if (waiter) {
        this.pending.delete(id!);
        waiter(m);
      } else for (const l of this.listeners) l(m);
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    void this.closed.then(() => {
      for (const w of this.pending.values()) w({ t: 'error', message: 'connection closed' });
      this.pending.clear();
    });
  }

  request(m: Message, timeoutMs = 30_000): Promise<Message> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ t: 'error', message: 'no answer' });
      }, timeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.send({ ...m, id });
    });
  }

  notify(m: Message): void {
    this.send(m);
  }

  onEvent(l: (m: Message) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}
