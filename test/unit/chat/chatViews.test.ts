// What the chat panel shows for a stored conversation, a failure and each server state (src/core/chat/chatViews.ts).
import { strict as assert } from 'node:assert';
import { assistantMeta, composerBlock, conversationView, errorView } from '../../../src/core/chat/chatViews';
import type { AssistantTurn } from '../../../src/core/chat/conversation';
import type { ServerView } from '../../../src/shared/protocol';
import { longConversation } from './helpers';

describe('chat views', () => {
  it('a failure offers Retry when retrying can help, then its own action (settings problems open the settings)', () => {
    assert.deepEqual(errorView({ kind: 'modelNotFound', message: 'm', retryable: true, action: 'checkSettings', serverMessage: 'The model `x` does not exist.' }), {
      kind: 'modelNotFound', message: 'm', serverMessage: 'The model `x` does not exist.', actions: ['retry', 'openSettings'],
    });
    assert.deepEqual(errorView({ kind: 'toolChoiceNotEnabled', message: 'm', retryable: true, action: 'restartServerWithFlags', missingFlags: ['--enable-auto-tool-choice'] }).actions, ['retry', 'restartServerWithFlags']);
    assert.deepEqual(errorView({ kind: 'invalidInput', message: 'm', retryable: false }).actions, []);
  });

  it('turn metadata: tokens from usage, timings, stop and error states', () => {
    const t: AssistantTurn = {
      role: 'assistant', id: 'a1', createdAt: 5, mode: 'instant', model: 'k', thinking: '', answer: 'x', toolCalls: [{ id: 'functions.f:0', name: 'f', arguments: '{}' }],
      usage: { prompt: 12, completion: 30, total: 42 }, ttftMs: 200, tokensPerSecond: 55.5, thinkingMs: 0, durationMs: 900, finishReason: 'length', stopped: true,
    };
    assert.deepEqual(assistantMeta(t), {
      mode: 'instant', model: 'k', startedAt: 5, finishReason: 'length', stopped: true,
      metrics: { promptTokens: 12, completionTokens: 30, ttftMs: 200, tokensPerSecond: 55.5, thinkingMs: 0, durationMs: 900 },
      toolCalls: [{ id: 'functions.f:0', name: 'f', arguments: '{}', status: 'pending', index: 0 }],
    });
  });

  it('stored tool calls as cards: their final status and duration, long arguments and results cut with the full length', () => {
    const long = JSON.stringify({ path: 'a.ts', newText: 'x'.repeat(30_000) });
    const t: AssistantTurn = {
      role: 'assistant', id: 'a2', createdAt: 5, mode: 'thinking', thinking: '', answer: '', toolCalls: [
        { id: 'functions.propose_edit:0', name: 'propose_edit', arguments: long, result: 'The user rejected the edit to a.ts; the file is unchanged.', status: 'rejected', durationMs: 4 },
        { id: 'functions.read_file:1', name: 'read_file', arguments: '{"path":"b.ts"}', result: `b.ts (lines 1-900 of 900)\n${'y'.repeat(5000)}` },
        { id: 'functions.read_file:2', name: 'read_file', arguments: '{}', result: 'error: not run — the limit of 8 tool rounds for this message was reached.', isError: true, status: 'skipped' },
      ],
    };
    const [edit, read, skipped] = assistantMeta(t).toolCalls;
    assert.equal(edit!.status, 'rejected');
    assert.equal(edit!.durationMs, 4);
    assert.equal(edit!.argumentsChars, long.length);
    assert.equal(edit!.arguments.length, 20_001);
    assert.equal(read!.status, 'done');
    assert.equal(read!.resultPreview!.length, 2001);
    assert.deepEqual([skipped!.status, skipped!.isError, skipped!.index], ['skipped', true, 2]);
  });

  it('a conversation view keeps every turn in order (or stops before a given turn)', () => {
    const c = longConversation(10);
    const v = conversationView(c);
    assert.equal(v.turns.length, 10);
    assert.deepEqual(v.turns.map((t) => t.id), c.turns.map((t) => t.id));
    assert.deepEqual(v.turns[0]!.role === 'user' && v.turns[0]!.attachments, [{ kind: 'selection', path: 'src/file0.ts', startLine: 10, endLine: 29, chars: 400 }]);
    assert.equal(conversationView(c, 3).turns.length, 3);
  });

  it('the composer says why nothing can be sent, for every server state', () => {
    const base = { baseUrl: 'http://h/v1' };
    const cases: [ServerView, ReturnType<typeof composerBlock>][] = [
      [{ ...base, state: 'ready', modelId: 'm' }, undefined],
      [{ ...base, state: 'checking' }, { reason: 'Checking the server…' }],
      [{ ...base, state: 'starting', detail: 'Loading weights 12/64' }, { reason: 'The server is starting (Loading weights 12/64) — you can send once it is ready' }],
      [{ ...base, state: 'unreachable' }, { reason: 'No server running — Start Server', action: 'startServer' }],
      [{ ...base, state: 'unauthorized' }, { reason: 'The server needs an API key', action: 'setApiKey' }],
      [{ ...base, state: 'error', detail: 'the server does not serve "x"' }, { reason: 'The server cannot be used: the server does not serve "x"', action: 'openSettings' }],
      [{ ...base, state: 'stopping' }, { reason: 'The server is stopping' }],
      [{ ...base, state: 'failed', managed: { profile: 'p', host: 'local', kind: 'failed', diagnosis: { title: 'Out of GPU memory', explanation: '…' } } },
        { reason: 'The server failed to start: Out of GPU memory — Start Server to try again', action: 'startServer' }],
    ];
    for (const [view, expected] of cases) assert.deepEqual(composerBlock(view), expected, view.state);
  });
});
