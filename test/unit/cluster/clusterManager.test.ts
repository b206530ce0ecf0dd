// ClusterManager on real SSH hosts that share a LAN (network namespaces, sshd in each, each its own address) with the
// fake vllm / ray / nvidia-smi on their PATH: both layouts start, serve a chat through the tunnel to the head and stop
// with nothing left running anywhere; a worker that dies mid-start stops the whole cluster with a diagnosis naming it;
// a host without enough GPUs is refused before anything starts; a worker that cannot reach the head is refused too.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { LifecycleState } from '../../../src/core/server/lifecycleTypes';
import { parseStatus, statusScript } from '../../../src/core/server/remoteScripts';
import { SshConnection } from '../../../src/core/server/ssh';
import { nodeStateDir } from '../../../src/core/cluster/clusterPlan';
import { chat, stopManagers, waitFor } from '../lifecycle/lifecycleKit';
import { cmdline, groupMembers } from '../server/kit';
import { clusterFixture, type ClusterFixture } from './clusterKit';

/** The environment of a process (the test hosts share this machine's process table). */
function environ(pid: number): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

function nothingLeft(f: ClusterFixture): void {
  for (const h of f.hosts) {
    assert.deepEqual(f.clusterProcesses(h), [], `no Ray or vLLM process on ${h.host.name}`);
    assert.deepEqual(f.claims(h), [], `no GPU memory held on ${h.host.name}`);
    assert.deepEqual(f.pidFiles(h), [], `no pid file left on ${h.host.name}`);
  }
}

