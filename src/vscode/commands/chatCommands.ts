import * as vscode from 'vscode';
import { CHAT_VIEW_ID, type ChatViewProvider } from '../chatView';
import type { Services } from '../services';
import { explainNotYetAvailable } from './notYet';

export function registerChatCommands(_s: Services, chat: ChatViewProvider): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.openChat', () => vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`)),
    vscode.commands.registerCommand('kimi.newChat', async () => {
      // A streaming answer is stopped and kept in its conversation; the panel then shows an empty chat.
      await chat.newChat();
      await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    }),
    vscode.commands.registerCommand('kimi.explainSelection', () =>
      explainNotYetAvailable('Kimi: Explain Selection', 'inline explanations in the editor', 'The command, menu entry and keybinding are in place for it.'),
    ),
    vscode.commands.registerCommand('kimi.explainProblem', () =>
      explainNotYetAvailable('Kimi: Explain This Problem', 'explaining diagnostics', 'The command is in place for it.'),
    ),
  );
}
