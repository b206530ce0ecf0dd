import * as vscode from 'vscode';
import { CHAT_VIEW_ID } from '../chatView';
import type { Services } from '../services';
import { explainNotYetAvailable } from './notYet';

export function registerChatCommands(_s: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('kimi.openChat', () => vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`)),
    vscode.commands.registerCommand('kimi.newChat', () =>
      explainNotYetAvailable('Kimi: New Chat', 'chatting in the side panel', 'The panel already shows whether your server is ready.'),
    ),
    vscode.commands.registerCommand('kimi.explainSelection', () =>
      explainNotYetAvailable('Kimi: Explain Selection', 'inline explanations in the editor', 'The command, menu entry and keybinding are in place for it.'),
    ),
    vscode.commands.registerCommand('kimi.explainProblem', () =>
      explainNotYetAvailable('Kimi: Explain This Problem', 'explaining diagnostics', 'The command is in place for it.'),
    ),
  );
}
