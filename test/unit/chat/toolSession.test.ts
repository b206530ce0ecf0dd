// The chat session with tools (src/vscode/chat/toolRun.ts, toolApprovals.ts) in plain Node: the emulator's scripted
// tool calls over real HTTP, the CLI's workspace port over a temporary folder standing in for VS Code's, a fake
// presenter standing in for the diff editor. Asserted: what the webview receives (one turn per round, cards with
// statuses and approvals), what the server receives, what is saved and replayed, and the files on disk.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHARS_PER_TOKEN, DEFAULT_RESERVE_OUTPUT_TOKENS, estimateTokens, type AssistantTurn } from '../../../src/core/chat/conversation';
import { createToolRegistry } from '../../../src/core/tools/registry';
import { HistoryStore } from '../../../src/core/chat/historyStore';
import { NodeWorkspace } from '../../../src/core/tools/nodeWorkspace';
import type { ApprovalDecision, ApprovalRequest } from '../../../src/core/tools/types';
import type { ToolCallView } from '../../../src/shared/protocol';
import type { ChatPlatform } from '../../../src/vscode/chat/chatSession';
import { alwaysAllowKey, type ApprovalMemory } from '../../../src/vscode/chat/toolApprovals';
import { editSummary, withSystemPrompt, type ToolsAvailability } from '../../../src/vscode/chat/toolRun';
import { startEmulator, type EmulatorServerHandle } from '../../emulator/server';
import type { EmulatorOptions } from '../../emulator/types';
import type { MessageOf } from '../../support/chatInbox';
import { makeSandbox, type Sandbox } from '../tools/helpers';
import type { Json } from './helpers';
import { FakePlatform, SessionRig, tmpHistoryDir } from './sessionKit';

type Approver = Parameters<NonNullable<ChatPlatform['tools']>>[0];

class ToolPlatform extends FakePlatform {
  availability: 'on' | 'untrusted' | 'off' = 'on';
  presented: { req: ApprovalRequest; callId: string; disposed: boolean; decide(d: ApprovalDecision): void }[] = [];
  readonly remembered = new Set<string>();
  readonly memory: ApprovalMemory = { has: (k) => this.remembered.has(k), add: async (k) => void this.remembered.add(k) };
  maxRounds = 8;

  constructor(dir: string, baseUrl: string, readonly ws: string) {
    super(dir, baseUrl);
  }

  tools(approve: Approver): ToolsAvailability {
    if (this.availability === 'off') return { enabled: false };
    if (this.availability === 'untrusted') return { enabled: false, reason: 'Kimi answers without tools here: this workspace is in Restricted Mode.' };
    return {
      enabled: true,
      port: new NodeWorkspace({ roots: [this.ws], approve }),
      demo: false,
      maxRounds: this.maxRounds,
      memory: this.memory,
      presenter: {
        present: (req, callId) => {
          if (req.kind !== 'edit') return undefined;
          let decide!: (d: ApprovalDecision) => void;
          const decision = new Promise<ApprovalDecision>((r) => (decide = r));
          const entry = { req, callId, disposed: false, decide };
          this.presented.push(entry);
          return { decision, dispose: () => void (entry.disposed = true) };
        },
      },
    };
  }
}

function chatBodies(h: EmulatorServerHandle): Json[] {
  return h.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as Json);
}

