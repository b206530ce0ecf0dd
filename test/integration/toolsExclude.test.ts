// files.exclude in a real VS Code extension host (code-server): a file the user excluded is not read by a tool call
// without asking. The model (the emulator's scripted tool calls) asks for it; the read waits on the card's approval
// request while nothing more goes to the server; Reject keeps its content out of every request the server received,
// and search does not find it either.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KimiApi } from '../../src/extension';
import type { WebviewToHost } from '../../src/shared/protocol';
import type { EmulatorServerHandle } from '../emulator/server';
import type { EmulatorOptions } from '../emulator/types';
import type { ChatInbox } from '../support/chatInbox';
import { api, chatRequests as requestsOf, dropServer, emulateFor, tapChat, untapChat } from './extensionKit';

describe('tool calling: files.exclude in a real VS Code', function () {
  this.timeout(60_000);
  let a: KimiApi;
  let inbox: ChatInbox;
  let tap: vscode.Disposable | undefined;
  let emulator: EmulatorServerHandle | undefined;
  let ws: string;
  const dir = 'kimi-excluded-notes';
  const sentinel = 'SENTINEL-FILES-EXCLUDE-7c2b';

  async function emulate(opts: EmulatorOptions): Promise<EmulatorServerHandle> {
    emulator = await emulateFor(a, opts);
    return emulator;
  }

  const send = (msg: WebviewToHost) => a.chat.receive(msg);
  const chatRequests = () => requestsOf(emulator!);

  before(async () => {
    a = await api();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the test VS Code opens a folder');
    ws = fs.realpathSync(folder.uri.fsPath);
  });

  beforeEach(async () => {
    fs.mkdirSync(path.join(ws, dir), { recursive: true });
    fs.writeFileSync(path.join(ws, dir, 'private.md'), `# Private\n\n${sentinel}\n`);
    ({ inbox, tap } = await tapChat(a));
  });

  afterEach(async () => {
    await untapChat(a, tap);
    await dropServer(emulator);
    emulator = undefined;
    await vscode.workspace.getConfiguration('files').update('exclude', undefined, vscode.ConfigurationTarget.Global);
    fs.rmSync(path.join(ws, dir), { recursive: true, force: true });
  });

  it('read_file on a file excluded by files.exclude waits for approval; Reject keeps its content out of every request', async () => {
    const files = vscode.workspace.getConfiguration('files');
    await files.update('exclude', { ...(files.inspect<Record<string, boolean>>('exclude')?.defaultValue ?? {}), [`${dir}/**`]: true }, vscode.ConfigurationTarget.Global);
    assert.equal(vscode.workspace.getConfiguration('files').get<Record<string, boolean>>('exclude')?.[`${dir}/**`], true);
    await emulate({ script: [
      { thinking: 'Read it and search for it.', toolCalls: [
        { name: 'read_file', arguments: { path: `${dir}/private.md` } },
        // A part of the sentinel: a hit would put the whole line (the full sentinel) into the result.
        { name: 'search_text', arguments: { query: 'FILES-EXCLUDE' } },
      ] },
      { match: 'did not allow', thinking: 'Refused.', answer: 'I may not read that file.' },
    ] });
    const from = inbox.mark();
    await send({ type: 'send', text: `What is in ${dir}/private.md?` });
    const asking = await inbox.waitType('toolCalls', { from, timeoutMs: 15_000, where: (m) => m.calls[0]?.status === 'awaitingApproval' && m.calls[1]?.status === 'done' });
    assert.deepEqual(asking.calls[0]!.approval, {
      kind: 'sensitiveRead',
      path: `${dir}/private.md`,
      reason: `it is excluded by the workspace's exclude setting ("${dir}/**")`,
      alwaysAllow: 'Always let read_file read files excluded by files.exclude in this workspace',
    });
    assert.match(asking.calls[1]!.resultPreview!, /^No matches for /, 'search leaves excluded files out');
    // The read waits: the second round is not sent while the card asks.
    assert.equal(chatRequests().length, 1);

    await send({ type: 'approveToolCall', callId: asking.calls[0]!.id, decision: 'reject' });
    const rejected = await inbox.waitType('toolCalls', { from, timeoutMs: 15_000, where: (m) => m.calls[0]?.status === 'rejected' || m.calls[0]?.status === 'error' });
    assert.match(rejected.calls[0]!.resultPreview!, /did not allow reading kimi-excluded-notes\/private\.md/);
    await inbox.waitFor((m) => typeof m !== 'string' && m.type === 'turnFinished' && !m.meta.continued, 'the final turn', { from, timeoutMs: 20_000 });
    await a.chat.session.idle();

    const sent = chatRequests();
    assert.equal(sent.length, 2, 'the model got the refusal and answered');
    const toolMsg = (sent[1]!.body as { messages: { role: string; content: string }[] }).messages.filter((m) => m.role === 'tool');
    assert.equal(toolMsg.length, 2);
    assert.match(toolMsg[0]!.content, /^error: the user did not allow reading kimi-excluded-notes\/private\.md/);
    for (const r of emulator!.requests) assert.ok(!r.rawBody.includes(sentinel), `the excluded file's content reached the server in ${r.path}`);
  });
});
