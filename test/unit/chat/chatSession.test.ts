// The chat session (src/vscode/chat/chatSession.ts) in plain Node against the vLLM emulator over real HTTP, with a
// real history store: what the webview receives for every message it sends, what goes to the server, what is saved.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { addUserTurn, newConversation, type AssistantTurn, type Conversation } from '../../../src/core/chat/conversation';
import { ChatError } from '../../../src/core/chat/errors';
import { HistoryStore } from '../../../src/core/chat/historyStore';
import { MAX_IMAGE_BYTES } from '../../../src/core/chat/conversation';
import type { AssistantTurnView, ServerView, UserTurnView } from '../../../src/shared/protocol';
import { limitFeedback } from '../../../src/vscode/chat/chatSession';
import { startEmulator, type EmulatorServerHandle } from '../../emulator/server';
import type { EmulatorOptions } from '../../emulator/types';
import { FakePlatform, SessionRig, tmpHistoryDir } from './sessionKit';
import type { Json } from './helpers';

const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function chatRequests(h: EmulatorServerHandle): Json[] {
  return h.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as Json);
}

/** A conversation saved with `turns` exchanges, `updatedAt` = at. */
function savedConversation(title: string, exchanges: number, at: number): Conversation {
  const c = newConversation({ now: at });
  for (let i = 0; i < exchanges; i++) {
    addUserTurn(c, { text: i === 0 ? title : `more ${i}` }, at);
    const a: AssistantTurn = { role: 'assistant', id: `a${i}-${at}`, createdAt: at, mode: 'thinking', thinking: `thought ${i}`, answer: `answer ${i}`, toolCalls: [], usage: { prompt: 10, completion: 4, total: 14 } };
    c.turns.push(a);
  }
  c.updatedAt = at;
  return c;
}

