// What an explanation is about, read from VS Code: the document (language, workspace-relative path, its lines), the
// selected line ranges (all selections), the enclosing symbol of each from the language's symbol provider (when it
// answers in time), and for "Explain This Problem" the diagnostic.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExplainDiagnostic, ExplainInput, ExplainTarget, LineRange } from '../../core/explain/explainPrompt';
import { enclosingSymbol, type OutlineSymbol } from '../../core/explain/symbols';

/** How long to wait for the symbol provider (a language server may still be starting): the explanation then goes
 *  out with a window of lines around the selection instead. */
export const SYMBOL_TIMEOUT_MS = 1500;

/** What an explanation needs to be (re-)built: where it is and what it covers. The lines are read again on Re-run. */
export interface ExplainSource {
  uri: vscode.Uri;
  /** Shown to the model and the user: workspace-relative path, or the name of an untitled document. */
  path: string;
  languageId: string;
  /** 1-based selected line ranges, each with its enclosing symbol when known. */
  targets: ExplainTarget[];
  diagnostic?: ExplainDiagnostic;
}

export function displayPath(doc: vscode.TextDocument): string {
  return doc.isUntitled ? path.basename(doc.uri.path) : vscode.workspace.asRelativePath(doc.uri, false);
}

/** A selection as 1-based lines; one that ends at the start of a line does not include that line. */
export function selectionLines(r: vscode.Range): LineRange {
  const endLine = r.end.character === 0 && r.end.line > r.start.line ? r.end.line : r.end.line + 1;
  return { startLine: r.start.line + 1, endLine };
}

export function documentLines(doc: vscode.TextDocument): string[] {
  const lines: string[] = new Array(doc.lineCount);
  for (let i = 0; i < doc.lineCount; i++) lines[i] = doc.lineAt(i).text;
  return lines;
}

function toOutline(symbols: readonly (vscode.DocumentSymbol | vscode.SymbolInformation)[]): OutlineSymbol[] {
  return symbols.map((s) => {
    const range = 'location' in s ? s.location.range : s.range;
    const children = 'children' in s && s.children.length ? toOutline(s.children) : undefined;
    return {
      name: s.name,
      kind: (vscode.SymbolKind[s.kind] ?? 'symbol').toLowerCase(),
      startLine: range.start.line + 1,
      endLine: range.end.line + 1,
      ...(children ? { children } : {}),
    };
  });
}

/** The document's outline from its symbol provider, or [] when there is none or it does not answer in time. */
export async function documentOutline(doc: vscode.TextDocument, timeoutMs = SYMBOL_TIMEOUT_MS): Promise<OutlineSymbol[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  try {
    const symbols = await Promise.race([
      Promise.resolve(vscode.commands.executeCommand<(vscode.DocumentSymbol | vscode.SymbolInformation)[] | undefined>('vscode.executeDocumentSymbolProvider', doc.uri)).catch(() => undefined),
      timeout,
    ]);
    return symbols ? toOutline(symbols) : [];
  } finally {
    clearTimeout(timer);
  }
}

export async function targetsWithSymbols(doc: vscode.TextDocument, ranges: LineRange[]): Promise<ExplainTarget[]> {
  const outline = await documentOutline(doc);
  return ranges.map((r) => {
    const symbol = enclosingSymbol(outline, r);
    return { ...r, ...(symbol ? { symbol } : {}) };
  });
}

const SEVERITY: Record<vscode.DiagnosticSeverity, ExplainDiagnostic['severity']> = {
  [vscode.DiagnosticSeverity.Error]: 'error',
  [vscode.DiagnosticSeverity.Warning]: 'warning',
  [vscode.DiagnosticSeverity.Information]: 'information',
  [vscode.DiagnosticSeverity.Hint]: 'hint',
};

export function explainDiagnostic(d: vscode.Diagnostic): ExplainDiagnostic {
  const code = typeof d.code === 'object' ? d.code.value : d.code;
  return {
    ...selectionLines(d.range),
    message: d.message,
    severity: SEVERITY[d.severity] ?? 'error',
    ...(d.source ? { source: d.source } : {}),
    ...(code !== undefined && code !== '' ? { code: String(code) } : {}),
  };
}

/** The diagnostic under the cursor (or touching the selection) of the editor: the most severe, then the nearest. */
export function diagnosticAt(editor: vscode.TextEditor): vscode.Diagnostic | undefined {
  const sel = editor.selection;
  const all = vscode.languages.getDiagnostics(editor.document.uri);
  const hits = all.filter((d) => (sel.isEmpty ? d.range.contains(sel.active) || d.range.start.line === sel.active.line : !!d.range.intersection(sel)));
  hits.sort((a, b) => a.severity - b.severity || Math.abs(a.range.start.line - sel.active.line) - Math.abs(b.range.start.line - sel.active.line));
  return hits[0];
}

export function explainInput(source: ExplainSource, doc: vscode.TextDocument | undefined, fallbackLines: readonly string[]): Omit<ExplainInput, 'maxModelLen'> {
  return {
    path: source.path,
    languageId: source.languageId,
    lines: doc ? documentLines(doc) : fallbackLines,
    targets: source.targets,
    ...(source.diagnostic ? { diagnostic: source.diagnostic } : {}),
  };
}
