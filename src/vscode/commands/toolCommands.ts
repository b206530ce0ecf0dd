import * as vscode from 'vscode';
import type { Services } from '../services';
import { features } from '../lazy';

/** Accept / Reject in the title bar of a proposed edit's diff, and forgetting "Always allow" decisions. */
export function registerToolCommands(s: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.acceptProposedEdit', (uri?: unknown) => features().toolsHostFor(s).decideEdit(uri, 'accept')),
    vscode.commands.registerCommand('kimi.rejectProposedEdit', (uri?: unknown) => features().toolsHostFor(s).decideEdit(uri, 'reject')),
    vscode.commands.registerCommand('kimi.resetToolApprovals', async () => {
      const n = await features().toolsHostFor(s).resetAlwaysAllow();
      void vscode.window.showInformationMessage(
        n ? `Kimi: forgot ${n} "Always allow" decision${n === 1 ? '' : 's'} of this workspace; Kimi asks again before reading such files.`
          : 'Kimi: there were no "Always allow" decisions in this workspace.',
      );
    }),
  );
}
