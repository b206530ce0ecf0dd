// Approvals of tool calls in the chat (docs/tools.md): each request waits, keyed by its call's id, until the user
// answers on the call's card (approveToolCall) or wherever the host shows it too (an edit's diff editor), or the
// turn stops. Several can wait at once (concurrent read-only calls asking to read sensitive files). "Always allow"
// exists for reads only, and is remembered per workspace. No vscode import: the host's parts come in as interfaces.
import { ToolError, type ApprovalCall, type ApprovalDecision, type ApprovalRequest } from '../../core/tools/types';

/** Where the host shows a request besides the card (VS Code: the diff editor of an edit). */
export interface ApprovalPresenter {
  present(req: ApprovalRequest, callId: string): { decision: Promise<ApprovalDecision>; dispose(): void } | undefined;
}

/** "Always allow" decisions of this workspace (VS Code: workspaceState). */
export interface ApprovalMemory {
  has(key: string): boolean;
  add(key: string): PromiseLike<void>;
}

type SensitiveRead = Extract<ApprovalRequest, { kind: 'sensitiveRead' }>;

/** What "Always allow" would remember for this request (undefined: not offered — edits and commands always ask).
 *  A secret-looking file is remembered by its path; ignored, excluded and .git files by their kind. */
export function alwaysAllowKey(req: ApprovalRequest): string | undefined {
  if (req.kind !== 'sensitiveRead') return undefined;
  const kind = req.sensitivity ?? 'secret';
  return kind === 'secret' ? `${req.tool}:secret:${req.path.display}` : `${req.tool}:${kind}`;
}

/** The button's description: what "Always allow" covers. */
export function alwaysAllowText(req: SensitiveRead): string {
  switch (req.sensitivity) {
    case 'ignored':
      return `Always let ${req.tool} read files ignored by .gitignore in this workspace`;
    case 'excluded':
      return `Always let ${req.tool} read files excluded by files.exclude in this workspace`;
    case 'git':
      return `Always let ${req.tool} read files inside .git in this workspace`;
    default:
      return `Always let ${req.tool} read ${req.path.display} in this workspace`;
  }
}

interface Pending {
  req: ApprovalRequest;
  settle(d: ApprovalDecision): void;
}

function stopped(): Error {
  return Object.assign(new Error('stopped while waiting for approval'), { name: 'AbortError' });
}

export class ToolApprovals {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly opts: { presenter?: ApprovalPresenter; memory?: ApprovalMemory } = {}) {}

  /** The approver of a port: resolves with the user's decision; rejects (AbortError) when `signal` fires first. */
  request(req: ApprovalRequest, signal: AbortSignal, call: ApprovalCall | undefined): Promise<ApprovalDecision> {
    const key = alwaysAllowKey(req);
    if (key && this.opts.memory?.has(key)) return Promise.resolve('accept');
    if (!call) return Promise.reject(new ToolError(`${req.tool} needs the user's approval, but the request did not say which call it belongs to`));
    if (signal.aborted) return Promise.reject(stopped());
    return new Promise<ApprovalDecision>((resolve, reject) => {
      let shown: ReturnType<ApprovalPresenter['present']>;
      const cleanup = () => {
        if (this.pending.get(call.id) === entry) this.pending.delete(call.id);
        signal.removeEventListener('abort', onAbort);
        shown?.dispose();
      };
      const onAbort = () => {
        cleanup();
        reject(stopped());
      };
      const entry: Pending = {
        req,
        settle: (d) => {
          cleanup();
          resolve(d);
        },
      };
      // A second request for the same call replaces the first (cannot happen with the loop; never leaves one hanging).
      this.pending.get(call.id)?.settle('reject');
      this.pending.set(call.id, entry);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        shown = this.opts.presenter?.present(req, call.id);
      } catch {
        shown = undefined; // the card alone still works
      }
      void shown?.decision.then((d) => {
        if (this.pending.get(call.id) === entry) entry.settle(d);
      });
    });
  }

  /** The user's answer on a card. False when nothing waits under that id (already decided, or stopped). */
  decide(callId: string, decision: ApprovalDecision | 'always'): boolean {
    const p = this.pending.get(callId);
    if (!p) return false;
    if (decision === 'always') {
      const key = alwaysAllowKey(p.req);
      if (!key || !this.opts.memory) return false; // offered for reads only
      void this.opts.memory.add(key);
      p.settle('accept');
      return true;
    }
    p.settle(decision);
    return true;
  }

  /** Answered already by an earlier "Always allow" (the card need not ask). */
  remembered(req: ApprovalRequest): boolean {
    const key = alwaysAllowKey(req);
    return !!key && !!this.opts.memory?.has(key);
  }

  /** Whether "Always allow" can be offered for this request. */
  canAlwaysAllow(req: ApprovalRequest): boolean {
    return !!this.opts.memory && alwaysAllowKey(req) !== undefined;
  }

  get waiting(): number {
    return this.pending.size;
  }
}
