// The enclosing symbol of a selection, from a symbol provider's outline (VS Code's DocumentSymbol tree or a flat
// SymbolInformation list, both reduced to this shape by the caller): the innermost function, method, class … that
// contains the whole selection. Variables and fields are not context enough on their own and are skipped.
import type { ExplainSymbol, LineRange } from './explainPrompt';

export interface OutlineSymbol extends LineRange {
  name: string;
  /** Lower-case kind name ("function", "method", "class" …). */
  kind: string;
  children?: OutlineSymbol[];
}

/** Kinds whose body is meaningful context for code inside them. */
export const ENCLOSING_KINDS: ReadonlySet<string> = new Set([
  'function', 'method', 'constructor', 'class', 'interface', 'enum', 'struct', 'module', 'namespace', 'object',
]);

function contains(s: LineRange, r: LineRange): boolean {
  return s.startLine <= r.startLine && s.endLine >= r.endLine;
}

/** The innermost enclosing symbol of `range` (1-based lines), or undefined. Works on trees and flat lists. */
export function enclosingSymbol(outline: readonly OutlineSymbol[], range: LineRange): ExplainSymbol | undefined {
  let best: OutlineSymbol | undefined;
  const visit = (list: readonly OutlineSymbol[]) => {
    for (const s of list) {
      if (!contains(s, range)) continue;
      const smaller = !best || s.endLine - s.startLine < best.endLine - best.startLine ||
        (s.endLine - s.startLine === best.endLine - best.startLine && s.startLine >= best.startLine);
      if (ENCLOSING_KINDS.has(s.kind) && smaller) best = s;
      if (s.children) visit(s.children);
    }
  };
  visit(outline);
  return best ? { name: best.name, kind: best.kind, startLine: best.startLine, endLine: best.endLine } : undefined;
}
