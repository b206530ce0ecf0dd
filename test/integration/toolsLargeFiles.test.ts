// Files over read_file's size limit in a real VS Code extension host: the chat's workspace port (VscodeWorkspace) reads
// a line range of a huge file from the disk, or from the editor when it has unsaved changes, and the model gets
// exactly those lines; a whole read is refused with the advice to read a range; search_text (VS Code's own rg) says
// which file it skipped for its size. Asserted on what the server received.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KimiApi } from '../../src/extension';
import type { EmulatorServerHandle } from '../emulator/server';
import type { ChatInbox } from '../support/chatInbox';
import type { Json } from '../unit/chat/helpers';
import { api, cfg, chatBodies, emulateFor, tapChat, untapChat } from './extensionKit';

const LINES = 100_000;
const lineOf = (i: number) => `row ${i} ${'é'.repeat(40)} end`;

describe('tool calling on files over the read limit, in a real VS Code', function () {
  this.timeout(90_000);
  let a: KimiApi;
  let inbox: ChatInbox;
  let tap: vscode.Disposable | undefined;
  let emulator: EmulatorServerHandle | undefined;
  let huge: string;
  let bytes: number;

  before(async () => {
    a = await api();
    const ws = vscode.workspace.workspaceFolders?.[0];
    assert.ok(ws, 'the test VS Code opens a folder');
    huge = path.join(fs.realpathSync(ws.uri.fsPath), 'huge-data.txt');
    fs.writeFileSync(huge, Array.from({ length: LINES }, (_, i) => lineOf(i + 1)).join('\n') + '\n');
    bytes = fs.statSync(huge).size;
    assert.ok(bytes > 8 * 1024 * 1024, `${bytes} bytes`);
  });

  after(() => {
    fs.rmSync(huge, { force: true });
  });

  beforeEach(async () => {
    ({ inbox, tap } = await tapChat(a));
  });

  afterEach(async () => {
    await untapChat(a, tap);
    await emulator?.close();
    emulator = undefined;
    await cfg().update('endpoint.baseUrl', undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  /** Sends a message and waits for the last round of its answer; the tool messages the server received after it. */
  async function ask(text: string): Promise<string[]> {
    const from = inbox.mark();
    await a.chat.receive({ type: 'send', text });
    await inbox.waitFor((m) => typeof m !== 'string' && m.type === 'turnFinished' && !m.meta.continued, 'the final turn', { from, timeoutMs: 30_000 });
    await a.chat.session.idle();
    return chatBodies(emulator!).slice(1).map((b: Json) => (b.messages as Json[]).at(-1).content as string);
  }

  it('read_file: a whole read is refused with the advice to read a range; ranges (the end, past the end) are read from the disk', async () => {
    emulator = await emulateFor(a, { script: [
      { thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'huge-data.txt' } }] },
      { thinking: 'A range.', toolCalls: [
        { name: 'read_file', arguments: { path: 'huge-data.txt', startLine: 50_000, endLine: 50_001 } },
        { name: 'read_file', arguments: { path: 'huge-data.txt', startLine: LINES, endLine: LINES + 5 } },
        { name: 'read_file', arguments: { path: 'huge-data.txt', startLine: LINES + 1 } },
      ] },
      { thinking: 'Done.', answer: 'Read.' },
    ] });
    const sent = await ask('What is in huge-data.txt?');
    const mb = `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    assert.match(sent[0]!, new RegExp(`^error: huge-data\\.txt is ${mb.replace('.', '\\.')}, more than the 8\\.0 MB read_file can read whole; read a part of it with startLine and endLine`));
    const tools = (chatBodies(emulator).at(-1)!.messages as Json[]).filter((m) => m.role === 'tool').map((m) => m.content as string);
    assert.deepEqual(tools.slice(1), [
      `huge-data.txt (lines 50000-50001; more lines follow in this ${mb} file)\n50000: ${lineOf(50_000)}\n50001: ${lineOf(50_001)}`,
      `huge-data.txt (lines 100000-100000 of 100000)\n100000: ${lineOf(LINES)}`,
      'error: huge-data.txt has 100000 lines; expected startLine between 1 and 100000',
    ]);
  });

  it('search_text with VS Code\'s own ripgrep: an include naming the huge file says it was skipped for its size and what to do', async () => {
    emulator = await emulateFor(a, { script: [
      { thinking: 'Search.', toolCalls: [{ name: 'search_text', arguments: { query: 'row 77', include: 'huge-data.txt' } }] },
      { thinking: 'Done.', answer: 'Skipped.' },
    ] });
    const sent = await ask('Where is row 77 in huge-data.txt?');
    assert.equal(sent[0], 'No matches for "row 77" in files matching "**/huge-data.txt".\n' +
      `[not searched: 1 file over 2.0 MB, which search_text skips — huge-data.txt (${(bytes / 1024 / 1024).toFixed(1)} MB). read_file with ` +
      'startLine and endLine reads any part of it; to find the lines you need in it, use run_command (e.g. grep -nF \'row 77\' ' +
      'huge-data.txt), which the user approves]');
  });

  it('read_file: a range of a huge file with unsaved changes in an editor comes from the editor', async () => {
    // code-server saves after 1 s by default; a user with unsaved changes has auto save off, and so does this test.
    await vscode.workspace.getConfiguration('files').update('autoSave', 'off', vscode.ConfigurationTarget.Global);
    try {
      const doc = await vscode.workspace.openTextDocument(huge);
      const editor = await vscode.window.showTextDocument(doc);
      assert.ok(await editor.edit((b) => b.insert(new vscode.Position(1, 0), 'an unsaved line\n')));
      assert.ok(doc.isDirty);
      emulator = await emulateFor(a, { script: [
        { thinking: 'Read.', toolCalls: [{ name: 'read_file', arguments: { path: 'huge-data.txt', startLine: 1, endLine: 3 } }] },
        { thinking: 'Done.', answer: 'Read.' },
      ] });
      const sent = await ask('What does huge-data.txt start with?');
      assert.equal(sent[0], `huge-data.txt (lines 1-3; more lines follow in this ${(bytes / 1024 / 1024).toFixed(1)} MB file)\n` +
        `1: ${lineOf(1)}\n2: an unsaved line\n3: ${lineOf(2)}`);
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    } finally {
      await vscode.workspace.getConfiguration('files').update('autoSave', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
