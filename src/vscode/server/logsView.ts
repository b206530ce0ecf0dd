import * as vscode from 'vscode';
import type { ClusterNodeStatus } from '../../core/server/lifecycleTypes';
import type { Services } from '../services';

/** "Kimi: Show Server Logs": the server terminal. When this window has followed nothing yet, the end of the log
 *  file on the host (the last run, or a server started elsewhere) is read into it first. */
export async function showServerLogs(s: Services, opts: { node?: number } = {}): Promise<void> {
  const server = s.server;
  // A cluster: which node's log? (the head's vLLM is this terminal; the workers have their own)
  if (server.nodes && opts.node === undefined) {
    const node = await pickNode(s, `Kimi: logs of "${server.runningProfile.name}"`);
    if (node === undefined) return;
    if (node > 0) {
      await server.showNodeLog(node).catch((err: unknown) => {
        void vscode.window.showErrorMessage(`Kimi: could not read the log of node ${node}: ${err instanceof Error ? err.message : String(err)}`);
      });
      return;
    }
  }
  const terminal = server.terminal;
  if (terminal.lineCount === 0) {
    try {
      const lines = await server.logTail(300);
      if (lines.length > 0) {
        terminal.note(`The last ${lines.length} lines of the log of "${server.runningProfile.name}" on ${server.runningProfile.host}:`);
        for (const l of lines) terminal.write(l);
      }
    } catch (err) {
      terminal.note(`Could not read the server log: ${err instanceof Error ? err.message : String(err)}`);
      s.log.warn(`Reading the server log failed: ${String(err)}`);
    }
  }
  terminal.show();
}

interface NodeItem extends vscode.QuickPickItem {
  index: number;
}

/** A quick pick of the nodes of the active cluster (head first); undefined when cancelled. */
export async function pickNode(s: Services, title: string): Promise<number | undefined> {
  const nodes = s.server.nodes ?? [];
  const items: NodeItem[] = nodes.map((n: ClusterNodeStatus) => ({
    index: n.index,
    label: `${n.role === 'head' ? '$(server-process)' : '$(server)'} ${n.host === 'local' ? 'this machine' : n.host}`,
    description: `${n.role === 'head' ? 'head — vLLM' : `worker ${n.index}`} · ${n.state}`,
    ...(n.lastLine ? { detail: n.lastLine } : {}),
  }));
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Which node\'s log?' });
  return pick?.index;
}

