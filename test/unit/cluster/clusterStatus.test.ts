// What the status bar, the chat header and the log line say about a serving cluster some of whose nodes cannot be
// asked over SSH (src/vscode/server/presentation.ts: plain functions of the state, no `vscode`). The state comes from
// ClusterManager (its `unreachableNodes` while a node's link is down); the real flow is in test/integration/cluster.
import { strict as assert } from 'node:assert';
import type { LifecycleState, UnreachableNode } from '../../../src/core/server/lifecycleTypes';
import type { ServerView } from '../../../src/shared/protocol';
import { chatServerView, describeState, statusBarModel } from '../../../src/vscode/server/presentation';

const ref = { profile: 'two-nodes', host: 'vs-head' };
const idle = { kind: 'idle' } as const;
const endpoint: ServerView = { state: 'ready', baseUrl: 'http://127.0.0.1:40001/v1', modelId: 'Kimi-K2.5' };
const reason = 'SSH link lost, reconnecting (a lost link does not stop what runs there). vs-worker is unreachable from this machine (ssh: connect to host 10.214.0.3 port 22: No route to host). Check the network or VPN.';
const worker: UnreachableNode = { index: 1, host: 'vs-worker', label: 'vs-worker (worker 1)', reason };

function ready(unreachableNodes?: UnreachableNode[]): LifecycleState {
  return {
    kind: 'ready',
    baseUrl: 'http://127.0.0.1:40001/v1',
    modelId: 'Kimi-K2.5',
    pid: 4242,
    gpus: '2 nodes × 8× NVIDIA H100 80GB HBM3',
    reattached: false,
    ...ref,
    ...(unreachableNodes ? { unreachableNodes } : {}),
  };
}

const bar = (managed: LifecycleState) => statusBarModel({ managed, download: idle, endpoint, externalEndpoint: false });

describe('a serving cluster with unreachable nodes: status bar, chat header, log line', () => {
  it('the status bar says "ready · 1 node unreachable" in the warning colour, the tooltip names the node and why', () => {
    const m = bar(ready([worker]));
    assert.equal(m.text, '$(warning) Kimi: ready · 1 node unreachable');
    assert.equal(m.tone, 'warning');
    const tips = m.tooltip.split('\n');
    assert.ok(tips.includes(`vs-worker (worker 1) is unreachable: ${reason}`), m.tooltip);
    assert.ok(tips.includes('The cluster keeps serving; a node shows its own state again once its SSH link answers (Cluster Nodes view).'), m.tooltip);
    // The model and the GPUs are still there, in the tooltip.
    assert.ok(tips.includes('Model: Kimi-K2.5') && tips.includes('GPUs: 2 nodes × 8× NVIDIA H100 80GB HBM3'), m.tooltip);
  });

  it('once every link answers again it is plain ready: model and GPUs, no warning', () => {
    const m = bar(ready());
    assert.equal(m.text, '$(pass-filled) Kimi: ready · Kimi-K2.5 · 2 nodes × 8× H100 80GB HBM3');
    assert.equal(m.tone, undefined);
    assert.doesNotMatch(m.tooltip, /unreachable/);
    assert.deepEqual(bar(ready([])), m);
  });

  it('several nodes: "2 nodes unreachable", each named in the tooltip; the item stays short', () => {
    const other: UnreachableNode = { index: 2, host: 'gpu-node-with-a-very-long-name.cluster.example.org', label: 'gpu-node-with-a-very-long-name.cluster.example.org (worker 2)', reason: 'SSH link lost, reconnecting.' };
    const m = bar(ready([worker, other]));
    assert.equal(m.text, '$(warning) Kimi: ready · 2 nodes unreachable');
    assert.match(m.tooltip, /^vs-worker \(worker 1\) is unreachable: /m);
    assert.match(m.tooltip, /^gpu-node-with-a-very-long-name\.cluster\.example\.org \(worker 2\) is unreachable: SSH link lost, reconnecting\.$/m);
  });

  it('the head\'s own link down (the tunnel reconnecting) is what the item says; the nodes are in the tooltip', () => {
    const head: UnreachableNode = { index: 0, host: 'vs-head', label: 'vs-head (head)', reason: 'SSH link lost, reconnecting.' };
    const s = { ...ready([head, worker]), reconnecting: { since: 0, attempt: 2, reason: 'ssh: connect to host vs-head: No route to host' } } as LifecycleState;
    const m = bar(s);
    assert.equal(m.text, '$(debug-disconnect) Kimi: ready · reconnecting to vs-head…');
    assert.equal(m.tone, 'warning');
    assert.match(m.tooltip, /^vs-head \(head\) is unreachable: /m);
    assert.match(m.tooltip, /^vs-worker \(worker 1\) is unreachable: /m);
  });

  it('a cluster still starting keeps its phase in the item and names the unreachable node in the tooltip', () => {
    const s: LifecycleState = { kind: 'starting', phase: 'loadingWeights', progress: { done: 12, total: 64 }, since: 0, ...ref, unreachableNodes: [worker] };
    const m = bar(s);
    assert.equal(m.text, '$(loading~spin) Kimi: starting: loading weights 12/64');
    assert.match(m.tooltip, /^vs-worker \(worker 1\) is unreachable: SSH link lost/m);
  });

  it('the chat header: still "ready" with its model, and a line saying it serves with the node unreachable', () => {
    const v = chatServerView(endpoint, ready([worker]), idle);
    assert.equal(v.state, 'ready');
    assert.equal(v.modelId, 'Kimi-K2.5');
    assert.equal(v.detail, 'Serving with 1 node unreachable: vs-worker (worker 1). See the Cluster Nodes view.');
    assert.equal(chatServerView(endpoint, ready(), idle).detail, undefined);
  });

  it('the log line of the state change names the nodes', () => {
    assert.equal(describeState(ready([worker])), 'ready: Kimi-K2.5 at http://127.0.0.1:40001/v1 on 2 nodes × 8× NVIDIA H100 80GB HBM3 · 1 node unreachable: vs-worker (worker 1)');
    assert.equal(describeState(ready()), 'ready: Kimi-K2.5 at http://127.0.0.1:40001/v1 on 2 nodes × 8× NVIDIA H100 80GB HBM3');
  });
});