describe('chat session', function () {
  this.timeout(20_000);
  let dir: string;
  let h: EmulatorServerHandle | undefined;
  const rigs: SessionRig[] = [];

  async function rig(emu: EmulatorOptions = {}, view: Partial<ServerView> = {}, opts: ConstructorParameters<typeof SessionRig>[1] = {}): Promise<SessionRig> {
    h = await startEmulator(emu);
    const r = new SessionRig(new FakePlatform(dir, `${h.url}/v1`, { maxModelLen: h.config.maxModelLen, ...view }), opts);
    rigs.push(r);
    await r.session.ready();
    return r;
  }

  beforeEach(() => {
    dir = tmpHistoryDir();
  });
  afterEach(async () => {
    for (const r of rigs.splice(0)) await r.session.dispose();
    await h?.close();
    h = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('ready', () => {
    it('an empty history: the composer (mode from settings, not blocked), an empty list, an empty conversation', async () => {
      const p = new FakePlatform(dir, 'http://127.0.0.1:9/v1');
      p.settings.mode = 'instant';
      const r = new SessionRig(p);
      rigs.push(r);
      await r.session.ready();
      assert.deepEqual(p.inbox.all.map((x) => (typeof x.msg === 'string' ? 'delta' : x.msg.type)), ['composer', 'history', 'conversation']);
      assert.deepEqual(p.inbox.last('composer')!.composer, { mode: 'instant', busy: false, attachments: [], images: [] });
      assert.deepEqual(p.inbox.last('history'), { type: 'history', items: [], problems: [] });
      assert.deepEqual(p.inbox.last('conversation')!.conversation.turns, []);
    });

    it('a window reload (a new session over the same store) reopens the most recent conversation with its turns and metrics', async () => {
      const store = new HistoryStore(dir);
      await store.save(savedConversation('Older chat', 1, 1000));
      const recent = savedConversation('Recent chat', 3, 2000);
      await store.save(recent);
      const p = new FakePlatform(dir, 'http://127.0.0.1:9/v1');
      const r = new SessionRig(p);
      rigs.push(r);
      await r.session.ready();
      const conv = p.inbox.last('conversation')!.conversation;
      assert.equal(conv.id, recent.id);
      assert.equal(conv.title, 'Recent chat');
      assert.equal(conv.turns.length, 6);
      const a = conv.turns[1] as AssistantTurnView;
      assert.equal(a.answer, 'answer 0');
      assert.equal(a.thinking, 'thought 0');
      assert.deepEqual(a.metrics, { promptTokens: 10, completionTokens: 4 });
      assert.deepEqual(p.inbox.last('history')!.items.map((i) => [i.title, i.turnCount]), [['Recent chat', 6], ['Older chat', 2]]);
    });

    it('a corrupt most recent conversation: a clear problem in the history list, the next one opens, nothing else is lost', async () => {
      const store = new HistoryStore(dir);
      const older = savedConversation('Older chat', 1, 1000);
      await store.save(older);
      const broken = savedConversation('Broken chat', 1, 2000);
      await store.save(broken);
      fs.writeFileSync(path.join(dir, `conv-${broken.id}.json`), '{"version":1,"id":"tor');
      const p = new FakePlatform(dir, 'http://127.0.0.1:9/v1');
      const r = new SessionRig(p);
      rigs.push(r);
      await r.session.ready();
      assert.equal(p.inbox.last('conversation')!.conversation.id, older.id);
      const hist = p.inbox.last('history')!;
      assert.deepEqual(hist.items.map((i) => i.title), ['Older chat']);
      assert.equal(hist.problems.length, 1);
      assert.match(hist.problems[0]!, /"Broken chat" could not be opened: it is not valid JSON.*kept as conv-.*\.corrupt-.*your other conversations are not affected/);
      assert.ok(fs.readdirSync(dir).some((f) => f.startsWith(`conv-${broken.id}.json.corrupt-`)), 'the damaged file is kept aside');
    });
  });

  describe('sending', () => {
    it('send → turnStarted with the user turn → thinking then answer deltas → turnFinished with metrics; saved and listed', async () => {
      const r = await rig({ ttftMs: 30, tokensPerSecond: 400 });
      const { inbox } = r;
      const from = inbox.mark();
      await r.send({ type: 'send', text: 'Explain the KV cache' });
      const started = await inbox.waitType('turnStarted', { from });
      assert.equal(started.user?.text, 'Explain the KV cache');
      assert.equal(started.meta.mode, 'thinking');
      assert.equal(started.meta.model, '/models/Kimi-K2.5');
      assert.deepEqual(inbox.ofType('composer', from).map((c) => c.composer.busy)[0], true);
      const done = await inbox.finished(from);
      const m = done.meta.metrics;
      assert.equal(done.meta.error, undefined);
      assert.equal(done.meta.finishReason, 'stop');
      assert.ok(m.promptTokens! > 0 && m.completionTokens! > 10, JSON.stringify(m));
      assert.ok(m.ttftMs! >= 25, `ttft ${m.ttftMs}`);
      assert.ok(m.tokensPerSecond! > 100 && m.tokensPerSecond! < 1000, `tok/s ${m.tokensPerSecond}`);
      assert.ok(m.thinkingMs! > 0 && m.durationMs! > m.ttftMs!, JSON.stringify(m));
      // Every delta belongs between turnStarted and turnFinished; thinking strictly before the answer.
      const text = inbox.streamed(from);
      const conv = r.session.conversation;
      const stored = conv.turns[1] as AssistantTurn;
      assert.equal(text.thinking, stored.thinking);
      assert.equal(text.answer, stored.answer);
      assert.ok(stored.thinking.length > 20 && stored.answer.length > 20);
      const kinds = inbox.all.slice(from).filter((x) => typeof x.msg === 'string').map((x) => (x.msg as string)[0]).join('');
      assert.match(kinds, /^t+a+$/);
      assert.equal(inbox.last('composer')!.composer.busy, false);
      // Saved, and the list shows it with its title.
      await r.session.idle();
      const reopened = await new HistoryStore(dir).open(conv.id);
      assert.equal((reopened.turns[1] as AssistantTurn).answer, stored.answer);
      assert.equal((reopened.turns[1] as AssistantTurn).error, undefined);
      assert.deepEqual(inbox.last('history')!.items.map((i) => [i.title, i.turnCount]), [['Explain the KV cache', 2]]);
      // The request: the recommended thinking sampling, streamed with usage.
      const body = chatRequests(h!)[0];
      assert.equal(body.temperature, 1);
      assert.equal(body.top_p, 0.95);
      assert.equal(body.chat_template_kwargs, undefined);
      assert.deepEqual(body.messages, [{ role: 'user', content: 'Explain the KV cache' }]);
    });

    it('bytes posted stay within 1.1× the text generated on a long streamed answer', async () => {
      const r = await rig({ tokensPerSecond: 2000 });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'Describe the scheduler long-answer:1500 long-thinking:500' });
      await r.inbox.finished(from);
      const { textBytes, postedBytes, batches } = r.session.deltaStats;
      const received = r.inbox.all.slice(from).filter((x) => typeof x.msg === 'string').reduce((n, x) => n + Buffer.byteLength(x.msg as string), 0);
      assert.equal(received, postedBytes);
      assert.ok(textBytes > 8000, `${textBytes} bytes streamed`);
      assert.ok(postedBytes <= 1.1 * textBytes, `${postedBytes} bytes posted for ${textBytes} (${batches} batches)`);
    });

    it('instant mode: chat_template_kwargs thinking:false with the temperature from the settings; no thinking comes back', async () => {
      const r = await rig();
      r.p.settings.sampling = { thinkingTemperature: 0.9, instantTemperature: 0.3, topP: 0.8 };
      await r.send({ type: 'setMode', mode: 'instant' });
      assert.equal(r.inbox.last('composer')!.composer.mode, 'instant');
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'hello' });
      const done = await r.inbox.finished(from);
      assert.equal(done.meta.mode, 'instant');
      const body = chatRequests(h!)[0];
      assert.deepEqual(body.chat_template_kwargs, { thinking: false });
      assert.equal(body.temperature, 0.3);
      assert.equal(body.top_p, 0.8);
      assert.equal(r.inbox.streamed(from).thinking, '');
      assert.match(r.inbox.streamed(from).answer, /^Hello/);
    });

    it('a server without a reasoning parser (known from the profile): the thinking still arrives apart from the answer', async () => {
      const r = await rig({ reasoningParser: false });
      r.p.parser = false;
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'What is a KV cache?' });
      await r.inbox.finished(from);
      const s = r.inbox.streamed(from);
      assert.ok(s.thinking.length > 20, s.thinking);
      assert.ok(!s.answer.includes('</think>') && !s.thinking.includes('</think>'));
      assert.ok(s.answer.length > 20);
    });

    it('later turns replay the conversation: earlier answers without their reasoning', async () => {
      const r = await rig();
      let from = r.inbox.mark();
      await r.send({ type: 'send', text: 'first question' });
      await r.inbox.finished(from);
      from = r.inbox.mark();
      await r.send({ type: 'send', text: 'second question' });
      await r.inbox.finished(from);
      const msgs = chatRequests(h!)[1].messages;
      assert.deepEqual(msgs.map((m: Json) => m.role), ['user', 'assistant', 'user']);
      assert.equal(msgs[1].content, (r.session.conversation.turns[1] as AssistantTurn).answer);
      assert.equal(msgs[1].reasoning, undefined);
      assert.equal(msgs[1].reasoning_content, undefined);
    });

    it('Stop mid-stream: the partial answer stays, marked stopped, with no error; it is saved that way', async () => {
      const r = await rig({ tokensPerSecond: 150 });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'Tell me everything long-answer:2000' });
      await r.inbox.waitFor((m) => typeof m === 'string' && m[0] === 'a', 'answer text', { from });
      await r.send({ type: 'stop' });
      const done = await r.inbox.finished(from, 2000);
      assert.equal(done.meta.stopped, true);
      assert.equal(done.meta.error, undefined);
      await r.session.idle();
      const stored = r.session.conversation.turns[1] as AssistantTurn;
      assert.ok(stored.answer.length > 0 && stored.answer.split(' ').length < 1500, `partial answer of ${stored.answer.length} chars`);
      assert.equal(r.inbox.streamed(from).answer, stored.answer);
      const saved = (await new HistoryStore(dir).open(r.session.conversation.id)).turns[1] as AssistantTurn;
      assert.equal(saved.stopped, true);
      assert.equal(saved.answer, stored.answer);
    });

    it('while an answer streams it is saved every few seconds (a crash keeps the partial text, marked interrupted)', async () => {
      const r = await rig({ tokensPerSecond: 100 }, {}, { saveIntervalMs: 60 });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'Tell me everything long-answer:1000' });
      await r.inbox.waitFor((m) => typeof m === 'string' && m[0] === 'a', 'answer text', { from });
      const file = path.join(dir, `conv-${r.session.conversation.id}.json`);
      // Wait (with a deadline) until a periodic save holds some answer text.
      const deadline = Date.now() + 5000;
      let partial: AssistantTurn | undefined;
      while (Date.now() < deadline) {
        const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Conversation;
        const a = c.turns[1] as AssistantTurn | undefined;
        if (a && a.answer.length > 0) {
          partial = a;
          break;
        }
        await new Promise<void>((res) => {
          const w = fs.watch(dir, () => {
            w.close();
            res();
          });
          setTimeout(() => {
            w.close();
            res();
          }, 200);
        });
      }
      assert.ok(partial, 'a save with partial answer text while streaming');
      assert.equal(partial.error?.kind, 'connectionDropped');
      assert.match(partial.error?.message ?? '', /closed .* while this answer was streaming; the partial answer is kept/);
      await r.send({ type: 'stop' });
      await r.inbox.finished(from);
      await r.session.idle();
      const final = (await new HistoryStore(dir).open(r.session.conversation.id)).turns[1] as AssistantTurn;
      assert.equal(final.error, undefined);
      assert.equal(final.stopped, true);
    });
  });

  describe('failures appear in the turn within a second, keep the partial text and offer the right actions', () => {
    it('connection refused → Retry + Start Server; the server state is re-checked', async () => {
      const p = new FakePlatform(dir, `http://127.0.0.1:${await closedPort()}/v1`);
      const r = new SessionRig(p);
      rigs.push(r);
      await r.session.ready();
      const from = r.inbox.mark();
      const t0 = performance.now();
      await r.send({ type: 'send', text: 'hello?' });
      const done = await r.inbox.finished(from, 1000);
      assert.ok(done.receivedAt - t0 < 1000);
      assert.equal(done.meta.error?.kind, 'connectionRefused');
      assert.deepEqual(done.meta.error?.actions, ['retry', 'startServer']);
      assert.match(done.meta.error!.message, /No server is running at http:\/\/127\.0\.0\.1:\d+\/v1/);
      await r.session.idle();
      assert.ok(p.refreshes >= 1, 'the header is brought up to date');
    });

    it('401 → Retry + Set API Key, with the server\'s words', async () => {
      const r = await rig({ apiKey: 'right' });
      r.p.key = 'wrong';
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'hello' });
      const done = await r.inbox.finished(from, 1000);
      assert.equal(done.meta.error?.kind, 'unauthorized');
      assert.deepEqual(done.meta.error?.actions, ['retry', 'setApiKey']);
      assert.equal(done.meta.error?.serverMessage, 'Unauthorized');
      assert.equal(h!.requests.at(-1)!.headers.authorization, 'Bearer wrong');
      assert.equal(h!.stats().generationTokens, 0, 'nothing was generated');
    });

    it('400 context too long → the server\'s message verbatim, New Chat offered', async () => {
      // The server's max_model_len is not known to the session here, so the pre-check cannot stop it.
      const r = await rig({ maxModelLen: 64 }, { maxModelLen: undefined });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'word '.repeat(200) });
      const done = await r.inbox.finished(from, 1000);
      assert.equal(done.meta.error?.kind, 'contextTooLong');
      assert.ok(done.meta.error?.actions.includes('newChat'));
      assert.match(done.meta.error!.serverMessage!, /^This model's maximum context length is 64 tokens/);
      assert.match(done.meta.error!.message, /does not fit the server's context window \(max_model_len 64/);
    });

    it('an error event mid-stream: the partial text stays, Retry offered', async () => {
      const r = await rig({ script: [{ thinking: 'Let me think about this carefully.', answer: 'The first part of the answer is here and then', error: { when: 'midStream', afterChars: 60, message: 'The engine hit an internal error' } }] });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'go' });
      await r.inbox.waitFor((m) => typeof m === 'string', 'some text', { from });
      const done = await r.inbox.finished(from, 1000);
      assert.equal(done.meta.error?.kind, 'streamError');
      assert.equal(done.meta.error?.serverMessage, 'The engine hit an internal error');
      assert.deepEqual(done.meta.error?.actions, ['retry']);
      const s = r.inbox.streamed(from);
      assert.ok(s.thinking.length + s.answer.length > 0, 'partial text arrived');
      const stored = r.session.conversation.turns[1] as AssistantTurn;
      assert.equal(stored.thinking, s.thinking);
      assert.equal(stored.answer, s.answer);
    });

    it('the server dies mid-answer: the turn fails within a second of the last text, the partial answer kept', async () => {
      const r = await rig({ script: [{ thinking: 'Thinking it through.', answer: 'Here is a long answer that will be cut off somewhere in the middle of it.', error: { when: 'drop', afterChars: 50 } }] });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'go' });
      const done = await r.inbox.finished(from, 1000);
      const lastText = [...r.inbox.all].reverse().find((x) => x.index >= from && typeof x.msg === 'string');
      assert.ok(lastText, 'some text arrived before the drop');
      assert.ok(done.receivedAt - lastText.at < 1000);
      assert.equal(done.meta.error?.kind, 'connectionDropped');
      assert.deepEqual(done.meta.error?.actions, ['retry', 'startServer']);
      assert.match(done.meta.error!.message, /lost mid-answer.*The partial answer is kept/);
    });

    it('Retry (regenerate of the failed turn) replaces it with a new answer to the same request', async () => {
      const r = await rig({ script: [{ answer: 'partial', error: { when: 'drop', afterChars: 3 } }] });
      let from = r.inbox.mark();
      await r.send({ type: 'send', text: 'What is vLLM?' });
      const failed = await r.inbox.finished(from);
      assert.ok(failed.meta.error);
      from = r.inbox.mark();
      await r.send({ type: 'regenerate', turnId: failed.assistantId });
      const conv = await r.inbox.waitType('conversation', { from });
      assert.deepEqual(conv.conversation.turns.map((t) => t.role), ['user'], 'the failed answer is gone from the view');
      const started = await r.inbox.waitType('turnStarted', { from });
      assert.equal(started.user, undefined);
      const done = await r.inbox.finished(from);
      assert.equal(done.meta.error, undefined);
      assert.deepEqual(r.session.conversation.turns.map((t) => t.role), ['user', 'assistant']);
      const reqs = chatRequests(h!);
      assert.deepEqual(reqs[1].messages, reqs[0].messages, 'the same request again');
    });
  });

  describe('refused before sending (nothing sent, the draft kept)', () => {
    it('a message that cannot fit max_model_len: a clear message, no request, no turn, attachments kept', async () => {
      const r = await rig({}, { maxModelLen: 2000 });
      r.p.attachment = { kind: 'file', path: 'src/big.ts', text: 'const x = 1;\n'.repeat(600), language: 'typescript' };
      await r.send({ type: 'attach', what: 'file' });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'Review this file' });
      const err = await r.inbox.waitType('composerError', { from });
      assert.match(err.message, /^This message was not sent: the conversation needs about [\d,]+ tokens .* server's context is 2,000 tokens \(max_model_len\)/);
      assert.equal(r.inbox.ofType('turnStarted', from).length, 0);
      assert.equal(chatRequests(h!).length, 0);
      assert.equal(r.session.conversation.turns.length, 0);
      assert.equal(r.inbox.last('composer')!.composer.attachments.length, 1, 'the attachment stays for another try');
    });

    it('no server running: the composer is blocked with "Start Server"; a send re-checks, then says why', async () => {
      const p = new FakePlatform(dir, 'http://127.0.0.1:9/v1');
      p.serverView = { state: 'unreachable', baseUrl: 'http://127.0.0.1:9/v1', detail: 'connection refused' };
      const r = new SessionRig(p);
      rigs.push(r);
      await r.session.ready();
      assert.deepEqual(r.inbox.last('composer')!.composer.blocked, { reason: 'No server running — Start Server', action: 'startServer' });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'hello' });
      assert.equal(p.refreshes, 1);
      assert.equal((await r.inbox.waitType('composerError', { from })).message, 'Not sent — No server running — Start Server. Your message is kept.');
      assert.equal(r.session.conversation.turns.length, 0);
    });

    it('a server that needs an API key: blocked with "Set API Key"; once the server is ready the composer unblocks', async () => {
      const p = new FakePlatform(dir, 'http://127.0.0.1:9/v1');
      p.serverView = { state: 'unauthorized', baseUrl: 'http://127.0.0.1:9/v1' };
      const r = new SessionRig(p);
      rigs.push(r);
      await r.session.ready();
      assert.deepEqual(r.inbox.last('composer')!.composer.blocked, { reason: 'The server needs an API key', action: 'setApiKey' });
      const from = r.inbox.mark();
      p.serverView = { state: 'ready', baseUrl: 'http://127.0.0.1:9/v1', modelId: 'm' };
      r.session.serverChanged();
      r.session.serverChanged();
      const updates = r.inbox.ofType('composer', from);
      assert.equal(updates.length, 1, 'posted once, when it changed');
      assert.equal(updates[0]!.composer.blocked, undefined);
    });

    it('a second message while an answer streams is refused with a reason', async () => {
      const r = await rig({ tokensPerSecond: 100 });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'long-answer:500' });
      await r.inbox.waitType('turnStarted', { from });
      await r.send({ type: 'send', text: 'another' });
      assert.match((await r.inbox.waitType('composerError', { from })).message, /still streaming: press Stop/);
      await r.send({ type: 'stop' });
      await r.inbox.finished(from);
      assert.equal(r.session.conversation.turns.length, 2);
    });
  });

  describe('regenerate and edit', () => {
    it('edit-and-resend the last message replaces it and its answer', async () => {
      const r = await rig();
      let from = r.inbox.mark();
      await r.send({ type: 'send', text: 'What is a GPU?' });
      const first = await r.inbox.waitType('turnStarted', { from });
      await r.inbox.finished(from);
      from = r.inbox.mark();
      await r.send({ type: 'editResend', turnId: first.user!.id, text: 'What is a TPU?' });
      const conv = await r.inbox.waitType('conversation', { from });
      assert.deepEqual(conv.conversation.turns, []);
      const started = await r.inbox.waitType('turnStarted', { from });
      assert.equal(started.user?.text, 'What is a TPU?');
      await r.inbox.finished(from);
      assert.deepEqual(r.session.conversation.turns.map((t) => (t.role === 'user' ? t.text : 'answer')), ['What is a TPU?', 'answer']);
      assert.equal(r.session.conversation.title, 'What is a TPU?');
      assert.deepEqual(chatRequests(h!)[1].messages, [{ role: 'user', content: 'What is a TPU?' }]);
    });

    it('only the last answer can be regenerated and only the last message edited (clear messages, nothing changed)', async () => {
      const r = await rig();
      for (const q of ['one', 'two']) {
        const from = r.inbox.mark();
        await r.send({ type: 'send', text: q });
        await r.inbox.finished(from);
      }
      const [u1, a1] = r.session.conversation.turns;
      const from = r.inbox.mark();
      await r.send({ type: 'regenerate', turnId: a1!.id });
      await r.send({ type: 'editResend', turnId: u1!.id, text: 'changed' });
      await r.send({ type: 'regenerate', turnId: 'no-such-turn' });
      assert.deepEqual(r.inbox.ofType('composerError', from).map((m) => m.message), [
        'Only the last answer can be regenerated.',
        'Only the last message can be edited and sent again.',
        'That answer is no longer in this conversation.',
      ]);
      assert.equal(r.session.conversation.turns.length, 4);
    });
  });

  describe('history', () => {
    it('open an older conversation, delete one after a modal confirmation, decline keeps it', async () => {
      const store = new HistoryStore(dir);
      const older = savedConversation('Older chat', 2, 1000);
      const recent = savedConversation('Recent chat', 1, 2000);
      await store.save(older);
      await store.save(recent);
      const r = await rig();
      assert.equal(r.inbox.last('conversation')!.conversation.id, recent.id);
      let from = r.inbox.mark();
      await r.send({ type: 'openConversation', id: older.id });
      assert.equal((await r.inbox.waitType('conversation', { from })).conversation.turns.length, 4);

      r.p.confirmAnswer = false;
      await r.send({ type: 'deleteConversation', id: recent.id });
      assert.deepEqual(r.p.confirms.at(-1), { message: 'Delete the conversation "Recent chat"?', detail: 'It is removed from the chat history for good.', label: 'Delete' });
      assert.equal((await store.list()).conversations.length, 2, 'declined: kept');

      r.p.confirmAnswer = true;
      from = r.inbox.mark();
      await r.send({ type: 'deleteConversation', id: older.id });
      const conv = await r.inbox.waitType('conversation', { from });
      assert.deepEqual(conv.conversation.turns, [], 'the open conversation was deleted: a new chat shows');
      assert.deepEqual((await r.inbox.waitType('history', { from })).items.map((i) => i.title), ['Recent chat']);
      assert.deepEqual((await store.list()).conversations.map((c) => c.title), ['Recent chat']);
    });

    it('opening a conversation whose file is damaged: a clear problem, the list updated, the open chat unchanged', async () => {
      const store = new HistoryStore(dir);
      const good = savedConversation('Good chat', 1, 2000);
      const bad = savedConversation('Bad chat', 1, 1000);
      await store.save(good);
      await store.save(bad);
      const r = await rig();
      fs.writeFileSync(path.join(dir, `conv-${bad.id}.json`), JSON.stringify({ version: 1, id: bad.id, title: 5 }));
      const from = r.inbox.mark();
      await r.send({ type: 'openConversation', id: bad.id });
      const hist = await r.inbox.waitType('history', { from });
      assert.deepEqual(hist.items.map((i) => i.title), ['Good chat']);
      assert.match(hist.problems.join('\n'), /"Bad chat" could not be opened: it does not look like a conversation/);
      assert.equal(r.session.conversation.id, good.id);
      assert.equal(r.inbox.ofType('conversation', from).length, 0);
    });

    it('New Chat while an answer streams: it stops, stays in its conversation, and an empty chat shows', async () => {
      const r = await rig({ tokensPerSecond: 100 });
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'long-answer:500' });
      await r.inbox.waitFor((m) => typeof m === 'string', 'text', { from });
      const first = r.session.conversation.id;
      await r.send({ type: 'newChat' });
      const done = await r.inbox.finished(from);
      assert.equal(done.meta.stopped, true);
      const conv = await r.inbox.waitType('conversation', { from });
      assert.deepEqual(conv.conversation.turns, []);
      assert.notEqual(conv.conversation.id, first);
      const saved = await new HistoryStore(dir).open(first);
      assert.equal((saved.turns[1] as AssistantTurn).stopped, true);
    });

    it('a webview reloaded mid-answer gets the conversation, the streaming turn and its text so far, then the rest', async () => {
      const r = await rig({ tokensPerSecond: 300 });
      await r.send({ type: 'send', text: 'first' });
      await r.inbox.finished(0);
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'second long-answer:300 long-thinking:100' });
      await r.inbox.waitFor((m) => typeof m === 'string' && m[0] === 'a', 'answer text', { from });
      const reload = r.inbox.mark();
      await r.session.ready();
      const conv = await r.inbox.waitType('conversation', { from: reload });
      assert.deepEqual(conv.conversation.turns.map((t) => t.role), ['user', 'assistant', 'user'], 'everything but the streaming turn');
      const started = await r.inbox.waitType('turnStarted', { from: reload });
      assert.equal(started.user, undefined);
      const done = await r.inbox.waitType('turnFinished', { from: reload, where: (m) => m.assistantId === started.assistantId });
      const stored = r.session.conversation.turns[3] as AssistantTurn;
      const s = r.inbox.streamed(reload);
      assert.equal(s.thinking, stored.thinking, 'the reloaded view ends with exactly the thinking');
      assert.equal(s.answer, stored.answer, 'and exactly the answer');
      assert.equal(done.meta.error, undefined);
    });
  });

  describe('composer', () => {
    it('attach a selection: shown with path and lines; sent with them and the language; cleared after sending', async () => {
      const r = await rig();
      r.p.attachment = { kind: 'selection', path: 'src/util.ts', text: 'export const a = 1;\nexport const b = 2;\n', startLine: 3, endLine: 4, language: 'typescript' };
      await r.send({ type: 'attach', what: 'selection' });
      assert.deepEqual(r.inbox.last('composer')!.composer.attachments, [{ kind: 'selection', path: 'src/util.ts', startLine: 3, endLine: 4, chars: 40 }]);
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'What does this do?' });
      const started = await r.inbox.waitType('turnStarted', { from });
      assert.deepEqual((started.user as UserTurnView).attachments, [{ kind: 'selection', path: 'src/util.ts', startLine: 3, endLine: 4, chars: 40 }]);
      assert.equal(r.inbox.ofType('composer', from)[0]!.composer.attachments.length, 0);
      await r.inbox.finished(from);
      assert.equal(chatRequests(h!)[0].messages[0].content, 'Selection from `src/util.ts` (lines 3-4):\n```typescript\nexport const a = 1;\nexport const b = 2;\n```\n\nWhat does this do?');
    });

    it('attach with no editor: the platform\'s reason as a composer error; remove an attachment by index', async () => {
      const r = await rig();
      let from = r.inbox.mark();
      await r.send({ type: 'attach', what: 'file' });
      assert.equal((await r.inbox.waitType('composerError', { from })).message, 'Nothing to attach: no file is open in an editor.');
      r.p.attachment = { kind: 'file', path: 'a.py', text: 'print(1)\n', language: 'python' };
      await r.send({ type: 'attach', what: 'file' });
      await r.send({ type: 'attach', what: 'file' });
      from = r.inbox.mark();
      await r.send({ type: 'removeAttachment', index: 0 });
      await r.send({ type: 'removeAttachment', index: 9 });
      assert.deepEqual(r.inbox.ofType('composer', from).map((c) => c.composer.attachments.length), [1, 1]);
    });

    it('images: a PNG is accepted with its size; an SVG and an oversized image are refused with clear errors; sent as image_url', async () => {
      const r = await rig();
      let from = r.inbox.mark();
      await r.send({ type: 'addImage', image: { name: 'dot.png', dataUrl: `data:image/png;base64,${PNG_1x1}` } });
      assert.deepEqual(r.inbox.last('composer')!.composer.images.map((i) => [i.name, i.bytes, i.width, i.height]), [['dot.png', 70, 1, 1]]);
      await r.send({ type: 'addImage', image: { name: 'logo.svg', dataUrl: `data:image/svg+xml;base64,${Buffer.from('<svg onload="x()"/>').toString('base64')}` } });
      // Just over the limit (what the protocol lets through; larger ones are answered by limitFeedback below).
      const big = Buffer.alloc(MAX_IMAGE_BYTES + 1000);
      Buffer.from(PNG_1x1, 'base64').copy(big);
      await r.send({ type: 'addImage', image: { name: 'huge.png', dataUrl: `data:image/png;base64,${big.toString('base64')}` } });
      assert.deepEqual(r.inbox.ofType('composerError', from).map((m) => m.message), [
        '"logo.svg" cannot be sent: it is an SVG. Kimi accepts PNG, JPEG, WebP and GIF images.',
        '"huge.png" is 10.0 MB; the limit is 10.0 MB per image. Resize or compress it and try again.',
      ]);
      assert.equal(r.inbox.last('composer')!.composer.images.length, 1, 'the refused images were not added');
      from = r.inbox.mark();
      await r.send({ type: 'send', text: 'What is this?' });
      await r.inbox.finished(from);
      assert.deepEqual(chatRequests(h!)[0].messages[0].content, [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1}` } }]);
      assert.equal(r.inbox.last('composer')!.composer.images.length, 0);
    });

    it('an image sent with the message itself is checked the same way; a bad one stops the send', async () => {
      const r = await rig();
      const from = r.inbox.mark();
      await r.send({ type: 'send', text: 'look', images: [{ name: 'x.gif', dataUrl: 'data:image/gif;base64,AAAA' }] });
      assert.match((await r.inbox.waitType('composerError', { from })).message, /^"x\.gif" cannot be sent/);
      assert.equal(chatRequests(h!).length, 0);
    });
  });

  describe('actions', () => {
    it('links: only http(s) and mailto, after a modal showing the full URL; declined or other schemes are not opened', async () => {
      const r = await rig();
      const from = r.inbox.mark();
      await r.send({ type: 'openLink', href: 'javascript:alert(1)' });
      await r.send({ type: 'openLink', href: 'file:///etc/passwd' });
      await r.send({ type: 'openLink', href: 'not a url' });
      assert.equal(r.p.confirms.length, 0, 'never asked for those');
      assert.deepEqual(r.inbox.ofType('notice', from).map((n) => n.text), [
        'This link was not opened: Kimi opens only web (http, https) and mail links, not "javascript:" ones.',
        'This link was not opened: Kimi opens only web (http, https) and mail links, not "file:" ones.',
        'This link was not opened: "not a url" is not a complete web address.',
      ]);
      await r.send({ type: 'openLink', href: 'https://docs.vllm.ai/en/latest/?q=kv cache#x' });
      assert.deepEqual(r.p.confirms.at(-1), { message: 'Open this link from the chat?', detail: 'https://docs.vllm.ai/en/latest/?q=kv%20cache#x', label: 'Open Link' });
      await r.send({ type: 'openLink', href: 'mailto:someone@example.com' });
      r.p.confirmAnswer = false;
      await r.send({ type: 'openLink', href: 'https://evil.example/' });
      assert.deepEqual(r.p.opened, ['https://docs.vllm.ai/en/latest/?q=kv%20cache#x', 'mailto:someone@example.com']);
    });

    it('copy goes to the clipboard; insert goes to the editor, or says why not', async () => {
      const r = await rig();
      await r.send({ type: 'copyCode', code: 'npm test' });
      assert.equal(r.p.clipboard, 'npm test');
      await r.send({ type: 'insertCode', code: 'const x = 1;' });
      assert.deepEqual(r.p.inserted, ['const x = 1;']);
      r.p.editorOpen = false;
      const from = r.inbox.mark();
      await r.send({ type: 'insertCode', code: 'y' });
      assert.match((await r.inbox.waitType('notice', { from })).text, /^Nothing was inserted: no file is open in an editor/);
    });

    it('error actions run the matching command; restart-with-flags passes the missing flags and shows why it cannot', async () => {
      const r = await rig({ enableAutoToolChoice: false });
      await r.send({ type: 'errorAction', turnId: 'x', action: 'startServer' });
      await r.send({ type: 'errorAction', turnId: 'x', action: 'setApiKey' });
      await r.send({ type: 'errorAction', turnId: 'x', action: 'openSettings' });
      assert.deepEqual(r.p.commands, ['kimi.startServer', 'kimi.setApiKey', 'kimi.openSettings']);
      r.p.restartAnswer = 'The server at … was not started by Kimi.';
      const from = r.inbox.mark();
      await r.send({ type: 'errorAction', turnId: 'x', action: 'restartServerWithFlags' });
      assert.deepEqual(r.p.restarts, [['--enable-auto-tool-choice', '--tool-call-parser kimi_k2']]);
      assert.equal((await r.inbox.waitType('notice', { from })).text, 'The server at … was not started by Kimi.');
      await r.send({ type: 'errorAction', turnId: 'x', action: 'newChat' });
      assert.deepEqual(r.inbox.last('conversation')!.conversation.turns, []);
    });
  });

  it('a failing save is reported once, the chat stays open, and the next save recovers', async () => {
    const r = await rig();
    // A file where the history directory should be: every save fails.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.writeFileSync(dir, 'not a directory');
    let from = r.inbox.mark();
    await r.send({ type: 'send', text: 'hello' });
    await r.inbox.finished(from);
    await r.session.idle();
    const notices = r.inbox.ofType('notice', from);
    assert.equal(notices.length, 1, r.inbox.describe(from));
    assert.match(notices[0]!.text, /The chat could not be saved: .* The conversation stays open here and saving is retried/);
    assert.equal(r.session.conversation.turns.length, 2);
    fs.rmSync(dir, { force: true });
    from = r.inbox.mark();
    await r.send({ type: 'send', text: 'again' });
    await r.inbox.finished(from);
    await r.session.idle();
    assert.equal((await new HistoryStore(dir).open(r.session.conversation.id)).turns.length, 4, 'nothing was lost');
  });

  it('a failure inside an action never escapes into the webview bridge: it becomes a notice', async () => {
    const r = await rig();
    r.p.copy = async () => {
      throw new ChatError({ kind: 'invalidInput', retryable: false, message: 'clipboard unavailable' });
    };
    const from = r.inbox.mark();
    await r.send({ type: 'copyCode', code: 'x' });
    assert.equal((await r.inbox.waitType('notice', { from })).text, 'Something went wrong: clipboard unavailable');
  });

  it('what the protocol drops for size (the webview is told why instead of hearing nothing)', () => {
    const huge = `data:image/png;base64,${'A'.repeat(14_000_004)}`;
    assert.equal(limitFeedback({ type: 'addImage', image: { name: 'photo.png', dataUrl: huge } }), '"photo.png" is larger than 10 MB, the limit per image. Resize or compress it and try again.');
    assert.equal(limitFeedback({ type: 'send', text: 'x', images: [{ dataUrl: huge }] }), 'The image is larger than 10 MB, the limit per image. Resize or compress it and try again.');
    assert.equal(limitFeedback({ type: 'send', text: 'x'.repeat(1_000_001) }), 'The message is too long to send: 1,000,001 characters (the limit is 1,000,000). Shorten it, or attach the text as a file.');
    assert.equal(limitFeedback({ type: 'send', text: 'x', images: Array.from({ length: 9 }, () => ({ dataUrl: 'data:,' })) }), 'A message can carry at most 8 images; remove 1.');
    assert.equal(limitFeedback({ type: 'send', text: 'fine' }), undefined);
    assert.equal(limitFeedback({ type: 'stop', extra: 1 }), undefined);
    assert.equal(limitFeedback('t-text'), undefined);
  });
});
