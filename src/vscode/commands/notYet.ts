import * as vscode from 'vscode';

/** What a command says when its capability has not shipped in this build: the truth, and what to do instead. */
export async function explainNotYetAvailable(title: string, what: string, meanwhile: string): Promise<void> {
  const pick = await vscode.window.showInformationMessage(
    `${title} is not available in this version of Kimi (self-hosted): ${what} arrives in a coming release. ${meanwhile}`,
    'Open Settings',
  );
  if (pick) await vscode.commands.executeCommand('workbench.action.openSettings', 'kimi.');
}
