// "Restart with Flags" end to end in a real VS Code extension host: a managed server profile started without tool
// calling (enableAutoToolChoice off, no tool-call parser) through the real ServerService — the fake `vllm`
// (test/emulator/bin) as a real process tree — answers the chat's tools with vLLM's 400; the error offers the fix; the
// user's answer to the modal decides. Accepted: the kimi.servers entry gets the flags, a new server process runs with
// them (its real argv and its log say so), the chat says so (restarting, then ready: press Retry) and Retry gets a tool
// call answered. Declined: nothing changes. The button's answer in the other states: Kimi's server stopped by the user
// or failed (Start with the flags, asked first), starting for another reason (wait for it), and a server Kimi does not
// run (what to run instead, offering Kimi's profile only when it has the flags).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AssistantTurn } from '../../src/core/chat/conversation';
import type { LifecycleState } from '../../src/core/server/lifecycleTypes';
import { stateDirFor } from '../../src/core/server/remoteScripts';
import type { KimiApi } from '../../src/extension';
import type { WebviewToHost } from '../../src/shared/protocol';
import type { ServerService } from '../../src/vscode/server/serverService';
import { startEmulator } from '../emulator/server';
import { ChatInbox } from '../support/chatInbox';
import { repoRoot } from '../support/paths';

const EXT_ID = 'kimi-selfhosted.kimi-vllm';
const fakeBin = path.join(repoRoot, 'test', 'emulator', 'bin');
const cfg = () => vscode.workspace.getConfiguration('kimi');

