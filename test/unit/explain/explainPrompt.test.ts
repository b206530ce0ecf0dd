// The "Explain" request: what the model is told (language, path, numbered selected lines, bounded context with the
// enclosing symbol), multiple selections, the diagnostic form, and what happens when it cannot fit max_model_len:
// context dropped first, then the selection cut with a notice, then a clear refusal.
import { strict as assert } from 'node:assert';
import { ChatError } from '../../../src/core/chat/errors';
import {
  buildExplainPrompt,
  CONTEXT_LINES,
  contextRange,
  EXPLAIN_PROBLEM_SYSTEM_PROMPT,
  MAX_LINE_CHARS,
  MAX_SYMBOL_LINES,
  mergeRanges,
  numberLines,
  type ExplainInput,
} from '../../../src/core/explain/explainPrompt';

function doc(n: number, line = (i: number) => `const v${i} = ${i};`): string[] {
  return Array.from({ length: n }, (_, i) => line(i + 1));
}

function userText(p: { messages: { role: string; content: unknown }[] }): string {
  const u = p.messages.find((m) => m.role === 'user');
  assert.ok(u && typeof u.content === 'string');
  return u.content;
}

describe('explain prompt', () => {
  const base = (over: Partial<ExplainInput> = {}): ExplainInput => ({
    path: 'src/app.ts',
    languageId: 'typescript',
    lines: doc(200),
    targets: [{ startLine: 100, endLine: 102 }],
    ...over,
  });

  it('names the path and language and sends the selected lines with their numbers', () => {
    const p = buildExplainPrompt(base());
    const text = userText(p);
    assert.match(text, /`src\/app\.ts` \(typescript\), lines 100–102/);
    assert.match(text, /```typescript\n100 \| const v100 = 100;\n101 \| const v101 = 101;\n102 \| const v102 = 102;\n```/);
    assert.equal(p.messages[0]?.role, 'system');
    assert.equal(p.truncated, false);
    assert.deepEqual(p.notices, []);
  });

  it('adds a bounded window of surrounding lines when no symbol is known', () => {
    const text = userText(buildExplainPrompt(base()));
    assert.ok(text.includes(` 70 | const v70 = 70;`), 'the window starts CONTEXT_LINES above');
    assert.ok(text.includes(`132 | const v132 = 132;`), 'and ends CONTEXT_LINES below');
    assert.ok(!text.includes(' 69 | '), 'nothing beyond the window');
    assert.ok(!text.includes('133 | '));
    assert.deepEqual(contextRange({ startLine: 3, endLine: 3 }, 10), { startLine: 1, endLine: 10 }, 'clamped to the document');
    assert.equal(CONTEXT_LINES, 30);
  });

  it('uses the enclosing symbol as the context and names it', () => {
    const text = userText(buildExplainPrompt(base({ targets: [{ startLine: 100, endLine: 101, symbol: { name: 'handle', kind: 'function', startLine: 95, endLine: 110 } }] })));
    assert.match(text, /inside function `handle`/);
    assert.ok(text.includes(' 95 | const v95'));
    assert.ok(text.includes('110 | const v110'));
    assert.ok(!text.includes(' 94 | ') && !text.includes('111 | '), 'exactly the symbol');
  });

  it('falls back to the window when the enclosing symbol is huge or does not cover the selection', () => {
    const huge = { name: 'big', kind: 'class', startLine: 1, endLine: 1 + MAX_SYMBOL_LINES + 5 };
    assert.deepEqual(contextRange({ startLine: 100, endLine: 100, symbol: huge }, 400), { startLine: 70, endLine: 130 });
    const elsewhere = { name: 'f', kind: 'function', startLine: 1, endLine: 10 };
    assert.deepEqual(contextRange({ startLine: 100, endLine: 100, symbol: elsewhere }, 400), { startLine: 70, endLine: 130 });
  });

  it('sends several selections in document order, merging overlaps', () => {
    const p = buildExplainPrompt(base({ targets: [{ startLine: 150, endLine: 151 }, { startLine: 10, endLine: 12 }, { startLine: 12, endLine: 13 }] }));
    const text = userText(p);
    assert.match(text, /lines 10–13, lines 150–151/);
    assert.ok(text.indexOf('Selection 1 of 2 (lines 10–13)') < text.indexOf('Selection 2 of 2 (lines 150–151)'));
    assert.deepEqual(mergeRanges([{ startLine: 5, endLine: 6 }, { startLine: 7, endLine: 8 }, { startLine: 1, endLine: 2 }]), [
      { startLine: 1, endLine: 2 },
      { startLine: 5, endLine: 8 },
    ]);
  });

  it('explains a diagnostic with its message, severity and source', () => {
    const p = buildExplainPrompt(base({
      targets: [{ startLine: 40, endLine: 40 }],
      diagnostic: { startLine: 40, endLine: 40, message: "Type 'string' is not assignable to type 'number'.", severity: 'error', source: 'ts', code: '2322' },
    }));
    assert.equal(p.messages[0]?.content, EXPLAIN_PROBLEM_SYSTEM_PROMPT);
    const text = userText(p);
    assert.match(text, /Explain this error in `src\/app\.ts` \(typescript\) at line 40 reported by ts 2322/);
    assert.match(text, /> Type 'string' is not assignable to type 'number'\./);
    assert.match(text, /The lines it refers to \(line 40\):\n```typescript\n 40 \| const v40 = 40;/);
  });

  it('keeps a selection containing backtick fences intact (a longer fence)', () => {
    const lines = ['```js', 'x()', '```'];
    const text = userText(buildExplainPrompt({ path: 'README.md', languageId: 'markdown', lines, targets: [{ startLine: 1, endLine: 3 }] }));
    assert.match(text, /````markdown\n1 \| ```js\n2 \| x\(\)\n3 \| ```\n````/);
  });

  it('cuts minified lines and marks the cut', () => {
    const long = 'a'.repeat(MAX_LINE_CHARS + 500);
    const out = numberLines([long], { startLine: 1, endLine: 1 });
    assert.ok(out.length < MAX_LINE_CHARS + 100);
    assert.match(out, /\[line cut: 2,500 characters\]/);
  });

  it('drops the context first when the request does not fit', () => {
    const full = buildExplainPrompt(base());
    const p = buildExplainPrompt(base({ maxModelLen: full.estimate + 200, reserveOutputTokens: 300 }));
    assert.equal(p.contextDropped, true);
    assert.equal(p.truncated, false);
    assert.ok(!userText(p).includes('Surrounding code'));
    assert.match(p.notices[0]!, /surrounding code was left out/);
    assert.ok(p.estimate + 300 <= full.estimate + 200);
  });

  it('cuts a selection too large for max_model_len, with a visible notice naming what was sent', () => {
    const lines = doc(5000, (i) => `function f${i}(a, b) { return a * b + ${i}; } // some explanation text here`);
    const p = buildExplainPrompt({ path: 'big.js', languageId: 'javascript', lines, targets: [{ startLine: 1, endLine: 5000 }], maxModelLen: 32_768 });
    assert.equal(p.truncated, true);
    assert.ok(p.estimate <= 32_768 - 4096, `estimate ${p.estimate} within the budget`);
    const note = p.notices.find((n) => n.startsWith('Only'));
    assert.ok(note, p.notices.join(' | '));
    assert.match(note, /^Only lines 1–\d+ of lines 1–5000 were sent: the whole selection does not fit the server's context of 32,768 tokens\.$/);
    assert.match(userText(p), /… \d[\d,]* more selected lines not sent \(the context limit\) …/);
    const sent = Number(/Only lines 1–(\d+)/.exec(note)![1]);
    assert.ok(sent > 500 && sent < 5000, `a useful part was sent (${sent} lines)`);
  });

  it('refuses with a clear message when even a minimal excerpt cannot fit', () => {
    const lines = doc(100, () => 'x'.repeat(1500));
    assert.throws(
      () => buildExplainPrompt({ path: 'a.txt', languageId: 'plaintext', lines, targets: [{ startLine: 1, endLine: 100 }], maxModelLen: 2048 }),
      (e: unknown) => e instanceof ChatError && e.kind === 'contextPrecheck' && /Select less code, or start the server with a larger --max-model-len/.test(e.message) && /2,048 tokens/.test(e.message),
    );
  });

  it('refuses an empty selection list', () => {
    assert.throws(() => buildExplainPrompt(base({ targets: [] })), (e: unknown) => e instanceof ChatError && e.kind === 'invalidInput');
  });

  it('clamps out-of-range lines instead of inventing text', () => {
    const text = userText(buildExplainPrompt({ path: 'a.ts', languageId: 'typescript', lines: doc(3), targets: [{ startLine: 2, endLine: 99 }] }));
    assert.match(text, /lines 2–3/);
    assert.ok(!text.includes('4 | '));
  });
});
