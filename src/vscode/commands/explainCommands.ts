import * as vscode from 'vscode';
import type { ChatViewProvider } from '../chatView';
import { ExplainCodeActionProvider } from '../explain/codeActions';
import type { ExplainController, ExplainTestHook } from '../explain/explainController';
import { features } from '../lazy';
import { Disposable } from '../lifecycle';
import type { Services } from '../services';

/** Explain Selection / Explain This Problem, the thread actions, and the lightbulb entries. The comment controller
 *  and the chat code behind it are loaded on first use. */
export class ExplainCommands extends Disposable {
  private current: ExplainController | undefined;

  constructor(private readonly s: Services, private readonly chat: ChatViewProvider) {
    super();
    const uriArg = (a: unknown) => (a instanceof vscode.Uri ? a : undefined);
    this.register(vscode.Disposable.from(
      // From the editor context menu the first argument is the document's URI; from the lightbulb, URI and ranges.
      vscode.commands.registerCommand('kimi.explainSelection', (uri?: unknown, ranges?: unknown) =>
        this.controller.explainSelection(uriArg(uri), Array.isArray(ranges) && ranges.every((r) => r instanceof vscode.Range) ? ranges : undefined),
      ),
      vscode.commands.registerCommand('kimi.explainProblem', (uri?: unknown, diagnostic?: unknown) =>
        this.controller.explainProblem(uriArg(uri), diagnostic instanceof vscode.Diagnostic ? diagnostic : undefined),
      ),
      vscode.commands.registerCommand('kimi.stopExplanation', (thread?: unknown) => this.current?.stop(thread)),
      vscode.commands.registerCommand('kimi.rerunExplanation', (thread?: unknown) => this.current?.rerun(thread)),
      vscode.commands.registerCommand('kimi.continueExplanationInChat', (thread?: unknown) => this.current?.continueInChat(thread)),
      vscode.commands.registerCommand('kimi.dismissExplanation', (thread?: unknown) => this.current?.dismiss(thread)),
      vscode.commands.registerCommand('kimi.showExplanationThinking', (comment?: unknown) => this.current?.toggleThinking(comment)),
      vscode.commands.registerCommand('kimi.hideExplanationThinking', (comment?: unknown) => this.current?.toggleThinking(comment)),
      vscode.languages.registerCodeActionsProvider(
        [{ scheme: 'file' }, { scheme: 'untitled' }, { scheme: 'vscode-remote' }],
        new ExplainCodeActionProvider(),
        ExplainCodeActionProvider.metadata,
      ),
    ));
    this.register({ dispose: () => this.current?.dispose() });
  }

  private get controller(): ExplainController {
    if (!this.current) {
      // From dist/features.js: the chat client and the prompt builder load on first use, not at activation.
      const { ExplainController } = features();
      this.current = new ExplainController(this.s, this.chat);
    }
    return this.current;
  }

  get testHook(): ExplainTestHook {
    return this.controller.testHook;
  }
}
