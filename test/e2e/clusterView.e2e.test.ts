// A person serves Kimi-K2.5 from two GPU hosts and watches the Cluster Nodes view: each node with its role and state,
// its GPUs, address, what runs there and the last line of its log — read from the real workbench's DOM in Chromium,
// and photographed (test-results/cluster-nodes.png, the README's). The hosts are real: two sshd in network namespaces
// on one LAN (test/unit/cluster/clusterKit.ts, as the integration tier's cluster test), the fake ray / vllm /
// nvidia-smi on their PATH; the extension reaches them over SSH like any GPU host. Then the worker's SSH link drops
// (this machine loses its route to it; the cluster's LAN stays up) and comes back, and Stop leaves nothing anywhere.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../harness/codeServer';
import { closeWorkbench, openWorkbench, runCommand, screenshot, statusBarItem, waitForNotification, type Workbench } from '../harness/workbench';
import { clusterFixture, FAST, type ClusterFixture } from '../unit/cluster/clusterKit';

/** Copies a screenshot into docs/screenshots (used by the README) when KIMI_UPDATE_SCREENSHOTS=1. */
function publish(file: string): void {
  if (process.env.KIMI_UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO_ROOT, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

/** One row of the tree as it is on screen: a node (level 1) or one of its facts (level 2). */
interface Row {
  level: number;
  label: string;
  description: string;
  icon: string;
}

/** The Cluster Nodes pane of the Kimi side bar. */
function pane(page: Page) {
  return page.locator('.pane').filter({ has: page.locator('.pane-header', { hasText: /^Cluster Nodes/ }) });
}

/** What the tree shows, row by row, from the DOM. */
async function treeRows(page: Page): Promise<Row[]> {
  return pane(page)
    .locator('.monaco-list-row')
    .evaluateAll((rows) =>
      rows
        .map((r) => ({
          top: parseFloat((r as unknown as { style: { top: string } }).style.top) || 0,
          level: Number(r.getAttribute('aria-level')),
          label: (r.querySelector('.label-name')?.textContent ?? '').trim(),
          description: (r.querySelector('.label-description')?.textContent ?? '').trim(),
          icon: [...(r.querySelector('.custom-view-tree-node-item-icon')?.classList ?? [])].find((c) => c.startsWith('codicon-') && c !== 'codicon-') ?? '',
        }))
        .sort((a, b) => a.top - b.top)
        .map(({ top: _top, ...row }) => row),
    );
}

/** The rows once `pred` holds for them (the tree re-renders as the extension reports): bounded, on DOM changes. */
async function waitForTree(page: Page, pred: (rows: Row[]) => boolean, what: string, timeoutMs = 60_000): Promise<Row[]> {
  const deadline = Date.now() + timeoutMs;
  let rows: Row[] = [];
  for (;;) {
    rows = await treeRows(page);
    if (pred(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`the Cluster Nodes view did not show ${what} within ${timeoutMs} ms; it shows ${JSON.stringify(rows, null, 1)}`);
    // Wait for the list to change (or re-check after a second: a re-render may keep the same rows).
    await pane(page)
      .locator('.monaco-list-rows')
      .evaluate(
        (el, ms) =>
          new Promise<void>((resolve) => {
            const MO = (globalThis as unknown as { MutationObserver: new (cb: () => void) => { observe(n: unknown, o: unknown): void; disconnect(): void } }).MutationObserver;
            const obs = new MO(() => {
              obs.disconnect();
              resolve();
            });
            obs.observe(el, { subtree: true, childList: true, characterData: true, attributes: true });
            setTimeout(() => {
              obs.disconnect();
              resolve();
            }, ms);
          }),
        1000,
      )
      .catch(() => undefined);
  }
}

/** Node rows with their facts: { host: { description, icon, facts: { GPUs: …, State: … } } }. */
function byNode(rows: Row[]): { label: string; description: string; icon: string; facts: Record<string, string> }[] {
  const out: { label: string; description: string; icon: string; facts: Record<string, string> }[] = [];
  for (const r of rows) {
    if (r.level === 1) out.push({ label: r.label, description: r.description, icon: r.icon, facts: {} });
    else if (out.length) out.at(-1)!.facts[r.label] = r.description;
  }
  return out;
}

/** Room for the tree: the Chat view folded, the side bar dragged wider (its sash, as a person would). */
async function makeRoom(page: Page, width: number): Promise<void> {
  const chat = page.locator('.part.sidebar .pane-header').filter({ hasText: /^Chat/ }).first();
  if ((await chat.getAttribute('aria-expanded')) === 'true') await chat.click();
  const bar = await page.locator('.part.sidebar').boundingBox();
  if (!bar) throw new Error('no side bar on screen');
  const y = bar.y + bar.height / 2;
  await page.mouse.move(bar.x + bar.width + 1, y);
  await page.mouse.down();
  await page.mouse.move(bar.x + width, y, { steps: 8 });
  await page.mouse.up();
  const now = await page.locator('.part.sidebar').boundingBox();
  assert.ok(now && Math.abs(now.width - width) < 40, `the side bar is ${now?.width} px wide after dragging its edge to ${width}`);
}

/** Clicks one of the view's title bar actions (Start Server, Stop Server, Check Cluster Sizing). */
async function viewAction(page: Page, title: string): Promise<void> {
  const action = pane(page).locator('.pane-header .actions .action-label').and(page.locator(`[aria-label^=${JSON.stringify(title)}]`)).first();
  await action.waitFor({ state: 'visible', timeout: 15_000 });
  await action.click();
}

describe('the Cluster Nodes view in the real VS Code (two real sshd hosts on a LAN)', function () {
  let wb: Workbench;
  let f: ClusterFixture;
  const name = `e2e-cluster-${process.pid}`;
  let head = '';
  let worker = '';

  before(async function () {
    this.timeout(10 * 60_000);
    f = await clusterFixture([
      { name: 'e2e-head', model: 'NVIDIA H100 80GB HBM3' },
      { name: 'e2e-worker', model: 'NVIDIA H100 80GB HBM3' },
    ]);
    [head, worker] = [f.hosts[0]!.host.alias, f.hosts[1]!.host.alias];
    wb = await openWorkbench({
      settings: {
        'kimi.servers': [{ name, host: head, sshConfigFile: f.sshConfig, modelDir: '~/models/Kimi-K2.5', servedModelName: 'Kimi-K2.5', env: FAST, cluster: { workers: [worker] } }],
        'kimi.activeServer': name,
        'kimi.status.pollSeconds': 2,
        // The view's Start / Stop / Check Sizing buttons stay visible (as when the pointer is over the view).
        'workbench.view.alwaysShowHeaderActions': true,
        // The DOM renderer, so the test can read the node's log terminal (the GPU one draws on a canvas).
        'terminal.integrated.gpuAcceleration': 'off',
      },
      viewport: { width: 1400, height: 860 },
    });
  });

  afterEach(async function () {
    const t = this.currentTest;
    if (t?.state === 'failed' && wb) await screenshot(wb.page, `cluster-view-failed-${t.title.slice(0, 40)}`).catch(() => undefined);
  });

  after(async function () {
    this.timeout(120_000);
    await f?.hosts[1]?.host.restoreFromHere().catch(() => undefined);
    // Never leave a cluster running: stop whatever the UI left behind, then the hosts go.
    if (wb) await runCommand(wb.page, 'Kimi: Stop Server', { timeoutMs: 10_000 }).catch(() => undefined);
    await closeWorkbench();
    await f?.cleanup();
  });

  it('the view lists the head and the worker, stopped, before anything runs', async function () {
    this.timeout(90_000);
    await statusBarItem(wb.page, /Kimi: stopped/).waitFor({ state: 'visible', timeout: 45_000 });
    await runCommand(wb.page, 'Kimi: Focus on Cluster Nodes View');
    const rows = await waitForTree(wb.page, (r) => r.filter((x) => x.level === 1).length === 2, 'two nodes');
    const nodes = byNode(rows);
    assert.deepEqual(
      nodes.map((n) => [n.label, n.description]),
      [
        [head, 'head · stopped'],
        [worker, 'worker 1 · stopped'],
      ],
    );
    assert.match(await pane(wb.page).locator('.pane-header').innerText(), new RegExp(name));
    await makeRoom(wb.page, 640);
  });

  it('Start Server from the view: both nodes ready, each with its role, GPUs, address, what runs there and its last log line', async function () {
    this.timeout(240_000);
    await viewAction(wb.page, 'Start Server');
    await statusBarItem(wb.page, /Kimi: ready · Kimi-K2\.5/).waitFor({ state: 'visible', timeout: 180_000 });
    const rows = await waitForTree(
      wb.page,
      (r) => {
        const n = byNode(r);
        return n.length === 2 && n.every((x) => / · ready$/.test(x.description) && x.facts['Last log line'] && x.facts.GPUs);
      },
      'both nodes ready with their last log lines',
    );
    const [h, w] = byNode(rows);
    assert.deepEqual([h!.label, h!.description, w!.label, w!.description], [head, 'head · ready', worker, 'worker 1 · ready']);
    assert.equal(h!.icon, 'codicon-pass-filled');
    for (const n of [h!, w!]) {
      assert.deepEqual(Object.keys(n.facts), ['GPUs', 'Address', 'State', 'Last log line']);
      assert.match(n.facts.GPUs!, /^8× NVIDIA H100 80GB HBM3, 79\.6 GiB each/);
      assert.match(n.facts.Address!, /^10\.214\.\d+\.\d+$/);
    }
    assert.notEqual(h!.facts.Address, w!.facts.Address);
    assert.equal(h!.facts.State, 'vLLM: serving Kimi-K2.5');
    assert.equal(w!.facts.State, 'Ray: its GPUs hold vLLM workers');
    // The last lines are the nodes' own logs: the head's vLLM API server, the worker's Ray.
    assert.match(h!.facts['Last log line']!, /\S/);
    assert.match(w!.facts['Last log line']!, /\S/);
    assert.notEqual(h!.facts['Last log line'], w!.facts['Last log line']);
    // On screen, not only in the DOM.
    await pane(wb.page).locator('.monaco-list-row').filter({ hasText: 'Last log line' }).nth(1).waitFor({ state: 'visible', timeout: 5000 });

    // A node's log is one click away: the worker's Ray log in its own terminal.
    await pane(wb.page).locator('.monaco-list-row[aria-level="1"]').filter({ hasText: worker }).click();
    await wb.page.locator('.part.panel').getByText(`Kimi Server: ${name} · ${worker}`).first().waitFor({ state: 'visible', timeout: 20_000 });
    await wb.page.locator('.part.panel .xterm-rows').filter({ hasText: /To terminate the Ray runtime, run/ }).first().waitFor({ timeout: 20_000 });
    await runCommand(wb.page, 'View: Toggle Maximized Panel', { exact: true });
    await wb.page.locator('.part.panel').filter({ has: wb.page.locator('.xterm-rows') }).waitFor({ state: 'visible', timeout: 5000 });
    await wb.page.mouse.move(1000, 300); // no hover tooltip in the picture
    publish(await screenshot(wb.page, 'cluster-nodes'));
  });

  it('the worker\'s SSH link drops: the view shows it unreachable with the reason in words, the status bar "ready · 1 node unreachable", then ready again once the link is back', async function () {
    this.timeout(120_000);
    const w = f.hosts[1]!;
    await w.host.cutFromHere();
    try {
      const rows = await waitForTree(wb.page, (r) => byNode(r)[1]?.description === 'worker 1 · unreachable', 'the worker unreachable', 30_000);
      const [h, lost] = byNode(rows);
      assert.equal(h!.description, 'head · ready');
      assert.equal(lost!.icon, 'codicon-debug-disconnect');
      assert.match(lost!.facts.State!, new RegExp(`^SSH link lost, reconnecting \\(a lost link does not stop what runs there\\)\\. ${worker} is unreachable from this machine \\(.*No route to host\\)\\. Check the network or VPN\\.$`));
      // Still serving, and the status bar says so — in its warning colour.
      const item = statusBarItem(wb.page, /Kimi: ready · 1 node unreachable/);
      await item.waitFor({ state: 'visible', timeout: 5000 });
      assert.match((await item.getAttribute('class')) ?? '', /\bwarning-kind\b/);
      await screenshot(wb.page, 'cluster-nodes-link-lost');
    } finally {
      await w.host.restoreFromHere();
    }
    const back = byNode(await waitForTree(wb.page, (r) => byNode(r)[1]?.description === 'worker 1 · ready', 'the worker ready again', 30_000));
    assert.equal(back[1]!.facts.State, 'Ray: its GPUs hold vLLM workers');
    await statusBarItem(wb.page, /Kimi: ready · Kimi-K2\.5/).waitFor({ state: 'visible', timeout: 5000 });
  });

  it('Stop Server from the view: both nodes stopped, nothing left on either host', async function () {
    this.timeout(120_000);
    await viewAction(wb.page, 'Stop Server');
    await waitForNotification(wb.page, new RegExp(`Kimi: Stopped cluster "${name}" \\(.*\\); no Ray or vLLM process and no GPU memory is left on any of its 2 nodes\\.`), 60_000);
    const rows = byNode(await waitForTree(wb.page, (r) => byNode(r).every((n) => / · stopped$/.test(n.description)) && byNode(r).length === 2, 'both nodes stopped'));
    assert.deepEqual(rows.map((n) => n.facts.State), ['nothing running', 'nothing running']);
    await statusBarItem(wb.page, /Kimi: stopped/).waitFor({ state: 'visible', timeout: 30_000 });
    for (const h of f.hosts) {
      assert.deepEqual(f.clusterProcesses(h), [], `nothing left on ${h.host.name}`);
      assert.deepEqual(f.claims(h), [], `no GPU memory held on ${h.host.name}`);
    }
  });
});
