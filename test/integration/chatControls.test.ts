// The chat panel's controls inside a real VS Code extension host against the vLLM emulator, asserted on what the
// emulator received and on what VS Code itself holds afterwards: the Thinking / Instant switch and the sampling from
// real settings (defaults = the protocol sheet's recommendation, overridable), Copy into the real clipboard,
// Regenerate and edit-and-resend of the last message.
import { strict as assert } from 'node:assert';
import * as vscode from 'vscode';
import type { AssistantTurn, UserTurn } from '../../src/core/chat/conversation';
import type { KimiApi } from '../../src/extension';
import type { WebviewToHost } from '../../src/shared/protocol';
import type { EmulatorServerHandle } from '../emulator/server';
import type { ChatInbox } from '../support/chatInbox';
import type { Json } from '../unit/chat/helpers';
import { api, cfg, chatBodies, dropServer, emulateFor, tapChat, untapChat } from './extensionKit';

describe('chat controls in a real VS Code (what the server receives)', function () {
  this.timeout(60_000);
  let a: KimiApi;
  let inbox: ChatInbox;
  let tap: vscode.Disposable | undefined;
  let emulator: EmulatorServerHandle;

  const send = (msg: WebviewToHost) => a.chat.receive(msg);
  const bodies = (): Json[] => chatBodies(emulator);

  /** Sends `text` (as the webview does) and waits for its turn to finish without an error. */
  async function ask(msg: WebviewToHost): Promise<Json> {
    const before = bodies().length;
    const from = inbox.mark();
    await send(msg);
    const done = await inbox.finished(from);
    assert.equal(done.meta.error, undefined, JSON.stringify(done.meta.error));
    // The webview lets the user send again once the composer says it is no longer busy.
    await a.chat.session.idle();
    assert.ok(bodies().length > before, 'the request reached the server');
    // (with the workspace tools on, the model may take a tool round first: the message is in the first request)
    return bodies()[before]!;
  }

  before(async function () {
    this.timeout(30_000);
    a = await api();
    emulator = await emulateFor(a, { tokensPerSecond: 2000 });
  });

  beforeEach(async () => {
    ({ inbox, tap } = await tapChat(a));
  });

  afterEach(async () => {
    await untapChat(a, tap);
    await send({ type: 'setMode', mode: 'thinking' });
    for (const k of ['chat.mode', 'chat.thinkingTemperature', 'chat.instantTemperature', 'chat.topP']) {
      await cfg().update(k, undefined, vscode.ConfigurationTarget.Global);
    }
  });

  after(async () => {
    await dropServer(emulator);
  });

  it('Thinking sends the recommended sampling and no template switch; Instant sends chat_template_kwargs {"thinking": false} at 0.6 and gets no thinking back', async () => {
    const thinking = await ask({ type: 'send', text: 'Why is the sky blue?' });
    assert.equal(thinking.chat_template_kwargs, undefined);
    assert.deepEqual([thinking.temperature, thinking.top_p], [1, 0.95]);

    const from = inbox.mark();
    await send({ type: 'setMode', mode: 'instant' });
    assert.equal((await inbox.waitType('composer', { from })).composer.mode, 'instant');
    const turnFrom = inbox.mark();
    const instant = await ask({ type: 'send', text: 'And at sunset?' });
    assert.deepEqual(instant.chat_template_kwargs, { thinking: false });
    assert.deepEqual([instant.temperature, instant.top_p], [0.6, 0.95]);
    assert.equal(inbox.streamed(turnFrom).thinking, '', 'no thinking in Instant mode');
    assert.ok(inbox.streamed(turnFrom).answer.length > 0);
  });

  it('the sampling is overridable in settings, per mode; the mode setting picks the switch', async () => {
    await cfg().update('chat.thinkingTemperature', 0.8, vscode.ConfigurationTarget.Global);
    await cfg().update('chat.instantTemperature', 0.3, vscode.ConfigurationTarget.Global);
    await cfg().update('chat.topP', 0.7, vscode.ConfigurationTarget.Global);
    const thinking = await ask({ type: 'send', text: 'First question' });
    assert.deepEqual([thinking.temperature, thinking.top_p, thinking.chat_template_kwargs], [0.8, 0.7, undefined]);

    const from = inbox.mark();
    await cfg().update('chat.mode', 'instant', vscode.ConfigurationTarget.Global);
    assert.equal((await inbox.waitType('composer', { from, where: (m) => m.composer.mode === 'instant' })).composer.mode, 'instant');
    const instant = await ask({ type: 'send', text: 'Second question' });
    assert.deepEqual([instant.temperature, instant.top_p, instant.chat_template_kwargs], [0.3, 0.7, { thinking: false }]);
  });

  it('Copy puts the code block into VS Code\'s clipboard', async () => {
    const code = `const stamp = ${Date.now()};\nconsole.log(stamp);`;
    await vscode.env.clipboard.writeText('something else');
    await send({ type: 'copyCode', code });
    assert.equal(await vscode.env.clipboard.readText(), code);
  });

  it('Regenerate re-sends the same request and replaces the last answer; edit-and-resend replaces the last message and its answer', async () => {
    emulator.setScript([
      { match: 'capital of France', thinking: 'Easy.', answer: 'First answer: Paris.' },
      { match: 'capital of France', thinking: 'Again.', answer: 'Second answer: Paris, still.' },
      { match: 'capital of Italy', thinking: 'Rome.', answer: 'Rome.' },
    ]);
    const first = await ask({ type: 'send', text: 'What is the capital of France?' });
    const conv = () => a.chat.session.conversation;
    const answerId = conv().turns[1]!.id;
    assert.equal((conv().turns[1] as AssistantTurn).answer, 'First answer: Paris.');

    const again = await ask({ type: 'regenerate', turnId: answerId });
    assert.deepEqual(again.messages, first.messages, 'the same request again');
    assert.equal(conv().turns.length, 2, 'the answer was replaced, not added');
    assert.equal((conv().turns[1] as AssistantTurn).answer, 'Second answer: Paris, still.');

    const userId = conv().turns[0]!.id;
    const edited = await ask({ type: 'editResend', turnId: userId, text: 'What is the capital of Italy?' });
    // (with tools on, a system message comes first)
    const conversational = (edited.messages as Json[]).filter((m) => m.role !== 'system');
    assert.deepEqual(conversational, [{ role: 'user', content: 'What is the capital of Italy?' }], 'the old exchange is not sent');
    assert.equal(conv().turns.length, 2);
    assert.equal((conv().turns[0] as UserTurn).text, 'What is the capital of Italy?');
    assert.equal((conv().turns[1] as AssistantTurn).answer, 'Rome.');
  });

  it('attach the current file: its workspace path, every line and its language reach the model; then sent without it', async () => {
    const folder = vscode.workspace.workspaceFolders![0]!.uri;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'src', 'math.ts'));
    await vscode.window.showTextDocument(doc);
    const from = inbox.mark();
    await send({ type: 'attach', what: 'file' });
    const composer = await inbox.waitType('composer', { from, where: (m) => m.composer.attachments.length > 0 });
    assert.deepEqual(composer.composer.attachments.map((x) => [x.kind, x.path]), [['file', 'src/math.ts']]);
    const body = await ask({ type: 'send', text: 'Any bugs here?' });
    const user = (body.messages as Json[]).find((m) => m.role === 'user')!;
    const lines = doc.lineCount - (doc.getText().endsWith('\n') ? 1 : 0);
    assert.equal(user.content, `File \`src/math.ts\` (lines 1-${lines}):\n\`\`\`typescript\n${doc.getText()}\`\`\`\n\nAny bugs here?`);
    const next = await ask({ type: 'send', text: 'Thanks' });
    assert.equal((next.messages as Json[]).at(-1).content, 'Thanks', 'the attachment went with one message only');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('an image (as pasted or dropped) goes to the model as an image_url data URL; one over the size limit is refused with a clear message', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    let from = inbox.mark();
    await send({ type: 'addImage', image: { name: 'dot.png', dataUrl: png } });
    assert.deepEqual((await inbox.waitType('composer', { from, where: (m) => m.composer.images.length > 0 })).composer.images.map((i) => i.name), ['dot.png']);
    // Over what the protocol lets through: the real view provider drops it and says why.
    from = inbox.mark();
    await send({ type: 'addImage', image: { name: 'scan.png', dataUrl: `data:image/png;base64,${'A'.repeat(14_000_100)}` } });
    assert.equal((await inbox.waitType('composerError', { from })).message, '"scan.png" is larger than 10 MB, the limit per image. Resize or compress it and try again.');
    const body = await ask({ type: 'send', text: 'What is in this picture?' });
    assert.deepEqual((body.messages as Json[]).at(-1).content, [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: png } }]);
  });

  it('a link opens only after a modal showing the full URL; declined or javascript: links are never opened', async () => {
    const asked: { message: string; modal: boolean; detail?: string }[] = [];
    const opened: string[] = [];
    let answer: string | undefined = 'Open Link';
    const w = vscode.window as unknown as Record<string, unknown>;
    const env = vscode.env as unknown as Record<string, unknown>;
    const originalWarn = w.showWarningMessage;
    const originalOpen = Object.getOwnPropertyDescriptor(env, 'openExternal');
    w.showWarningMessage = (message: string, options: vscode.MessageOptions, ...items: string[]) => {
      asked.push({ message, modal: options.modal === true, ...(options.detail ? { detail: options.detail } : {}) });
      return Promise.resolve(answer && items.includes(answer) ? answer : undefined);
    };
    Object.defineProperty(env, 'openExternal', { configurable: true, value: (uri: vscode.Uri) => {
      opened.push(uri.toString(true));
      return Promise.resolve(true);
    } });
    try {
      const url = 'https://docs.vllm.ai/en/latest/features/reasoning_outputs.html?x=1#streaming';
      await send({ type: 'openLink', href: url });
      assert.deepEqual(asked, [{ message: 'Open this link from the chat?', modal: true, detail: url }]);
      assert.deepEqual(opened, [url]);
      answer = undefined;
      await send({ type: 'openLink', href: 'https://evil.example/' });
      assert.equal(asked.length, 2);
      assert.deepEqual(opened, [url], 'declined: not opened');
      await send({ type: 'openLink', href: 'javascript:alert(1)' });
      assert.equal(asked.length, 2, 'no question for a scheme that is never opened');
      assert.deepEqual(opened, [url]);
    } finally {
      w.showWarningMessage = originalWarn;
      if (originalOpen) Object.defineProperty(env, 'openExternal', originalOpen);
    }
  });
});
