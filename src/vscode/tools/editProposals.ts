// propose_edit in the editor: the file as it is ↔ as the model proposes it, in a diff editor of two read-only
// documents (scheme `kimi-proposal`, served from memory by a TextDocumentContentProvider), with Accept / Reject in
// the diff's title bar (commands kimi.acceptProposedEdit / kimi.rejectProposedEdit). The chat card offers the same
// two buttons; whichever the user presses first decides, and the diff closes.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ApprovalDecision, ApprovalRequest } from '../../core/tools/types';
import { Disposable } from '../lifecycle';

export const PROPOSAL_SCHEME = 'kimi-proposal';

type EditRequest = Extract<ApprovalRequest, { kind: 'edit' }>;

interface Shown {
  original: vscode.Uri;
  proposed: vscode.Uri;
  decide(d: ApprovalDecision): void;
}

export interface ShownProposal {
  /** Settles when the user decides in the editor (title-bar Accept / Reject). */
  decision: Promise<ApprovalDecision>;
  /** Closes the diff and forgets the documents. */
  dispose(): void;
}

export class EditProposals extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private readonly shown = new Map<string, Shown>();
  private seq = 0;

  constructor() {
    super();
    this.register(vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this));
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** Opens the diff (keeping the focus where it is: the chat, whose card has the same buttons). */
  show(req: EditRequest): ShownProposal {
    const id = `p${++this.seq}-${Date.now().toString(36)}`;
    // The path makes the tab title and the language (syntax colouring) right; the query tells the sides apart.
    const shownPath = `/${req.path.display}`;
    const original = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: shownPath, query: `${id}&original` });
    const proposed = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: shownPath, query: `${id}&proposed` });
    this.texts.set(original.toString(), req.original ?? '');
    this.texts.set(proposed.toString(), req.proposed);
    let decide!: (d: ApprovalDecision) => void;
    const decision = new Promise<ApprovalDecision>((resolve) => (decide = resolve));
    this.shown.set(id, { original, proposed, decide });
    const name = path.posix.basename(req.path.display);
    const title = req.original === undefined ? `${name} (new file, proposed by Kimi)` : `${name} ↔ edit proposed by Kimi`;
    void Promise.resolve(vscode.commands.executeCommand('vscode.diff', original, proposed, title, { preview: false, preserveFocus: true }))
      .catch(() => undefined);
    let disposed = false;
    return {
      decision,
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.shown.delete(id);
        void this.close(proposed).finally(() => {
          this.texts.delete(original.toString());
          this.texts.delete(proposed.toString());
        });
      },
    };
  }

  /** Accept / Reject from the diff's title bar (or the command palette while a proposal is the active editor). */
  decide(uri: vscode.Uri | undefined, decision: ApprovalDecision): boolean {
    const target = uri?.scheme === PROPOSAL_SCHEME ? uri : activeProposalUri();
    const id = target?.query.split('&')[0];
    const s = id ? this.shown.get(id) : undefined;
    if (!s) {
      void vscode.window.showInformationMessage('Kimi: this proposed edit is no longer waiting for a decision.');
      return false;
    }
    s.decide(decision);
    return true;
  }

  /** The diffs that are open now (tests, diagnostics). */
  get openCount(): number {
    return this.shown.size;
  }

  private async close(proposed: vscode.Uri): Promise<void> {
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === proposed.toString());
    if (tabs.length) await vscode.window.tabGroups.close(tabs);
  }

  override dispose(): void {
    for (const s of this.shown.values()) s.decide('reject');
    this.shown.clear();
    super.dispose();
  }
}

function activeProposalUri(): vscode.Uri | undefined {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
  const input = tab?.input;
  if (input instanceof vscode.TabInputTextDiff && input.modified.scheme === PROPOSAL_SCHEME) return input.modified;
  const doc = vscode.window.activeTextEditor?.document.uri;
  return doc?.scheme === PROPOSAL_SCHEME ? doc : undefined;
}
