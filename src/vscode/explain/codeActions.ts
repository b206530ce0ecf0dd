// The lightbulb entries: "Kimi: Explain Selection" while code is selected, "Kimi: Explain This Problem" on an error or
// warning. Cheap (no chat code is loaded until one is picked), so it is registered at activation.
import * as vscode from 'vscode';

/** At most this many problems get their own entry at one position. */
const MAX_PROBLEM_ACTIONS = 3;

export const EXPLAIN_SELECTION_KIND = vscode.CodeActionKind.Empty.append('kimi').append('explain');
export const EXPLAIN_PROBLEM_KIND = vscode.CodeActionKind.QuickFix.append('kimi').append('explain');

function clip(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export class ExplainCodeActionProvider implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = { providedCodeActionKinds: [EXPLAIN_SELECTION_KIND, EXPLAIN_PROBLEM_KIND] };

  provideCodeActions(doc: vscode.TextDocument, range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    const problems = context.diagnostics
      .filter((d) => d.severity === vscode.DiagnosticSeverity.Error || d.severity === vscode.DiagnosticSeverity.Warning)
      .slice(0, MAX_PROBLEM_ACTIONS);
    for (const d of problems) {
      const title = problems.length === 1 ? 'Kimi: Explain This Problem' : `Kimi: Explain "${clip(d.message, 60)}"`;
      const a = new vscode.CodeAction(title, EXPLAIN_PROBLEM_KIND);
      a.diagnostics = [d];
      a.command = { command: 'kimi.explainProblem', title, arguments: [doc.uri, d] };
      actions.push(a);
    }
    if (!range.isEmpty) {
      const a = new vscode.CodeAction('Kimi: Explain Selection', EXPLAIN_SELECTION_KIND);
      a.command = { command: 'kimi.explainSelection', title: 'Kimi: Explain Selection', arguments: [doc.uri, [range]] };
      actions.push(a);
    }
    return actions;
  }
}
