// What the chat's tools need of VS Code beyond the workspace port, once per extension: the diff editor of proposed
// edits (created on first use), the "Kimi Commands" output channel that echoes accepted commands, the "always allow"
// memory (workspaceState), and the commands behind the diff's Accept / Reject buttons.
import * as vscode from 'vscode';
import type { ApprovalDecision, ApprovalRequest } from '../../core/tools/types';
import type { ApprovalMemory, ApprovalPresenter } from '../chat/toolApprovals';
import { Disposable } from '../lifecycle';
import type { Services } from '../services';
import { EditProposals } from './editProposals';

const ALWAYS_ALLOW_KEY = 'kimi.tools.alwaysAllow';

export class ToolsHost extends Disposable implements ApprovalPresenter {
  private editProposals: EditProposals | undefined;
  private channel: vscode.OutputChannel | undefined;
  readonly memory: ApprovalMemory;

  constructor(private readonly s: Services) {
    super();
    const state = s.context.workspaceState;
    this.memory = {
      has: (key) => (state.get<string[]>(ALWAYS_ALLOW_KEY) ?? []).includes(key),
      add: async (key) => {
        const list = state.get<string[]>(ALWAYS_ALLOW_KEY) ?? [];
        if (!list.includes(key)) await state.update(ALWAYS_ALLOW_KEY, [...list, key]);
      },
    };
  }

  get proposals(): EditProposals {
    return (this.editProposals ??= this.register(new EditProposals()));
  }

  get output(): vscode.OutputChannel {
    return (this.channel ??= this.register(vscode.window.createOutputChannel('Kimi Commands')));
  }

  /** An edit opens its diff; commands and reads are asked on the card only. */
  present(req: ApprovalRequest): { decision: Promise<ApprovalDecision>; dispose(): void } | undefined {
    return req.kind === 'edit' ? this.proposals.show(req) : undefined;
  }

  /** kimi.acceptProposedEdit / kimi.rejectProposedEdit (the diff's title bar passes its resource). */
  decideEdit(uri: unknown, decision: ApprovalDecision): boolean {
    if (!this.editProposals) {
      void vscode.window.showInformationMessage('Kimi: no proposed edit is waiting for a decision.');
      return false;
    }
    return this.editProposals.decide(uri instanceof vscode.Uri ? uri : undefined, decision);
  }

  /** Forgets every "Always allow" of this workspace. */
  async resetAlwaysAllow(): Promise<number> {
    const n = (this.s.context.workspaceState.get<string[]>(ALWAYS_ALLOW_KEY) ?? []).length;
    await this.s.context.workspaceState.update(ALWAYS_ALLOW_KEY, undefined);
    return n;
  }
}

const hosts = new WeakMap<Services, ToolsHost>();

/** The one ToolsHost of these services (disposed with the extension). */
export function toolsHostFor(s: Services): ToolsHost {
  let h = hosts.get(s);
  if (!h) {
    h = new ToolsHost(s);
    hosts.set(s, h);
    s.context.subscriptions.push(h);
  }
  return h;
}
