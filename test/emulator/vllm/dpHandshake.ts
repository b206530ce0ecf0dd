// Multi-node data parallel (docs/vllm-kimi-protocol.md §6): the head's API server listens on
// --data-parallel-address:--data-parallel-rpc-port for the engine cores of the other nodes; every engine says HELLO
// when it connects and READY once its model is loaded, and the head serves only when all --data-parallel-size ranks
// are READY (vLLM's wait_for_engine_startup; it logs who it waits for at DEBUG level only, and gives up after
// VLLM_ENGINE_READY_TIMEOUT_S, 600 s by default). A `--headless` node waits for the head's port without complaint
// (ZeroMQ connects lazily) — so a worker started before its head just waits.
// Real vLLM speaks ZeroMQ; the fake speaks JSON lines over TCP (ray/protocol.ts), over the real network of the test
// hosts, so an address the worker cannot reach behaves like it does for real.
import * as net from 'node:net';
import { Connection, connectOnce, jsonLines, type Message } from '../ray/protocol';

export class DpHandshakeServer {
  private readonly hello = new Set<number>();
  private readonly ready = new Set<number>();
  private readonly waiters = new Set<() => void>();
  /** A remote engine whose node went away (its connection closed). */
  lost: { ranks: number[]; ip: string } | null = null;
  private lostListener: ((l: { ranks: number[]; ip: string }) => void) | undefined;

  private constructor(private readonly server: net.Server) {}

  static listen(host: string, port: number): Promise<DpHandshakeServer> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      const hs = new DpHandshakeServer(server);
      server.on('connection', (socket) => hs.accept(socket));
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        resolve(hs);
      });
    });
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => {});
    let ranks: number[] = [];
    let ip = '';
    const send = jsonLines(socket, (m: Message) => {
      if (m.t === 'hello') {
        ranks = (m.ranks as number[]) ?? [];
        ip = String(m.ip ?? '');
        for (const r of ranks) this.hello.add(r);
        send({ t: 'welcome', id: m.id });
      } else if (m.t === 'ready') {
        this.ready.add(Number(m.rank));
      }
      for (const w of [...this.waiters]) w();
    });
    socket.on('close', () => {
      if (ranks.length === 0) return;
      for (const r of ranks) {
        this.hello.delete(r);
        this.ready.delete(r);
      }
      this.lost = { ranks, ip };
      this.lostListener?.(this.lost);
      for (const w of [...this.waiters]) w();
    });
  }

  onLost(listener: (l: { ranks: number[]; ip: string }) => void): void {
    this.lostListener = listener;
  }

  /** Remote ranks that have not said READY yet. */
  pending(ranks: number[]): { connect: number; start: number } {
    return { connect: ranks.filter((r) => !this.hello.has(r)).length, start: ranks.filter((r) => this.hello.has(r) && !this.ready.has(r)).length };
  }

  /** Resolves 'ready' once every rank of `ranks` is READY, 'timeout' after `timeoutMs`, or 'interrupted' when
   *  `interrupted()` turns true (checked whenever anything happens and every 200 ms). */
  waitReady(ranks: number[], timeoutMs: number, interrupted: () => boolean, onIdle?: () => void): Promise<'ready' | 'timeout' | 'interrupted'> {
    return new Promise((resolve) => {
      const deadline = Date.now() + timeoutMs;
      let idleAt = Date.now() + 10_000;
      const check = () => {
        if (interrupted()) return finish('interrupted');
        if (ranks.every((r) => this.ready.has(r))) return finish('ready');
        if (Date.now() >= deadline) return finish('timeout');
        if (Date.now() >= idleAt) {
          idleAt = Date.now() + 10_000;
          onIdle?.();
        }
      };
      const timer = setInterval(check, 200);
      const finish = (r: 'ready' | 'timeout' | 'interrupted') => {
        clearInterval(timer);
        this.waiters.delete(check);
        resolve(r);
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.server.close();
  }
}

/** A headless node's link to the head. */
export class DpWorkerLink {
  private constructor(private readonly conn: Connection) {}

  /** Keeps trying to reach the head (silently, like ZeroMQ) until it answers or `stop()` turns true. */
  static async connect(host: string, port: number, ranks: number[], ip: string, stop: () => boolean): Promise<DpWorkerLink | null> {
    for (;;) {
      if (stop()) return null;
      try {
        const conn = new Connection(await connectOnce(host, port, 2000));
        const r = await conn.request({ t: 'hello', ranks, ip }, 10_000);
        if (r.t === 'welcome') return new DpWorkerLink(conn);
        conn.close();
      } catch {
        /* not there yet */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  ready(rank: number): void {
    this.conn.notify({ t: 'ready', rank });
  }

  get closed(): Promise<void> {
    return this.conn.closed;
  }

  close(): void {
    this.conn.close();
  }
}
