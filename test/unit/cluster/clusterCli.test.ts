// kimi-vllm with a cluster profile, as a real process (dist/cli.js) against real SSH hosts on a LAN: `serve start`
// leaves the cluster running and exits 0, `serve status --json` has a `nodes` array, `serve logs --node` reads a
// worker's log, `gpus` gives the sizing help, `download` puts the model on every node (or once on shared storage),
// `serve stop` leaves nothing anywhere.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, runCli, type CliRun } from '../../support/cliProcess';
import { clusterFixture, FAST, type ClusterFixture } from './clusterKit';

const cli = (args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<CliRun> => runCli(args, { env, timeoutMs });

describe('kimi-vllm with a cluster profile (real process, real sshd hosts on a LAN)', function () {
  this.timeout(180_000);
  let f: ClusterFixture;
  let config: string;
  let env: Record<string, string>;

  before(async () => {
    assert.ok(fs.existsSync(CLI), 'dist/cli.js is built (node esbuild.mjs)');
    f = await clusterFixture([
      { name: 'c0', model: 'NVIDIA H100 80GB HBM3', shards: 0 },
      { name: 'c1', model: 'NVIDIA H100 80GB HBM3', shards: false },
    ]);
    config = path.join(f.root, 'servers.json');
    const base = { host: f.hosts[0]!.host.alias, modelDir: '~/models/Kimi-K2.5', env: FAST };
    fs.writeFileSync(
      config,
      JSON.stringify({
        servers: [
          { name: 'cli-cluster', ...base, cluster: { workers: [f.hosts[1]!.host.alias] } },
          { name: 'cli-shared', ...base, modelDir: path.join(f.root, 'shared', 'Kimi-K2.5'), cluster: { workers: [f.hosts[1]!.host.alias], sharedStorage: true } },
        ],
      }),
    );
    env = { KIMI_VLLM_SSH_CONFIG: f.sshConfig, KIMI_VLLM_STOP_INT_SEC: '5', KIMI_VLLM_STOP_TERM_SEC: '3', KIMI_FAKE_MODELSCOPE_SCALE: '1e9' };
  });
  after(async () => {
    if (f && config) await cli(['serve', 'stop', '--config', config, '--profile', 'cli-cluster'], env).catch(() => undefined);
    await f?.cleanup();
  });

  it('a worker without the model is refused; download puts it on every node; start, status --json with nodes, logs --node, stop', async () => {
    const refused = await cli(['serve', 'start', '--config', config, '--profile', 'cli-cluster'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`kimi-vllm: The model is not on ${f.hosts[1]!.host.alias} \\(worker 1\\): .*Nothing was started\\.`));

    // Only the small files: this machine's disk cannot hold 595 GB twice (the disk check would refuse).
    const dl = await cli(['download', '--config', config, '--profile', 'cli-cluster', '--include', '*.json', '--json'], env);
    assert.equal(dl.code, 0, dl.stderr);
    const last = JSON.parse(dl.stdout.trim().split('\n').at(-1)!);
    assert.equal(last.kind, 'done');
    assert.match(last.dir, /Kimi-K2\.5 on each of the 2 nodes$/);
    for (const h of f.hosts) assert.ok(fs.existsSync(path.join(h.host.home, 'models', 'Kimi-K2.5', 'config.json')), `the model is on ${h.host.name}`);

    const started = await cli(['serve', 'start', '--config', config, '--profile', 'cli-cluster'], env);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /^ready: .* \(pid \d+\) on 2 nodes × 8× NVIDIA H100 80GB HBM3/m);
    assert.match(started.stdout, /ssh -F .* -N -L 127\.0\.0\.1:8000:127\.0\.0\.1:8000/);

    const status = await cli(['serve', 'status', '--config', config, '--profile', 'cli-cluster', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.equal(s.state, 'ready');
    assert.deepEqual(
      s.nodes.map((n: { host: string; role: string; state: string; ip: string }) => [n.role, n.host, n.state]),
      [['head', f.hosts[0]!.host.alias, 'ready'], ['worker', f.hosts[1]!.host.alias, 'ready']],
    );
    assert.match(s.nodes[1].gpus, /8× NVIDIA H100 80GB HBM3, 79\.6 GiB each, all in use/);
    assert.ok(s.nodes[1].pids.ray > 0);
    assert.match(s.nodes[0].lastLine, /\S/);

    const logs = await cli(['serve', 'logs', '--config', config, '--profile', 'cli-cluster', '--node', f.hosts[1]!.host.alias, '--lines', '40'], env);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /Ray runtime started\./);
    const bad = await cli(['serve', 'logs', '--config', config, '--profile', 'cli-cluster', '--node', 'nope'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--node: the cluster "cli-cluster" has no node "nope" \(its nodes: 0 gpu-test-\d+, 1 gpu-test-\d+\)/);

    const stopped = await cli(['serve', 'stop', '--config', config, '--profile', 'cli-cluster', '--json'], env);
    assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
    const report = JSON.parse(stopped.stdout);
    assert.deepEqual(report.nodes.map((n: { stopped: string[] }) => n.stopped), [['vLLM (SIGINT)', 'Ray (SIGINT)'], ['Ray (SIGINT)']]);
    for (const h of f.hosts) {
      assert.deepEqual(f.clusterProcesses(h), []);
      assert.deepEqual(f.claims(h), []);
    }
  });

  it('gpus: every node and the sizing verdict; download on shared storage goes once, to the head', async () => {
    const g = await cli(['gpus', '--config', config, '--profile', 'cli-cluster'], env);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /\(head\): 8× NVIDIA H100 80GB HBM3, 79\.6 GiB each, all free\n.*\(worker 1\): 8× NVIDIA H100 80GB HBM3/);
    assert.match(g.stdout, /Fits: TP8 × PP2 over Ray on /);
    assert.match(g.stdout, /Recommended: TP8 × PP2 over Ray/);
    const j = JSON.parse((await cli(['gpus', '--config', config, '--profile', 'cli-cluster', '--json'], env)).stdout);
    assert.equal(j.layout.fits, true);
    assert.deepEqual(j.sizing.proposals.map((p: { kind: string }) => p.kind), ['tp-pp-ray', 'dp-ep']);

    const dl = await cli(['download', '--config', config, '--profile', 'cli-shared', '--include', '*.json'], env);
    assert.equal(dl.code, 0, dl.stderr);
    assert.match(dl.stdout, new RegExp(`downloaded moonshotai/Kimi-K2\\.5 to ${path.join(f.root, 'shared', 'Kimi-K2.5').replace(/[.]/g, '\\.')}\\n`));
  });
});
