// The pure parts behind inline explanations: the render throttle (≤ 10 renders a second while text streams, the final
// state at once), the enclosing symbol from a symbol provider's outline, and the conversation "Continue in chat"
// opens (request with the explained lines attached, the explanation as the answer with its thinking).
import { strict as assert } from 'node:assert';
import type { ChatTurnResult } from '../../../src/core/chat/chatClient';
import { renderUserText, toRequestMessages, type AssistantTurn, type UserTurn } from '../../../src/core/chat/conversation';
import { explainAttachments, explainRequestText, explainTitle, explanationConversation } from '../../../src/core/explain/explainConversation';
import { buildExplainPrompt } from '../../../src/core/explain/explainPrompt';
import { RenderThrottle, type ThrottleClock } from '../../../src/core/explain/renderThrottle';
import { enclosingSymbol, type OutlineSymbol } from '../../../src/core/explain/symbols';

class FakeClock implements ThrottleClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

describe('explain: render throttle', () => {
  it('renders the first change at once, then at most once per 100 ms however fast text arrives; flush renders now', () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const th = new RenderThrottle(() => at.push(clock.t), 100, clock);
    th.request();
    assert.deepEqual(at, [0]);
    // 1000 deltas over 1 s (one per millisecond).
    for (let i = 0; i < 1000; i++) {
      clock.advance(1);
      th.request();
    }
    clock.advance(200);
    // 0, 100, …, 1000, and one for the last delta at 1100: ≤ 10 a second.
    assert.deepEqual(at, Array.from({ length: 12 }, (_, i) => i * 100));
    for (let i = 1; i < at.length; i++) assert.ok(at[i]! - at[i - 1]! >= 100, `renders ${at[i - 1]} → ${at[i]}`);
    th.request();
    const before = at.length;
    th.flush();
    assert.equal(at.length, before + 1, 'flush renders at once…');
    clock.advance(500);
    assert.equal(at.length, before + 1, '…and cancels the scheduled render');
    th.dispose();
    th.request();
    th.flush();
    clock.advance(500);
    assert.equal(at.length, before + 1, 'nothing after dispose');
  });
});

describe('explain: enclosing symbol', () => {
  const outline: OutlineSymbol[] = [
    { name: 'Stats', kind: 'class', startLine: 1, endLine: 40, children: [
      { name: 'values', kind: 'property', startLine: 2, endLine: 2 },
      { name: 'mean', kind: 'method', startLine: 10, endLine: 20, children: [{ name: 'total', kind: 'variable', startLine: 11, endLine: 14 }] },
    ] },
    { name: 'helper', kind: 'function', startLine: 50, endLine: 60 },
  ];

  it('is the innermost function, method or class containing the whole selection; variables are skipped', () => {
    assert.deepEqual(enclosingSymbol(outline, { startLine: 12, endLine: 13 }), { name: 'mean', kind: 'method', startLine: 10, endLine: 20 });
    assert.deepEqual(enclosingSymbol(outline, { startLine: 2, endLine: 2 }), { name: 'Stats', kind: 'class', startLine: 1, endLine: 40 });
    assert.deepEqual(enclosingSymbol(outline, { startLine: 18, endLine: 25 }), { name: 'Stats', kind: 'class', startLine: 1, endLine: 40 }, 'a selection leaving the method');
    assert.equal(enclosingSymbol(outline, { startLine: 39, endLine: 52 }), undefined, 'spanning two top-level symbols');
    assert.equal(enclosingSymbol([], { startLine: 1, endLine: 1 }), undefined);
  });

  it('works on a flat list (SymbolInformation) too', () => {
    const flat = [outline[0]!, ...outline[0]!.children!, outline[0]!.children![1]!.children![0]!, outline[1]!].map(({ children: _c, ...s }) => s);
    assert.deepEqual(enclosingSymbol(flat, { startLine: 12, endLine: 12 }), { name: 'mean', kind: 'method', startLine: 10, endLine: 20 });
  });
});