async function api(): Promise<KimiApi> {
  const ext = vscode.extensions.getExtension<KimiApi>(EXT_ID)!;
  return ext.isActive ? ext.exports : await ext.activate();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the first state (now or later) that satisfies `pred`; fails after `timeoutMs` naming the last. */
function waitForState(server: ServerService, pred: (s: LifecycleState) => boolean, what: string, timeoutMs = 60_000): Promise<LifecycleState> {
  if (pred(server.state)) return Promise.resolve(server.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no ${what} within ${timeoutMs} ms; last state ${JSON.stringify(server.state).slice(0, 400)}`));
    }, timeoutMs);
    const sub = server.onDidChange((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

/** Waits for a condition that settles through VS Code's configuration events (bounded). */
async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The argv of the fake vLLM API server in the session the managed server runs in (its pid is the session id). */
function vllmArgv(sessionPid: number): string[] {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let argv: string[];
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((x) => x !== '');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after "(comm) ": state ppid pgrp session …
    const session = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[3]);
    if (session !== sessionPid) continue;
    const cli = argv.findIndex((a) => a.endsWith(path.join('emulator', 'vllm', 'cli.js')));
    if (cli >= 0 && argv[cli + 1] === 'serve') return argv.slice(cli + 1);
  }
  throw new Error(`no fake vllm serve process in session ${sessionPid}`);
}

function flagValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

describe('Restart with Flags after the tools 400 (a managed server: real ServerService, fake vllm process)', function () {
  this.timeout(120_000);
  let a: KimiApi;
  let inbox: ChatInbox;
  let tap: vscode.Disposable | undefined;
  let tmp: string;
  let name: string;
  let seq = 0;
  const used: string[] = [];
  const w = vscode.window as unknown as { showWarningMessage: unknown };
  const originalWarn = w.showWarningMessage;
  /** The modals the extension showed (message, detail), answered by `answer`. */
  let asked: { message: string; detail?: string }[];
  let answer: string | undefined;
  /** The pid of the server a test accepted to restart. */
  let restartingFrom: number | undefined;

  const send = (msg: WebviewToHost) => a.chat.receive(msg);

  before(async () => {
    a = await api();
  });

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-int-toolflags-'));
    fs.mkdirSync(path.join(tmp, 'model'));
    fs.mkdirSync(path.join(tmp, 'gpus'));
    // The model's side of the retried message: read the README, then answer from what the tool returned (the round
    // is only taken when the tool result the server received holds the README's title).
    fs.writeFileSync(path.join(tmp, 'script.json'), JSON.stringify([
      { thinking: 'Read the README first.', toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { match: '# Sample workspace', thinking: 'It says.', answer: 'The README calls this a "Sample workspace".' },
    ]));
    asked = [];
    answer = undefined;
    // The modal as a person answers it (the test shares the extension's vscode API object).
    w.showWarningMessage = (message: string, options?: vscode.MessageOptions, ...items: string[]) => {
      if (options?.modal !== true) return Promise.resolve(undefined);
      asked.push({ message, ...(options.detail ? { detail: options.detail } : {}) });
      return Promise.resolve(answer !== undefined && items.includes(answer) ? answer : undefined);
    };
    inbox = new ChatInbox();
    tap = a.chat.onDidPost(inbox.push);
    await send({ type: 'ready' });
    await send({ type: 'newChat' });
  });

  afterEach(async () => {
    w.showWarningMessage = originalWarn;
    tap?.dispose();
    await send({ type: 'stop' });
    await a.chat.session.idle();
    // A restart the test accepted may still be under way (a test that failed early): let it end before stopping.
    const old = restartingFrom;
    if (old !== undefined) await waitForState(a.server, (s) => (s.kind === 'ready' && s.pid !== old) || s.kind === 'failed', 'the end of the restart').catch(() => undefined);
    restartingFrom = undefined;
    if (a.server.state.kind !== 'stopped') await a.server.stop().catch(() => undefined);
    await cfg().update('servers', undefined, vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', undefined, vscode.ConfigurationTarget.Global);
    await cfg().update('endpoint.baseUrl', undefined, vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.runningProfile.name === 'This machine', 'the default profile again');
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const n of used.splice(0)) for (const dir of [stateDirFor(n), `${stateDirFor(n)}-download`]) fs.rmSync(dir.replace(/^~/, os.homedir()), { recursive: true, force: true });
  });

  /** Makes a profile of this repo's fake vllm the active one (tool calling off unless `toolCalling`); not started. */
  async function useProfile(opts: { toolCalling?: boolean; env?: Record<string, string> } = {}): Promise<void> {
    name = `int-toolflags-${process.pid}-${++seq}`;
    used.push(name);
    const profile = {
      name,
      port: await freePort(),
      modelDir: path.join(tmp, 'model'),
      servedModelName: 'Kimi-K2.5',
      enableAutoToolChoice: opts.toolCalling ?? false,
      toolCallParser: opts.toolCalling ? 'kimi_k2' : '',
      environment: { commandPrefix: `env PATH=${fakeBin}:$PATH` },
      env: {
        KIMI_FAKE_GPUS: '8',
        KIMI_FAKE_GPU_DIR: path.join(tmp, 'gpus'),
        KIMI_FAKE_VLLM_SHARD_MS: '2',
        KIMI_FAKE_VLLM_PHASE_MS: '5',
        KIMI_FAKE_VLLM_SCRIPT: path.join(tmp, 'script.json'),
        ...opts.env,
      },
    };
    await cfg().update('servers', [profile], vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.runningProfile.name === name, `the service to follow profile ${name}`);
  }

  /** Nothing answers at kimi.endpoint.baseUrl (what the chat talks to while Kimi's server does not run). */
  async function nothingAtTheEndpoint(): Promise<void> {
    await cfg().update('endpoint.baseUrl', `http://127.0.0.1:${await freePort()}/v1`, vscode.ConfigurationTarget.Global);
  }

  /** Presses the error's Restart with Flags (the card's turn, or any: the state decides); the notice it gets, if any. */
  async function pressRestart(turnId = 'any-turn'): Promise<string | undefined> {
    const mark = inbox.mark();
    await send({ type: 'errorAction', turnId, action: 'restartServerWithFlags' });
    return inbox.ofType('notice', mark).map((n) => n.text).join('\n') || undefined;
  }

  /** Waits for the chat's note that the server is ready with tool calling (posted once the start has settled). */
  function readyNotice(from: number): Promise<unknown> {
    return inbox.waitType('notice', { from, where: (n) => n.text === `"${name}" is ready with tool calling turned on. Press Retry to send the message again.`, timeoutMs: 60_000 });
  }

  /** A profile of this repo's fake vllm with tool calling off, started with Kimi: Start Server; the chat sees it. */
  async function startWithoutToolCalling(): Promise<Extract<LifecycleState, { kind: 'ready' }>> {
    await useProfile();
    const ready = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    assert.ok(ready.kind === 'ready', JSON.stringify(ready).slice(0, 600));
    const argv = vllmArgv(ready.pid);
    assert.ok(!argv.includes('--enable-auto-tool-choice') && !argv.includes('--tool-call-parser'), argv.join(' '));
    await waitFor(async () => {
      const v = await a.services.status.check();
      return v.state === 'ready' && v.baseUrl === ready.baseUrl;
    }, 'the chat to see the managed server ready');
    return ready;
  }

  /** Sends a message; the chat offers tools, the server refuses them with its 400, the error offers the restart. */
  async function toolsRefused(): Promise<string> {
    const from = inbox.mark();
    await send({ type: 'send', text: 'What does the README say?' });
    const failed = await inbox.finished(from);
    const error = failed.meta.error;
    assert.equal(error?.kind, 'toolChoiceNotEnabled', JSON.stringify(failed.meta));
    assert.equal(error.serverMessage, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set');
    assert.deepEqual(error.actions, ['retry', 'restartServerWithFlags']);
    assert.deepEqual(error.missingFlags, ['--enable-auto-tool-choice', '--tool-call-parser kimi_k2']);
    assert.match(error.message, /Restart `vllm serve` with --enable-auto-tool-choice --tool-call-parser kimi_k2 to use tools/);
    await a.chat.session.idle();
    return failed.assistantId;
  }

  function savedProfile(): Record<string, unknown> | undefined {
    return (cfg().get<Record<string, unknown>[]>('servers') ?? []).find((p) => p.name === name);
  }

  it('accepted: the profile gets the flags, the server restarts with them, and Retry gets a tool call answered', async () => {
    const first = await startWithoutToolCalling();
    const before = structuredClone(savedProfile())!;
    const failedId = await toolsRefused();

    answer = 'Restart Server';
    restartingFrom = first.pid;
    const restarted = waitForState(a.server, (s) => s.kind === 'ready' && s.pid !== first.pid, 'the restarted server');
    const mark = inbox.mark();
    // The chat says at once what is happening.
    assert.equal(await pressRestart(failedId), `Restarting "${name}" with tool calling turned on (--enable-auto-tool-choice --tool-call-parser ` +
      'kimi_k2). The chat is unavailable while the model loads; press Retry once it is ready.');
    assert.deepEqual(asked, [{
      message: `Restart "${name}" with tool calling turned on?`,
      detail: `Kimi adds --enable-auto-tool-choice --tool-call-parser kimi_k2 to the profile "${name}" (kimi.servers) and restarts the server on this machine. The chat is unavailable while the model loads again.`,
    }]);
    const again = (await restarted) as Extract<LifecycleState, { kind: 'ready' }>;
    // And once the server is up: Retry will work.
    await readyNotice(mark);

    // The settings entry now turns tool calling on; everything else in it is as the user wrote it.
    assert.deepEqual(savedProfile(), { ...before, enableAutoToolChoice: true, toolCallParser: 'kimi_k2' });
    // A new server process, launched with the flags; the old one is gone.
    assert.equal(alive(first.pid), false, 'the server without tool calling was stopped');
    const argv = vllmArgv(again.pid);
    assert.ok(argv.includes('--enable-auto-tool-choice'), argv.join(' '));
    assert.equal(flagValue(argv, '--tool-call-parser'), 'kimi_k2', argv.join(' '));
    const log = fs.readFileSync(path.join(stateDirFor(name).replace(/^~/, os.homedir()), 'server.log'), 'utf8');
    assert.match(log, /"auto" tool choice has been enabled/);

    // Retry the failed answer: the model now calls read_file, gets the README, and answers from it.
    const from = inbox.mark();
    await send({ type: 'regenerate', turnId: failedId });
    await inbox.waitType('toolCalls', { from, where: (m) => m.calls[0]?.name === 'read_file' && m.calls[0].status === 'done', timeoutMs: 20_000 });
    const final = await inbox.waitType('turnFinished', { from, where: (m) => !m.meta.continued, timeoutMs: 20_000 });
    assert.equal(final.meta.error, undefined, JSON.stringify(final.meta.error));
    await a.chat.session.idle();
    const turns = a.chat.session.conversation.turns;
    assert.deepEqual(turns.map((t) => t.role), ['user', 'assistant', 'assistant']);
    const call = (turns[1] as AssistantTurn).toolCalls[0]!;
    assert.equal(call.status, 'done');
    assert.match(call.result ?? '', /^README\.md \(lines 1-\d+ of \d+\)\n1: # Sample workspace/);
    assert.equal((turns[2] as AssistantTurn).answer, 'The README calls this a "Sample workspace".');
  });

  it('pressed again while the restart runs and once it is done: asked once, restarted once; the chat says to press Retry', async () => {
    const first = await startWithoutToolCalling();
    const failedId = await toolsRefused();
    answer = 'Restart Server';
    restartingFrom = first.pid;
    const readyPids: number[] = [];
    const sub = a.server.onDidChange((s) => {
      if (s.kind === 'ready' && !readyPids.includes(s.pid)) readyPids.push(s.pid);
    });
    try {
      const restarted = waitForState(a.server, (s) => s.kind === 'ready' && s.pid !== first.pid, 'the restarted server');
      await send({ type: 'errorAction', turnId: failedId, action: 'restartServerWithFlags' });
      // The card still shows the button: pressed again at once, while the server stops and starts again.
      let mark = inbox.mark();
      await send({ type: 'errorAction', turnId: failedId, action: 'restartServerWithFlags' });
      const during = await inbox.waitType('notice', { from: mark });
      assert.equal(during.text, `Kimi is restarting "${name}" with tool calling turned on. Press Retry once the server is ready.`);
      const again = (await restarted) as Extract<LifecycleState, { kind: 'ready' }>;
      await readyNotice(mark);

      // And once more after it is up: the flags are on, nothing to restart.
      mark = inbox.mark();
      await send({ type: 'errorAction', turnId: failedId, action: 'restartServerWithFlags' });
      const after = await inbox.waitType('notice', { from: mark });
      assert.equal(after.text, `"${name}" already runs with tool calling turned on (--enable-auto-tool-choice --tool-call-parser kimi_k2). Press Retry to send the message again.`);

      assert.equal(asked.length, 1, `one question: ${JSON.stringify(asked)}`);
      assert.deepEqual(readyPids, [again.pid], 'one restart');
      assert.ok(a.server.state.kind === 'ready' && a.server.state.pid === again.pid && alive(again.pid));
    } finally {
      sub.dispose();
    }
  });

  it('declined: the settings, the running server and its flags stay as they were; Retry still gets the 400', async () => {
    const first = await startWithoutToolCalling();
    const before = structuredClone(cfg().get('servers'));
    const failedId = await toolsRefused();

    answer = undefined; // Escape / closing the modal
    const states: string[] = [];
    const sub = a.server.onDidChange((s) => states.push(s.kind));
    const mark = inbox.mark();
    try {
      // The errorAction resolves once the modal is answered and whatever follows has been decided.
      await send({ type: 'errorAction', turnId: failedId, action: 'restartServerWithFlags' });
      assert.equal(asked.length, 1);
      assert.equal(asked[0]!.message, `Restart "${name}" with tool calling turned on?`);
      // Retry goes through the same server; it is still the one without tool calling.
      const from = inbox.mark();
      await send({ type: 'regenerate', turnId: failedId });
      const again = await inbox.finished(from);
      assert.equal(again.meta.error?.kind, 'toolChoiceNotEnabled');
    } finally {
      sub.dispose();
    }
    assert.deepEqual(cfg().get('servers'), before, 'kimi.servers unchanged');
    assert.deepEqual(states.filter((k) => k !== 'ready'), [], 'the server was neither stopped nor started');
    assert.ok(a.server.state.kind === 'ready' && a.server.state.pid === first.pid);
    assert.ok(alive(first.pid));
    const argv = vllmArgv(first.pid);
    assert.ok(!argv.includes('--enable-auto-tool-choice') && !argv.includes('--tool-call-parser'), argv.join(' '));
    assert.deepEqual(inbox.ofType('notice', mark), [], 'no notice: declining is its own answer');
  });
  it('Kimi\'s server stopped by the user: Start with the flags (asked first); the chat says it starts, then that Retry works', async () => {
    const first = await startWithoutToolCalling();
    const failedId = await toolsRefused();
    await a.server.stop();
    assert.equal(alive(first.pid), false);
    await nothingAtTheEndpoint();

    // Declined: nothing starts, nothing is written.
    const before = structuredClone(cfg().get('servers'));
    assert.equal(await pressRestart(failedId), undefined);
    assert.deepEqual(asked, [{
      message: `Start "${name}" with tool calling turned on?`,
      detail: `"${name}" is stopped. Kimi adds --enable-auto-tool-choice --tool-call-parser kimi_k2 to the profile "${name}" (kimi.servers) ` +
        'and starts the server on this machine. The chat is unavailable until the model has loaded.',
    }]);
    assert.deepEqual(cfg().get('servers'), before);
    assert.equal(a.server.state.kind, 'stopped');

    answer = 'Start Server';
    const started = waitForState(a.server, (s) => s.kind === 'ready', 'the server started with the flags');
    const mark = inbox.mark();
    assert.equal(await pressRestart(failedId), `Starting "${name}" with tool calling turned on (--enable-auto-tool-choice --tool-call-parser ` +
      'kimi_k2). The chat is unavailable while the model loads; press Retry once it is ready.');
    const ready = (await started) as Extract<LifecycleState, { kind: 'ready' }>;
    restartingFrom = first.pid;
    const argv = vllmArgv(ready.pid);
    assert.ok(argv.includes('--enable-auto-tool-choice') && flagValue(argv, '--tool-call-parser') === 'kimi_k2', argv.join(' '));
    assert.equal(savedProfile()?.enableAutoToolChoice, true);
    await readyNotice(mark);
    const from = inbox.mark();
    await send({ type: 'regenerate', turnId: failedId });
    const final = await inbox.waitType('turnFinished', { from, where: (m) => !m.meta.continued, timeoutMs: 20_000 });
    assert.equal(final.meta.error, undefined, JSON.stringify(final.meta.error));

    // Stopped again, now with the flags in its profile: nothing to add, just start it.
    await send({ type: 'stop' });
    await a.chat.session.idle();
    await a.server.stop();
    assert.equal(await pressRestart(failedId), `"${name}" is stopped. Its profile already turns tool calling on (--enable-auto-tool-choice ` +
      '--tool-call-parser kimi_k2): start it with Start Server, then press Retry.');
    assert.equal(asked.length, 2, 'no second question');
    assert.equal(a.server.state.kind, 'stopped');
  });

  it('Kimi\'s server failed to start: Start with the flags (asked first, naming the failure); failing again says so', async () => {
    // The fake vllm fails while it loads (engine core initialisation), every time.
    await useProfile({ env: { KIMI_FAKE_VLLM_FAIL: 'engine-init' } });
    await nothingAtTheEndpoint();
    const failed = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    assert.equal(failed.kind, 'failed', JSON.stringify(failed).slice(0, 400));
    const title = (failed as Extract<LifecycleState, { kind: 'failed' }>).diagnosis.title.replace(/\.$/, '');

    answer = 'Start Server';
    const mark = inbox.mark();
    const settled = waitForState(a.server, (s) => s.kind === 'failed' && s !== failed, 'the second failed start');
    assert.equal(await pressRestart(), `Starting "${name}" with tool calling turned on (--enable-auto-tool-choice --tool-call-parser ` +
      'kimi_k2). The chat is unavailable while the model loads; press Retry once it is ready.');
    assert.deepEqual(asked, [{
      message: `Start "${name}" with tool calling turned on?`,
      detail: `"${name}" failed to start: ${title}. Kimi adds --enable-auto-tool-choice --tool-call-parser kimi_k2 to the profile "${name}" ` +
        '(kimi.servers) and starts the server on this machine. The chat is unavailable until the model has loaded.',
    }]);
    await settled;
    const after = await inbox.waitType('notice', { from: mark, where: (n) => n.level === 'warning', timeoutMs: 30_000 });
    assert.equal(after.text, `"${name}" did not start: ${title}. Its profile keeps tool calling turned on; once the server runs, press Retry.`);
    assert.equal(savedProfile()?.enableAutoToolChoice, true);
    assert.equal(savedProfile()?.toolCallParser, 'kimi_k2');
    // Pressed again: the flags are in the profile already; the failure is what stands in the way.
    assert.equal(await pressRestart(), `"${name}" failed to start: ${title}. Its profile already turns tool calling on ` +
      '(--enable-auto-tool-choice --tool-call-parser kimi_k2): start it with Start Server, then press Retry.');
    assert.equal(asked.length, 1);
  });

  it('Kimi\'s server starting for another reason: wait for it — it comes up with the flags only if its profile has them', async () => {
    for (const toolCalling of [false, true]) {
      // Slow enough to be pressed while it loads (64 shards of 60 ms).
      await useProfile({ toolCalling, env: { KIMI_FAKE_VLLM_SHARD_MS: '60' } });
      const starting = waitForState(a.server, (s) => s.kind === 'starting', 'the server starting');
      const started = Promise.resolve(vscode.commands.executeCommand('kimi.startServer'));
      await starting;
      assert.equal(await pressRestart(), toolCalling
        ? `"${name}" is starting, with tool calling turned on (--enable-auto-tool-choice --tool-call-parser kimi_k2). Press Retry once it is ready.`
        : `"${name}" is starting without tool calling. Once it is ready, press Restart with Flags again to restart it with ` +
          '--enable-auto-tool-choice --tool-call-parser kimi_k2.');
      assert.deepEqual(asked, [], 'nothing asked, nothing restarted');
      const ready = (await started) as LifecycleState;
      assert.equal(ready.kind, 'ready', JSON.stringify(ready).slice(0, 400));
      assert.equal(vllmArgv((ready as Extract<LifecycleState, { kind: 'ready' }>).pid).includes('--enable-auto-tool-choice'), toolCalling);
      await a.server.stop();
    }
  });

  it('a server Kimi does not run: what to run instead; Kimi\'s profile is offered only when it turns tool calling on', async () => {
    const emulator = await startEmulator({});
    try {
      const baseUrl = `${emulator.url}/v1`;
      await cfg().update('endpoint.baseUrl', baseUrl, vscode.ConfigurationTarget.Global);
      await waitFor(async () => (await a.services.status.check()).state === 'ready', 'the chat to see the emulator');
      await useProfile({ toolCalling: false });
      assert.equal(a.server.state.kind, 'stopped');
      assert.equal(await pressRestart(), `The server at ${baseUrl} was not started by Kimi, so Kimi cannot restart it. Restart \`vllm serve\` ` +
        `with --enable-auto-tool-choice --tool-call-parser kimi_k2. Kimi's own profile "${name}" has tool calling turned off too.`);
      await useProfile({ toolCalling: true });
      assert.equal(await pressRestart(), `The server at ${baseUrl} was not started by Kimi, so Kimi cannot restart it. Restart \`vllm serve\` ` +
        'with --enable-auto-tool-choice --tool-call-parser kimi_k2 (or start one of your kimi.servers profiles, which include them).');
      assert.deepEqual(asked, []);
    } finally {
      await emulator.close();
    }
  });
});
