import * as vscode from 'vscode';
import type { Services } from '../services';

export function registerSettingsCommands(s: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.openSettings', () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:kimi-selfhosted.kimi-vllm')),
    vscode.commands.registerCommand('kimi.setApiKey', async () => {
      const value = await vscode.window.showInputBox({
        title: 'Kimi: Set API Key',
        prompt: 'The key your vLLM server was started with (--api-key). Stored in VS Code\'s secret storage, never in settings. Leave empty to remove it.',
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => (/[\s\x00-\x1f]/.test(v) ? 'An API key cannot contain spaces or control characters.' : undefined),
      });
      if (value === undefined) return;
      await s.secrets.setApiKey(value || undefined);
      void vscode.window.showInformationMessage(value ? 'Kimi: API key saved in secret storage.' : 'Kimi: API key removed.');
    }),
  );
}