describe('chat session with tools', function () {
  this.timeout(20_000);
  let dir: string;
  let sb: Sandbox;
  let h: EmulatorServerHandle | undefined;
  const rigs: SessionRig[] = [];

  async function rig(emu: EmulatorOptions): Promise<SessionRig & { p: ToolPlatform }> {
    h = await startEmulator(emu);
    const r = new SessionRig(new ToolPlatform(dir, `${h.url}/v1`, sb.ws));
    rigs.push(r);
    await r.session.ready();
    return r as SessionRig & { p: ToolPlatform };
  }

  /** The cards of the last toolCalls message of a turn that satisfy `pred`. */
  async function cardsWhere(r: SessionRig, from: number, pred: (calls: ToolCallView[]) => boolean, what: string): Promise<MessageOf<'toolCalls'>> {
    return r.inbox.waitType('toolCalls', { from, where: (m) => pred(m.calls), timeoutMs: 10_000 }).catch((e: Error) => {
      throw new Error(`${what}: ${e.message}`);
    });
  }

  beforeEach(() => {
    dir = tmpHistoryDir();
    sb = makeSandbox();
  });
  afterEach(async () => {
    for (const r of rigs.splice(0)) await r.session.dispose();
    await h?.close();
    h = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
    sb.cleanup();
  });

  it('read → answer: one turn per round, cards streaming → done, the tool result sent back, saved and replayed as shown', async () => {
    const r = await rig({ script: [
      { thinking: 'Let me read the README.', toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { thinking: 'It is a demo.', answer: 'This is a **demo** project.' },
    ] });
    const { inbox } = r;
    const from = inbox.mark();
    await r.send({ type: 'send', text: 'What is this project?' });
    const first = await inbox.waitType('turnStarted', { from });
    assert.equal(first.user?.text, 'What is this project?');
    const done = await cardsWhere(r, from, (c) => c[0]?.status === 'done', 'the read_file card done');
    assert.equal(done.assistantId, first.assistantId);
    const card = done.calls[0]!;
    assert.deepEqual([card.id, card.name, card.index, card.readOnly], ['functions.read_file:0', 'read_file', 0, true]);
    assert.equal(card.arguments, '{"path":"README.md"}');
    assert.match(card.resultPreview!, /^README\.md \(lines 1-3 of 3\)\n1: # Demo project/);
    assert.ok(card.durationMs! >= 0);
    const statuses = inbox.ofType('toolCalls', from).map((m) => m.calls[0]!.status);
    assert.deepEqual([...new Set(statuses)], ['streaming', 'pending', 'running', 'done']);

    const round1 = await inbox.waitType('turnFinished', { from, where: (m) => m.assistantId === first.assistantId });
    assert.equal(round1.meta.continued, true);
    assert.equal(round1.meta.toolCalls[0]!.status, 'done');
    const second = await inbox.waitType('turnStarted', { from: from + 1, where: (m) => m.assistantId !== first.assistantId });
    assert.equal(second.user, undefined);
    const end = await inbox.waitType('turnFinished', { from, where: (m) => m.assistantId === second.assistantId });
    assert.equal(end.meta.continued, undefined);
    assert.equal(end.meta.error, undefined);
    assert.equal(inbox.streamed(from).answer, 'This is a **demo** project.');
    await r.session.idle();
    // Composer busy the whole time, idle at the end: no idle composer between the rounds.
    const busy = inbox.ofType('composer', from).map((c) => c.composer.busy);
    assert.deepEqual(busy, [true, false]);

    // The server got the tools, a system prompt naming the workspace, then the call and its result.
    const bodies = chatBodies(h!);
    assert.equal(bodies.length, 2);
    assert.ok(bodies[0].tools.some((t: Json) => t.function.name === 'propose_edit'));
    assert.equal(bodies[0].messages[0].role, 'system');
    assert.match(bodies[0].messages[0].content, /working in the user's workspace "ws" through tools/);
    assert.deepEqual(bodies[1].messages.map((m: Json) => m.role), ['system', 'user', 'assistant', 'tool']);
    assert.equal(bodies[1].messages[2].tool_calls[0].id, 'functions.read_file:0');
    assert.equal(bodies[1].messages[2].reasoning, 'Let me read the README.');
    assert.equal(bodies[1].messages[3].tool_call_id, 'functions.read_file:0');

    // Stored: user, the round with its call and result, the answer — and a reopened chat shows the same.
    await r.session.idle();
    const conv = r.session.conversation;
    assert.deepEqual(conv.turns.map((t) => t.role), ['user', 'assistant', 'assistant']);
    const stored = conv.turns[1] as AssistantTurn;
    assert.deepEqual([stored.id, stored.toolCalls[0]!.status, stored.toolCalls[0]!.result!.slice(0, 9)], [first.assistantId, 'done', 'README.md']);
    assert.equal((conv.turns[2] as AssistantTurn).id, second.assistantId);
    const reopened = await new HistoryStore(dir).open(conv.id);
    assert.deepEqual(reopened.turns, conv.turns);
    const mark = inbox.mark();
    await r.send({ type: 'ready' });
    const shown = await inbox.waitType('conversation', { from: mark });
    const t1 = shown.conversation.turns[1]!;
    assert.ok(t1.role === 'assistant' && t1.toolCalls[0]!.status === 'done' && t1.toolCalls[0]!.name === 'read_file');

    // The next message replays the tool call and its result.
    h!.setScript([{ answer: 'Yes.' }]);
    const next = inbox.mark();
    await r.send({ type: 'send', text: 'Sure?' });
    await inbox.finished(next);
    const replay = chatBodies(h!)[2].messages.map((m: Json) => m.role);
    assert.deepEqual(replay, ['system', 'user', 'assistant', 'tool', 'assistant', 'user']);
  });

  it('propose_edit: the card asks with the edit summary, the diff is presented; Accept writes the file, the diff closes', async () => {
    const r = await rig({ script: [
      { toolCalls: [{ name: 'propose_edit', arguments: { path: 'src/lib/math.ts', oldText: 'return a + b;', newText: 'return a + b; // sum', explanation: 'Comment the sum.' } }] },
      { answer: 'Done.' },
    ] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Comment it' });
    const asking = await cardsWhere(r, from, (c) => c[0]?.status === 'awaitingApproval', 'the edit awaiting approval');
    assert.deepEqual(asking.calls[0]!.approval, { kind: 'edit', path: 'src/lib/math.ts', summary: '+1 −1 lines', created: false, explanation: 'Comment the sum.' });
    assert.equal(r.p.presented.length, 1);
    assert.equal(r.p.presented[0]!.req.kind === 'edit' && r.p.presented[0]!.req.proposed.includes('// sum'), true);
    assert.equal(fs.readFileSync(path.join(sb.ws, 'src/lib/math.ts'), 'utf8').includes('// sum'), false, 'nothing written before Accept');
    await r.send({ type: 'approveToolCall', callId: asking.calls[0]!.id, decision: 'accept' });
    const applied = await cardsWhere(r, from, (c) => c[0]?.status === 'done', 'the edit done');
    assert.match(applied.calls[0]!.resultPreview!, /^Applied: src\/lib\/math\.ts — replaced 1 line with 1\.$/);
    assert.equal(fs.readFileSync(path.join(sb.ws, 'src/lib/math.ts'), 'utf8'), 'export function add(a: number, b: number): number {\n  return a + b; // sum\n}\n');
    assert.equal(r.p.presented[0]!.disposed, true);
    await r.session.idle();
  });

  it('propose_edit rejected in the editor (the presenter decides): the file stays byte-identical, the model is told', async () => {
    const file = path.join(sb.ws, 'src/index.ts');
    const before = fs.readFileSync(file);
    const r = await rig({ script: [
      { toolCalls: [{ name: 'propose_edit', arguments: { path: 'src/index.ts', newText: 'export {};\n' } }] },
      { answer: 'Understood, no change.' },
    ] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Empty it' });
    await cardsWhere(r, from, (c) => c[0]?.status === 'awaitingApproval', 'the edit awaiting approval');
    r.p.presented[0]!.decide('reject');
    const rejected = await cardsWhere(r, from, (c) => c[0]?.status === 'rejected', 'the edit rejected');
    assert.match(rejected.calls[0]!.resultPreview!, /^The user rejected the edit to src\/index\.ts; the file is unchanged\./);
    await r.session.idle();
    assert.ok(fs.readFileSync(file).equals(before));
    const tool = chatBodies(h!)[1].messages.at(-1);
    assert.equal(tool.role, 'tool');
    assert.match(tool.content, /^The user rejected the edit/);
    // A late click on the card changes nothing.
    await r.send({ type: 'approveToolCall', callId: rejected.calls[0]!.id, decision: 'accept' });
    assert.ok(fs.readFileSync(file).equals(before));
  });

  it('run_command: the card shows the command and folder; Accept runs it there and the output comes back', async () => {
    const r = await rig({ script: [
      { toolCalls: [{ name: 'run_command', arguments: { command: 'pwd && echo hello-from-tool', cwd: 'src' } }] },
      { answer: 'It printed hello.' },
    ] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Run it' });
    const asking = await cardsWhere(r, from, (c) => c[0]?.status === 'awaitingApproval', 'the command awaiting approval');
    assert.deepEqual(asking.calls[0]!.approval, { kind: 'command', command: 'pwd && echo hello-from-tool', cwd: 'src' });
    assert.equal(r.p.presented.length, 0, 'commands are asked on the card only');
    await r.send({ type: 'approveToolCall', callId: asking.calls[0]!.id, decision: 'accept' });
    const ran = await cardsWhere(r, from, (c) => c[0]?.status === 'done', 'the command done');
    assert.match(ran.calls[0]!.resultPreview!, new RegExp(`^\\$ pwd && echo hello-from-tool\\n\\(in src; exit code 0; \\d+ ms\\)\\n${sb.ws}/src\\nhello-from-tool`));
    await r.session.idle();
  });

  it('two reads of sensitive files wait at once; each is answered on its own card; "Always allow" is remembered for the kind', async () => {
    fs.writeFileSync(path.join(sb.ws, 'build', 'other.js'), 'console.log("other");\n');
    const r = await rig({ script: [
      { toolCalls: [{ name: 'read_file', arguments: { path: '.env' } }, { name: 'read_file', arguments: { path: 'build/out.js' } }] },
      { toolCalls: [{ name: 'read_file', arguments: { path: 'build/other.js' } }] },
      { answer: 'Read them.' },
    ] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Read both' });
    const both = await cardsWhere(r, from, (c) => c.length === 2 && c.every((x) => x.status === 'awaitingApproval'), 'both reads awaiting approval');
    const [env, built] = both.calls;
    assert.deepEqual(env!.approval, { kind: 'sensitiveRead', path: '.env', reason: 'it looks like a secret (environment files (.env*) usually hold credentials)', alwaysAllow: 'Always let read_file read .env in this workspace' });
    assert.equal(built!.approval!.kind === 'sensitiveRead' && built!.approval!.alwaysAllow, 'Always let read_file read files ignored by .gitignore in this workspace');
    await r.send({ type: 'approveToolCall', callId: built!.id, decision: 'always' });
    await cardsWhere(r, from, (c) => c[1]?.status === 'done' && c[0]?.status === 'awaitingApproval', 'the ignored file read, .env still waiting');
    await r.send({ type: 'approveToolCall', callId: env!.id, decision: 'reject' });
    const after = await cardsWhere(r, from, (c) => c[0]?.status === 'error', '.env refused');
    assert.match(after.calls[0]!.resultPreview!, /^error: the user did not allow reading \.env/);
    // Round 2: another ignored file — remembered, so it runs without asking.
    const round2 = await r.inbox.waitType('turnStarted', { from: from + 1, where: (m) => m.assistantId !== both.assistantId });
    const read = await r.inbox.waitType('toolCalls', { from, where: (m) => m.assistantId === round2.assistantId && m.calls[0]?.status === 'done' });
    assert.match(read.calls[0]!.resultPreview!, /^build\/other\.js \(lines 1-1 of 1\)/);
    assert.ok(!r.inbox.ofType('toolCalls', from).some((m) => m.assistantId === round2.assistantId && m.calls[0]?.status === 'awaitingApproval'), 'not asked again, not even for a moment');
    assert.deepEqual([...r.p.remembered], [alwaysAllowKey({ kind: 'sensitiveRead', tool: 'read_file', path: { display: 'build/out.js' } as Json, reason: '', sensitivity: 'ignored' })]);
    await r.session.idle();
  });

  it('Stop while an edit waits: the call is cancelled, the diff closes, nothing is written, the turn is marked stopped', async () => {
    const file = path.join(sb.ws, 'README.md');
    const before = fs.readFileSync(file);
    const r = await rig({ script: [{ toolCalls: [{ name: 'propose_edit', arguments: { path: 'README.md', newText: 'gone\n' } }] }, { answer: 'never sent' }] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Rewrite README' });
    await cardsWhere(r, from, (c) => c[0]?.status === 'awaitingApproval', 'the edit awaiting approval');
    await r.send({ type: 'stop' });
    const cancelled = await cardsWhere(r, from, (c) => c[0]?.status === 'cancelled', 'the edit cancelled');
    assert.equal(cancelled.calls[0]!.approval, undefined);
    const fin = await r.inbox.waitType('turnFinished', { from });
    assert.equal(fin.meta.stopped, true);
    assert.equal(fin.meta.continued, undefined);
    await r.session.idle();
    assert.equal(r.p.presented[0]!.disposed, true);
    assert.ok(fs.readFileSync(file).equals(before));
    assert.equal(chatBodies(h!).length, 1, 'no request after Stop');
    assert.equal(r.inbox.last('composer')!.composer.busy, false);
  });

  it('Regenerate of the final answer re-sends the same request: the earlier round with its tool result stays', async () => {
    const r = await rig({ script: [
      { thinking: 'List it.', toolCalls: [{ name: 'list_directory', arguments: { path: '.' } }] },
      { thinking: 'Answer.', answer: 'First answer.' },
      { thinking: 'Answer again.', answer: 'Second answer.' },
    ] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'What is here?' });
    await r.inbox.waitFor((m) => typeof m !== 'string' && m.type === 'turnFinished' && !m.meta.continued, 'the final turn', { from });
    await r.session.idle();
    const last = r.session.conversation.turns[2]!;
    const again = r.inbox.mark();
    await r.send({ type: 'regenerate', turnId: last.id });
    await r.inbox.finished(again);
    await r.session.idle();
    const turns = r.session.conversation.turns;
    assert.deepEqual(turns.map((t) => t.role), ['user', 'assistant', 'assistant']);
    assert.equal((turns[2] as AssistantTurn).answer, 'Second answer.');
    assert.deepEqual(chatBodies(h!)[2].messages.map((m: Json) => m.role), ['system', 'user', 'assistant', 'tool']);
  });

  it('tools unavailable (Restricted Mode): no tools sent, the reason shown once; tools off by setting: silent', async () => {
    const r = await rig({});
    r.p.availability = 'untrusted';
    for (const text of ['hello', 'again']) {
      const from = r.inbox.mark();
      await r.send({ type: 'send', text });
      await r.inbox.finished(from);
    }
    const notices = r.inbox.ofType('notice').map((n) => n.text);
    assert.deepEqual(notices, ['Kimi answers without tools here: this workspace is in Restricted Mode.']);
    r.p.availability = 'off';
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'third' });
    await r.inbox.finished(from);
    for (const b of chatBodies(h!)) {
      assert.equal(b.tools, undefined);
      assert.equal(b.tool_choice, undefined);
      assert.notEqual(b.messages[0].role, 'system');
    }
    assert.equal(r.inbox.ofType('notice').length, 1);
  });

  it('the context pre-check counts what is sent with tools (their declarations, the system prompt): refused before sending', async () => {
    const maxModelLen = 3000;
    const r = await rig({ script: [{ answer: 'Fits without tools.' }] });
    r.p.serverView = { ...r.p.serverView, maxModelLen };
    // A message that fits on its own, but not with the ten tools' JSON and the workspace instructions.
    const text = 'x'.repeat((maxModelLen - DEFAULT_RESERVE_OUTPUT_TOKENS - 150) * CHARS_PER_TOKEN);
    const alone = estimateTokens([{ role: 'user', content: text }]);
    assert.ok(alone + DEFAULT_RESERVE_OUTPUT_TOKENS <= maxModelLen, `the message alone fits (${alone} tokens)`);
    const toolsJson = estimateTokens([], createToolRegistry({ workspace: true, demo: false }).definitions()) - estimateTokens([]);
    assert.ok(toolsJson > 150, `the tool declarations do not fit beside it (${toolsJson} tokens)`);

    const from = r.inbox.mark();
    await r.send({ type: 'send', text });
    const err = await r.inbox.waitType('composerError', { from });
    assert.match(err.message, /^This message was not sent: the conversation needs about [\d,]+ tokens .* server's context is 3,000 tokens \(max_model_len\)/);
    const needed = Number(/about ([\d,]+) tokens/.exec(err.message)![1]!.replace(/,/g, ''));
    assert.ok(needed >= alone + toolsJson, `the estimate (${needed}) counts the tools (${alone} + ${toolsJson})`);
    assert.equal(r.inbox.ofType('turnStarted', from).length, 0);
    assert.equal(chatBodies(h!).length, 0, 'nothing reached the server (no 400 from it)');
    assert.equal(r.session.conversation.turns.length, 0);

    // Without tools (turned off) the same message goes out: the check counts only what is sent.
    r.p.availability = 'off';
    const again = r.inbox.mark();
    await r.send({ type: 'send', text });
    const fin = await r.inbox.finished(again);
    assert.equal(fin.meta.error, undefined);
    assert.equal(chatBodies(h!).length, 1);
    assert.equal(chatBodies(h!)[0].tools, undefined);
  });

  it('a server that is not one of Kimi\'s profiles without --enable-auto-tool-choice: the 400 names the flags, no Restart button', async () => {
    const r = await rig({ enableAutoToolChoice: false });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'read something' });
    const fin = await r.inbox.finished(from);
    assert.equal(fin.meta.error?.kind, 'toolChoiceNotEnabled');
    assert.deepEqual(fin.meta.error?.actions, ['retry']);
    assert.match(fin.meta.error!.message, /Restart `vllm serve` with --enable-auto-tool-choice --tool-call-parser kimi_k2 to use tools/);
    assert.deepEqual(fin.meta.error?.missingFlags, ['--enable-auto-tool-choice', '--tool-call-parser kimi_k2']);
  });

  it('a managed server (Kimi\'s own profile) without --enable-auto-tool-choice: the 400 names the flags and offers Restart with Flags, which gets them', async () => {
    const r = await rig({ enableAutoToolChoice: false });
    r.p.serverView = { ...r.p.serverView, managed: { profile: 'default', host: 'local', kind: 'ready' } };
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'read something' });
    const fin = await r.inbox.finished(from);
    assert.equal(fin.meta.error?.kind, 'toolChoiceNotEnabled');
    assert.deepEqual(fin.meta.error?.actions, ['retry', 'restartServerWithFlags']);
    assert.deepEqual(fin.meta.error?.missingFlags, ['--enable-auto-tool-choice', '--tool-call-parser kimi_k2']);
    r.p.restartAnswer = 'The server at … was not started by Kimi, so Kimi cannot restart it.';
    await r.send({ type: 'errorAction', turnId: fin.assistantId, action: 'restartServerWithFlags' });
    assert.deepEqual(r.p.restarts, [['--enable-auto-tool-choice', '--tool-call-parser kimi_k2']]);
    assert.match(r.inbox.last('notice')!.text, /was not started by Kimi/);
  });

  it('a server without the tool-call parser: raw markers are run anyway, the hint names the flags once', async () => {
    const r = await rig({ toolCallParser: false, script: [
      { thinking: 'Find them.', toolCalls: [{ name: 'find_files', arguments: { glob: '*.md' } }] },
      { thinking: 'Two.', answer: 'Two Markdown files.' },
    ] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Which docs are there?' });
    const found = await cardsWhere(r, from, (c) => c[0]?.status === 'done', 'find_files done');
    assert.match(found.calls[0]!.resultPreview!, /^2 files matching "\*\*\/\*\.md":\nREADME\.md\ndocs\/guide\.md$/);
    await r.inbox.waitFor((m) => typeof m !== 'string' && m.type === 'turnFinished' && !m.meta.continued, 'the final turn', { from });
    const hints = r.inbox.ofType('notice', from).map((n) => n.text);
    assert.equal(hints.length, 1);
    assert.match(hints[0]!, /--tool-call-parser kimi_k2 --enable-auto-tool-choice/);
    assert.equal(r.inbox.streamed(from).answer, 'Two Markdown files.');
  });

  it('the round limit: calls of the extra round are not run, shown as such, and the user is told how to go on', async () => {
    const r = await rig({ script: [
      { toolCalls: [{ name: 'list_directory', arguments: { path: '.' } }] },
      { toolCalls: [{ name: 'list_directory', arguments: { path: 'src' } }] },
    ] });
    r.p.maxRounds = 1;
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'Look around' });
    const skipped = await cardsWhere(r, from, (c) => c[0]?.status === 'skipped', 'the second round skipped');
    assert.equal(skipped.calls[0]!.isError, true);
    const note = await r.inbox.waitType('notice', { from });
    assert.match(note.text, /^Stopped after 1 round of tool calls: the model still wanted to call list_directory/);
    await r.session.idle();
    assert.equal(r.inbox.last('composer')!.composer.busy, false);
  });

  it('a webview reloaded while a card waits gets the earlier rounds, the live turn and its cards (with the approval) again', async () => {
    const r = await rig({ script: [
      { toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { thinking: 'Now the command.', toolCalls: [{ name: 'run_command', arguments: { command: 'true' } }] },
      { answer: 'ok' },
    ] });
    const from = r.inbox.mark();
    await r.send({ type: 'send', text: 'go' });
    const asking = await cardsWhere(r, from, (c) => c[0]?.status === 'awaitingApproval', 'the command awaiting approval');
    const mark = r.inbox.mark();
    await r.send({ type: 'ready' });
    const conv = await r.inbox.waitType('conversation', { from: mark });
    assert.deepEqual(conv.conversation.turns.map((t) => t.role), ['user', 'assistant']);
    const started = await r.inbox.waitType('turnStarted', { from: mark });
    assert.equal(started.assistantId, asking.assistantId);
    const cards = await r.inbox.waitType('toolCalls', { from: mark });
    assert.deepEqual(cards.calls[0]!.approval, { kind: 'command', command: 'true', cwd: '.' });
    await r.send({ type: 'approveToolCall', callId: cards.calls[0]!.id, decision: 'reject' });
    await r.inbox.waitFor((m) => typeof m !== 'string' && m.type === 'turnFinished' && !m.meta.continued, 'the final turn', { from });
  });

  it('helpers: the system prompt joins an existing one; edit summaries count changed lines', () => {
    assert.deepEqual(withSystemPrompt([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'x' }], 'Use tools.'), [
      { role: 'system', content: 'Be brief.\n\nUse tools.' }, { role: 'user', content: 'x' },
    ]);
    assert.deepEqual(withSystemPrompt([{ role: 'user', content: 'x' }], undefined), [{ role: 'user', content: 'x' }]);
    assert.equal(editSummary(undefined, 'a\nb\n'), 'new file, 2 lines');
    assert.equal(editSummary('a\nb\nc\n', 'a\nB\nB2\nc\n'), '+2 −1 lines');
    assert.equal(editSummary('a\nb\n', 'a\n'), '+0 −1 line');
  });
});
