// A cluster profile inside the real VS Code extension host: two real sshd hosts on one LAN (network namespaces, each
// its own address) with the fake vllm / ray / nvidia-smi on their PATH. The profile arrives through kimi.servers like
// any other; "Kimi: Start Server" checks both nodes and starts Ray and vLLM in order; the Cluster Nodes view shows
// each node's role, state, GPUs and last log line; a node's log opens in its own terminal; "Kimi: Stop Server"
// leaves nothing running on either host.
import { strict as assert } from 'node:assert';
import * as vscode from 'vscode';
import type { LifecycleState } from '../../src/core/server/lifecycleTypes';
import type { KimiApi } from '../../src/extension';
import { clusterFixture, FAST, type ClusterFixture } from '../unit/cluster/clusterKit';

const EXT_ID = 'kimi-selfhosted.kimi-vllm';
const cfg = () => vscode.workspace.getConfiguration('kimi');

async function api(): Promise<KimiApi> {
  const ext = vscode.extensions.getExtension<KimiApi>(EXT_ID)!;
  return ext.isActive ? ext.exports : await ext.activate();
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a cluster profile in the extension (real sshd hosts on a LAN)', function () {
  this.timeout(240_000);
  let f: ClusterFixture;
  const name = `cluster-${process.pid}`;

  before(async () => {
    f = await clusterFixture([
      { name: 'vs-head', model: 'NVIDIA H100 80GB HBM3' },
      { name: 'vs-worker', model: 'NVIDIA H100 80GB HBM3' },
    ]);
  });

  after(async () => {
    const a = await api();
    if (a.server.state.kind !== 'stopped' && a.server.state.kind !== 'failed') await a.server.stop().catch(() => undefined);
    await cfg().update('servers', undefined, vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', undefined, vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.runningProfile.name === 'This machine', 'the default profile again');
    await f?.cleanup();
  });

  it('Start Server → the Cluster Nodes view follows both nodes to ready → a node\'s log → a chat → Stop Server leaves nothing on either host', async () => {
    const a = await api();
    const [head, worker] = [f.hosts[0]!.host.alias, f.hosts[1]!.host.alias];
    await cfg().update(
      'servers',
      [{ name, host: head, sshConfigFile: f.sshConfig, modelDir: '~/models/Kimi-K2.5', servedModelName: 'Kimi-K2.5', env: FAST, cluster: { workers: [worker] } }],
      vscode.ConfigurationTarget.Global,
    );
    await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.runningProfile.name === name && a.server.nodes !== undefined, 'the service to follow the cluster profile');

    // The view is there (its focus command exists only for a contributed view) and lists both nodes, stopped.
    await vscode.commands.executeCommand('kimi.clusterNodes.focus');
    const before = await a.cluster.waitForRows((rows) => rows.length === 2);
    assert.deepEqual(before.map((r) => [r.label, r.description]), [[head, 'head · stopped'], [worker, 'worker 1 · stopped']]);

    // Sizing help: every node's GPUs probed over SSH, the profile's layout checked, the smallest layout proposed.
    const sizingMessages: string[] = [];
    const info = vscode.window.showInformationMessage;
    (vscode.window as { showInformationMessage: unknown }).showInformationMessage = (m: string) => {
      sizingMessages.push(m);
      return Promise.resolve(undefined);
    };
    let lines: string[] | undefined;
    try {
      lines = (await vscode.commands.executeCommand('kimi.checkClusterSizing')) as string[] | undefined;
    } finally {
      (vscode.window as { showInformationMessage: unknown }).showInformationMessage = info;
    }
    assert.ok(lines && lines.length === 4, JSON.stringify(lines));
    assert.match(lines[0]!, new RegExp(`^${head} \\(head\\): 8× NVIDIA H100 80GB HBM3, 79\\.6 GiB each, all free$`));
    assert.ok(sizingMessages.some((m) => /^Kimi: Fits: TP8 × PP2 over Ray on .* Recommended: TP8 × PP2 over Ray/.test(m)), JSON.stringify(sizingMessages));

    const seen: string[] = [];
    const sub = a.server.onDidChange((s) => seen.push(s.kind === 'preflight' ? `preflight:${s.detail}` : s.kind === 'starting' ? `starting:${s.phase}` : s.kind));
    const result = (await vscode.commands.executeCommand('kimi.startServer', name)) as LifecycleState;
    sub.dispose();
    assert.ok(result.kind === 'ready', JSON.stringify(result).slice(0, 1200));
    assert.equal(result.modelId, 'Kimi-K2.5');
    assert.equal(result.gpus, '2 nodes × 8× NVIDIA H100 80GB HBM3');
    assert.ok(seen.some((s) => /^preflight:Starting Ray on /.test(s)) && seen.includes('starting:loadingWeights'), seen.join(' | '));

    const rows = await a.cluster.waitForRows((r) => r.length === 2 && r.every((x) => / · ready$/.test(x.description) && x.children.some((c) => c.label === 'Last log line')));
    assert.deepEqual(rows.map((r) => r.description), ['head · ready', 'worker 1 · ready']);
    assert.equal(rows[0]!.icon, 'pass-filled');
    for (const r of rows) {
      const facts = Object.fromEntries(r.children.map((c) => [c.label, c.description]));
      assert.match(facts.GPUs ?? '', /^8× NVIDIA H100 80GB HBM3, 79\.6 GiB each/);
      assert.match(facts.Address ?? '', /^10\.214\.\d+\.\d+$/);
    }
    assert.match(rows[0]!.tooltip, new RegExp(`^${head} \\(head\\)\\nState: ready — vLLM: serving Kimi-K2\\.5`));

    // The worker's log in its own terminal.
    await vscode.commands.executeCommand('kimi.showNodeLogs', 1);
    await waitFor(() => vscode.window.terminals.some((t) => t.name === `Kimi Server: ${name} · ${worker}`), 'the worker\'s log terminal');

    const chat = await fetch(`${result.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'Kimi-K2.5', messages: [{ role: 'user', content: 'hello' }], max_tokens: 32 }),
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(chat.status, 200);

    const messages: string[] = [];
    const original = vscode.window.showInformationMessage;
    (vscode.window as { showInformationMessage: unknown }).showInformationMessage = (m: string) => {
      messages.push(m);
      return Promise.resolve(undefined);
    };
    try {
      const stopped = (await vscode.commands.executeCommand('kimi.stopServer')) as LifecycleState;
      assert.equal(stopped.kind, 'stopped');
    } finally {
      (vscode.window as { showInformationMessage: unknown }).showInformationMessage = original;
    }
    assert.ok(messages.some((m) => /^Kimi: Stopped cluster ".*" \(.*vLLM \(SIGINT\), Ray \(SIGINT\); .*Ray \(SIGINT\)\); no Ray or vLLM process and no GPU memory is left on any of its 2 nodes\.$/.test(m)), JSON.stringify(messages));
    const after = await a.cluster.waitForRows((r) => r.every((x) => / · stopped$/.test(x.description)));
    assert.equal(after.length, 2);
    for (const h of f.hosts) {
      assert.deepEqual(f.clusterProcesses(h), [], `nothing left on ${h.host.name}`);
      assert.deepEqual(f.claims(h), [], `no GPU memory held on ${h.host.name}`);
    }
  });
});
