// What an inline explanation shows, phase by phase: the thread's header and actions (context value), the Thinking
// comment ("Thinking… N s", then "Thought for N s", its text only when shown), the explanation with notices, status,
// stop and failure; and model markdown that cannot fetch anything by itself (images become links, code untouched).
import { strict as assert } from 'node:assert';
import {
  escapeMarkdown,
  isRunning,
  renderExplanation,
  safeModelMarkdown,
  thinkingSummary,
  type ExplanationState,
} from '../../../src/core/explain/explanationView';

const T0 = 1_700_000_000_000;

function state(over: Partial<ExplanationState> = {}): ExplanationState {
  return { subject: 'src/math.ts, lines 8–10', kind: 'selection', mode: 'instant', phase: 'sending', thinking: '', answer: '', notices: [], thinkingExpanded: false, ...over };
}

describe('inline explanation view', () => {
  it('the header names what is explained; the thread is "running" until it ends, then offers Re-run (and Continue in Chat with text)', () => {
    const r = renderExplanation(state(), T0);
    assert.equal(r.label, 'Kimi · Explain: src/math.ts, lines 8–10');
    assert.equal(r.contextValue, 'kimiExplanation:running');
    assert.equal(renderExplanation(state({ kind: 'problem', subject: 'src/a.ts, line 3' }), T0).label, 'Kimi · Explain problem: src/a.ts, line 3');
    for (const phase of ['waiting', 'sending', 'thinking', 'answering'] as const) assert.ok(isRunning(phase), phase);
    assert.equal(renderExplanation(state({ phase: 'done', answer: 'It adds.' }), T0).contextValue, 'kimiExplanation:finishedWithText');
    assert.equal(renderExplanation(state({ phase: 'refused', error: { message: 'too big' } }), T0).contextValue, 'kimiExplanation:finished');
    assert.equal(renderExplanation(state({ phase: 'stopped' }), T0).contextValue, 'kimiExplanation:finished');
  });

  it('instant mode: one comment by Kimi, its label the status, its body the answer', () => {
    const sending = renderExplanation(state(), T0);
    assert.equal(sending.comments.length, 1);
    assert.deepEqual(sending.comments.map((c) => [c.author, c.label, c.body]), [['Kimi', 'Instant · sending…', '*Explaining…*']]);
    const writing = renderExplanation(state({ phase: 'answering', answer: 'The function **adds**.' }), T0);
    assert.deepEqual(writing.comments.map((c) => [c.label, c.body]), [['Instant · writing…', 'The function **adds**.']]);
    const done = renderExplanation(state({ phase: 'done', answer: ' The function adds. ', metrics: { durationMs: 1234, completionTokens: 1520, tokensPerSecond: 88.04 } }), T0);
    assert.deepEqual(done.comments.map((c) => [c.label, c.body]), [['Instant · 1.2 s · 1,520 tokens · 88.0 tok/s', 'The function adds.']]);
    assert.equal(renderExplanation(state({ phase: 'done' }), T0).comments[0]!.body, '*Kimi returned no explanation.*');
  });

  it('thinking mode: a Thinking comment with a live timer, collapsed to "Thought for N s" once the answer starts; its text only when shown', () => {
    const thinking = state({ mode: 'thinking', phase: 'thinking', thinking: 'Let me look at the loop.', thinkingStartedAt: T0 });
    const live = renderExplanation(thinking, T0 + 4_200);
    assert.deepEqual(live.comments.map((c) => [c.role, c.author, c.label, c.body, c.contextValue]), [
      ['thinking', 'Thinking', 'live', '*Thinking… 4 s*', 'kimiThinking:collapsed'],
      ['explanation', 'Kimi', 'Thinking · thinking…', '*The explanation follows the thinking.*', 'kimiExplanationText'],
    ]);
    assert.equal(thinkingSummary(thinking, T0 + 75_000), 'Thinking… 1 min 15 s');
    const shown = renderExplanation({ ...thinking, thinkingExpanded: true }, T0 + 5_000);
    assert.deepEqual([shown.comments[0]!.body, shown.comments[0]!.contextValue], ['*Thinking… 5 s*\n\nLet me look at the loop.', 'kimiThinking:expanded']);

    const answered = state({ mode: 'thinking', phase: 'done', thinking: 'Let me look at the loop.', thinkingStartedAt: T0, thinkingMs: 6_900, answer: 'It sums.' });
    const r = renderExplanation(answered, T0 + 60_000);
    assert.deepEqual(r.comments.map((c) => [c.author, c.label, c.body]), [['Thinking', undefined, '*Thought for 6 s*'], ['Kimi', 'Thinking', 'It sums.']]);
    assert.equal(renderExplanation({ ...answered, thinkingExpanded: true }, T0).comments[0]!.body, '*Thought for 6 s*\n\nLet me look at the loop.');
    // Thinking mode with no thinking text at all (stopped before it began): no Thinking comment.
    assert.equal(renderExplanation(state({ mode: 'thinking', phase: 'stopped' }), T0).comments.length, 1);
  });

  it('notices (truncation, context dropped) come first; a refusal says it was not sent and why', () => {
    const r = renderExplanation(state({ phase: 'answering', notices: ['Only lines 1–400 of lines 1–9,000 were sent.'], answer: 'Part one.' }), T0);
    assert.equal(r.comments[0]!.body, '*⚠ Only lines 1–400 of lines 1–9,000 were sent\\.*\n\nPart one.');
    const refused = renderExplanation(state({ phase: 'refused', error: { message: 'Not sent: the selection (9,000 lines) cannot fit.' } }), T0);
    assert.equal(refused.comments[0]!.label, 'not sent');
    assert.equal(refused.comments[0]!.body, '**Not sent.** Not sent: the selection \\(9,000 lines\\) cannot fit\\.');
  });

  it('waiting for the server says why and that it starts by itself', () => {
    const r = renderExplanation(state({ phase: 'waiting', waitingReason: 'No server running — Start Server' }), T0);
    assert.equal(r.comments[0]!.label, 'waiting for the server');
    assert.equal(r.comments[0]!.body, "*Waiting for Kimi's server (No server running — Start Server). The explanation starts as soon as it is ready.*");
  });

  it('stopped keeps the partial text and says so; a failure keeps it too, with the message, the server\'s words and Re-run', () => {
    assert.equal(renderExplanation(state({ phase: 'stopped', answer: 'Half of' }), T0).comments[0]!.body, 'Half of\n\n*Stopped — the explanation above is partial.*');
    assert.equal(renderExplanation(state({ phase: 'stopped' }), T0).comments[0]!.body, '*Stopped before any explanation arrived.*');
    const failed = renderExplanation(state({ phase: 'failed', answer: 'The loop', error: { message: 'The server reported an error mid-stream.', serverMessage: 'CUDA error: `illegal` access' } }), T0);
    assert.equal(failed.comments[0]!.label, 'Instant · failed');
    assert.equal(failed.comments[0]!.body,
      "The loop\n\n---\n\n**The explanation failed:** The server reported an error mid\\-stream\\.\n\nThe server said: `CUDA error: 'illegal' access`\n\n" +
      '*Re-run (↻) to try again; the partial text above is kept until then.*');
    assert.equal(failed.contextValue, 'kimiExplanation:finishedWithText');
  });

  it('images in model text become links (nothing is fetched); code blocks and inline code stay exactly as written', () => {
    assert.equal(safeModelMarkdown('See ![diagram](https://evil.example/x.png?d=secret) and ![](http://t.example/p)'),
      'See [diagram](https://evil.example/x.png?d=secret) and [image](http://t.example/p)');
    assert.equal(safeModelMarkdown('ref ![logo][1]\n\n[1]: https://x.example/a.png'), 'ref [logo][1]\n\n[1]: https://x.example/a.png');
    const code = '```md\n![kept](https://a.example/b.png)\n```\nthen `![also kept](u)` and ![gone](v)\n~~~~\n![x](y)\n~~~~';
    assert.equal(safeModelMarkdown(code), '```md\n![kept](https://a.example/b.png)\n```\nthen `![also kept](u)` and [gone](v)\n~~~~\n![x](y)\n~~~~');
    // An unclosed fence (mid-stream) keeps the rest as code.
    assert.equal(safeModelMarkdown('```\n![a](b)'), '```\n![a](b)');
    // The same in the thinking and the answer of a rendered thread.
    const r = renderExplanation(state({ mode: 'thinking', phase: 'done', thinking: '![t](https://t.example)', thinkingMs: 1000, thinkingExpanded: true, answer: '![a](https://a.example)' }), T0);
    assert.deepEqual(r.comments.map((c) => c.body), ['*Thought for 1 s*\n\n[t](https://t.example)', '[a](https://a.example)']);
  });

  it('our own text with user data (paths, messages) is escaped', () => {
    assert.equal(escapeMarkdown('a_b*[c](d)<img>`e`!'), 'a\\_b\\*\\[c\\]\\(d\\)\\<img\\>\\`e\\`\\!');
  });
});
