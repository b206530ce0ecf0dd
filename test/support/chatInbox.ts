// What the chat webview would receive, recorded with arrival times, and waits on it (an event or a deadline; never a
// sleep). Shared by the unit tests of the chat session and the integration tests in the real VS Code.
import type { AssistantTurnMeta, HostToWebview } from '../../src/shared/protocol';

export type ObjectMessage = Exclude<HostToWebview, string>;
export type MessageOf<T extends ObjectMessage['type']> = Extract<ObjectMessage, { type: T }>;

export interface Received {
  at: number;
  index: number;
  msg: HostToWebview;
}

export class ChatInbox {
  readonly all: Received[] = [];
  private waiters: { from: number; pred: (m: HostToWebview) => boolean; resolve: (r: Received) => void }[] = [];

  readonly push = (msg: HostToWebview): void => {
    const r: Received = { at: performance.now(), index: this.all.length, msg };
    this.all.push(r);
    for (const w of [...this.waiters]) {
      if (r.index >= w.from && w.pred(msg)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
  };

  /** The index the next message will get (pass it as `from` to wait only for later messages). */
  mark(): number {
    return this.all.length;
  }

  /** The first message at or after `from` that satisfies `pred` (already received or arriving within the deadline). */
  waitFor(pred: (m: HostToWebview) => boolean, what: string, opts: { from?: number; timeoutMs?: number } = {}): Promise<Received> {
    const from = opts.from ?? 0;
    const hit = this.all.find((r) => r.index >= from && pred(r.msg));
    if (hit) return Promise.resolve(hit);
    const timeoutMs = opts.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const w = { from, pred, resolve: (r: Received) => {
        clearTimeout(timer);
        resolve(r);
      } };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms; received since #${from}: ${this.describe(from)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async waitType<T extends ObjectMessage['type']>(type: T, opts: { from?: number; timeoutMs?: number; where?: (m: MessageOf<T>) => boolean } = {}): Promise<MessageOf<T> & { receivedAt: number }> {
    const r = await this.waitFor((m) => typeof m !== 'string' && m.type === type && (!opts.where || opts.where(m as MessageOf<T>)), `"${type}" message`, opts);
    return Object.assign({}, r.msg as MessageOf<T>, { receivedAt: r.at });
  }

  /** The turnFinished of the turn started at or after `from`. */
  async finished(from: number, timeoutMs?: number): Promise<{ meta: AssistantTurnMeta; assistantId: string; receivedAt: number }> {
    const started = await this.waitType('turnStarted', { from, ...(timeoutMs ? { timeoutMs } : {}) });
    return this.waitType('turnFinished', { from, where: (m) => m.assistantId === started.assistantId, ...(timeoutMs ? { timeoutMs } : {}) });
  }

  /** Object messages of one type received at or after `from`. */
  ofType<T extends ObjectMessage['type']>(type: T, from = 0): MessageOf<T>[] {
    return this.all.filter((r) => r.index >= from && typeof r.msg !== 'string' && r.msg.type === type).map((r) => r.msg as MessageOf<T>);
  }

  last<T extends ObjectMessage['type']>(type: T): MessageOf<T> | undefined {
    const list = this.ofType(type);
    return list[list.length - 1];
  }

  /** The streamed text (per channel) received at or after `from`. */
  streamed(from = 0, to = Infinity): { thinking: string; answer: string; deltas: number } {
    let thinking = '';
    let answer = '';
    let deltas = 0;
    for (const r of this.all) {
      if (r.index < from || r.index >= to || typeof r.msg !== 'string') continue;
      deltas++;
      if (r.msg[0] === 't') thinking += r.msg.slice(1);
      else answer += r.msg.slice(1);
    }
    return { thinking, answer, deltas };
  }

  /** A one-line summary of what arrived (for failure messages). */
  describe(from = 0): string {
    return this.all.slice(from).map((r) => (typeof r.msg === 'string' ? `${r.msg[0]}(${r.msg.length - 1})` : r.msg.type === 'composerError' || r.msg.type === 'notice' ? `${r.msg.type}(${JSON.stringify('message' in r.msg ? r.msg.message : r.msg.text).slice(0, 160)})` : r.msg.type)).join(' ').slice(0, 2000) || 'nothing';
  }
}
