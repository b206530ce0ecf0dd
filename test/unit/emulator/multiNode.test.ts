// The fakes as a forming cluster, on real SSH hosts that share one LAN (network namespaces, sshd in each): the fake
// `ray` (a head and a worker that joins it over the network, `ray status`, a worker that cannot reach its head), the
// fake `vllm` as a Ray driver (actors holding GPU memory on every node, the placement-group wait when GPUs are
// missing, a node that dies mid-start) and vLLM's native multi-node data parallel (a head that waits for its
// headless ranks).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseStart, parseStatus, parseStop, startDetachedScript, statusScript, stopScript, tailScript, parseTail } from '../../../src/core/server/remoteScripts';
import { join } from '../../../src/core/server/shellQuote';
import { SshConnection } from '../../../src/core/server/ssh';
import { createSshLan, startSshHost, type SshHost, type SshLan } from '../../support/sshHost';
import { emulatorBin, tempDir, waitFor } from '../server/kit';

interface Node {
  host: SshHost;
  conn: SshConnection;
  gpuDir: string;
}

const FAST = { KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5' };

describe('fake ray and vllm across hosts (real sshd on a shared LAN)', function () {
  this.timeout(120_000);
  let lan: SshLan;
  let root: string;
  let controlRoot: string;
  const nodes: Node[] = [];
  const running: { node: Node; stateDir: string }[] = [];

  before(async () => {
    root = tempDir('multinode');
    controlRoot = fs.mkdtempSync('/tmp/kmn-');
    lan = await createSshLan();
    for (const name of ['head', 'worker']) {
      const gpuDir = path.join(root, `${name}-gpus`);
      fs.mkdirSync(gpuDir, { recursive: true });
      const host = await startSshHost({
        name,
        lan,
        binDirs: [emulatorBin],
        env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: gpuDir, RAY_TMPDIR: path.join(root, `${name}-ray`), ...FAST },
      });
      fs.mkdirSync(path.join(host.home, 'model'), { recursive: true });
      const controlDir = fs.mkdtempSync(path.join(controlRoot, 'c-'));
      nodes.push({ host, gpuDir, conn: new SshConnection({ destination: host.alias, configFile: host.configFile, controlDir, connectTimeoutSec: 5 }) });
    }
  });

  afterEach(async () => {
    for (const r of running.splice(0).reverse()) {
      await r.node.conn.exec(stopScript({ stateDir: r.stateDir, graceIntSec: 5, graceTermSec: 2 }), { timeoutMs: 30_000 }).catch(() => undefined);
    }
  });

  after(async () => {
    for (const n of nodes) {
      await n.conn.close().catch(() => undefined);
      await n.host.stop();
    }
    lan?.stop();
    for (const d of [root, controlRoot]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const [head, worker] = [() => nodes[0]!, () => nodes[1]!];

  async function launch(node: Node, name: string, argv: string[], env: Record<string, string> = {}): Promise<string> {
    const stateDir = `~/.mn/${name}`;
    const exports = Object.entries(env).map(([k, v]) => `export ${k}='${v}'`);
    const r = parseStart(await node.conn.exec(startDetachedScript({ stateDir, command: [...exports, join(argv)].join('\n') }), { timeoutMs: 20_000 }));
    assert.equal(r.kind, 'started', JSON.stringify(r));
    running.push({ node, stateDir });
    return stateDir;
  }

  async function log(node: Node, stateDir: string): Promise<string> {
    return parseTail((await node.conn.exec(tailScript({ stateDir, offset: 0, maxBytes: 4 << 20 }), { timeoutMs: 20_000 })).stdoutBuffer, 0).text;
  }

  function waitLog(node: Node, stateDir: string, what: RegExp, ms = 30_000): Promise<string> {
    return waitFor(`${what} in ${stateDir} on ${node.host.name}`, async () => {
      const text = await log(node, stateDir);
      return what.test(text) ? text : '';
    }, ms, 100);
  }

  async function exec(node: Node, argv: string[]): Promise<{ code: number; out: string }> {
    const r = await node.conn.exec(join(argv), { timeoutMs: 30_000 });
    return { code: r.code, out: r.stdout + r.stderr };
  }

  async function gpuHolders(node: Node): Promise<string[]> {
    const r = await exec(node, ['nvidia-smi', '--query-compute-apps=pid,process_name,used_memory', '--format=csv,noheader']);
    return r.out.split('\n').filter((l) => l.trim());
  }

  async function alive(node: Node, stateDir: string): Promise<boolean> {
    return parseStatus((await node.conn.exec(statusScript({ stateDir }), { timeoutMs: 20_000 })).stdout).alive;
  }

  async function startCluster(): Promise<{ headRay: string; workerRay: string }> {
    const h = head().host.address;
    const headRay = await launch(head(), 'ray-head', ['ray', 'start', '--head', '--port=6379', `--node-ip-address=${h}`, '--block', '--disable-usage-stats']);
    await waitLog(head(), headRay, /Ray runtime started\./);
    const workerRay = await launch(worker(), 'ray-worker', ['ray', 'start', `--address=${h}:6379`, `--node-ip-address=${worker().host.address}`, '--block']);
    await waitLog(worker(), workerRay, /Ray runtime started\./);
    return { headRay, workerRay };
  }

  it('ray: the worker joins the head over the LAN, ray status counts both nodes; a wrong head address fails like Ray; stopping ends every Ray process', async () => {
    const { headRay, workerRay } = await startCluster();
    const headLog = await log(head(), headRay);
    assert.match(headLog, new RegExp(`Local node IP: ${head().host.address.replace(/\./g, '\\.')}`));
    assert.match(headLog, new RegExp(`ray start --address='${head().host.address.replace(/\./g, '\\.')}:6379'`));
    assert.match(headLog, /This command will now block forever until terminated by a signal\./);
    const status = await exec(head(), ['ray', 'status']);
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /^======== Autoscaler status: /m);
    assert.equal((status.out.match(/^ 1 node_[0-9a-f]{56}$/gm) ?? []).length, 2, status.out);
    assert.match(status.out, /^ 0\.0\/16\.0 GPU$/m);
    assert.match(status.out, /^ \(no failures\)$/m);

    // From the worker, the head's address on a port nothing listens on: Ray's connection failure, exit 1.
    const bad = await exec(worker(), ['ray', 'start', `--address=${head().host.address}:6390`, '--block']);
    assert.equal(bad.code, 1);
    assert.match(bad.out, new RegExp(`Failed to connect to GCS at address ${head().host.address.replace(/\./g, '\\.')}:6390 within 5 seconds\\.`));

    // SIGINT to the worker's `ray start --block` group: it leaves, the head reports the node as gone.
    const stopped = parseStop((await worker().conn.exec(stopScript({ stateDir: workerRay, graceIntSec: 5, graceTermSec: 2 }), { timeoutMs: 30_000 })).stdout);
    assert.equal(stopped.result, 'INT');
    await waitFor('the head to lose the worker', async () => /^ 0\.0\/8\.0 GPU$/m.test((await exec(head(), ['ray', 'status'])).out), 10_000, 100);
    assert.match((await exec(head(), ['ray', 'status'])).out, new RegExp(`NodeTerminated \\(ip: ${worker().host.address.replace(/\./g, '\\.')}\\)`));
    assert.equal((await exec(worker(), ['ray', 'stop'])).out.trim(), 'Did not find any active Ray processes.');
    assert.equal(await alive(worker(), workerRay), false);
  });

  it('vllm -tp 8 -pp 2 --distributed-executor-backend ray: actors on both nodes hold the GPUs, the head serves; SIGINT frees every GPU', async () => {
    await startCluster();
    const h = head().host.address;
    const v = await launch(head(), 'vllm', ['vllm', 'serve', path.join(head().host.home, 'model'), '-tp', '8', '-pp', '2', '--distributed-executor-backend', 'ray', '--trust-remote-code', '--port', '8000', '--host', '127.0.0.1'], { RAY_ADDRESS: `${h}:6379`, VLLM_HOST_IP: h });
    const text = await waitLog(head(), v, /Application startup complete\./, 60_000);
    assert.match(text, new RegExp(`Connecting to existing Ray cluster at address: ${h.replace(/\./g, '\\.')}:6379\\.\\.\\.`));
    assert.match(text, /Tensor parallel size \(16\) exceeds available GPUs \(8\)/);
    assert.match(text, new RegExp(`\\(RayWorkerWrapper pid=\\d+, ip=${worker().host.address.replace(/\./g, '\\.')}\\)[^\\n]*rank 15 in world size 16 is assigned as DP rank 0, PP rank 1, TP rank 7`));
    assert.equal((await gpuHolders(head())).filter((l) => l.includes('ray::RayWorkerWrapper')).length, 8);
    assert.equal((await gpuHolders(worker())).filter((l) => l.includes('ray::RayWorkerWrapper')).length, 8);
    assert.match((await exec(head(), ['ray', 'status'])).out, /^ 16\.0\/16\.0 GPU$/m);

    const stopped = parseStop((await head().conn.exec(stopScript({ stateDir: v, graceIntSec: 5, graceTermSec: 2 }), { timeoutMs: 30_000 })).stdout);
    assert.equal(stopped.result, 'INT');
    await waitFor('the actors to be gone on both nodes', async () => (await gpuHolders(head())).length === 0 && (await gpuHolders(worker())).length === 0, 10_000, 100);
  });

  it('a node that dies while vLLM loads: ActorDiedError naming the dead node, the engine fails to start', async () => {
    const { workerRay } = await startCluster();
    const h = head().host.address;
    const v = await launch(head(), 'vllm', ['vllm', 'serve', path.join(head().host.home, 'model'), '-tp', '8', '-pp', '2', '--distributed-executor-backend', 'ray', '--trust-remote-code', '--port', '8000'], {
      RAY_ADDRESS: `${h}:6379`,
      VLLM_HOST_IP: h,
      KIMI_FAKE_VLLM_SHARD_MS: '200',
    });
    await waitLog(head(), v, /Loading safetensors checkpoint shards: +\d+% Completed \| [1-9]/);
    // The worker host loses power: its whole Ray process group is gone at once.
    const pid = parseStatus((await worker().conn.exec(statusScript({ stateDir: workerRay }), { timeoutMs: 20_000 })).stdout).pid!;
    process.kill(-pid, 'SIGKILL');
    const text = await waitLog(head(), v, /Engine core initialization failed/, 20_000);
    assert.match(text, /ray\.exceptions\.ActorDiedError: The actor died unexpectedly before finishing this task\./);
    assert.match(text, new RegExp(`ip: ${worker().host.address.replace(/\./g, '\\.')}`));
    assert.match(text, /The actor is dead because its node has died\. Node Id: [0-9a-f]{56}/);
    await waitFor('vllm to exit', async () => !(await alive(head(), v)), 10_000, 100);
    await waitFor('the head GPUs to be free', async () => (await gpuHolders(head())).length === 0, 10_000, 100);
  });

  it('too few GPUs in the Ray cluster: the placement-group warning, the wait, then vLLM\'s ValueError with the numbers', async () => {
    const h = head().host.address;
    const r = await launch(head(), 'ray-head', ['ray', 'start', '--head', '--port=6379', `--node-ip-address=${h}`, '--block', '--disable-usage-stats']);
    await waitLog(head(), r, /Ray runtime started\./);
    const v = await launch(head(), 'vllm', ['vllm', 'serve', path.join(head().host.home, 'model'), '-tp', '8', '-pp', '2', '--distributed-executor-backend', 'ray', '--trust-remote-code', '--port', '8000'], {
      RAY_ADDRESS: `${h}:6379`,
      KIMI_FAKE_VLLM_PG_TIMEOUT_S: '1',
    });
    const text = await waitLog(head(), v, /Engine core initialization failed/, 20_000);
    assert.match(text, /WARNING .*The number of required GPUs exceeds the total number of available GPUs in the placement group\./);
    assert.match(text, /Waiting for creating a placement group of specs for 1 seconds\. specs=\[\{'GPU': 1\.0, 'node:[\d.]+': 0\.001\}, \{'GPU': 1\.0\}/);
    assert.match(text, /ValueError: Cannot provide a placement group requiring 16 GPUs \(placement_group_specs=\[.*\]\) within 1 seconds\./);
  });

  it('dp: the head waits for the headless ranks of the other node, then serves; each node holds its own GPUs', async () => {
    const h = head().host.address;
    const dp = ['--data-parallel-size', '16', '--data-parallel-size-local', '8', '--data-parallel-address', h, '--data-parallel-rpc-port', '13345', '--enable-expert-parallel', '-tp', '1', '--trust-remote-code'];
    const headV = await launch(head(), 'vllm', ['vllm', 'serve', path.join(head().host.home, 'model'), ...dp, '--port', '8000']);
    await waitLog(head(), headV, /init engine \(profile, create kv cache, warmup model\)/);
    assert.equal((await gpuHolders(head())).length, 8);
    const before = await log(head(), headV);
    assert.doesNotMatch(before, /Application startup complete/, 'not ready without the other node');
    const w = await launch(worker(), 'vllm', ['vllm', 'serve', path.join(worker().host.home, 'model'), ...dp, '--headless', '--data-parallel-start-rank', '8']);
    await waitLog(head(), headV, /Application startup complete\./, 30_000);
    const wlog = await log(worker(), w);
    assert.match(wlog, new RegExp(`Launching 8 data parallel engine\\(s\\) in headless mode, with head node address tcp://${h.replace(/\./g, '\\.')}:13345\\.`));
    assert.match(wlog, /\(EngineCore_DP15 pid=\d+\)/);
    assert.equal((await gpuHolders(worker())).length, 8);
  });
});
