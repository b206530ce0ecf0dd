// The chat panel's host side inside a real VS Code extension host (code-server), against the vLLM emulator: the
// extension's own ChatSession driven exactly as its webview drives it (messages checked by the protocol schema), and
// everything it posts to the webview recorded. Real settings, SecretStorage, global storage, editors and dialogs.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AssistantTurn, Conversation } from '../../src/core/chat/conversation';
import type { KimiApi } from '../../src/extension';
import type { WebviewToHost } from '../../src/shared/protocol';
import { startEmulator, type EmulatorServerHandle } from '../emulator/server';
import type { EmulatorOptions } from '../emulator/types';
import type { ChatInbox } from '../support/chatInbox';
import { spawnEmulator, type Json } from '../unit/chat/helpers';
import { api, chatBodies, dropServer, emulateFor, tapChat, untapChat, useServer } from './extensionKit';

function historyDir(a: KimiApi): string {
  return path.join(a.services.context.globalStorageUri.fsPath, 'chat-history');
}

describe('chat panel (host side) in a real VS Code', function () {
  this.timeout(60_000);
  let a: KimiApi;
  let inbox: ChatInbox;
  let tap: vscode.Disposable | undefined;
  let emulator: EmulatorServerHandle | undefined;
  let child: ChildProcess | undefined;

  async function emulate(opts: EmulatorOptions = {}): Promise<EmulatorServerHandle> {
    emulator = await emulateFor(a, opts);
    return emulator;
  }

  /** As the webview would send it. */
  const send = (msg: WebviewToHost) => a.chat.receive(msg);

  before(async () => {
    a = await api();
  });

  beforeEach(async () => {
    ({ inbox, tap } = await tapChat(a));
  });

  afterEach(async () => {
    await untapChat(a, tap);
    child?.kill('SIGKILL');
    child = undefined;
    await dropServer(emulator);
    emulator = undefined;
    await a.services.secrets.setApiKey(undefined);
  });

  it('send → thinking and answer stream → the turn finishes with tokens, TTFT and tok/s; it is saved in global storage', async () => {
    const h = await emulate({ ttftMs: 40, tokensPerSecond: 500 });
    const from = inbox.mark();
    await send({ type: 'send', text: 'How does paged attention work?' });
    const started = await inbox.waitType('turnStarted', { from });
    assert.equal(started.user?.text, 'How does paged attention work?');
    assert.equal(started.meta.model, '/models/Kimi-K2.5');
    const done = await inbox.finished(from);
    const m = done.meta.metrics;
    assert.equal(done.meta.error, undefined);
    assert.ok(m.promptTokens! > 0 && m.completionTokens! > 20, JSON.stringify(m));
    assert.ok(m.ttftMs! >= 35 && m.tokensPerSecond! > 150 && m.thinkingMs! > 0, JSON.stringify(m));
    const text = inbox.streamed(from);
    assert.ok(text.thinking.length > 20 && text.answer.length > 20);
    assert.ok(!text.answer.includes(text.thinking.slice(0, 20)), 'thinking and answer arrive apart');
    await a.chat.session.idle();
    const id = a.chat.session.conversation.id;
    const saved = JSON.parse(fs.readFileSync(path.join(historyDir(a), `conv-${id}.json`), 'utf8')) as Conversation;
    assert.equal((saved.turns[1] as AssistantTurn).answer, text.answer);
    assert.ok(inbox.last('history')!.items.some((i) => i.id === id && i.title === 'How does paged attention work?'));
    const body = chatBodies(h)[0];
    assert.deepEqual([body.temperature, body.top_p, body.stream_options], [1, 0.95, { include_usage: true }]);
  });

  it('Stop mid-stream keeps the partial answer, marked stopped', async () => {
    await emulate({ tokensPerSecond: 100 });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Write a lot long-answer:2000' });
    await inbox.waitFor((m) => typeof m === 'string' && m[0] === 'a', 'answer text', { from });
    await send({ type: 'stop' });
    const done = await inbox.finished(from, 2000);
    assert.equal(done.meta.stopped, true);
    assert.equal(done.meta.error, undefined);
    const turn = a.chat.session.conversation.turns[1] as AssistantTurn;
    assert.ok(turn.answer.length > 0 && turn.answer.split(' ').length < 1500, `${turn.answer.length} characters kept`);
    assert.equal(inbox.streamed(from).answer, turn.answer);
    assert.equal(inbox.last('composer')!.composer.busy, false);
  });

  it('a window reload (a new session over the same storage) brings the conversation and the history back', async () => {
    await emulate();
    for (const q of ['Remember the number 42', 'What number did I mention?']) {
      const from = inbox.mark();
      await send({ type: 'send', text: q });
      await inbox.finished(from);
    }
    await a.chat.session.idle();
    const before = a.chat.session.conversation;
    await a.chat.reloadSession();
    const from = inbox.mark();
    await send({ type: 'ready' });
    const conv = await inbox.waitType('conversation', { from });
    assert.equal(conv.conversation.id, before.id);
    assert.equal(conv.conversation.title, 'Remember the number 42');
    assert.deepEqual(conv.conversation.turns.map((t) => t.role), ['user', 'assistant', 'user', 'assistant']);
    assert.equal(conv.conversation.turns[3]!.role === 'assistant' && conv.conversation.turns[3]!.answer, (before.turns[3] as AssistantTurn).answer);
    const hist = await inbox.waitType('history', { from });
    assert.equal(hist.items[0]!.id, before.id);
    assert.equal(hist.items[0]!.turnCount, 4);
    assert.ok(a.chat.session !== undefined && !a.chat.session.busy);
  });

  describe('each failure appears in the turn within a second, with the right actions', () => {
    it('connection refused → Retry, Start Server', async () => {
      const h = await emulate();
      await h.close();
      emulator = undefined;
      const from = inbox.mark();
      const t0 = performance.now();
      await send({ type: 'send', text: 'anyone there?' });
      const done = await inbox.finished(from, 1000);
      assert.ok(done.receivedAt - t0 < 1000, `${(done.receivedAt - t0).toFixed(0)} ms`);
      assert.equal(done.meta.error?.kind, 'connectionRefused');
      assert.deepEqual(done.meta.error?.actions, ['retry', 'startServer']);
    });

    it('401 (the server now wants another key) → Retry, Set API Key', async () => {
      await a.services.secrets.setApiKey('first-key');
      await emulate({ apiKey: 'first-key' });
      const port = emulator!.port;
      await emulator!.close();
      emulator = await startEmulator({ port, apiKey: 'second-key' });
      const from = inbox.mark();
      const t0 = performance.now();
      await send({ type: 'send', text: 'hello' });
      const done = await inbox.finished(from, 1000);
      assert.ok(done.receivedAt - t0 < 1000);
      assert.equal(done.meta.error?.kind, 'unauthorized');
      assert.deepEqual(done.meta.error?.actions, ['retry', 'setApiKey']);
      assert.match(done.meta.error!.message, /rejected the API key \(HTTP 401\)/);
    });

    it('400 context too long (the server restarted with a smaller max-model-len) → the server\'s message, New Chat', async () => {
      await emulate({ maxModelLen: 262144 });
      const port = emulator!.port;
      await emulator!.close();
      emulator = await startEmulator({ port, maxModelLen: 256 });
      const from = inbox.mark();
      const t0 = performance.now();
      await send({ type: 'send', text: 'tokens '.repeat(400) });
      const done = await inbox.finished(from, 1000);
      assert.ok(done.receivedAt - t0 < 1000);
      assert.equal(done.meta.error?.kind, 'contextTooLong');
      assert.deepEqual(done.meta.error?.actions, ['retry', 'newChat']);
      assert.match(done.meta.error!.serverMessage!, /^This model's maximum context length is 256 tokens\. However, you requested/);
    });

    it('an error event mid-stream → the partial text stays, Retry', async () => {
      await emulate({ script: [{ thinking: 'First I consider the question.', answer: 'The answer starts here and goes on for a while.', error: { when: 'midStream', afterChars: 55, message: 'CUDA error: an illegal memory access was encountered' } }] });
      const from = inbox.mark();
      await send({ type: 'send', text: 'go' });
      const done = await inbox.finished(from, 2000);
      const lastText = [...inbox.all].reverse().find((x) => x.index >= from && typeof x.msg === 'string')!;
      assert.ok(done.receivedAt - lastText.at < 1000);
      assert.equal(done.meta.error?.kind, 'streamError');
      assert.equal(done.meta.error?.serverMessage, 'CUDA error: an illegal memory access was encountered');
      assert.deepEqual(done.meta.error?.actions, ['retry']);
      const turn = a.chat.session.conversation.turns[1] as AssistantTurn;
      assert.ok(turn.thinking.length + turn.answer.length > 0);
      assert.equal(inbox.streamed(from).answer, turn.answer);
    });

    it('the server process killed mid-answer → connection lost, partial answer kept, Retry and Start Server', async () => {
      const spawned = await spawnEmulator(['--tokens-per-second', '80']);
      child = spawned.child;
      await useServer(a, spawned.baseUrl);
      const from = inbox.mark();
      await send({ type: 'send', text: 'Explain everything long-answer:3000' });
      await inbox.waitFor((m) => typeof m === 'string' && m[0] === 'a', 'answer text', { from });
      const killedAt = performance.now();
      child.kill('SIGKILL');
      const done = await inbox.finished(from, 1500);
      assert.ok(done.receivedAt - killedAt < 1000, `${(done.receivedAt - killedAt).toFixed(0)} ms after the kill`);
      assert.equal(done.meta.error?.kind, 'connectionDropped');
      assert.deepEqual(done.meta.error?.actions, ['retry', 'startServer']);
      const turn = a.chat.session.conversation.turns[1] as AssistantTurn;
      assert.ok(turn.answer.length > 0, 'the partial answer is kept');
      assert.equal(inbox.streamed(from).answer, turn.answer);
      await a.chat.session.idle();
      const saved = JSON.parse(fs.readFileSync(path.join(historyDir(a), `conv-${a.chat.session.conversation.id}.json`), 'utf8')) as Conversation;
      assert.equal((saved.turns[1] as AssistantTurn).answer, turn.answer);
      assert.equal((saved.turns[1] as AssistantTurn).error?.kind, 'connectionDropped');
    });
  });

  it('a message that cannot fit the server\'s max_model_len is refused before sending, with a clear reason', async () => {
    const h = await emulate({ maxModelLen: 4096 });
    assert.equal(a.services.status.current.maxModelLen, 4096);
    const from = inbox.mark();
    await send({ type: 'send', text: 'Summarise: ' + 'lorem ipsum dolor sit amet '.repeat(800) });
    const err = await inbox.waitType('composerError', { from });
    assert.match(err.message, /^This message was not sent: the conversation needs about [\d,]+ tokens .*the server's context is 4,096 tokens \(max_model_len\)\. Shorten the message, remove attachments, or start a new chat\.$/);
    assert.equal(inbox.ofType('turnStarted', from).length, 0);
    assert.equal(chatBodies(h).length, 0, 'nothing went to the server');
    assert.equal(a.chat.session.conversation.turns.length, 0);
  });

  it('no server: the composer is blocked with "No server running — Start Server"', async () => {
    const h = await emulate();
    const url = `${h.url}/v1`;
    await h.close();
    emulator = undefined;
    const from = inbox.mark();
    const v = await a.services.status.check();
    assert.equal(v.state, 'unreachable');
    assert.equal(v.baseUrl, url);
    const composer = await inbox.waitType('composer', { from, where: (c) => c.composer.blocked !== undefined });
    assert.deepEqual(composer.composer.blocked, { reason: 'No server running — Start Server', action: 'startServer' });
  });

  it('attach the selection of the active editor: workspace-relative path, line numbers and language go to the model', async () => {
    const h = await emulate();
    const folder = vscode.workspace.workspaceFolders![0]!.uri;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'src', 'math.ts'));
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(7, 0, 10, 0); // lines 8–10, ending at the start of line 11
    let from = inbox.mark();
    await send({ type: 'attach', what: 'selection' });
    const composer = await inbox.waitType('composer', { from });
    const expectedText = doc.getText(new vscode.Range(7, 0, 10, 0));
    assert.deepEqual(composer.composer.attachments, [{ kind: 'selection', path: 'src/math.ts', startLine: 8, endLine: 10, chars: expectedText.length }]);
    from = inbox.mark();
    await send({ type: 'send', text: 'What does mean() do with an empty list?' });
    await inbox.finished(from);
    // (After the system prompt of the workspace tools, which are on in a trusted workspace.)
    const content = (chatBodies(h)[0].messages as Json[]).find((m) => m.role === 'user').content as string;
    assert.equal(content, `Selection from \`src/math.ts\` (lines 8-10):\n\`\`\`typescript\n${expectedText}\`\`\`\n\nWhat does mean() do with an empty list?`);
    // With an empty selection the user is told what to do.
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    from = inbox.mark();
    await send({ type: 'attach', what: 'selection' });
    assert.match((await inbox.waitType('composerError', { from })).message, /^Nothing to attach: nothing is selected in src\/math\.ts\./);
  });

  it('"Restart server with the missing flags" for a server Kimi does not manage explains what to run instead', async () => {
    const h = await emulate();
    const from = inbox.mark();
    await send({ type: 'errorAction', turnId: 'any-turn', action: 'restartServerWithFlags' });
    const notice = await inbox.waitType('notice', { from });
    assert.equal(notice.text, `The server at ${h.url}/v1 was not started by Kimi, so Kimi cannot restart it. Restart \`vllm serve\` with ` +
      '--enable-auto-tool-choice --tool-call-parser kimi_k2 (or start one of your kimi.servers profiles, which include them).');
  });

  it('Insert at Cursor replaces the selection of the active editor', async () => {
    const doc = await vscode.workspace.openTextDocument({ content: 'const a = 1;\nTODO\n', language: 'typescript' });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(1, 0, 1, 4);
    await send({ type: 'insertCode', code: 'const b = 2;' });
    assert.equal(doc.getText(), 'const a = 1;\nconst b = 2;\n');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Delete asks with a modal dialog; Kimi: New Chat shows an empty chat', async () => {
    await emulate();
    const from = inbox.mark();
    await send({ type: 'send', text: 'A chat to delete' });
    await inbox.finished(from);
    await a.chat.session.idle();
    const id = a.chat.session.conversation.id;
    const asked: { message: string; modal: boolean; detail?: string }[] = [];
    const w = vscode.window as unknown as Record<string, unknown>;
    const original = w.showWarningMessage;
    w.showWarningMessage = (message: string, options: vscode.MessageOptions, ...items: string[]) => {
      asked.push({ message, modal: options.modal === true, ...(options.detail ? { detail: options.detail } : {}) });
      return Promise.resolve(items.includes('Delete') ? 'Delete' : undefined);
    };
    try {
      const mark = inbox.mark();
      await send({ type: 'deleteConversation', id });
      assert.deepEqual(asked, [{ message: 'Delete the conversation "A chat to delete"?', modal: true, detail: 'It is removed from the chat history for good.' }]);
      const hist = await inbox.waitType('history', { from: mark });
      assert.ok(!hist.items.some((i) => i.id === id));
      assert.equal(fs.existsSync(path.join(historyDir(a), `conv-${id}.json`)), false);
    } finally {
      w.showWarningMessage = original;
    }
    const mark = inbox.mark();
    await vscode.commands.executeCommand('kimi.newChat');
    const conv = await inbox.waitType('conversation', { from: mark });
    assert.deepEqual(conv.conversation.turns, []);
  });
});
