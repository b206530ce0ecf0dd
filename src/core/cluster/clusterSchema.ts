import * as z from 'zod/mini';
import { described } from '../config/zodMini';

// The `cluster` part of a server profile (kimi.servers[i].cluster): the profile's `host` becomes the HEAD node and
// these workers join it, in one of vLLM's two multi-node layouts (docs/vllm-kimi-protocol.md §6):
//   ray — `ray start --head` on the head, `ray start --address=HEAD:PORT` on every worker, then on the head
//         `vllm serve … -tp <tensorParallelSize> -pp <nodes> --distributed-executor-backend ray`;
//   dp  — vLLM's native data parallel with expert parallel: every node runs `vllm serve` with
//         `--data-parallel-size <nodes × ranks> --data-parallel-size-local <ranks> --data-parallel-address <head IP>
//         --data-parallel-rpc-port <port> --enable-expert-parallel`, the workers also with `--headless
//         --data-parallel-start-rank K`. One GPU per rank (-tp 1), Moonshot's DP16+EP layout on 2×8 GPUs.
// Every value here reaches a shell only through shellQuote; the checks below refuse what can only be a mistake.

/** Characters that cannot be part of an SSH destination (see serverProfile.ts). */
const DESTINATION_BAD = /[\s'"`$;&|<>\\!*?(){}\[\]#~\x00-\x1f]/;

const workerHost = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.maxLength(255),
  z.refine((v) => v !== 'local', 'a worker must be another machine (an SSH destination); "local" can only be the head (the profile\'s host)'),
  z.refine((v) => !v.startsWith('-') && !DESTINATION_BAD.test(v.replace(/\[[0-9a-fA-F:]+\]/g, '')), {
    message: 'must be an alias from ~/.ssh/config or user@host[:port] (no spaces, quotes or shell characters, not starting with "-")',
  }),
);

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+(%[A-Za-z0-9_.-]+)?$/;

/** An IP address the other nodes reach this node at, or '' to take the one the SSH connection arrives at. */
const ipAddress = z.string().check(
  z.maxLength(64),
  z.refine((v) => v === '' || IPV4.test(v) || (v.includes(':') && IPV6.test(v)), 'must be an IPv4 or IPv6 address (or empty: detected from the SSH connection)'),
);

/** NCCL_SOCKET_IFNAME / GLOO_SOCKET_IFNAME: an interface name, a comma list, a `^` exclusion or `=` exact match. */
const interfaceName = z.string().check(
  z.maxLength(256),
  z.refine((v) => /^[A-Za-z0-9_.:@,=^-]*$/.test(v), 'must be a network interface name such as eth0 or ib0 (NCCL_SOCKET_IFNAME syntax: a comma list, ^ to exclude, = for an exact name), "none", or empty'),
);

export const clusterWorkerSchema = described(
  z.union([
    workerHost,
    z.strictObject({
      host: described(workerHost, 'SSH destination of the worker.'),
      ip: described(z._default(ipAddress, ''), 'The address the other nodes reach this worker at; empty = the address the SSH connection arrives at.'),
      networkInterface: described(z._default(interfaceName, ''), "This worker's interface for NCCL/Gloo; empty = the cluster's setting."),
    }),
  ]),
  'A worker: an SSH destination, or {"host", "ip", "networkInterface"} when its address or interface must be given.',
);

const port = (fallback: number) => z._default(z.int().check(z.gte(1), z.lte(65535)), fallback);

export const clusterSchema = described(
  z.strictObject({
    layout: described(z._default(z.enum(['ray', 'dp']), 'ray'), 'ray: tensor parallel in each node × pipeline parallel across nodes (Ray); dp: data parallel + expert parallel, one GPU per rank (no Ray).', {
      enumDescriptions: [
        '`ray start` on every node, then `vllm serve -tp <tensorParallelSize> -pp <nodes> --distributed-executor-backend ray` on the head.',
        '`vllm serve --data-parallel-size … --enable-expert-parallel` on the head, the same with `--headless` on the workers.',
      ],
    }),
    workers: described(z.array(clusterWorkerSchema).check(z.minLength(1, 'a cluster needs at least one worker'), z.maxLength(63)), 'The other GPU hosts (SSH destinations); the profile\'s host is the head.'),
    headIp: described(z._default(ipAddress, ''), 'The address the workers reach the head at; empty = the address the SSH connection to the head arrives at (for a local head: the address the first worker sees it from).'),
    networkInterface: described(z._default(interfaceName, ''), 'NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME on every node; empty = on each node, the interface that holds its cluster address; "none" = leave them unset.'),
    rayPort: described(port(6379), 'ray layout: the port of the Ray head (`ray start --head --port`).'),
    dpRpcPort: described(port(13345), 'dp layout: `--data-parallel-rpc-port` on the head.'),
    dataParallelSizeLocal: described(z._default(z.int().check(z.gte(1), z.lte(64)), 8), 'dp layout: data-parallel ranks (one GPU each) per node (`--data-parallel-size-local`).'),
    sharedStorage: described(z._default(z.boolean(), false), 'The model directory is on storage every node mounts at the same path: "Download Model" downloads once (on the head) instead of onto every node.'),
  }),
  'Serve one model from several GPU hosts with vLLM\'s multi-node support. The profile\'s host is the head.',
);

export type ClusterConfig = z.output<typeof clusterSchema>;
export type ClusterWorkerInput = z.output<typeof clusterWorkerSchema>;

/** The host names that must be distinct: the head and every worker. Returns a problem per duplicate. */
export function duplicateHosts(head: string, workers: readonly ClusterWorkerInput[]): { index: number; host: string }[] {
  const seen = new Set([head]);
  const dups: { index: number; host: string }[] = [];
  workers.forEach((w, index) => {
    const host = typeof w === 'string' ? w : w.host;
    if (seen.has(host)) dups.push({ index, host });
    seen.add(host);
  });
  return dups;
}
