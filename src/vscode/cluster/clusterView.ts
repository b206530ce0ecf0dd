// The "Cluster Nodes" view (kimi.clusterNodes, in the Kimi side bar, shown while the active profile is a cluster):
// one item per node — host, role and state, with its GPUs, address, what runs there and its last log line below —
// updated as the ClusterManager reports. Inline: the node's log. Title bar: Start, Stop, Check Sizing.
// A stopped cluster is not watched: a node a Stop could not reach shows "not checked" (what that Stop found, with what
// to do), never a state as if current; Stop stays offered in the title bar until a Stop reaches it
// (context key kimi.clusterUnchecked).
import * as vscode from 'vscode';
import type { ClusterNodeStatus, NodeState } from '../../core/server/lifecycleTypes';
import { Disposable } from '../lifecycle';
import type { Services } from '../services';

export const CLUSTER_VIEW_ID = 'kimi.clusterNodes';

type Item = { kind: 'node'; node: ClusterNodeStatus } | { kind: 'fact'; node: number; label: string; value: string; icon: string };

const ICONS: Record<NodeState, string> = {
  stopped: 'circle-outline',
  checking: 'loading~spin',
  starting: 'loading~spin',
  running: 'vm-running',
  ready: 'pass-filled',
  failed: 'error',
  stopping: 'loading~spin',
  unreachable: 'debug-disconnect',
  unchecked: 'warning',
};

const COLOURS: Partial<Record<NodeState, string>> = { failed: 'errorForeground', ready: 'testing.iconPassed', unchecked: 'list.warningForeground' };

/** The state in the row's words ('unchecked' reads "not checked"). */
function stateWord(s: NodeState): string {
  return s === 'unchecked' ? 'not checked' : s;
}

/** Some node could not be reached by the last Stop: Stop is offered again (view title bar, palette). */
export function hasUnchecked(nodes: readonly ClusterNodeStatus[] | undefined): boolean {
  return nodes?.some((n) => n.state === 'unchecked') ?? false;
}

/** What a person sees for one node (also what the integration test checks). */
export interface NodeRow {
  label: string;
  description: string;
  tooltip: string;
  icon: string;
  children: { label: string; description: string }[];
}

export function nodeRow(n: ClusterNodeStatus): NodeRow {
  const where = n.host === 'local' ? 'this machine' : n.host;
  const role = n.role === 'head' ? 'head' : `worker ${n.index}`;
  const children = [
    ...(n.gpus ? [{ label: 'GPUs', description: n.gpus }] : []),
    ...(n.ip ? [{ label: 'Address', description: n.ip }] : []),
    ...(n.detail ? [{ label: 'State', description: n.detail }] : []),
    ...(n.lastLine ? [{ label: 'Last log line', description: n.lastLine }] : []),
  ];
  return {
    label: where,
    description: `${role} · ${stateWord(n.state)}`,
    tooltip: [`${where} (${role})`, `State: ${stateWord(n.state)}${n.detail ? ` — ${n.detail}` : ''}`, ...(n.gpus ? [`GPUs: ${n.gpus}`] : []), ...(n.ip ? [`Address: ${n.ip}`] : []), ...(n.lastLine ? [`Last log line: ${n.lastLine}`] : [])].join('\n'),
    icon: ICONS[n.state],
    children,
  };
}

export interface ClusterViewTestHook {
  /** The rows the view shows now (empty when the active profile is not a cluster). */
  rows(): NodeRow[];
  /** Resolves when the view's rows satisfy `pred`. */
  waitForRows(pred: (rows: NodeRow[]) => boolean, timeoutMs?: number): Promise<NodeRow[]>;
}

export class ClusterView extends Disposable implements vscode.TreeDataProvider<Item> {
  private readonly changed = this.register(new vscode.EventEmitter<Item | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private nodes: readonly ClusterNodeStatus[] = [];

  constructor(private readonly s: Services) {
    super();
    this.nodes = s.server.nodes ?? [];
    const view = vscode.window.createTreeView(CLUSTER_VIEW_ID, { treeDataProvider: this, showCollapseAll: false });
    this.register(view);
    this.register(
      s.server.onDidChangeNodes((nodes) => {
        this.nodes = nodes ?? [];
        const name = s.server.runningProfile.name;
        view.description = nodes ? name : undefined;
        void vscode.commands.executeCommand('setContext', 'kimi.clusterProfile', nodes !== undefined);
        this.setUnchecked(hasUnchecked(nodes));
        this.changed.fire(undefined);
      }),
    );
    void vscode.commands.executeCommand('setContext', 'kimi.clusterProfile', s.server.nodes !== undefined);
    this.setUnchecked(hasUnchecked(s.server.nodes));
  }

  private unchecked: boolean | undefined;

  private setUnchecked(v: boolean): void {
    if (v === this.unchecked) return;
    this.unchecked = v;
    void vscode.commands.executeCommand('setContext', 'kimi.clusterUnchecked', v);
  }

  getTreeItem(item: Item): vscode.TreeItem {
    if (item.kind === 'node') {
      const row = nodeRow(item.node);
      const t = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.Expanded);
      t.id = `node-${item.node.index}`;
      t.description = row.description;
      t.tooltip = row.tooltip;
      const colour = COLOURS[item.node.state];
      t.iconPath = new vscode.ThemeIcon(row.icon, colour ? new vscode.ThemeColor(colour) : undefined);
      t.contextValue = 'kimiClusterNode';
      t.command = { command: 'kimi.showNodeLogs', title: 'Show Node Logs', arguments: [item.node.index] };
      return t;
    }
    const t = new vscode.TreeItem(item.label, vscode.TreeItemCollapsibleState.None);
    t.id = `node-${item.node}-${item.label}`;
    t.description = item.value;
    t.tooltip = item.value;
    t.iconPath = new vscode.ThemeIcon(item.icon);
    return t;
  }

  getChildren(item?: Item): Item[] {
    if (!item) return this.nodes.map((node) => ({ kind: 'node', node }));
    if (item.kind !== 'node') return [];
    const icons: Record<string, string> = { GPUs: 'circuit-board', Address: 'globe', State: 'pulse', 'Last log line': 'output' };
    return nodeRow(item.node).children.map((c) => ({ kind: 'fact', node: item.node.index, label: c.label, value: c.description, icon: icons[c.label] ?? 'info' }));
  }

  get testHook(): ClusterViewTestHook {
    return {
      rows: () => this.nodes.map(nodeRow),
      waitForRows: (pred, timeoutMs = 30_000) =>
        new Promise((resolve, reject) => {
          const now = this.nodes.map(nodeRow);
          if (pred(now)) return resolve(now);
          const timer = setTimeout(() => {
            sub.dispose();
            reject(new Error(`the cluster view did not show what was expected within ${timeoutMs} ms: ${JSON.stringify(this.nodes.map(nodeRow).map((r) => [r.label, r.description]))}`));
          }, timeoutMs);
          const sub = this.onDidChangeTreeData(() => {
            const rows = this.nodes.map(nodeRow);
            if (!pred(rows)) return;
            clearTimeout(timer);
            sub.dispose();
            resolve(rows);
          });
        }),
    };
  }
}
