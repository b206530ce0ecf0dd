// A cluster profile inside the real VS Code extension host: two real sshd hosts on one LAN (network namespaces, each
// its own address) with the fake vllm / ray / nvidia-smi on their PATH. The profile arrives through kimi.servers like
// any other; "Kimi: Start Server" checks both nodes and starts Ray and vLLM in order; the Cluster Nodes view shows
// each node's role, state, GPUs and last log line; a node's log opens in its own terminal; "Kimi: Stop Server"
// leaves nothing running on either host. Then the worker's SSH link drops while the cluster serves (this machine loses
// its route to the worker, the cluster's own LAN stays up): the view and `kimi-vllm serve status --json` say so, the
// cluster keeps serving — the status bar, the chat header and `serve status` say "ready" with 1 node unreachable —,
// the node comes back when the link does; a stop with the link down stops what it can reach, and the worker it could
// not reach reads "not checked" (not "unreachable", which would be stale once the link is back) until Stop reaches it.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LifecycleState } from '../../src/core/server/lifecycleTypes';
import type { KimiApi } from '../../src/extension';
import type { HostToWebview, ServerView } from '../../src/shared/protocol';
import { statusBarModel } from '../../src/vscode/server/presentation';
import { repoRoot } from '../support/paths';
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

/** Runs `command` and returns what it showed with showInformationMessage / showWarningMessage. */
async function messagesOf<T>(command: () => Thenable<T>): Promise<{ result: T; info: string[]; warnings: string[] }> {
  const info: string[] = [];
  const warnings: string[] = [];
  const w = vscode.window as { showInformationMessage: unknown; showWarningMessage: unknown };
  const original = { info: w.showInformationMessage, warn: w.showWarningMessage };
  w.showInformationMessage = (m: string) => (info.push(m), Promise.resolve(undefined));
  w.showWarningMessage = (m: string) => (warnings.push(m), Promise.resolve(undefined));
  try {
    return { result: await command(), info, warnings };
  } finally {
    w.showInformationMessage = original.info;
    w.showWarningMessage = original.warn;
  }
}

/** A chat request to the cluster's API server (through the extension's tunnel): its HTTP status. */
async function chat(baseUrl: string, content: string): Promise<number> {
  const res = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'Kimi-K2.5', messages: [{ role: 'user', content }], max_tokens: 32 }),
    signal: AbortSignal.timeout(20_000),
  });
  await res.text();
  return res.status;
}

