// Benchmark (not a test): reopening a long conversation in the chat panel, in extension-host time — from the
// webview's message to the `conversation` message handed to postMessage. That is the history store's read + JSON.parse
// + schema check, building the ConversationView, and serialising the message (VS Code's extension host JSON-encodes
// every webview message before it leaves the process, so JSON.stringify is counted as the cost of posting).
//   npx tsc -p test/bench/tsconfig.json && node out/test/bench/chatReopenBench.js [--quick] [--json FILE]
// Two paths, each on a real ChatSession over a real HistoryStore in a temp directory (plain Node, no VS Code):
//   open    `openConversation` from the history list (another conversation was showing);
//   reload  a new session's `ready` (what a window reload does): list + open the most recent + composer, history
//           and conversation posted.
// Budget (issue #4): a conversation of 1,000 turns reopens in ≤ 100 ms.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { conversationView } from '../../src/core/chat/chatViews';
import { newConversation } from '../../src/core/chat/conversation';
import { HistoryStore } from '../../src/core/chat/historyStore';
import type { HostToWebview } from '../../src/shared/protocol';
import { ChatSession } from '../../src/vscode/chat/chatSession';
import { longConversation } from '../unit/chat/helpers';
import { FakePlatform } from '../unit/chat/sessionKit';

const quick = process.argv.includes('--quick');
const jsonIdx = process.argv.indexOf('--json');
const jsonOut = jsonIdx >= 0 ? process.argv[jsonIdx + 1] : undefined;
const RUNS = quick ? 5 : 21;
const BUDGET_MS = 100;

interface Stats {
  median: number;
  p90: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!, max: s[s.length - 1]! };
}

/** A platform whose post() does what VS Code's postMessage does in the extension host: JSON-encode the message. */
class PostingPlatform extends FakePlatform {
  bytes = 0;
  conversationPostedAt = 0;
  override readonly post = (msg: HostToWebview): void => {
    this.bytes += JSON.stringify(msg).length;
    if (typeof msg !== 'string' && msg.type === 'conversation') this.conversationPostedAt = performance.now();
  };
}

let sink = 0;

/** The shared 1,000-turn fixture, or a heavier one (every thinking and answer 4× longer: ~4 KB per answer). */
function conversationOf(turns: number, heavy: boolean) {
  const conv = longConversation(turns);
  if (heavy) {
    for (const t of conv.turns) {
      if (t.role !== 'assistant') continue;
      t.thinking = t.thinking.repeat(4);
      t.answer = t.answer.repeat(4);
    }
  }
  return conv;
}

async function measure(turns: number, heavy: boolean, dir: string) {
  const conv = conversationOf(turns, heavy);
  const store = new HistoryStore(dir);
  await store.save(conv);
  const other = newConversation({ title: 'Other' });
  const size = fs.statSync(path.join(dir, `conv-${conv.id}.json`)).size;

  const open: number[] = [];
  const reload: number[] = [];
  const parts = { read: [] as number[], view: [] as number[], post: [] as number[] };
  let posted = 0;
  for (let run = -2; run < RUNS; run++) {
    // open: a session showing another conversation; the user picks the long one in the history list.
    {
      const p = new PostingPlatform(dir, 'http://127.0.0.1:9/v1');
      const s = new ChatSession(p);
      await s.ready();
      await s.newChat();
      const t0 = performance.now();
      await s.handle({ type: 'openConversation', id: conv.id });
      const t = p.conversationPostedAt - t0;
      if (run >= 0) open.push(t);
      if (s.conversation.turns.length !== turns) throw new Error(`opened ${s.conversation.turns.length} turns`);
      posted = p.bytes;
      await s.dispose();
    }
    // reload: a new session over the same store says `ready` (the long conversation is the most recent).
    {
      const p = new PostingPlatform(dir, 'http://127.0.0.1:9/v1');
      const s = new ChatSession(p);
      const t0 = performance.now();
      await s.ready();
      const t = performance.now() - t0;
      if (run >= 0) reload.push(t);
      if (s.conversation.id !== conv.id) throw new Error('the reload did not reopen the most recent conversation');
      await s.dispose();
    }
    // The parts, measured separately.
    {
      let t0 = performance.now();
      const c = await new HistoryStore(dir).open(conv.id);
      const read = performance.now() - t0;
      t0 = performance.now();
      const v = conversationView(c);
      const view = performance.now() - t0;
      t0 = performance.now();
      sink += JSON.stringify({ type: 'conversation', conversation: v }).length;
      const post = performance.now() - t0;
      if (run >= 0) {
        parts.read.push(read);
        parts.view.push(view);
        parts.post.push(post);
      }
    }
  }
  sink += other.turns.length;
  return { turns, heavy, fileBytes: size, postedBytes: posted, open: stats(open), reload: stats(reload), read: stats(parts.read), view: stats(parts.view), post: stats(parts.post) };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-bench-reopen-'));
  const results = [];
  try {
    for (const [turns, heavy] of [[1000, false], [1000, true], [2000, false]] as const) {
      results.push(await measure(turns, heavy, path.join(dir, `${turns}-${heavy}`)));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`Chat: reopen a long conversation, extension-host time (plain Node ${process.version}; ${RUNS} runs after 2 warm-ups)\n`);
  const rows = [['conversation', 'file', 'open: median', 'p90', 'max', 'reload: median', 'p90', 'read+parse+check', 'build view', 'JSON-encode']];
  for (const r of results) {
    rows.push([
      `${r.turns.toLocaleString('en-US')} turns${r.heavy ? ' (4× longer answers)' : ''}`, `${(r.fileBytes / 1024 / 1024).toFixed(2)} MB`,
      ms(r.open.median), ms(r.open.p90), ms(r.open.max), ms(r.reload.median), ms(r.reload.p90),
      ms(r.read.median), ms(r.view.median), ms(r.post.median),
    ]);
  }
  printTable(rows);
  const k = results[0]!;
  const ok = results.filter((r) => r.turns === 1000).every((r) => r.open.median <= BUDGET_MS && r.reload.median <= BUDGET_MS);
  console.log(`\nBudget: 1,000 turns reopen in ≤ ${BUDGET_MS} ms — open ${ms(k.open.median)}, reload ${ms(k.reload.median)} (median; ` +
    `with 4× longer answers ${ms(results[1]!.open.median)} / ${ms(results[1]!.reload.median)}): ${ok ? 'within budget' : 'OVER BUDGET'}.`);
  console.log('open = `openConversation` handled → `conversation` posted; reload = a new session\'s `ready` handled (list, open, composer + history + conversation posted).');
  if (jsonOut) {
    fs.mkdirSync(path.dirname(jsonOut), { recursive: true });
    fs.writeFileSync(jsonOut, JSON.stringify({ runs: RUNS, budgetMs: BUDGET_MS, results }, null, 2));
  }
  if (sink === 42) console.log('');
  if (!ok) process.exitCode = 1;
}

function printTable(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
