// The per-node command lines of a cluster (docs/vllm-kimi-protocol.md §6), the parsers of what the nodes report, and
// the shell text run for real with hostile values: nothing in it may execute.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serverProfileSchema } from '../../../src/core/config/serverProfile';
import {
  clusterNodes,
  clusterServeArgv,
  clusterServeCommand,
  gpusPerNode,
  layoutTitle,
  nodeEnv,
  nodeStateDir,
  rayCommand,
  rayHeadArgv,
  rayWorkerArgv,
  type ClusterProfile,
} from '../../../src/core/cluster/clusterPlan';
import { evaluateCluster } from '../../../src/core/cluster/clusterPreflight';
import { parseConnect, parseNodeFacts, parseRayStatus } from '../../../src/core/cluster/nodeScripts';
import { hostile, makeRecorders, sentinels, tempDir } from '../server/kit';

const cluster = (c: Record<string, unknown> = {}, p: Record<string, unknown> = {}): ClusterProfile =>
  serverProfileSchema.parse({ name: 'c', host: 'gpu-a', modelDir: '/models/Kimi-K2.5', ...p, cluster: { workers: ['gpu-b', { host: 'gpu-c', ip: '10.0.0.3', networkInterface: 'ib0' }], ...c } }) as ClusterProfile;

const nets = [
  { ip: '10.0.0.1', networkInterface: 'eth0' },
  { ip: '10.0.0.2', networkInterface: 'eth0' },
  { ip: '10.0.0.3', networkInterface: 'ib0' },
];