/** `kimi-vllm …` as a real process (the built dist/cli.js), as a person would run it in a terminal next to VS Code. */
function kimiVllm(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = path.join(repoRoot, 'dist', 'cli.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kimi-vllm ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
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

  /** The cluster profile as a user writes it in kimi.servers, made the active one. */
  const profile = () => ({ name, host: f.hosts[0]!.host.alias, sshConfigFile: f.sshConfig, modelDir: '~/models/Kimi-K2.5', servedModelName: 'Kimi-K2.5', env: FAST, cluster: { workers: [f.hosts[1]!.host.alias] } });
  async function useClusterProfile(a: KimiApi): Promise<void> {
    await cfg().update('servers', [profile()], vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.runningProfile.name === name && a.server.nodes !== undefined, 'the service to follow the cluster profile');
  }

  it('Start Server → the Cluster Nodes view follows both nodes to ready → a node\'s log → a chat → Stop Server leaves nothing on either host', async () => {
    const a = await api();
    const [head, worker] = [f.hosts[0]!.host.alias, f.hosts[1]!.host.alias];
    await useClusterProfile(a);

    // The view is there (its focus command exists only for a contributed view) and lists both nodes, stopped.
    await vscode.commands.executeCommand('kimi.clusterNodes.focus');
    const before = await a.cluster.waitForRows((rows) => rows.length === 2);
    assert.deepEqual(before.map((r) => [r.label, r.description]), [[head, 'head · stopped'], [worker, 'worker 1 · stopped']]);

    // Sizing help: every node's GPUs probed over SSH, the profile's layout checked, the smallest layout proposed.
    const sizing = await messagesOf(() => vscode.commands.executeCommand('kimi.checkClusterSizing') as Thenable<string[] | undefined>);
    const lines = sizing.result;
    const sizingMessages = sizing.info;
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

    assert.equal(await chat(result.baseUrl, 'hello'), 200);

    const stop = await messagesOf(() => vscode.commands.executeCommand('kimi.stopServer') as Thenable<LifecycleState>);
    assert.equal(stop.result.kind, 'stopped');
    const messages = stop.info;
    assert.ok(messages.some((m) => /^Kimi: Stopped cluster ".*" \(.*vLLM \(SIGINT\), Ray \(SIGINT\); .*Ray \(SIGINT\)\); no Ray or vLLM process and no GPU memory is left on any of its 2 nodes\.$/.test(m)), JSON.stringify(messages));
    const after = await a.cluster.waitForRows((r) => r.every((x) => / · stopped$/.test(x.description)));
    assert.equal(after.length, 2);
    for (const h of f.hosts) {
      assert.deepEqual(f.clusterProcesses(h), [], `nothing left on ${h.host.name}`);
      assert.deepEqual(f.claims(h), [], `no GPU memory held on ${h.host.name}`);
    }
  });

  it('a worker\'s SSH link drops while the cluster serves: the view, the status bar, the chat header and serve status say the link is lost, the cluster keeps serving, the node recovers with the link; Stop with the link down stops all it reaches and leaves the worker "not checked" until Stop reaches it', async () => {
    const a = await api();
    const [head, worker] = [f.hosts[0]!.host.alias, f.hosts[1]!.host.alias];
    const w = f.hosts[1]!;
    await useClusterProfile(a);
    const config = path.join(f.root, 'servers.json');
    fs.writeFileSync(config, JSON.stringify({ servers: [profile()] }));
    const status = async () => {
      const r = await kimiVllm(['serve', 'status', '--config', config, '--profile', name, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { state: string; nodes: { host: string; state: string; detail: string | null }[] };
    };
    const humanStatus = async () => {
      const r = await kimiVllm(['serve', 'status', '--config', config, '--profile', name]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    // The status bar item as StatusBar renders it, and the chat header as the chat view posts it.
    const statusBar = () => statusBarModel({ managed: a.server.state, download: a.server.download, endpoint: a.services.status.current, externalEndpoint: false });
    const headers: ServerView[] = [];
    const tap = a.chat.onDidPost((m: HostToWebview) => {
      if (typeof m === 'object' && m.type === 'server') headers.push(m.server);
    });
    await a.chat.receive({ type: 'ready' });

    const ready = (await vscode.commands.executeCommand('kimi.startServer', name)) as LifecycleState;
    assert.ok(ready.kind === 'ready', JSON.stringify(ready).slice(0, 1200));
    await a.cluster.waitForRows((r) => r.length === 2 && r.every((x) => / · ready$/.test(x.description)));
    const lostLine = new RegExp(
      `^SSH link lost, reconnecting \\(a lost link does not stop what runs there\\)\\. ${worker} is unreachable from this machine \\(ssh: connect to host ${w.host.address.replace(/\./g, '\\.')} port \\d+: No route to host\\)\\. Check the network or VPN\\.$`,
    );
    const stateOf = (r: { children: { label: string; description: string }[] }) => r.children.find((c) => c.label === 'State')?.description ?? '';

    // 1. The link drops: the worker is shown unreachable, in words, while the head serves on.
    let t = Date.now();
    await w.host.cutFromHere();
    try {
      const lost = await a.cluster.waitForRows((r) => r[1]?.description === 'worker 1 · unreachable', 30_000);
      console.log(`      link lost shown after ${Date.now() - t} ms`);
      assert.match(stateOf(lost[1]!), lostLine);
      assert.equal(lost[1]!.icon, 'debug-disconnect');
      assert.match(lost[1]!.tooltip, /^.*\nState: unreachable — SSH link lost, reconnecting/);
      assert.equal(lost[0]!.description, 'head · ready');
      assert.equal(a.server.state.kind, 'ready');
      assert.equal(await chat(ready.baseUrl, 'still there?'), 200, 'the cluster keeps serving without the worker\'s SSH link');

      // The overall status says so too: ready, with the worker unreachable — named, with the reason, in the tooltip.
      await waitFor(() => statusBar().text === '$(warning) Kimi: ready · 1 node unreachable', 'the status bar to say 1 node unreachable');
      const bar = statusBar();
      assert.equal(bar.tone, 'warning');
      assert.match(bar.tooltip, new RegExp(`^${worker} \\(worker 1\\) is unreachable: SSH link lost, reconnecting .*No route to host`, 'm'));
      await waitFor(() => headers.at(-1)?.detail !== undefined, 'the chat header to change');
      assert.equal(headers.at(-1)!.state, 'ready');
      assert.equal(headers.at(-1)!.detail, `Serving with 1 node unreachable: ${worker} (worker 1). See the Cluster Nodes view.`);

      // The same from a terminal: the cluster is ready, the worker cannot be asked.
      const s = await status();
      assert.equal(s.state, 'ready');
      assert.deepEqual(s.nodes.map((n) => [n.host, n.state]), [[head, 'ready'], [worker, 'unreachable']]);
      assert.match(s.nodes[1]!.detail ?? '', new RegExp(`^${worker} is unreachable from this machine \\(ssh: connect to host .*: No route to host\\)\\. Check the network or VPN\\.$`));
      const human = await humanStatus();
      assert.match(human, new RegExp(`^ready: Kimi-K2\\.5 on ${head} .*\\n(?:.*\\n)*  serving with 1 node unreachable: ${worker} \\(worker 1\\)\\n`), human);
      assert.match(human, new RegExp(`^  worker ${worker}(?: \\(.*\\))?: unreachable — ${worker} is unreachable from this machine`, 'm'), human);
    } finally {
      await w.host.restoreFromHere();
    }

    // 2. The link is back: the worker is shown as it was, and nothing was restarted.
    t = Date.now();
    const back = await a.cluster.waitForRows((r) => r.length === 2 && r.every((x) => / · ready$/.test(x.description)), 30_000);
    console.log(`      recovery shown after ${Date.now() - t} ms`);
    assert.equal(stateOf(back[1]!), 'Ray: its GPUs hold vLLM workers');
    assert.equal((a.server.state as { pid?: number }).pid, ready.pid);
    assert.deepEqual((await status()).nodes.map((n) => n.state), ['ready', 'ready']);
    // Plain ready again everywhere.
    await waitFor(() => statusBar().tone === undefined, 'the status bar\'s warning to go');
    assert.equal(statusBar().text, '$(pass-filled) Kimi: ready · Kimi-K2.5 · 2 nodes × 8× H100 80GB HBM3');
    assert.doesNotMatch(statusBar().tooltip, /unreachable/);
    await waitFor(() => headers.at(-1)?.detail === undefined, 'the chat header\'s line to go');
    assert.doesNotMatch(await humanStatus(), /unreachable/);
    tap.dispose();

    // 3. Stop while the worker cannot be reached: everything on the head is stopped and checked, the worker is named.
    await w.host.cutFromHere();
    try {
      await a.cluster.waitForRows((r) => r[1]?.description === 'worker 1 · unreachable', 30_000);
      const stop = await messagesOf(() => vscode.commands.executeCommand('kimi.stopServer') as Thenable<LifecycleState>);
      assert.equal(stop.result.kind, 'stopped');
      assert.equal(stop.warnings.length, 1, JSON.stringify(stop));
      assert.match(
        stop.warnings[0]!,
        new RegExp(`^Kimi: Stopped cluster "${name}" \\(${head}: vLLM \\(SIGINT\\), Ray \\(SIGINT\\)\\), but: ${worker}: could not be checked: ${worker} is unreachable from this machine \\(.*No route to host\\)\\. Check the network or VPN\\. Check those nodes \\(nvidia-smi, ray status, ss -ltnp\\)\\.$`),
      );
      assert.deepEqual(f.clusterProcesses(f.hosts[0]!), [], 'nothing left on the head');
      assert.deepEqual(f.claims(f.hosts[0]!), [], 'no GPU memory held on the head');
      assert.equal(a.server.state.kind, 'stopped');
      assert.doesNotMatch(statusBar().tooltip, /unreachable/);
    } finally {
      await w.host.restoreFromHere();
    }
    // The worker reads "not checked", with why and what to do — a fact about that Stop, still true with the link
    // back (nothing watches a stopped cluster), never "unreachable" as if it were current.
    const unchecked = a.cluster.rows();
    assert.deepEqual(unchecked.map((r) => r.description), ['head · stopped', 'worker 1 · not checked']);
    assert.equal(unchecked[1]!.icon, 'warning');
    assert.match(
      stateOf(unchecked[1]!),
      new RegExp(`^Unreachable during Stop: ${worker} is unreachable from this machine \\(.*No route to host\\)\\. Check the network or VPN\\. What ran there may still run: Stop again once it is back \\(Stop checks every node\\)\\.$`),
    );
    assert.match(unchecked[1]!.tooltip, /\nState: not checked — Unreachable during Stop: /);
    assert.equal(stateOf(unchecked[0]!), 'nothing running');

    // 4. With the link back, Stop again: nothing is left on either host (the worker's Ray ended with the head's, as
    //    Ray's do, or this stop ends it).
    const again = await messagesOf(() => vscode.commands.executeCommand('kimi.stopServer') as Thenable<LifecycleState>);
    assert.equal(again.result.kind, 'stopped');
    assert.deepEqual(again.warnings, []);
    assert.ok(
      again.info.some((m) => new RegExp(`^Kimi: (No server of cluster "${name}" is running on any of its 2 nodes; nothing to stop\\.|Stopped cluster "${name}" \\(${worker}: Ray \\(SIG\\w+\\)\\); no Ray or vLLM process and no GPU memory is left on any of its 2 nodes\\.)$`).test(m)),
      JSON.stringify(again),
    );
    await a.cluster.waitForRows((r) => r.every((x) => / · stopped$/.test(x.description)));
    for (const h of f.hosts) {
      assert.deepEqual(f.clusterProcesses(h), [], `nothing left on ${h.host.name}`);
      assert.deepEqual(f.claims(h), [], `no GPU memory held on ${h.host.name}`);
    }
  });
});
