// Tool calling in a real VS Code extension host (code-server) against the emulator's scripted tool calls: the chat
// driven exactly as its webview drives it, the workspace port over the real workspace folder, editors, diagnostics,
// language services and the diff editor of a proposed edit. What is asserted: the cards the panel receives, what the
// server receives, the files on disk, the editors VS Code shows.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AssistantTurn } from '../../src/core/chat/conversation';
import { bundledRipgrepCandidates, findBundledRipgrep } from '../../src/core/tools/ripgrep';
import type { KimiApi } from '../../src/extension';
import type { ToolCallView, WebviewToHost } from '../../src/shared/protocol';
import type { EmulatorServerHandle } from '../emulator/server';
import type { EmulatorOptions } from '../emulator/types';
import type { ChatInbox, MessageOf } from '../support/chatInbox';
import type { Json } from '../unit/chat/helpers';
import { api, cfg, chatBodies, dropServer, emulateFor, tapChat, untapChat } from './extensionKit';

const SCHEME = 'kimi-proposal';

function workspaceDir(): string {
  const ws = vscode.workspace.workspaceFolders?.[0];
  assert.ok(ws, 'the test VS Code opens a folder');
  return fs.realpathSync(ws.uri.fsPath);
}

function proposalTabs(): vscode.TabInputTextDiff[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.input)
    .filter((i): i is vscode.TabInputTextDiff => i instanceof vscode.TabInputTextDiff && i.modified.scheme === SCHEME);
}

/** Waits (bounded) for a condition VS Code reaches through its own events (tabs open/close). */
function tabsUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`${what}: not within ${timeoutMs} ms; proposal tabs: ${proposalTabs().length}`));
    }, timeoutMs);
    const sub = vscode.window.tabGroups.onDidChangeTabs(() => {
      if (!cond()) return;
      clearTimeout(timer);
      sub.dispose();
      resolve();
    });
  });
}