describe('cluster command lines', () => {
  it('nodes: the head first, then the workers with their own address and interface', () => {
    assert.deepEqual(clusterNodes(cluster()), [
      { index: 0, role: 'head', host: 'gpu-a', ip: '', networkInterface: '' },
      { index: 1, role: 'worker', host: 'gpu-b', ip: '', networkInterface: '' },
      { index: 2, role: 'worker', host: 'gpu-c', ip: '10.0.0.3', networkInterface: 'ib0' },
    ]);
    assert.equal(gpusPerNode(cluster()), 8);
    assert.equal(gpusPerNode(cluster({ layout: 'dp', dataParallelSizeLocal: 4 })), 4);
    assert.equal(layoutTitle(cluster()), 'TP8 × PP3 over Ray');
    assert.equal(layoutTitle(cluster({ layout: 'dp' })), 'DP24 + expert parallel');
    assert.match(nodeStateDir(cluster(), { host: 'gpu-b' }, 'ray'), /^~\/\.kimi-vllm\/c-[0-9a-f]{8}\/gpu-b-[0-9a-f]{8}-ray$/);
  });

  it('ray: `ray start --head --port` on the head, `ray start --address=HEAD:PORT` on the workers, VLLM_HOST_IP and NCCL/Gloo per node', () => {
    const p = cluster({ rayPort: 6380 });
    assert.deepEqual(rayHeadArgv(p, nets[0]!), ['ray', 'start', '--head', '--port=6380', '--node-ip-address=10.0.0.1', '--block', '--disable-usage-stats']);
    assert.deepEqual(rayWorkerArgv(p, nets[0]!, nets[2]!), ['ray', 'start', '--address=10.0.0.1:6380', '--node-ip-address=10.0.0.3', '--block']);
    assert.deepEqual(rayWorkerArgv(p, { ip: 'fd00::1', networkInterface: null }, nets[1]!)[2], '--address=[fd00::1]:6380');
    assert.deepEqual(nodeEnv(nets[2]!), { VLLM_HOST_IP: '10.0.0.3', NCCL_SOCKET_IFNAME: 'ib0', GLOO_SOCKET_IFNAME: 'ib0' });
    assert.deepEqual(nodeEnv({ ip: '10.0.0.3', networkInterface: null }), { VLLM_HOST_IP: '10.0.0.3' });
    const text = rayCommand(p, { index: 2, host: 'gpu-c' }, nets);
    assert.match(text, /^export VLLM_HOST_IP=10\.0\.0\.3 NCCL_SOCKET_IFNAME=ib0 GLOO_SOCKET_IFNAME=ib0\nray start '--address=10\.0\.0\.1:6380' '--node-ip-address=10\.0\.0\.3' --block$/);
  });

  it('ray: the head runs the official command with -pp N --distributed-executor-backend ray and RAY_ADDRESS (never a local Ray)', () => {
    const p = cluster({}, { extraArgs: ['--max-num-seqs', '64'] });
    const argv = clusterServeArgv(p, { index: 0, host: 'gpu-a' }, nets[0]!);
    assert.deepEqual(argv.slice(0, 6), ['vllm', 'serve', '/models/Kimi-K2.5', '--host', '127.0.0.1', '--port']);
    assert.deepEqual(argv.slice(argv.indexOf('-tp'), argv.indexOf('-tp') + 2), ['-tp', '8']);
    assert.deepEqual(argv.slice(-6), ['-pp', '3', '--distributed-executor-backend', 'ray', '--max-num-seqs', '64']);
    assert.match(clusterServeCommand(p, { index: 0, host: 'gpu-a' }, nets), /^export VLLM_HOST_IP=10\.0\.0\.1 NCCL_SOCKET_IFNAME=eth0 GLOO_SOCKET_IFNAME=eth0 RAY_ADDRESS=10\.0\.0\.1:6379\nvllm serve/);
  });

  it('dp: -tp 1, --data-parallel-size N×L --data-parallel-size-local L --data-parallel-address HEAD --data-parallel-rpc-port P --enable-expert-parallel; workers add --headless --data-parallel-start-rank K', () => {
    const p = cluster({ layout: 'dp', dpRpcPort: 13400 });
    const head = clusterServeArgv(p, { index: 0, host: 'gpu-a' }, nets[0]!);
    assert.deepEqual(head.slice(head.indexOf('-tp'), head.indexOf('-tp') + 2), ['-tp', '1']);
    const dp = ['--data-parallel-size', '24', '--data-parallel-size-local', '8', '--data-parallel-address', '10.0.0.1', '--data-parallel-rpc-port', '13400', '--enable-expert-parallel'];
    assert.deepEqual(head.slice(-dp.length), dp);
    const w2 = clusterServeArgv(p, { index: 2, host: 'gpu-c' }, nets[0]!);
    assert.deepEqual(w2.slice(-(dp.length + 3)), [...dp, '--headless', '--data-parallel-start-rank', '16']);
    assert.doesNotMatch(clusterServeCommand(p, { index: 2, host: 'gpu-c' }, nets), /RAY_ADDRESS/);
  });

  it('hostile values reach the programs literally: run through a real shell, nothing executes', () => {
    const dir = tempDir('cluster-hostile');
    try {
      const sentinelDir = path.join(dir, 's');
      fs.mkdirSync(sentinelDir);
      const rec = makeRecorders(dir);
      const bad = hostile(sentinelDir, 'p');
      const p = cluster({ layout: 'dp' }, { modelDir: bad, servedModelName: bad.slice(0, 250), extraArgs: [bad, `--x=${bad}`], env: { HOSTILE: bad } });
      const text = clusterServeCommand(p, { index: 1, host: 'gpu-b' }, [{ ip: '10.0.0.1', networkInterface: null }, { ip: '10.0.0.2', networkInterface: 'eth0' }]);
      execFileSync('/bin/sh', ['-c', text], { env: { ...process.env, PATH: `${rec.binDir}:${process.env.PATH}` } });
      const seen = rec.readVllm();
      assert.ok(seen);
      assert.equal(seen.argv[1], bad, 'the model path arrives as one argument, byte for byte');
      assert.ok(seen.argv.includes(bad) && seen.argv.includes(`--x=${bad}`));
      assert.equal(seen.env.HOSTILE, bad);
      assert.deepEqual(sentinels(sentinelDir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what the nodes report', () => {
  const facts = (o: { ssh?: string; addrs?: string[]; gpus?: number; model?: string; shards?: number; vllm?: string; ray?: string | null } = {}) =>
    [
      `ssh=${o.ssh ?? '10.0.0.9 40000 10.0.0.2 22'}`,
      'hostname=gpu-b',
      ...(o.addrs ?? ['lo 127.0.0.1/8', 'eth0@if12 10.0.0.2/24']).map((a) => `addr=${a}`),
      'vllm=/opt/venv/bin/vllm',
      `ray=${o.ray === null ? '' : '/opt/venv/bin/ray'}`,
      'nvidia-smi=/usr/bin/nvidia-smi',
      'python3=/usr/bin/python3',
      `vllmVersion=${o.vllm ?? '0.15.1'}`,
      `rayVersion=ray, version ${o.ray ?? '2.49.2'}`,
      'begin=gpus',
      ...Array.from({ length: o.gpus ?? 8 }, (_, i) => `${i}, NVIDIA H100 80GB HBM3, GPU-${i}, 81559, 0, 81080, 0`),
      'end=gpus 0',
      'begin=apps',
      'end=apps 0',
      `model=${o.model ?? 'present'}`,
      `shards=${o.shards ?? 64}`,
    ].join('\n');

  it('parses a node: SSH connection, interfaces (veth suffix dropped), tools, versions, GPUs, model', () => {
    const f = parseNodeFacts(facts());
    assert.deepEqual(f.sshConnection, { clientIp: '10.0.0.9', serverIp: '10.0.0.2' });
    assert.deepEqual(f.addresses, [{ iface: 'lo', ip: '127.0.0.1' }, { iface: 'eth0', ip: '10.0.0.2' }]);
    assert.equal(f.vllmVersion, '0.15.1');
    assert.equal(f.rayVersion, '2.49.2');
    assert.equal(f.gpus?.length, 8);
    assert.equal(f.model, 'present');
    assert.equal(f.shards, 64);
  });

  it('pre-flight: addresses from the SSH connections, the interface that holds them; different versions refused', () => {
    const p = cluster({}, {});
    const two = { ...p, cluster: { ...p.cluster, workers: ['gpu-b'] } } as ClusterProfile;
    const head = parseNodeFacts(facts({ ssh: '10.0.0.9 40000 10.0.0.1 22', addrs: ['eth0 10.0.0.1/24'] }));
    const ok = evaluateCluster(two, clusterNodes(two), [head, parseNodeFacts(facts())]);
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(ok.nets, [{ ip: '10.0.0.1', networkInterface: 'eth0' }, { ip: '10.0.0.2', networkInterface: 'eth0' }]);
    assert.equal(ok.summary, '2 nodes × 8× NVIDIA H100 80GB HBM3');
    const mixed = evaluateCluster(two, clusterNodes(two), [head, parseNodeFacts(facts({ vllm: '0.16.0', ray: '2.48.0' }))]);
    assert.deepEqual(mixed.problems.map((x) => [x.code, x.node, x.title]), [
      ['versionMismatch', 'gpu-b', 'gpu-b (worker 1) runs vLLM 0.16.0, the head 0.15.1'],
      ['versionMismatch', 'gpu-b', 'gpu-b (worker 1) runs Ray 2.48.0, the head 2.49.2'],
    ]);
    const noRay = evaluateCluster(two, clusterNodes(two), [head, parseNodeFacts(facts({ ray: null }))]);
    assert.match(noRay.problems[0]!.title, /Ray is not installed on gpu-b \(worker 1\)/);
    const none = { ...two, cluster: { ...two.cluster, networkInterface: 'none' } } as ClusterProfile;
    assert.equal(evaluateCluster(none, clusterNodes(none), [head, parseNodeFacts(facts())]).nets[1]!.networkInterface, null);
  });

  it('ray status: active nodes and GPUs; connect results', () => {
    const status = [
      '======== Autoscaler status: 2025-01-01 12:00:00.000000 ========',
      'Node status',
      '---------------------------------------------------------------',
      'Active:',
      ' 1 node_' + 'a'.repeat(56),
      ' 1 node_' + 'b'.repeat(56),
      'Pending:',
      ' (no pending nodes)',
      'Recent failures:',
      ' (no failures)',
      '',
      'Resources',
      '---------------------------------------------------------------',
      'Usage:',
      ' 0.0/192.0 CPU',
      ' 8.0/16.0 GPU',
    ].join('\n');
    assert.deepEqual(parseRayStatus(status), { nodes: 2, gpus: 16, gpusUsed: 8 });
    assert.equal(parseRayStatus('ConnectionError: Could not find any running Ray instance.'), null);
    assert.deepEqual(parseConnect('connect=ok\n'), { ok: true, reason: '' });
    assert.deepEqual(parseConnect('connect=fail [Errno 111] Connection refused\n'), { ok: false, reason: '[Errno 111] Connection refused' });
    assert.equal(parseConnect('').ok, null);
  });
});
