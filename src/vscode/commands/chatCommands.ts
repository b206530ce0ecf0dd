import * as vscode from 'vscode';
import { CHAT_VIEW_ID, type ChatViewProvider } from '../chatView';
import type { Services } from '../services';

export function registerChatCommands(_s: Services, chat: ChatViewProvider): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.openChat', () => vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`)),
    vscode.commands.registerCommand('kimi.newChat', async () => {
      // A streaming answer is stopped and kept in its conversation; the panel then shows an empty chat.
      await chat.newChat();
      await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    }),
  );
}