describe('explain: Continue in chat', () => {
  const lines = ['export function mean(values: number[]): number {', '  if (values.length === 0) throw new Error("empty");', '  return values.reduce((s, v) => s + v, 0) / values.length;', '}'];
  const result: ChatTurnResult = {
    thinking: 'The reduce sums.', answer: 'It returns the average.', toolCalls: [], usage: { prompt: 120, completion: 30, total: 150 },
    durationMs: 900, thinkingMs: 300, ttftMs: 80, stopped: false, finishReason: 'stop',
    observations: { reasoningField: 'reasoning', thinkTagsInContent: false, rawToolMarkers: false },
  };

  it('the request with the explained lines attached (path, lines, language) and the explanation as the answer, thinking included', () => {
    const prompt = buildExplainPrompt({ path: 'src/math.ts', languageId: 'typescript', lines, targets: [{ startLine: 2, endLine: 3 }] });
    const conv = explanationConversation({ path: 'src/math.ts', languageId: 'typescript', lines, excerpts: prompt.excerpts }, result, { mode: 'thinking', model: 'Kimi-K2.5', startedAt: 1000, now: 2000 });
    assert.equal(conv.title, 'Explain src/math.ts lines 2–3');
    const [user, assistant] = conv.turns as [UserTurn, AssistantTurn];
    assert.equal(user.text, 'Explain the selected code in src/math.ts (lines 2–3).');
    assert.deepEqual(user.attachments, [{ kind: 'selection', path: 'src/math.ts', text: `${lines[1]}\n${lines[2]}`, startLine: 2, endLine: 3, language: 'typescript' }]);
    assert.deepEqual([assistant.role, assistant.thinking, assistant.answer, assistant.mode, assistant.model, assistant.thinkingMs, assistant.usage?.completion],
      ['assistant', 'The reduce sums.', 'It returns the average.', 'thinking', 'Kimi-K2.5', 300, 30]);
    // A follow-up question sends the attachment with its path and lines, then the explanation as the assistant's turn.
    const msgs = toRequestMessages(conv);
    assert.equal(msgs[0]!.content, renderUserText(user));
    assert.match(msgs[0]!.content as string, /^Selection from `src\/math\.ts` \(lines 2-3\):\n```typescript\n {2}if \(values/);
    assert.equal(msgs[1]!.content, 'It returns the average.');
  });

  it('several selections become several attachments; a cut selection attaches only what was sent, and says so', () => {
    const long = Array.from({ length: 3000 }, (_, i) => `const v${i} = ${i}; // ${'x'.repeat(60)}`);
    const prompt = buildExplainPrompt({ path: 'a.ts', languageId: 'typescript', lines: long, targets: [{ startLine: 1, endLine: 5 }, { startLine: 100, endLine: 2900 }], maxModelLen: 32768 });
    assert.equal(prompt.truncated, true);
    const req = { path: 'a.ts', languageId: 'typescript', lines: long, excerpts: prompt.excerpts };
    const att = explainAttachments(req);
    assert.equal(att.length, 2);
    assert.equal(att[1]!.startLine, 100);
    assert.ok(att[1]!.endLine! < 2900 && att[1]!.text.split('\n').length === att[1]!.endLine! - 99);
    assert.match(explainRequestText(req), /\(lines 1–5, lines 100–2900\)\. Only the attached part of the selection was sent/);
    assert.equal(explainTitle(req), 'Explain a.ts lines 1–5 (+1)');
  });

  it('Explain This Problem: the request quotes the diagnostic', () => {
    const diagnostic = { startLine: 2, endLine: 2, message: "Type 'string' is not assignable to type 'number'.", severity: 'error' as const, source: 'ts', code: '2322' };
    const prompt = buildExplainPrompt({ path: 'src/math.ts', languageId: 'typescript', lines, targets: [{ startLine: 2, endLine: 2 }], diagnostic });
    const req = { path: 'src/math.ts', languageId: 'typescript', lines, excerpts: prompt.excerpts, diagnostic };
    assert.equal(explainRequestText(req), "Explain this error (ts 2322) in src/math.ts at line 2:\nType 'string' is not assignable to type 'number'.");
    assert.equal(explainTitle(req), 'Explain problem in src/math.ts line 2');
  });
});
