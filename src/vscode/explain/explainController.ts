// Inline explanations (docs/explain-design.md): "Kimi: Explain Selection" and "Kimi: Explain This Problem" open a
// comment thread (VS Code's Comments API) at the explained lines and stream the explanation into it. Several can be
// open at once, each with its own request; the thread's title actions (package.json, comments/commentThread/title)
// stop, re-run, continue it in the chat panel, or dismiss it. Created on first use (not at activation).
import * as vscode from 'vscode';
import { samplingFromSettings } from '../../core/chat/chatClient';
import type { Conversation } from '../../core/chat/conversation';
import { mergeRanges, type LineRange } from '../../core/explain/explainPrompt';
import type { RequestMessage } from '../../core/chat/types';
import { Disposable } from '../lifecycle';
import type { Services } from '../services';
import { diagnosticAt, displayPath, explainDiagnostic, selectionLines, targetsWithSymbols, type ExplainSource } from './explainRequest';
import { ExplainComment, Explanation, type ExplanationHost } from './explanation';
import { ServerGate } from './serverGate';

export const EXPLAIN_CONTROLLER_ID = 'kimi.explain';

/** What a thread shows, read back from the CommentThread VS Code was given (integration tests). */
export interface ExplanationSnapshot {
  id: string;
  uri: string;
  /** The thread's range, 0-based as VS Code has it. */
  range: { startLine: number; endLine: number };
  phase: string;
  label: string | undefined;
  contextValue: string | undefined;
  comments: { author: string; label?: string; body: string; contextValue?: string; isTrusted: boolean; supportHtml: boolean }[];
  thinking: string;
  answer: string;
  notices: string[];
  /** The messages of the latest request. */
  request?: RequestMessage[];
}

/** For the integration tests (reached through KimiApi; nothing a user sees). */
export interface ExplainTestHook {
  /** The open explanations, oldest first. */
  snapshots(): ExplanationSnapshot[];
  /** Every render of any explanation. */
  onDidRender(listener: (s: ExplanationSnapshot) => void): vscode.Disposable;
  /** The CommentThread of an explanation (what the title actions receive). */
  thread(id: string): vscode.CommentThread | undefined;
  /** The comment of a role (what the comment title actions receive). */
  comment(id: string, role: 'thinking' | 'explanation'): vscode.Comment | undefined;
  /** Resolves once the explanation's current run has ended. */
  idle(id: string): Promise<void>;
  /** Dismisses every explanation. */
  dismissAll(): void;
}

export interface ChatContinuation {
  /** Opens the chat panel on this conversation (saved to the history). */
  continueConversation(conv: Conversation): Promise<void>;
}

function snapshot(e: Explanation): ExplanationSnapshot {
  const t = e.thread;
  return {
    id: e.id,
    uri: t.uri.toString(),
    range: { startLine: t.range.start.line, endLine: t.range.end.line },
    phase: e.state.phase,
    label: t.label,
    contextValue: t.contextValue,
    comments: t.comments.map((c) => {
      const md = typeof c.body === 'string' ? undefined : c.body;
      return {
        author: c.author.name,
        ...(c.label !== undefined ? { label: c.label } : {}),
        body: typeof c.body === 'string' ? c.body : c.body.value,
        ...(c.contextValue !== undefined ? { contextValue: c.contextValue } : {}),
        isTrusted: !!md?.isTrusted,
        supportHtml: !!md?.supportHtml,
      };
    }),
    thinking: e.state.thinking,
    answer: e.state.answer,
    notices: [...e.state.notices],
    ...(e.lastRequest ? { request: e.lastRequest } : {}),
  };
}

export class ExplainController extends Disposable {
  private readonly controller: vscode.CommentController;
  private readonly gate: ServerGate;
  private readonly items = new Map<vscode.CommentThread, Explanation>();
  private readonly renders = this.register(new vscode.EventEmitter<ExplanationSnapshot>());
  private readonly host: ExplanationHost;

  constructor(s: Services, private readonly chat: ChatContinuation) {
    super();
    this.controller = this.register(vscode.comments.createCommentController(EXPLAIN_CONTROLLER_ID, 'Kimi'));
    this.gate = this.register(new ServerGate(s));
    this.host = {
      gate: this.gate,
      settings: () => ({ mode: s.config.settings['explain.mode'], sampling: samplingFromSettings(s.config.settings) }),
      authorIcon: vscode.Uri.joinPath(s.context.extensionUri, 'media', 'kimi.svg'),
      rendered: (e) => {
        if (!e.isDisposed) this.renders.fire(snapshot(e));
      },
      log: { warn: (l) => s.log.warn(l) },
    };
    this.register({ dispose: () => this.dismissAll() });
  }

  // ───────────────────────────── commands ─────────────────────────────

