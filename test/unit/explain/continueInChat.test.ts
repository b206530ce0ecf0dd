// "Continue in chat" on the chat side: ChatSession.openConversation shows a conversation made by an inline explanation,
// saves it to the history, stops a streaming answer first (keeping it), and a follow-up continues it.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { ChatTurnResult } from '../../../src/core/chat/chatClient';
import type { AssistantTurn } from '../../../src/core/chat/conversation';
import { explanationConversation } from '../../../src/core/explain/explainConversation';
import { buildExplainPrompt } from '../../../src/core/explain/explainPrompt';
import { startEmulator, type EmulatorServerHandle } from '../../emulator/server';
import { FakePlatform, SessionRig, tmpHistoryDir } from '../chat/sessionKit';
import type { Json } from '../chat/helpers';

describe('explain: Continue in chat (the chat session side)', function () {
  this.timeout(20_000);
  let dir: string;
  let h: EmulatorServerHandle;

  beforeEach(async () => {
    dir = tmpHistoryDir();
    h = await startEmulator({ tokensPerSecond: 200 });
  });

  afterEach(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function explained() {
    const lines = ['function twice(n) {', '  return n * 2;', '}'];
    const prompt = buildExplainPrompt({ path: 'src/a.js', languageId: 'javascript', lines, targets: [{ startLine: 2, endLine: 2 }] });
    const result: ChatTurnResult = {
      thinking: 'Doubling.', answer: 'It doubles n.', toolCalls: [], usage: { prompt: 50, completion: 5, total: 55 }, durationMs: 300, stopped: false,
      observations: { reasoningField: 'reasoning', thinkTagsInContent: false, rawToolMarkers: false },
    };
    return explanationConversation({ path: 'src/a.js', languageId: 'javascript', lines, excerpts: prompt.excerpts }, result, { mode: 'instant', startedAt: 1, now: 2 });
  }

  it('shows the conversation, saves it, lists it in the history; a streaming answer is stopped and kept first', async () => {
    const r = new SessionRig(new FakePlatform(dir, `${h.url}/v1`));
    await r.session.ready();
    let from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Write a lot long-answer:3000' });
    await r.inbox.waitFor((m) => typeof m === 'string' && m[0] === 'a', 'answer text', { from });
    const streaming = r.session.conversation.id;

    const conv = explained();
    from = r.inbox.mark();
    await r.session.openConversation(conv);
    const stopped = await r.inbox.waitType('turnFinished', { from });
    assert.equal(stopped.meta.stopped, true, 'the streaming answer was stopped first');
    const shown = await r.inbox.waitType('conversation', { from });
    assert.equal(shown.conversation.id, conv.id);
    assert.equal(shown.conversation.title, 'Explain src/a.js line 2');
    const [user, answer] = shown.conversation.turns;
    assert.ok(user?.role === 'user' && answer?.role === 'assistant');
    assert.deepEqual(user.attachments, [{ kind: 'selection', path: 'src/a.js', startLine: 2, endLine: 2, chars: '  return n * 2;'.length }]);
    assert.deepEqual([answer.thinking, answer.answer], ['Doubling.', 'It doubles n.']);
    const hist = await r.inbox.waitType('history', { from, where: (m) => m.items.some((i) => i.id === conv.id) });
    assert.deepEqual(hist.items.map((i) => i.id).sort(), [conv.id, streaming].sort(), 'both kept in the history');
    assert.equal((await r.p.store.open(conv.id)).turns.length, 2);
    const old = await r.p.store.open(streaming);
    assert.equal((old.turns[1] as AssistantTurn).stopped, true);

    // A follow-up goes out with the explained lines and the explanation before it.
    from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Why times two?' });
    await r.inbox.finished(from);
    const body = h.requests.filter((q) => q.path === '/v1/chat/completions').map((q) => q.body as Json)[1];
    assert.deepEqual(body.messages.map((m: { role: string }) => m.role), ['user', 'assistant', 'user']);
    assert.equal(body.messages[0].content, 'Selection from `src/a.js` (line 2):\n```javascript\n  return n * 2;\n```\n\nExplain the selected code in src/a.js (line 2).');
    assert.equal(body.messages[1].content, 'It doubles n.');
    await r.session.dispose();
  });
});