describe('tool calling in a real VS Code', function () {
  this.timeout(60_000);
  let a: KimiApi;
  let inbox: ChatInbox;
  let tap: vscode.Disposable | undefined;
  let emulator: EmulatorServerHandle | undefined;
  let ws: string;
  /** Files the test changes, restored afterwards (other suites share the workspace). */
  const saved = new Map<string, Buffer | undefined>();
  const cleanups: (() => void | Promise<void>)[] = [];

  function keep(rel: string): string {
    const abs = path.join(ws, rel);
    if (!saved.has(abs)) saved.set(abs, fs.existsSync(abs) ? fs.readFileSync(abs) : undefined);
    return abs;
  }

  async function emulate(opts: EmulatorOptions): Promise<EmulatorServerHandle> {
    emulator = await emulateFor(a, opts);
    return emulator;
  }

  const send = (msg: WebviewToHost) => a.chat.receive(msg);

  const bodies = (): Json[] => chatBodies(emulator!);

  function cards(from: number, pred: (calls: ToolCallView[]) => boolean, what: string): Promise<MessageOf<'toolCalls'>> {
    return inbox.waitType('toolCalls', { from, where: (m) => pred(m.calls), timeoutMs: 15_000 }).catch((e: Error) => {
      throw new Error(`${what}: ${e.message}`);
    });
  }

  /** Waits for the last turn of the message (one that does not continue) and for the session to be idle again. */
  async function answered(from: number): Promise<void> {
    await inbox.waitFor((m) => typeof m !== 'string' && m.type === 'turnFinished' && !m.meta.continued, 'the final turn of the message', { from, timeoutMs: 20_000 });
    await a.chat.session.idle();
  }

  before(async () => {
    a = await api();
    ws = workspaceDir();
  });

  beforeEach(async () => {
    ({ inbox, tap } = await tapChat(a));
  });

  afterEach(async () => {
    await untapChat(a, tap);
    await dropServer(emulator);
    emulator = undefined;
    await cfg().update('tools.enabled', undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const c of cleanups.splice(0).reverse()) await c();
    for (const [abs, buf] of saved) {
      if (buf === undefined) fs.rmSync(abs, { force: true });
      else fs.writeFileSync(abs, buf);
    }
    saved.clear();
  });

  it('the workspace port finds VS Code\'s own ripgrep under vscode.env.appRoot', () => {
    const rg = findBundledRipgrep(vscode.env.appRoot);
    assert.ok(rg, `none of ${JSON.stringify(bundledRipgrepCandidates(vscode.env.appRoot))} exists`);
    assert.ok(fs.statSync(rg).isFile());
  });

  it('a chat that reads a file and proposes an edit: the diff shows original ↔ proposed; Accept on the card writes it', async () => {
    const math = keep('src/math.ts');
    const original = fs.readFileSync(math, 'utf8');
    await emulate({ script: [
      { thinking: 'Read the file first.', toolCalls: [{ name: 'read_file', arguments: { path: 'src/math.ts' } }] },
      { thinking: 'Guard negative input.', toolCalls: [{ name: 'propose_edit', arguments: { path: 'src/math.ts', oldText: '  if (n < 2) return n;', newText: "  if (n < 0) throw new Error('n must be ≥ 0');\n  if (n < 2) return n;", explanation: 'Reject negative n.' } }] },
      { thinking: 'Done.', answer: 'fibonacci() now rejects negative input.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Make fibonacci reject negative numbers' });
    const read = await cards(from, (c) => c[0]?.name === 'read_file' && c[0].status === 'done', 'read_file done');
    assert.match(read.calls[0]!.resultPreview!, /^src\/math\.ts \(lines 1-11 of 11\)\n 1: export function fibonacci/);

    const asking = await cards(from, (c) => c[0]?.name === 'propose_edit' && c[0].status === 'awaitingApproval', 'the edit awaiting approval');
    assert.deepEqual(asking.calls[0]!.approval, { kind: 'edit', path: 'src/math.ts', summary: '+1 −0 line', created: false, explanation: 'Reject negative n.' });
    // The diff editor: the file as it is on the left, the proposal on the right, both read-only.
    await tabsUntil(() => proposalTabs().length === 1, 'the diff editor opens');
    const diff = proposalTabs()[0]!;
    assert.equal((await vscode.workspace.openTextDocument(diff.original)).getText(), original);
    const proposed = (await vscode.workspace.openTextDocument(diff.modified)).getText();
    assert.ok(proposed.includes("throw new Error('n must be ≥ 0')"));
    assert.equal(fs.readFileSync(math, 'utf8'), original, 'nothing is written before Accept');

    await send({ type: 'approveToolCall', callId: asking.calls[0]!.id, decision: 'accept' });
    const applied = await cards(from, (c) => c[0]?.name === 'propose_edit' && c[0].status === 'done', 'the edit applied');
    assert.equal(applied.calls[0]!.resultPreview, 'Applied: src/math.ts — replaced 1 line with 2.');
    await answered(from);
    assert.equal(fs.readFileSync(math, 'utf8'), proposed);
    await tabsUntil(() => proposalTabs().length === 0, 'the diff closes');
    // The server saw the result; the conversation stores the three rounds.
    const last = bodies().at(-1).messages.at(-1);
    assert.deepEqual([last.role, last.content], ['tool', 'Applied: src/math.ts — replaced 1 line with 2.']);
    await a.chat.session.idle();
    const turns = a.chat.session.conversation.turns;
    assert.deepEqual(turns.map((t) => t.role), ['user', 'assistant', 'assistant', 'assistant']);
    assert.equal((turns[2] as AssistantTurn).toolCalls[0]!.status, 'done');
  });

  it('Reject (the diff\'s title-bar button) leaves the file byte-identical and the model is told', async () => {
    const main = keep('src/main.ts');
    const before = fs.readFileSync(main);
    await emulate({ script: [
      { thinking: 'Rewrite it.', toolCalls: [{ name: 'propose_edit', arguments: { path: 'src/main.ts', newText: 'export {};\n' } }] },
      { thinking: 'OK.', answer: 'Left unchanged.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Empty main.ts' });
    await cards(from, (c) => c[0]?.status === 'awaitingApproval', 'the edit awaiting approval');
    await tabsUntil(() => proposalTabs().length === 1, 'the diff editor opens');
    const decided = await vscode.commands.executeCommand<boolean>('kimi.rejectProposedEdit', proposalTabs()[0]!.modified);
    assert.equal(decided, true);
    const rejected = await cards(from, (c) => c[0]?.status === 'rejected', 'the edit rejected');
    assert.match(rejected.calls[0]!.resultPreview!, /^The user rejected the edit to src\/main\.ts; the file is unchanged\./);
    await answered(from);
    await tabsUntil(() => proposalTabs().length === 0, 'the diff closes');
    assert.ok(fs.readFileSync(main).equals(before), 'byte-identical');
    assert.match(bodies()[1].messages.at(-1).content, /^The user rejected the edit/);
  });

  it('Stop while an edit waits: the diff closes, the card ends stopped, the file is unchanged, nothing more is sent', async () => {
    const math = keep('src/math.ts');
    const before = fs.readFileSync(math);
    await emulate({ script: [{ thinking: 'Rewrite.', toolCalls: [{ name: 'propose_edit', arguments: { path: 'src/math.ts', newText: 'export {};\n' } }] }] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Rewrite math.ts' });
    await cards(from, (c) => c[0]?.status === 'awaitingApproval', 'the edit awaiting approval');
    await tabsUntil(() => proposalTabs().length === 1, 'the diff editor opens');
    await send({ type: 'stop' });
    const stopped = await cards(from, (c) => c[0]?.status === 'cancelled', 'the edit cancelled');
    assert.equal(stopped.calls[0]!.approval, undefined);
    await answered(from);
    await tabsUntil(() => proposalTabs().length === 0, 'the diff closes');
    assert.ok(fs.readFileSync(math).equals(before));
    assert.equal(bodies().length, 1);
    assert.equal(inbox.last('composer')!.composer.busy, false);
  });

  it('Accept from the diff\'s title bar creates a new file (and its folder) through a WorkspaceEdit', async () => {
    const created = keep('docs/notes/todo.md');
    cleanups.push(() => fs.rmSync(path.join(ws, 'docs'), { recursive: true, force: true }));
    await emulate({ script: [
      { thinking: 'Create it.', toolCalls: [{ name: 'propose_edit', arguments: { path: 'docs/notes/todo.md', newText: '# TODO\n\n- tests\n' } }] },
      { thinking: 'Created.', answer: 'Created docs/notes/todo.md.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Start a TODO list' });
    const asking = await cards(from, (c) => c[0]?.status === 'awaitingApproval', 'the edit awaiting approval');
    assert.deepEqual(asking.calls[0]!.approval, { kind: 'edit', path: 'docs/notes/todo.md', summary: 'new file, 3 lines', created: true });
    await tabsUntil(() => proposalTabs().length === 1, 'the diff editor opens');
    await vscode.window.showTextDocument(proposalTabs()[0]!.modified, { preview: false });
    // With the proposal active, the command needs no argument (the palette / keyboard path).
    assert.equal(await vscode.commands.executeCommand<boolean>('kimi.acceptProposedEdit'), true);
    await cards(from, (c) => c[0]?.status === 'done', 'the file created');
    await answered(from);
    assert.equal(fs.readFileSync(created, 'utf8'), '# TODO\n\n- tests\n');
  });

  it('read_file sees unsaved changes in an open editor; an edit to a dirty file is applied in the editor and left unsaved', async () => {
    const main = keep('src/main.ts');
    // VS Code for the web (code-server) saves after 1 s by default (files.autoSave "afterDelay"): the unsaved change
    // this test is about would be on disk before the chat's round trips reach the edit. A user with unsaved changes
    // has auto save off; so does this test.
    await vscode.workspace.getConfiguration('files').update('autoSave', 'off', vscode.ConfigurationTarget.Global);
    cleanups.push(async () => {
      await vscode.workspace.getConfiguration('files').update('autoSave', undefined, vscode.ConfigurationTarget.Global);
    });
    const onDisk = fs.readFileSync(main, 'utf8');
    const doc = await vscode.workspace.openTextDocument(main);
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((b) => b.insert(new vscode.Position(0, 0), '// unsaved note\n'));
    assert.ok(doc.isDirty);
    await emulate({ script: [
      { thinking: 'Read.', toolCalls: [{ name: 'read_file', arguments: { path: 'src/main.ts', endLine: 1 } }] },
      { thinking: 'Edit.', toolCalls: [{ name: 'propose_edit', arguments: { path: 'src/main.ts', oldText: '// unsaved note', newText: '// unsaved note, edited' } }] },
      { thinking: 'Done.', answer: 'Edited.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Look at main.ts' });
    const read = await cards(from, (c) => c[0]?.name === 'read_file' && c[0].status === 'done', 'read_file done');
    assert.match(read.calls[0]!.resultPreview!, /\n1: \/\/ unsaved note$/);
    const asking = await cards(from, (c) => c[0]?.name === 'propose_edit' && c[0].status === 'awaitingApproval', 'the edit awaiting approval');
    await send({ type: 'approveToolCall', callId: asking.calls[0]!.id, decision: 'accept' });
    await cards(from, (c) => c[0]?.name === 'propose_edit' && c[0].status === 'done', 'the edit applied');
    await answered(from);
    assert.ok(doc.getText().startsWith('// unsaved note, edited\n'));
    assert.equal(doc.isDirty, true, 'still unsaved: the user saves their own pending change with it');
    assert.equal(fs.readFileSync(main, 'utf8'), onDisk);
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('run_command: the card shows the command and folder; Accept runs it in the workspace with capped output', async () => {
    await emulate({ script: [
      { thinking: 'Run it.', toolCalls: [{ name: 'run_command', arguments: { command: 'pwd; echo "KIMI_API_KEY=${KIMI_API_KEY:-unset}"; seq 1 20000', cwd: 'src' } }] },
      { thinking: 'Ran.', answer: 'It ran.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Where are we?' });
    const asking = await cards(from, (c) => c[0]?.status === 'awaitingApproval', 'the command awaiting approval');
    assert.deepEqual(asking.calls[0]!.approval, { kind: 'command', command: 'pwd; echo "KIMI_API_KEY=${KIMI_API_KEY:-unset}"; seq 1 20000', cwd: 'src' });
    assert.equal(proposalTabs().length, 0);
    await send({ type: 'approveToolCall', callId: asking.calls[0]!.id, decision: 'accept' });
    const ran = await cards(from, (c) => c[0]?.status === 'done', 'the command done');
    await answered(from);
    const result = (a.chat.session.conversation.turns[1] as AssistantTurn).toolCalls[0]!.result!;
    assert.match(result, new RegExp(`^\\$ pwd; .*\\n\\(in src; exit code 0; [\\d.]+ m?s\\)\\n${ws}/src\\nKIMI_API_KEY=unset\\n1\\n2\\n`));
    assert.match(result, /\n… \[[\d,]+ characters left out\] …\n/);
    assert.match(result, /\n20000\n+\[truncated: [\d,]+ characters of output left out in the middle\]$/);
    assert.ok(ran.calls[0]!.resultPreview!.length <= 2001);
  });

  it('a symlink out of the workspace is refused; nothing outside is read or sent', async () => {
    const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-outside-')));
    const sentinel = 'SENTINEL-OUTSIDE-VSCODE-4d1e';
    fs.writeFileSync(path.join(outside, 'secret.txt'), `${sentinel}\n`);
    const link = path.join(ws, 'escape');
    fs.symlinkSync(outside, link);
    cleanups.push(() => {
      fs.rmSync(link, { force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    });
    await emulate({ script: [
      { thinking: 'Try them all.', toolCalls: [
        { name: 'read_file', arguments: { path: 'escape/secret.txt' } },
        { name: 'read_file', arguments: { path: path.join(outside, 'secret.txt') } },
        { name: 'list_directory', arguments: { path: 'escape' } },
        // A part of the sentinel: a hit would put the whole line (the full sentinel) into the result.
        { name: 'search_text', arguments: { query: 'OUTSIDE-VSCODE' } },
        { name: 'find_files', arguments: { glob: 'escape/**' } },
      ] },
      { thinking: 'Refused.', answer: 'I cannot read outside the workspace.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'Read escape/secret.txt' });
    const all = await cards(from, (c) => c.length === 5 && c.every((x) => x.status === 'done' || x.status === 'error'), 'all five calls finished');
    const [viaLink, absolute, listing, search, find] = all.calls;
    assert.match(viaLink!.resultPreview!, /^error: path "escape\/secret\.txt" leads outside the workspace through a symlink/);
    assert.match(absolute!.resultPreview!, /^error: path ".*secret\.txt" is outside the workspace/);
    assert.match(listing!.resultPreview!, /^error: path "escape" leads outside the workspace through a symlink/);
    assert.match(search!.resultPreview!, /^No matches for /);
    assert.match(find!.resultPreview!, /^No files match "escape\/\*\*"\./);
    await answered(from);
    assert.ok(!JSON.stringify(bodies()).includes(sentinel), 'the sentinel never reaches the server');
  });

  it('diagnostics, the selection, open editors, symbols and search come from VS Code itself', async () => {
    const mathUri = vscode.Uri.file(path.join(ws, 'src', 'math.ts'));
    const diags = vscode.languages.createDiagnosticCollection('kimi-test');
    cleanups.push(() => diags.dispose());
    diags.set(mathUri, [Object.assign(new vscode.Diagnostic(new vscode.Range(8, 2, 8, 12), 'Prefer a guard clause', vscode.DiagnosticSeverity.Warning), { source: 'kimi-test', code: 'K1' })]);
    const editor = await vscode.window.showTextDocument(mathUri);
    editor.selection = new vscode.Selection(7, 0, 10, 1);
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, 'README.md')), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true });
    await emulate({ script: [
      { thinking: 'Look around.', toolCalls: [
        { name: 'get_diagnostics', arguments: { path: 'src/math.ts' } },
        { name: 'get_selection', arguments: {} },
        { name: 'get_open_editors', arguments: {} },
        { name: 'get_symbols', arguments: { path: 'README.md' } },
        { name: 'search_text', arguments: { query: 'values.length', include: 'src/**' } },
        { name: 'find_files', arguments: { glob: 'src/*.ts' } },
      ] },
      { thinking: 'Seen.', answer: 'Seen it all.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: 'What am I looking at?' });
    const done = await cards(from, (c) => c.length === 6 && c.every((x) => x.status === 'done'), 'six calls done');
    const [d, sel, eds, syms, search, find] = done.calls.map((c) => c.resultPreview!);
    assert.equal(d, '1 problem in src/math.ts:\nsrc/math.ts:9:3: warning: Prefer a guard clause [kimi-test K1]');
    assert.match(sel!, /^Selection in src\/math\.ts \(lines 8-11, typescript\):\n 8: export function mean/);
    assert.match(eds!, /^2 open editors:\nsrc\/math\.ts \(active, typescript\)\nREADME\.md/);
    assert.match(syms!, /symbols? in README\.md:\n.*Sample workspace — README\.md:1/);
    assert.equal(search, '2 matches for "values.length" in files matching "src/**":\nsrc/math.ts:9:   if (values.length === 0) throw new Error(\'mean of an empty list\');\nsrc/math.ts:10:   return values.reduce((s, v) => s + v, 0) / values.length;');
    assert.equal(find, '2 files matching "src/*.ts":\nsrc/main.ts\nsrc/math.ts');
    await answered(from);
  });

  it('"Always Allow" on a read is kept for the workspace (not asked again); Kimi: Forget "Always Allow" Decisions asks again', async () => {
    keep('debug.log');
    keep('trace.log');
    fs.writeFileSync(path.join(ws, 'debug.log'), 'debug line\n');
    fs.writeFileSync(path.join(ws, 'trace.log'), 'trace line\n');
    await emulate({ script: [
      { match: 'debug', thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'debug.log' } }] },
      { match: 'debug line', thinking: 'Read.', answer: 'It says debug line.' },
      { match: 'trace', thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'trace.log' } }] },
      { match: 'trace line', thinking: 'Read.', answer: 'It says trace line.' },
      { match: 'again', thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'trace.log' } }] },
    ] });
    let from = inbox.mark();
    await send({ type: 'send', text: 'What is in debug.log?' });
    const asking = await cards(from, (c) => c[0]?.status === 'awaitingApproval', 'the read awaiting approval');
    assert.deepEqual(asking.calls[0]!.approval, { kind: 'sensitiveRead', path: 'debug.log', reason: 'it is ignored by .gitignore (rule "*.log")', alwaysAllow: 'Always let read_file read files ignored by .gitignore in this workspace' });
    await send({ type: 'approveToolCall', callId: asking.calls[0]!.id, decision: 'always' });
    await answered(from);
    from = inbox.mark();
    await send({ type: 'send', text: 'And trace.log?' });
    await cards(from, (c) => c[0]?.status === 'done', 'the second read done');
    await answered(from);
    assert.ok(!inbox.ofType('toolCalls', from).some((m) => m.calls.some((c) => c.status === 'awaitingApproval')), 'not asked');

    await vscode.commands.executeCommand('kimi.resetToolApprovals');
    from = inbox.mark();
    await send({ type: 'send', text: 'Read trace.log again' });
    await cards(from, (c) => c[0]?.status === 'awaitingApproval', 'asked again after the reset');
  });

  it('kimi.tools.enabled false: the request carries no tools; a server (not Kimi\'s own) without tool flags: the 400 names them, no Restart button', async () => {
    await cfg().update('tools.enabled', false, vscode.ConfigurationTarget.Global);
    await emulate({ enableAutoToolChoice: false });
    let from = inbox.mark();
    await send({ type: 'send', text: 'hello' });
    const plain = await inbox.finished(from);
    assert.equal(plain.meta.error, undefined);
    assert.equal(bodies()[0].tools, undefined);

    await cfg().update('tools.enabled', undefined, vscode.ConfigurationTarget.Global);
    from = inbox.mark();
    await send({ type: 'send', text: 'now with tools' });
    const failed = await inbox.finished(from);
    assert.ok(bodies()[1].tools.length >= 10);
    assert.equal(failed.meta.error?.kind, 'toolChoiceNotEnabled');
    // The emulator is not one of Kimi's profiles: no Restart button, the message names the flags to add.
    assert.deepEqual(failed.meta.error?.actions, ['retry']);
    assert.match(failed.meta.error!.message, /Restart `vllm serve` with --enable-auto-tool-choice --tool-call-parser kimi_k2 to use tools/);
    const mark = inbox.mark();
    await send({ type: 'errorAction', turnId: failed.assistantId, action: 'restartServerWithFlags' });
    const why = await inbox.waitType('notice', { from: mark });
    assert.match(why.text, /was not started by Kimi, so Kimi cannot restart it\. Restart `vllm serve` with --enable-auto-tool-choice --tool-call-parser kimi_k2/);
  });
});