  /** kimi.explainSelection: the editor's selections (all of them), or `ranges` of `uri` (the code action). */
  async explainSelection(uri?: vscode.Uri, ranges?: readonly vscode.Range[]): Promise<Explanation | undefined> {
    const editor = this.editorFor(uri);
    const doc = editor?.document ?? (uri ? await vscode.workspace.openTextDocument(uri) : undefined);
    if (!doc) {
      void vscode.window.showInformationMessage('Kimi: Explain Selection needs a file open in an editor: open it and select the code to explain.');
      return undefined;
    }
    const fromEditor = editor && (!ranges || ranges.some((r) => editor.selections.some((s) => s.intersection(r))));
    const picked = (fromEditor ? editor.selections : ranges ?? []).filter((r) => !r.isEmpty);
    if (!picked.length) {
      void vscode.window.showInformationMessage(`Kimi: nothing is selected in ${displayPath(doc)}. Select the code to explain, then run Explain Selection again.`);
      return undefined;
    }
    const lines = mergeRanges(picked.map(selectionLines));
    return this.open(doc, lines, undefined);
  }

  /** kimi.explainProblem: `diagnostic` (the code action), else the problem under the cursor of the active editor. */
  async explainProblem(uri?: vscode.Uri, diagnostic?: vscode.Diagnostic): Promise<Explanation | undefined> {
    const editor = this.editorFor(uri);
    const doc = editor?.document ?? (uri ? await vscode.workspace.openTextDocument(uri) : undefined);
    if (!doc) {
      void vscode.window.showInformationMessage('Kimi: Explain This Problem needs a file open in an editor: put the cursor on the problem (the squiggle) first.');
      return undefined;
    }
    const d = diagnostic ?? (editor ? diagnosticAt(editor) : undefined);
    if (!d) {
      const count = vscode.languages.getDiagnostics(doc.uri).length;
      void vscode.window.showInformationMessage(
        count
          ? `Kimi: there is no problem at the cursor in ${displayPath(doc)}. Put the cursor on a squiggle (${count} in this file), then run Explain This Problem again.`
          : `Kimi: ${displayPath(doc)} has no problems (errors or warnings) to explain.`,
      );
      return undefined;
    }
    const diag = explainDiagnostic(d);
    return this.open(doc, [{ startLine: diag.startLine, endLine: diag.endLine }], diag);
  }

  stop(thread: unknown): void {
    this.of(thread)?.stop();
  }

  rerun(thread: unknown): Promise<void> {
    return this.of(thread)?.rerun() ?? Promise.resolve();
  }

  dismiss(thread: unknown): void {
    const e = this.of(thread);
    if (!e) return;
    this.items.delete(e.thread);
    e.dispose();
  }

  async continueInChat(thread: unknown): Promise<void> {
    const e = this.of(thread);
    if (!e) return;
    const conv = e.conversation();
    if (!conv) {
      void vscode.window.showInformationMessage(e.busy ? 'Kimi: the explanation is still running — wait for it (or Stop it) before continuing in the chat.' : 'Kimi: there is no explanation to continue yet — Re-run it first.');
      return;
    }
    await this.chat.continueConversation(conv);
  }

  toggleThinking(comment: unknown): void {
    const e = comment instanceof ExplainComment ? comment.explanation : this.of(comment);
    e?.toggleThinking();
  }

  dismissAll(): void {
    for (const e of this.items.values()) e.dispose();
    this.items.clear();
  }

  get testHook(): ExplainTestHook {
    const find = (id: string) => [...this.items.values()].find((e) => e.id === id);
    return {
      snapshots: () => [...this.items.values()].map(snapshot),
      onDidRender: (listener) => this.renders.event(listener),
      thread: (id) => find(id)?.thread,
      comment: (id, role) => find(id)?.thread.comments.find((c) => c instanceof ExplainComment && c.role === role),
      idle: (id) => find(id)?.idle() ?? Promise.resolve(),
      dismissAll: () => this.dismissAll(),
    };
  }

  // ───────────────────────────── internals ─────────────────────────────

  private editorFor(uri: vscode.Uri | undefined): vscode.TextEditor | undefined {
    const active = vscode.window.activeTextEditor;
    if (!uri) return active;
    if (active?.document.uri.toString() === uri.toString()) return active;
    return vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
  }

  private async open(doc: vscode.TextDocument, lines: LineRange[], diagnostic: ExplainSource['diagnostic']): Promise<Explanation> {
    const first = lines[0]!;
    const last = lines[lines.length - 1]!;
    // The thread sits under the last explained line.
    const range = new vscode.Range(first.startLine - 1, 0, last.endLine - 1, doc.lineAt(last.endLine - 1).text.length);
    const thread = this.controller.createCommentThread(doc.uri, range, []);
    thread.canReply = false;
    thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    const source: ExplainSource = {
      uri: doc.uri,
      path: displayPath(doc),
      languageId: doc.languageId,
      targets: lines.map((l) => ({ ...l })),
      ...(diagnostic ? { diagnostic } : {}),
    };
    // The symbols may take a moment (a language server starting): the thread shows at once meanwhile.
    const e = new Explanation(thread, source, doc, this.host, targetsWithSymbols(doc, lines));
    this.items.set(thread, e);
    e.start();
    return e;
  }

  private of(arg: unknown): Explanation | undefined {
    if (arg instanceof ExplainComment) return arg.explanation;
    if (arg && typeof arg === 'object') {
      const e = this.items.get(arg as vscode.CommentThread);
      if (e) return e;
    }
    // From the command palette (no argument): the explanation in the active editor, the latest first.
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    const list = [...this.items.values()].filter((x) => x.thread.uri.toString() === uri);
    return list[list.length - 1];
  }
}
