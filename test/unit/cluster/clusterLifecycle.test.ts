// More of ClusterManager on real SSH hosts on a LAN: a new session reattaches to a running cluster, the headless
// worker of a data-parallel cluster dying mid-start, hostile profile values that never execute, the sizing help
// from the GPUs probed over SSH (8×H200, 2×8 H100, 4×8 A100 80GB, and a layout that cannot fit), and a model that
// is missing or incomplete on one node.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeClusterGpus } from '../../../src/core/cluster/clusterProbe';
import { nodeStateDir } from '../../../src/core/cluster/clusterPlan';
import { hostShellFor, type HostRunner } from '../../../src/core/server/hostShell';
import { parseStatus, statusScript } from '../../../src/core/server/remoteScripts';
import { SshConnection } from '../../../src/core/server/ssh';
import { hostile, sentinels } from '../server/kit';
import { chat, stopManagers, waitFor } from '../lifecycle/lifecycleKit';
import { clusterFixture, writeModel, type ClusterFixture } from './clusterKit';

describe('ClusterManager: reattach, failures, hostile values, sizing (real sshd hosts on a LAN)', function () {
  this.timeout(180_000);
  let f: ClusterFixture;

  before(async () => {
    f = await clusterFixture([{ name: 'h0' }, { name: 'h1' }, { name: 'h2', shards: 12 }, { name: 'h3', shards: false }]);
  });
  afterEach(() => stopManagers(f.managers));
  after(async () => {
    await f?.cleanup();
  });

  function nothingLeft(): void {
    for (const h of f.hosts) {
      assert.deepEqual(f.clusterProcesses(h), [], `nothing running on ${h.host.name}`);
      assert.deepEqual(f.claims(h), [], `no GPU held on ${h.host.name}`);
    }
  }

  it('VS Code closes and reopens: the new session reattaches to the running cluster (head and worker), chats, and stops it all', async () => {
    const p = f.profile('Reattach me', { workers: [1] });
    const first = f.manager(p);
    // VS Code looks for a running cluster at activation; a Start pressed meanwhile waits for that answer (none) and
    // then launches — one cluster.
    const looking = first.reattach();
    const ready = await first.start();
    assert.equal((await looking).kind, 'stopped');
    assert.ok(ready.kind === 'ready', JSON.stringify(ready).slice(0, 1000));
    await first.dispose();
    f.managers.splice(f.managers.indexOf(first), 1);
    assert.equal(f.claims(f.hosts[1]!).length, 8, 'the cluster outlived the session');

    const second = f.manager(p);
    const again = await second.reattach();
    assert.ok(again.kind === 'ready', JSON.stringify(again).slice(0, 1000));
    assert.equal(again.reattached, true);
    assert.equal(again.pid, ready.pid);
    assert.deepEqual(second.nodes.map((n) => n.state), ['ready', 'ready']);
    assert.ok(second.nodes[1]!.pids?.ray, 'the worker\'s Ray was found');
    assert.equal(await chat(again.baseUrl, again.modelId), 200);
    // A second start finds it running: no second cluster.
    assert.equal((await second.start()).kind, 'ready');
    const report = await second.stop();
    assert.deepEqual(report.nodes?.map((n) => n.stopped), [['vLLM (SIGINT)', 'Ray (SIGINT)'], ['Ray (SIGINT)']]);
    nothingLeft();
  });

  it('dp: the headless worker dies while the head waits for it — the cluster stops and says which node', async () => {
    const p = f.profile('DP dies', { workers: [1], cluster: { layout: 'dp' }, env: { KIMI_FAKE_VLLM_SHARD_MS: '60' } });
    const m = f.manager(p);
    const started = m.start();
    const w = f.hosts[1]!;
    await waitFor('the worker to run its headless engines', () => m.nodes[1]!.pids?.vllm, 60_000, 50);
    const ssh = new SshConnection({ destination: w.host.alias, configFile: f.sshConfig, controlDir: fs.mkdtempSync(path.join(f.root, 'c-')) });
    const st = parseStatus((await ssh.exec(statusScript({ stateDir: nodeStateDir(p, { host: w.host.alias }, 'vllm') }))).stdout);
    await ssh.close();
    process.kill(-st.pid!, 'SIGKILL');
    const end = await started;
    assert.ok(end.kind === 'failed', JSON.stringify(end).slice(0, 800));
    assert.equal(end.diagnosis.node, w.host.alias);
    assert.match(end.diagnosis.title, /\(worker 1\) failed: its vLLM process ended/);
    assert.match(end.diagnosis.explanation, /ended without an error message.*Its last line: .*The whole cluster was stopped\./);
    nothingLeft();
  });

  it('a model that is incomplete on one node and missing on another: refused, each named', async () => {
    const m = f.manager(f.profile('Model gaps', { workers: [2, 3] }));
    const end = await m.start();
    assert.ok(end.kind === 'failed');
    assert.equal(end.diagnosis.code, 'invalidModel');
    assert.equal(end.diagnosis.node, f.hosts[2]!.host.alias);
    assert.match(end.diagnosis.title, /The model on .*\(worker 1\) differs from the head's/);
    assert.match(end.diagnosis.explanation, /holds 12 weight shards.*and 64 on the head.*Also: The model is not on .*\(worker 2\)/);
    nothingLeft();
  });

  it('the Ray port already taken on the head (a Ray started by hand, say): refused before anything starts, naming the port', async () => {
    const head = f.hosts[0]!.host;
    const blocker = spawn('ip', ['netns', 'exec', head.namespace!, '/usr/bin/python3', '-c', 'import socket,sys,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind((sys.argv[1], 6379))\ns.listen(1)\nprint("up", flush=True)\ntime.sleep(120)', head.address], { stdio: ['ignore', 'pipe', 'pipe'] });
    // SO_REUSEADDR: an earlier test's Ray head on this port may leave connections in TIME_WAIT; a live listener still
    // makes the bind fail (that is what would make this test wrong, and it says so with Python's own error).
    let blockerErr = '';
    blocker.stderr!.on('data', (d: Buffer) => (blockerErr += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        blocker.stdout!.once('data', () => resolve());
        blocker.once('exit', () => reject(new Error(`the blocker did not start: ${blockerErr.trim()}`)));
      });
      const m = f.manager(f.profile('Port taken', { workers: [1] }));
      const end = await m.start();
      assert.ok(end.kind === 'failed', JSON.stringify(end).slice(0, 600));
      assert.equal(end.diagnosis.code, 'addressInUse');
      assert.match(end.diagnosis.title, new RegExp(`^Port 6379 is already in use on ${head.alias} \\(head\\)$`));
      assert.match(end.diagnosis.explanation, /\[Errno 98\] Address already in use.*choose another cluster\.rayPort/);
      nothingLeft();
    } finally {
      blocker.kill('SIGKILL');
    }
  });

  it('hostile values in the profile (model dir, served name, extra args, env, ports of nothing) never execute anything on any node', async () => {
    const dir = fs.mkdtempSync('/tmp/ks-');
    const bad = hostile(dir, 'cl');
    try {
      // The model really is there, under that name (nested directories: the value holds slashes), on both nodes.
      for (const h of f.hosts.slice(0, 2)) writeModel(path.join(h.host.home, 'models', bad), 64);
      const p = f.profile('Hostile', {
        workers: [1],
        modelDir: `~/models/${bad}`,
        servedModelName: bad.slice(0, 250),
        extraArgs: [bad],
        env: { KIMI_HOSTILE: bad },
      });
      for (const layout of ['ray', 'dp'] as const) {
        const m = f.manager({ ...p, cluster: { ...p.cluster, layout } });
        const end = await m.start();
        assert.ok(end.kind === 'failed' || end.kind === 'ready', end.kind);
        await m.stop();
        assert.deepEqual(sentinels(dir), [], `nothing executed (${layout})`);
      }
      nothingLeft();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('sizing help from the GPUs probed over SSH', () => {
    const runners: HostRunner[] = [];
    const runnerFor = (host: string) => {
      const r = hostShellFor({ host }, { sshConfigFile: f.sshConfig, connectTimeoutSec: 5, controlRoot: f.root }).runner;
      runners.push(r);
      return r;
    };
    after(async () => {
      for (const r of runners.splice(0)) await r.close?.();
    });

    it('2× 8 H100: TP8 × PP2 over Ray fits, DP16 + EP is the alternative', async () => {
      const p = f.profile('Size H100', { workers: [1], env: { KIMI_FAKE_GPU_MODEL: 'NVIDIA H100 80GB HBM3' } });
      const r = await probeClusterGpus(p, runnerFor);
      assert.deepEqual(r.nodes.map((n) => n.gpus?.length), [8, 8]);
      assert.match(r.nodes[1]!.summary, /^8× NVIDIA H100 80GB HBM3, 79\.6 GiB each, all free$/);
      assert.equal(r.layout?.fits, true);
      assert.deepEqual(r.sizing.proposals.map((x) => x.kind), ['tp-pp-ray', 'dp-ep']);
      assert.match(r.lines.join('\n'), /Fits: TP8 × PP2 over Ray on .*34\.6 GiB each.*Recommended: TP8 × PP2 over Ray.*Alternative: DP16 \+ expert parallel/s);
    });

    it('8× H200 on the head alone would do: the sizing says no cluster is needed', async () => {
      const p = f.profile('Size H200', { workers: [1] });
      const r = await probeClusterGpus(p, runnerFor);
      assert.equal(r.sizing.proposals[0]!.kind, 'tp');
      assert.deepEqual(r.sizing.proposals[0]!.hosts, [f.hosts[0]!.host.alias]);
      assert.match(r.sizing.summary, /One host is enough/);
    });

    it('4× 8 A100 80GB: two hosts are enough, the others spare', async () => {
      const p = f.profile('Size A100', { workers: [1, 2, 3], env: { KIMI_FAKE_GPU_MODEL: 'NVIDIA A100-SXM4-80GB' } });
      const r = await probeClusterGpus(p, runnerFor);
      assert.equal(r.nodes.length, 4);
      assert.equal(r.sizing.proposals[0]!.kind, 'tp-pp-ray');
      assert.equal(r.sizing.proposals[0]!.pipelineParallel, 2);
      assert.match(r.sizing.summary, /2 more hosts could run further copies/);
      assert.equal(r.layout?.fits, true, 'the profile\'s TP8 × PP4 fits too');
    });

    it('a layout that cannot hold the model is refused before anything starts, with the numbers and what would fit', async () => {
      // 2 nodes of 8× A100 80GB at gpu-memory-utilization 0.55: 44 GiB usable per GPU.
      const p = f.profile('Too little memory', { workers: [1], gpuMemoryUtilization: 0.55, env: { KIMI_FAKE_GPU_MODEL: 'NVIDIA A100-SXM4-80GB' }, cluster: { layout: 'dp' } });
      const m = f.manager(p);
      const end = await m.start();
      assert.ok(end.kind === 'failed', JSON.stringify(end).slice(0, 600));
      assert.equal(end.diagnosis.code, 'layoutDoesNotFit');
      assert.match(end.diagnosis.title, /DP16 \+ expert parallel does not hold Kimi-K2\.5 on these GPUs/);
      assert.match(end.diagnosis.explanation, /= \d+(\.\d)? GiB per GPU, but the smallest GPU gives 44 GiB at gpu-memory-utilization 0\.55\. What fits these hosts: TP8 × PP2 over Ray/);
      nothingLeft();
    });
  });
});