describe('ClusterManager (real sshd hosts on a shared LAN)', function () {
  this.timeout(180_000);
  let f: ClusterFixture;

  before(async () => {
    f = await clusterFixture([
      { name: 'head', model: 'NVIDIA H100 80GB HBM3' },
      { name: 'w1', model: 'NVIDIA H100 80GB HBM3' },
      { name: 'small', model: 'NVIDIA H100 80GB HBM3', gpus: 4 },
    ]);
  });
  afterEach(() => stopManagers(f.managers));
  after(async () => {
    await f?.cleanup();
  });

  it('ray on 2× 8 H100: ordered start (Ray head, worker, ray status, vLLM -pp 2), a chat through the tunnel, a stop that leaves nothing anywhere', async () => {
    const p = f.profile('Two H100 boxes', { workers: [1], servedModelName: 'kimi-k2.5' });
    const m = f.manager(p);
    const details: string[] = [];
    m.onState((s) => s.kind === 'preflight' && details.push(s.detail));
    const ready = await m.start({ apiKey: 'sk-cluster' });
    assert.ok(ready.kind === 'ready', JSON.stringify(ready).slice(0, 1500));
    assert.equal(ready.modelId, 'kimi-k2.5');
    assert.match(ready.gpus ?? '', /^2 nodes × 8× NVIDIA H100 80GB HBM3$/);
    assert.match(ready.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/, 'through the tunnel to the head');
    assert.equal(await chat(ready.baseUrl, ready.modelId, 'sk-cluster'), 200);
    const order = details.join(' | ');
    assert.match(order, /Checking the 2 nodes.*reaches the head at 10\.214\.\d+\.\d+:6379.*Starting Ray on .*\(head\).*Starting Ray on 1 worker.*Waiting for Ray to see all 2 nodes \(16 GPUs\)/);
    assert.deepEqual(m.nodes.map((n) => [n.role, n.host, n.state]), [['head', f.hosts[0]!.host.alias, 'ready'], ['worker', f.hosts[1]!.host.alias, 'ready']]);
    assert.equal(m.nodes[1]!.ip, f.hosts[1]!.host.address, 'the worker address read from its SSH connection');
    assert.match(m.nodes[0]!.gpus ?? '', /8× NVIDIA H100 80GB HBM3/);
    assert.ok(m.nodes.every((n) => n.lastLine), 'every node shows its last log line');
    // Every node's Ray runs with its own address for vLLM and the interface that holds it for NCCL and Gloo.
    for (const [i, n] of m.nodes.entries()) {
      const ray = groupMembers(n.pids!.ray!).find((pid) => /emulator\/ray\/cli\.js start/.test(cmdline(pid)));
      assert.ok(ray, `the ray start process of ${n.host}`);
      const env = environ(ray);
      assert.equal(env.VLLM_HOST_IP, f.hosts[i]!.host.address);
      assert.match(env.NCCL_SOCKET_IFNAME ?? '', /^kvs\d+n$/, 'the veth that holds the node\'s address');
      assert.equal(env.GLOO_SOCKET_IFNAME, env.NCCL_SOCKET_IFNAME);
    }
    // Every node holds its GPUs (Ray actors on both).
    assert.equal(f.claims(f.hosts[0]!).length, 8);
    assert.equal(f.claims(f.hosts[1]!).length, 8);

    const report = await m.stop();
    assert.equal(report.result, 'INT');
    assert.equal(report.portClosed, true);
    assert.deepEqual(report.nodes?.map((n) => [n.host, n.stopped, n.leftovers, n.gpuMemoryHeld]), [
      [f.hosts[0]!.host.alias, ['vLLM (SIGINT)', 'Ray (SIGINT)'], [], {}],
      [f.hosts[1]!.host.alias, ['Ray (SIGINT)'], [], {}],
    ]);
    assert.match(report.message ?? '', /no Ray or vLLM process and no GPU memory is left on any of its 2 nodes/);
    assert.equal(m.state.kind, 'stopped');
    assert.ok(m.nodes.every((n) => n.state === 'stopped'));
    nothingLeft(f);
    assert.equal((await m.stop()).result, 'not-running');
  });

  it('dp (DP16 + expert parallel) on 2× 8 H200: the head, then the headless worker; chat; stop; nothing left', async () => {
    // H200 rather than H100 here: DP16 + EP on 80 GB GPUs leaves too little KV cache for the model's full context.
    const p = f.profile('DP cluster', { workers: [1], env: { KIMI_FAKE_GPU_MODEL: 'NVIDIA H200' }, cluster: { layout: 'dp' } });
    const m = f.manager(p);
    const ready = await m.start();
    assert.ok(ready.kind === 'ready', JSON.stringify(ready).slice(0, 1500));
    assert.equal(await chat(ready.baseUrl, ready.modelId), 200);
    assert.equal(f.claims(f.hosts[1]!).length, 8, 'the headless ranks hold the worker\'s GPUs');
    const report = await m.stop();
    assert.deepEqual(report.nodes?.map((n) => n.stopped), [['vLLM (SIGINT)'], ['vLLM (headless) (SIGINT)']]);
    nothingLeft(f);
  });

  it('a worker that dies while the model loads: the whole cluster is stopped and the diagnosis names the worker', async () => {
    const p = f.profile('Dies mid-start', { workers: [1], env: { KIMI_FAKE_VLLM_SHARD_MS: '150' } });
    const m = f.manager(p);
    const started = m.start();
    await waitFor('the head to load weights', () => m.state.kind === 'starting' && m.state.phase === 'loadingWeights', 60_000, 50);
    // The worker host's Ray goes down at once (power cut: SIGKILL of its whole process group).
    const w = f.hosts[1]!;
    const ssh = new SshConnection({ destination: w.host.alias, configFile: f.sshConfig, controlDir: f.root });
    const st = parseStatus((await ssh.exec(statusScript({ stateDir: nodeStateDir(p, { host: w.host.alias }, 'ray') }))).stdout);
    await ssh.close();
    assert.ok(st.pid);
    process.kill(-st.pid!, 'SIGKILL');
    const end: LifecycleState = await started;
    assert.ok(end.kind === 'failed', JSON.stringify(end).slice(0, 800));
    assert.equal(end.diagnosis.code, 'nodeFailed');
    assert.equal(end.diagnosis.node, w.host.alias);
    assert.match(end.diagnosis.title, new RegExp(`${w.host.alias} \\(worker 1\\) failed: its Ray process ended`));
    assert.match(end.diagnosis.explanation, /The whole cluster was stopped\./);
    assert.equal(m.nodes[1]!.state, 'failed');
    nothingLeft(f);
  });

  it('a host with 4 GPUs where the layout needs 8: refused before anything starts, naming the host and the numbers', async () => {
    const p = f.profile('Too small', { workers: [2] });
    const m = f.manager(p);
    const end = await m.start();
    assert.ok(end.kind === 'failed', JSON.stringify(end).slice(0, 800));
    assert.equal(end.diagnosis.code, 'notEnoughGpus');
    assert.equal(end.diagnosis.node, f.hosts[2]!.host.alias);
    assert.match(end.diagnosis.title, new RegExp(`${f.hosts[2]!.host.alias} \\(worker 1\\) has 4 GPUs; this layout needs 8 on every node`));
    assert.match(end.diagnosis.explanation, /TP8 × PP2 over Ray uses 8 GPUs on each of the 2 nodes.*lists 4 \(NVIDIA H100 80GB HBM3\)\. Nothing was started\./);
    nothingLeft(f);
    assert.deepEqual(m.nodes.map((n) => n.state), ['stopped', 'failed']);
  });

  it('a worker that cannot reach the head on the Ray port: refused before anything starts', async () => {
    // The head's address is fine for SSH, but nothing on the LAN answers at this one.
    const p = f.profile('Wrong head address', { workers: [1], cluster: { headIp: '10.214.254.254' } });
    const m = f.manager(p);
    const end = await m.start();
    assert.ok(end.kind === 'failed', JSON.stringify(end).slice(0, 800));
    assert.equal(end.diagnosis.code, 'nodeUnreachable');
    assert.match(end.diagnosis.title, /10\.214\.254\.254 is not an address of .*\(head\)/);
    assert.match(end.diagnosis.explanation, /set cluster\.headIp/);
    nothingLeft(f);
  });
});
