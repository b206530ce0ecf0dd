// Inline explanations inside a real VS Code extension host (code-server) against the vLLM emulator: the commands run
// as the menu, keybinding and lightbulb run them; what the user sees is read back from the CommentThread VS Code was
// given (its range, header, comments and their markdown) and, for "Continue in chat", from the chat session and what
// it posts to the panel. The document is checked byte for byte after every test.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AssistantTurn, UserTurn } from '../../src/core/chat/conversation';
import { stateDirFor } from '../../src/core/server/remoteScripts';
import type { KimiApi } from '../../src/extension';
import type { ExplanationSnapshot } from '../../src/vscode/explain/explainController';
import { startEmulator, type EmulatorServerHandle } from '../emulator/server';
import type { EmulatorOptions } from '../emulator/types';
import { ChatInbox } from '../support/chatInbox';
import { api, cfg, chatBodies, dropServer, freePort } from './extensionKit';

const repoRoot = process.env.KIMI_REPO_ROOT ?? path.resolve(__dirname, '../../..');

/** Resolves once `pred` holds (checked now and on every change), or fails after `timeoutMs` saying what it saw. */
function until<T>(subscribe: (fire: () => void) => vscode.Disposable, check: () => T | undefined, what: string, timeoutMs = 20_000, last?: () => string): Promise<T> {
  const now = check();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no ${what} within ${timeoutMs} ms${last ? `; last: ${last()}` : ''}`));
    }, timeoutMs);
    const sub = subscribe(() => {
      const v = check();
      if (v === undefined) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(v);
    });
  });
}

/** Checks `check` every `everyMs` until it gives a value, failing after `timeoutMs` (for state that has no event). */
async function poll<T>(check: () => Promise<T | undefined>, what: string, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const workspaceUri = () => vscode.workspace.workspaceFolders![0]!.uri;

describe('Explain (inline explanations) in a real VS Code', function () {
  this.timeout(90_000);
  let a: KimiApi;
  let emulator: EmulatorServerHandle | undefined;
  /** Every render of every explanation, in order. */
  let renders: (ExplanationSnapshot & { at: number })[];
  let tap: vscode.Disposable | undefined;
  const restore: (() => void)[] = [];

  /** Waits for a render of explanation `id` (or any) satisfying `pred`. */
  function rendered(pred: (s: ExplanationSnapshot) => boolean, what: string, timeoutMs = 20_000, id?: string): Promise<ExplanationSnapshot> {
    return until(
      (fire) => a.explain.onDidRender(fire),
      () => renders.find((r) => (!id || r.id === id) && pred(r)),
      what,
      timeoutMs,
      () => JSON.stringify(renders[renders.length - 1] ?? null).slice(0, 800),
    );
  }
  const finished = (id: string, timeoutMs?: number) => rendered((s) => ['done', 'stopped', 'failed', 'refused'].includes(s.phase), 'a finished explanation', timeoutMs, id);

  /** Points the extension at `baseUrl` and waits (bounded) until its status check is about that URL. */
  async function useServer(baseUrl: string): Promise<void> {
    await cfg().update('endpoint.baseUrl', baseUrl, vscode.ConfigurationTarget.Global);
    await poll(async () => {
      const v = await a.services.status.check();
      return v.baseUrl === baseUrl && v.state !== 'checking' ? v : undefined;
    }, `a status check of ${baseUrl}`, 10_000, 0);
  }

  async function emulate(opts: EmulatorOptions = {}, state: 'ready' | 'unauthorized' = 'ready'): Promise<EmulatorServerHandle> {
    emulator = await startEmulator(opts);
    await useServer(`${emulator.url}/v1`);
    assert.equal(a.services.status.current.state, state);
    return emulator;
  }

  async function openMath(): Promise<{ doc: vscode.TextDocument; editor: vscode.TextEditor; text: string }> {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(workspaceUri(), 'src', 'math.ts'));
    const editor = await vscode.window.showTextDocument(doc);
    return { doc, editor, text: doc.getText() };
  }

  /** Replaces a vscode.window function for this test (restored in afterEach). */
  function stubWindow(name: 'showWarningMessage' | 'showInformationMessage', fn: (message: string, ...items: unknown[]) => unknown): void {
    const w = vscode.window as unknown as Record<string, unknown>;
    const original = w[name];
    w[name] = fn;
    restore.push(() => (w[name] = original));
  }

  before(async () => {
    a = await api();
  });

  beforeEach(() => {
    renders = [];
    tap = a.explain.onDidRender((s) => renders.push({ ...s, at: performance.now() }));
  });

  afterEach(async () => {
    tap?.dispose();
    for (const r of restore.splice(0)) r();
    for (const s of a.explain.snapshots()) {
      const thread = a.explain.thread(s.id);
      await vscode.commands.executeCommand('kimi.stopExplanation', thread);
      await a.explain.idle(s.id);
    }
    a.explain.dismissAll();
    await dropServer(emulator);
    emulator = undefined;
    await cfg().update('explain.mode', undefined, vscode.ConfigurationTarget.Global);
    await a.services.secrets.setApiKey(undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Explain Selection: a comment thread at the selection streams the explanation (instant mode), ≤ 10 renders a second; the document is untouched', async () => {
    const answer = 'The function `mean` returns the **average** of `values`. ' + 'It sums every value with reduce and divides by the count. '.repeat(12) +
      '\n\n![chart](https://tracker.example/pixel.png)';
    const h = await emulate({ tokensPerSecond: 150, script: [{ match: 'Explain the selected code', answer }] });
    const { doc, editor, text } = await openMath();
    editor.selection = new vscode.Selection(7, 0, 10, 0); // lines 8–10
    await vscode.commands.executeCommand('kimi.explainSelection');

    const first = await rendered(() => true, 'a thread');
    assert.equal(first.uri, doc.uri.toString());
    assert.deepEqual(first.range, { startLine: 7, endLine: 9 }, 'the thread sits at the selected lines');
    assert.equal(first.label, 'Kimi · Explain: src/math.ts, lines 8–10');
    assert.equal(first.contextValue, 'kimiExplanation:running');
    const streaming = await rendered((s) => s.phase === 'answering' && s.answer.length > 20, 'streamed text');
    assert.equal(streaming.comments.length, 1, 'instant mode: no Thinking comment');
    assert.equal(streaming.comments[0]!.label, 'Instant · writing…');
    const done = await finished(first.id);
    assert.equal(done.phase, 'done');
    assert.equal(done.answer, answer);
    assert.ok(answer.startsWith(streaming.answer), 'the streamed text is a prefix of the final one');
    const c = done.comments[0]!;
    assert.equal(c.author, 'Kimi');
    assert.match(c.label!, /^Instant · \d+\.\d s · [\d,]+ tokens · [\d.]+ tok\/s$/);
    assert.ok(c.body.startsWith('The function `mean` returns the **average** of `values`.'), c.body.slice(0, 100));
    assert.ok(c.body.endsWith('[chart](https://tracker.example/pixel.png)') && !c.body.includes('!['), 'an image is shown as a link, never fetched');
    assert.deepEqual([c.isTrusted, c.supportHtml], [false, false], 'model text can run no command and no HTML');
    assert.equal(done.contextValue, 'kimiExplanation:finishedWithText', 'Re-run and Continue in Chat are offered');

    // At most 10 renders in any second of streaming.
    const streamed = renders.filter((r) => r.id === first.id && r.phase === 'answering');
    assert.ok(streamed.length >= 3, `${streamed.length} renders while streaming`);
    for (let i = 0; i < streamed.length; i++) {
      const inSecond = streamed.filter((r) => r.at >= streamed[i]!.at && r.at < streamed[i]!.at + 1000).length;
      assert.ok(inSecond <= 11, `${inSecond} renders within a second`);
    }

    // The request: instant mode, the path, the numbered lines, the language.
    const body = chatBodies(h)[0];
    assert.deepEqual(body.chat_template_kwargs, { thinking: false });
    assert.equal(body.temperature, 0.6);
    const user = body.messages[1].content as string;
    assert.match(user, /^Explain the selected code in `src\/math\.ts` \(typescript\), lines 8–10\./);
    assert.ok(user.includes(' 8 | export function mean(values: number[]): number {'), user);
    assert.ok(user.includes('10 |   return values.reduce((s, v) => s + v, 0) / values.length;'), user);

    assert.equal(doc.getText(), text, 'the document is byte-identical');
    assert.equal(doc.isDirty, false);
  });

  it('the enclosing symbol from the language server is the context; several selections go out together', async () => {
    const h = await emulate({ script: [{ answer: 'Two parts.' }] });
    const { doc, editor, text } = await openMath();
    // Wait (bounded) until TypeScript's symbol provider knows the file: that is what the explanation asks it.
    const symbols = await poll(async () => {
      const list = await vscode.commands.executeCommand<vscode.DocumentSymbol[] | undefined>('vscode.executeDocumentSymbolProvider', doc.uri);
      return list?.length ? list : undefined;
    }, 'the symbols of math.ts from TypeScript', 60_000);
    assert.ok(symbols.some((s) => s.name === 'mean'));
    editor.selections = [new vscode.Selection(1, 0, 1, 20), new vscode.Selection(8, 2, 8, 30)]; // line 2 (fibonacci), line 9 (mean)
    await vscode.commands.executeCommand('kimi.explainSelection');
    const first = await rendered(() => true, 'a thread');
    assert.deepEqual(first.range, { startLine: 1, endLine: 8 });
    assert.equal(first.label, 'Kimi · Explain: src/math.ts, lines 2, 9');
    assert.equal((await finished(first.id)).phase, 'done');
    const user = chatBodies(h)[0].messages[1].content as string;
    assert.match(user, /lines? 2, line 9\./);
    assert.match(user, /Selection 1 of 2 \(line 2\)/);
    assert.match(user, /Selection 2 of 2 \(line 9\)/);
    assert.match(user, /inside function `fibonacci`, function `mean`/, 'the enclosing functions are named and sent as the context');
    assert.equal(doc.getText(), text);
    assert.equal(doc.isDirty, false);
  });

  it('thinking mode: a Thinking comment with a live timer, collapsed to "Thought for N s"; Show Thinking reveals it; Continue in Chat carries it over', async () => {
    await cfg().update('explain.mode', 'thinking', vscode.ConfigurationTarget.Global);
    const thinking = 'The user selected mean. ' + 'Let me check the empty case and the reduce. '.repeat(50);
    const h = await emulate({ tokensPerSecond: 200, script: [{ thinking, answer: 'It returns the average, and throws for an empty list.' }] });
    const { editor } = await openMath();
    editor.selection = new vscode.Selection(7, 0, 10, 0);
    await vscode.commands.executeCommand('kimi.explainSelection');
    const live = await rendered((s) => s.phase === 'thinking' && s.comments.length === 2, 'the Thinking comment');
    assert.deepEqual(live.comments.map((c) => c.author), ['Thinking', 'Kimi']);
    assert.match(live.comments[0]!.body, /^\*Thinking… \d+ s\*$/, 'the timer, without the thinking text');
    assert.equal(live.comments[0]!.label, 'live');
    await rendered((s) => s.id === live.id && /^\*Thinking… [1-9]\d* s\*$/.test(s.comments[0]?.body ?? ''), 'the timer to reach 1 s', 20_000);
    const done = await finished(live.id, 30_000);
    assert.equal(done.phase, 'done');
    assert.match(done.comments[0]!.body, /^\*Thought for \d+ s\*$/);
    assert.equal(done.comments[0]!.contextValue, 'kimiThinking:collapsed');
    assert.equal(done.comments[1]!.body, 'It returns the average, and throws for an empty list.');
    assert.equal(chatBodies(h)[0].chat_template_kwargs, undefined, 'thinking mode: no template switch');

    // Show Thinking, as the comment's title action runs it (with the comment).
    const mark = renders.length;
    await vscode.commands.executeCommand('kimi.showExplanationThinking', a.explain.comment(live.id, 'thinking'));
    const shown = await rendered((s) => renders.indexOf(s as never) >= mark && s.comments[0]?.contextValue === 'kimiThinking:expanded', 'the thinking shown');
    assert.equal(shown.comments[0]!.body, `${done.comments[0]!.body}\n\n${thinking.trim()}`);
    await vscode.commands.executeCommand('kimi.hideExplanationThinking', a.explain.comment(live.id, 'thinking'));
    assert.equal(a.explain.snapshots()[0]!.comments[0]!.contextValue, 'kimiThinking:collapsed');

    // Continue in Chat: a new conversation with the selection attached and the explanation as the answer.
    const inbox = new ChatInbox();
    const chatTap = a.chat.onDidPost(inbox.push);
    try {
      await a.chat.receive({ type: 'ready' });
      const before = a.chat.session.conversation.id;
      const from = inbox.mark();
      await vscode.commands.executeCommand('kimi.continueExplanationInChat', a.explain.thread(live.id));
      const conv = a.chat.session.conversation;
      assert.notEqual(conv.id, before, 'a new conversation');
      assert.equal(conv.title, 'Explain src/math.ts lines 8–10');
      const [user, assistant] = conv.turns as [UserTurn, AssistantTurn];
      assert.equal(user.text, 'Explain the selected code in src/math.ts (lines 8–10).');
      assert.deepEqual(user.attachments?.map((x) => [x.kind, x.path, x.startLine, x.endLine, x.language]), [['selection', 'src/math.ts', 8, 10, 'typescript']]);
      assert.equal(user.attachments![0]!.text, editor.document.getText(new vscode.Range(7, 0, 9, editor.document.lineAt(9).text.length)));
      assert.deepEqual([assistant.thinking, assistant.answer, assistant.mode], [done.thinking, done.answer, 'thinking']);
      assert.equal(done.thinking.trim(), thinking.trim());
      // What the panel is told to show, and the history.
      const posted = await inbox.waitType('conversation', { from });
      assert.equal(posted.conversation.id, conv.id);
      assert.deepEqual(posted.conversation.turns.map((t) => t.role), ['user', 'assistant']);
      const t0 = posted.conversation.turns[0]!;
      assert.ok(t0.role === 'user' && t0.attachments[0]!.path === 'src/math.ts' && t0.attachments[0]!.startLine === 8);
      const hist = await inbox.waitType('history', { from, where: (m) => m.items.some((i) => i.id === conv.id) });
      assert.equal(hist.items.find((i) => i.id === conv.id)!.turnCount, 2);

      // A follow-up goes out with the explanation in the conversation.
      const f = inbox.mark();
      await a.chat.receive({ type: 'send', text: 'And for a list of one?' });
      await inbox.finished(f);
      // (The chat may put its own system prompt first, e.g. for workspace tools.)
      const follow = (chatBodies(h)[1].messages as { role: string; content: string }[]).filter((m) => m.role !== 'system');
      assert.deepEqual(follow.map((m) => m.role), ['user', 'assistant', 'user']);
      assert.match(follow[0]!.content, /^Selection from `src\/math\.ts` \(lines 8-10\):\n```typescript\nexport function mean/);
      assert.equal(follow[1]!.content, done.answer);
      await a.chat.session.idle();
    } finally {
      chatTap.dispose();
    }
  });

  it('Explain This Problem from the lightbulb: the diagnostic goes with its lines; from the palette: the problem under the cursor', async () => {
    const h = await emulate({ script: [{ answer: 'Wrong type.' }, { answer: 'Still the wrong type.' }] });
    const { doc, editor, text } = await openMath();
    const diags = vscode.languages.createDiagnosticCollection('explain-test');
    try {
      const d = new vscode.Diagnostic(new vscode.Range(9, 9, 9, 15), "Type 'string' is not assignable to type 'number'.", vscode.DiagnosticSeverity.Error);
      d.source = 'ts';
      d.code = 2322;
      diags.set(doc.uri, [d]);
      // The lightbulb's entries at the squiggle, and with a selection.
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, new vscode.Range(9, 10, 9, 10));
      const problem = actions.find((x) => x.title === 'Kimi: Explain This Problem');
      assert.ok(problem?.command, JSON.stringify(actions.map((x) => x.title)));
      assert.equal(problem.kind?.value, 'quickfix.kimi.explain');
      const withSelection = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, new vscode.Range(7, 0, 9, 3));
      assert.ok(withSelection.some((x) => x.title === 'Kimi: Explain Selection'), JSON.stringify(withSelection.map((x) => x.title)));
      const noSelection = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, new vscode.Range(2, 3, 2, 3));
      assert.ok(!noSelection.some((x) => x.title.startsWith('Kimi:')), 'nothing offered on a plain cursor without a problem');

      await vscode.commands.executeCommand(problem.command.command, ...(problem.command.arguments ?? []));
      const s = await rendered(() => true, 'a thread');
      assert.equal(s.label, 'Kimi · Explain problem: src/math.ts, line 10');
      assert.deepEqual(s.range, { startLine: 9, endLine: 9 });
      assert.equal((await finished(s.id)).comments[0]!.body, 'Wrong type.');
      const body = chatBodies(h)[0];
      assert.match(body.messages[0].content, /fix/);
      assert.match(body.messages[1].content as string, /^Explain this error in `src\/math\.ts` \(typescript\) at line 10 reported by ts 2322:\n\n> Type 'string' is not assignable to type 'number'\./);
      assert.ok((body.messages[1].content as string).includes('10 |   return values.reduce'));

      // The palette command with the cursor on the squiggle.
      editor.selection = new vscode.Selection(9, 12, 9, 12);
      await vscode.commands.executeCommand('kimi.explainProblem');
      const second = await rendered((x) => x.id !== s.id, 'a second thread');
      assert.equal((await finished(second.id)).comments[0]!.body, 'Still the wrong type.');
      assert.equal(a.explain.snapshots().length, 2, 'both stay open');

      // No problem at the cursor: said plainly, nothing opened.
      const said: string[] = [];
      stubWindow('showInformationMessage', (m) => {
        said.push(m);
        return Promise.resolve(undefined);
      });
      editor.selection = new vscode.Selection(0, 0, 0, 0);
      await vscode.commands.executeCommand('kimi.explainProblem');
      assert.deepEqual(said, ['Kimi: there is no problem at the cursor in src/math.ts. Put the cursor on a squiggle (1 in this file), then run Explain This Problem again.']);
      editor.selection = new vscode.Selection(3, 0, 3, 0);
      await vscode.commands.executeCommand('kimi.explainSelection');
      assert.equal(said[1], 'Kimi: nothing is selected in src/math.ts. Select the code to explain, then run Explain Selection again.');
      assert.equal(a.explain.snapshots().length, 2);
    } finally {
      diags.dispose();
    }
    assert.equal(doc.getText(), text);
    assert.equal(doc.isDirty, false);
  });

  it('a real TypeScript error: Explain This Problem sends the compiler\'s message', async () => {
    const h = await emulate({ script: [{ answer: 'A string is not a number.' }] });
    const doc = await vscode.workspace.openTextDocument({ language: 'typescript', content: 'export function twice(n: number): number {\n  const label: number = "twice";\n  return n * 2;\n}\n' });
    const editor = await vscode.window.showTextDocument(doc);
    const text = doc.getText();
    const diagnostic = await until(
      (fire) => vscode.languages.onDidChangeDiagnostics(fire),
      () => vscode.languages.getDiagnostics(doc.uri).find((d) => d.severity === vscode.DiagnosticSeverity.Error),
      'a TypeScript error',
      60_000,
    );
    assert.match(diagnostic.message, /not assignable to type 'number'/);
    editor.selection = new vscode.Selection(diagnostic.range.start, diagnostic.range.start);
    await vscode.commands.executeCommand('kimi.explainProblem');
    const s = await rendered(() => true, 'a thread');
    assert.equal((await finished(s.id)).phase, 'done');
    const user = chatBodies(h)[0].messages[1].content as string;
    assert.ok(user.includes(diagnostic.message), user);
    assert.match(user, /at line 2 reported by ts 2322/);
    assert.equal(doc.getText(), text);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('several at once, each independent: Stop keeps the partial text, Re-run streams again, Dismiss removes the thread', async () => {
    const long = 'This part explains the code in detail. '.repeat(200);
    const h = await emulate({ tokensPerSecond: 60, script: [{ answer: long }, { answer: long }, { answer: 'Short and done.' }] });
    const { doc, editor, text } = await openMath();
    editor.selection = new vscode.Selection(0, 0, 5, 1);
    await vscode.commands.executeCommand('kimi.explainSelection');
    editor.selection = new vscode.Selection(7, 0, 10, 1);
    await vscode.commands.executeCommand('kimi.explainSelection');
    await until((fire) => a.explain.onDidRender(fire), () => (a.explain.snapshots().length === 2 && a.explain.snapshots().every((s) => s.phase === 'answering' && s.answer.length > 0) ? true : undefined), 'both streaming');
    const [one, two] = a.explain.snapshots() as [ExplanationSnapshot, ExplanationSnapshot];
    assert.deepEqual([one.range.startLine, two.range.startLine], [0, 7]);

    await vscode.commands.executeCommand('kimi.stopExplanation', a.explain.thread(one.id));
    const stopped = await finished(one.id, 5000);
    assert.equal(stopped.phase, 'stopped');
    assert.ok(stopped.answer.length > 0 && stopped.answer.length < long.length, 'partial text kept');
    assert.ok(stopped.comments[0]!.body.endsWith('*Stopped — the explanation above is partial.*'));
    assert.equal(stopped.comments[0]!.label, 'Instant · stopped');
    assert.equal(stopped.contextValue, 'kimiExplanation:finishedWithText');
    assert.equal(a.explain.snapshots().find((s) => s.id === two.id)!.phase, 'answering', 'the other one goes on');

    // Dismiss the streaming one: its request ends and its thread is gone.
    const ended = new Promise<string>((resolve) => h.onRequestEnd((i) => resolve(i.outcome)));
    const thread2 = a.explain.thread(two.id)!;
    await vscode.commands.executeCommand('kimi.dismissExplanation', thread2);
    assert.deepEqual(a.explain.snapshots().map((s) => s.id), [one.id]);
    assert.equal(await ended, 'aborted');

    // Re-run the stopped one.
    const mark = renders.length;
    await vscode.commands.executeCommand('kimi.rerunExplanation', a.explain.thread(one.id));
    const again = await rendered((s) => renders.indexOf(s as never) >= mark && s.phase === 'done', 'the re-run finished', 20_000, one.id);
    assert.equal(again.answer, 'Short and done.');
    assert.equal(chatBodies(h).length, 3);
    assert.equal(chatBodies(h)[2].messages[1].content, chatBodies(h)[0].messages[1].content, 'the same request again');

    await vscode.commands.executeCommand('kimi.dismissExplanation', a.explain.thread(one.id));
    assert.deepEqual(a.explain.snapshots(), []);
    assert.equal(doc.getText(), text);
    assert.equal(doc.isDirty, false);
  });

  it('an error mid-stream is shown in the thread with the partial text kept and Re-run offered', async () => {
    await emulate({ script: [{ answer: 'The loop walks the list and then something breaks here.', error: { when: 'midStream', afterChars: 30, message: 'CUDA error: an illegal memory access was encountered' } }] });
    const { editor } = await openMath();
    editor.selection = new vscode.Selection(7, 0, 10, 0);
    await vscode.commands.executeCommand('kimi.explainSelection');
    const s = await finished((await rendered(() => true, 'a thread')).id);
    assert.equal(s.phase, 'failed');
    assert.ok(s.answer.length > 0, 'partial text kept');
    const body = s.comments[0]!.body;
    assert.ok(body.startsWith(s.answer.trim()), body);
    assert.match(body, /\*\*The explanation failed:\*\* /);
    assert.match(body, /The server said: `CUDA error: an illegal memory access was encountered`/);
    assert.equal(s.comments[0]!.label, 'Instant · failed');
    assert.equal(s.contextValue, 'kimiExplanation:finishedWithText', 'Re-run (and Continue in Chat) offered');
  });

  it('too large for max_model_len: a cut selection says so in the thread; one that cannot fit is refused with the reason, nothing sent', async () => {
    const h = await emulate({ maxModelLen: 16384, script: [{ answer: 'About the first part.' }] });
    const big = Array.from({ length: 3000 }, (_, i) => `export const value${i} = ${i} * 2; // ${'padding '.repeat(4)}`).join('\n');
    const doc = await vscode.workspace.openTextDocument({ language: 'typescript', content: big });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(0, 0, 2999, 10);
    await vscode.commands.executeCommand('kimi.explainSelection');
    const cut = await finished((await rendered(() => true, 'a thread')).id);
    assert.equal(cut.phase, 'done');
    assert.equal(cut.notices.length, 1);
    assert.match(cut.comments[0]!.body, /^\*⚠ Only lines 1–\d+ of lines 1–3000 were sent: the whole selection does not fit the server's context of 16,384 tokens\\\.\*\n\nAbout the first part\.$/);
    assert.equal(chatBodies(h).length, 1);

    await emulator!.close();
    emulator = undefined;
    const h2 = await emulate({ maxModelLen: 256 });
    const mark = renders.length;
    await vscode.commands.executeCommand('kimi.explainSelection');
    const refused = await rendered((s) => renders.indexOf(s as never) >= mark && s.phase === 'refused', 'a refusal');
    assert.equal(refused.comments[0]!.label, 'not sent');
    assert.match(refused.comments[0]!.body, /^\*\*Not sent\.\*\* Not sent: the selection \\\(3,000 lines, about [\d,]+ tokens\\\) cannot fit the server's context of 256 tokens/);
    assert.equal(chatBodies(h2).length, 0, 'nothing went to the server');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('401: the notification offers Set API Key; once the key is set the explanation runs by itself', async () => {
    const h = await emulate({ apiKey: 'the-key', script: [{ answer: 'Explained with a key.' }] }, 'unauthorized');
    const offers: { message: string; items: unknown[] }[] = [];
    stubWindow('showWarningMessage', (message, ...items) => {
      offers.push({ message, items });
      return Promise.resolve(undefined);
    });
    const { editor } = await openMath();
    editor.selection = new vscode.Selection(7, 0, 10, 0);
    await vscode.commands.executeCommand('kimi.explainSelection');
    const waiting = await rendered((s) => s.phase === 'waiting', 'waiting for the server');
    assert.equal(waiting.comments[0]!.body, "*Waiting for Kimi's server (The server needs an API key). The explanation starts as soon as it is ready.*");
    assert.deepEqual(offers, [{ message: "Kimi's server needs an API key: it refused the request (HTTP 401). The explanation starts as soon as it is ready.", items: ['Set API Key'] }]);
    assert.equal(chatBodies(h).length, 0);
    await a.services.secrets.setApiKey('the-key'); // what Set API Key stores; the status check follows by itself
    const done = await finished(waiting.id);
    assert.equal(done.answer, 'Explained with a key.');
    assert.equal(h.requests.find((r) => r.path === '/v1/chat/completions')!.headers.authorization, 'Bearer the-key');
  });

  describe('no server running', () => {
    const name = `int-explain-${process.pid}`;
    let tmp: string;

    afterEach(async () => {
      if (a.server.state.kind !== 'stopped') await a.server.stop().catch(() => undefined);
      await cfg().update('servers', undefined, vscode.ConfigurationTarget.Global);
      await cfg().update('activeServer', undefined, vscode.ConfigurationTarget.Global);
      fs.rmSync(tmp, { recursive: true, force: true });
      for (const dir of [stateDirFor(name), `${stateDirFor(name)}-download`]) fs.rmSync(dir.replace(/^~/, os.homedir()), { recursive: true, force: true });
    });

    it('the notification offers Start Server; picking it starts the server and the explanation runs once it is ready', async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-int-explain-'));
      fs.mkdirSync(path.join(tmp, 'model'));
      fs.mkdirSync(path.join(tmp, 'gpus'));
      // Nothing answers at the endpoint; the profile runs the fake `vllm` (a real process tree) on its own port.
      await useServer(`http://127.0.0.1:${await freePort()}/v1`);
      assert.equal(a.services.status.current.state, 'unreachable');
      await cfg().update('servers', [{
        name,
        port: await freePort(),
        modelDir: path.join(tmp, 'model'),
        servedModelName: 'Kimi-K2.5',
        environment: { commandPrefix: `env PATH=${path.join(repoRoot, 'test', 'emulator', 'bin')}:$PATH` },
        env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: path.join(tmp, 'gpus'), KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5' },
      }], vscode.ConfigurationTarget.Global);
      await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
      await until((fire) => a.services.config.onDidChange(fire), () => (a.server.runningProfile.name === name ? true : undefined), `the profile ${name}`);

      const offers: { message: string; items: unknown[] }[] = [];
      stubWindow('showWarningMessage', (message, ...items) => {
        offers.push({ message, items });
        return Promise.resolve('Start Server'); // the user presses the button
      });
      const { doc, editor, text } = await openMath();
      editor.selection = new vscode.Selection(7, 0, 10, 0);
      await vscode.commands.executeCommand('kimi.explainSelection');
      const waiting = await rendered((s) => s.phase === 'waiting', 'waiting for the server');
      assert.equal(waiting.contextValue, 'kimiExplanation:running', 'Stop cancels a waiting explanation');
      assert.match(offers[0]?.message ?? '', /^Kimi's server is not running \(nothing answers at http:\/\/127\.0\.0\.1:\d+\/v1\)\. The explanation starts as soon as it is ready\.$/);
      assert.deepEqual(offers[0]!.items, ['Start Server']);
      await rendered((s) => s.phase === 'waiting' && /starting/.test(s.comments[0]!.body), 'the thread to follow the start', 30_000);
      const done = await finished(waiting.id, 60_000);
      assert.equal(done.phase, 'done', JSON.stringify(done).slice(0, 600));
      assert.ok(done.answer.length > 10, 'the emulator behind the fake vllm explained');
      assert.equal(a.server.state.kind, 'ready');
      assert.equal(offers.length, 1, 'one notification');
      assert.equal(doc.getText(), text);
    });
  });
});
