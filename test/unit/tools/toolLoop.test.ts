// The tool-calling loop against the emulator's scripted tool calls over real HTTP, with a NodeWorkspace over a
// temporary folder: what the server receives (message order, Kimi ids, tool_call_id pairing, replayed reasoning),
// several calls per turn, several rounds, arguments cut inside escapes, bad calls the model recovers from, servers
// without the tool-call parser, approvals, the round limit, Stop at every stage, result caps.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod/mini';
import { NodeWorkspace } from '../../../src/core/tools/nodeWorkspace';
import { createToolRegistry, ToolRegistry } from '../../../src/core/tools/registry';
import { defineTool } from '../../../src/core/tools/tool';
import { runToolLoop } from '../../../src/core/tools/toolLoop';
import type { ApprovalRequest, ConfinedPath, ReadFileResult } from '../../../src/core/tools/types';
import { toRequestMessages } from '../../../src/core/chat/conversation';
import { withEmulator } from '../chat/helpers';
import { makeSandbox, runLoop, statusesOf, type Json, type Sandbox } from './helpers';

const ID_RE = /^functions\.[a-z_]+:\d+$/;

/** Every assistant message with tool_calls is followed by exactly one tool message per call, same ids, same order. */
function assertPaired(messages: Json[]) {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role !== 'assistant' || !m.tool_calls?.length) continue;
    const ids = m.tool_calls.map((c: Json) => c.id);
    for (const id of ids) assert.match(id, ID_RE);
    const following = messages.slice(i + 1, i + 1 + ids.length);
    assert.deepEqual(following.map((t: Json) => t.role), ids.map(() => 'tool'), `tool messages after assistant #${i}`);
    assert.deepEqual(following.map((t: Json) => t.tool_call_id), ids);
  }
}

describe('tool loop (emulator, real HTTP)', function () {
  let sb: Sandbox;
  beforeEach(() => {
    sb = makeSandbox();
  });
  afterEach(() => sb.cleanup());

  it('one call: streamed, validated, run; the next request replays the assistant turn with reasoning, then the tool result', async () => {
    await withEmulator({ script: [
      { thinking: 'I should read the README first.', toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { thinking: 'It is a demo.', answer: 'This is a demo project.' },
    ] }, async (h) => {
      const { result, events, bodies } = await runLoop(h, 'What is this project?', { ws: sb.ws });
      assert.equal(result.answer, 'This is a demo project.');
      assert.equal(result.finishReason, 'stop');
      assert.equal(result.toolCalls.length, 1);
      const call = result.toolCalls[0]!;
      assert.equal(call.id, 'functions.read_file:0');
      assert.equal(call.status, 'done');
      assert.match(call.result!, /^README\.md \(lines 1-3 of 3\)\n1: # Demo project\n2: \n3: A small workspace/);
      assert.deepEqual(statusesOf(events, call.id), ['streaming', 'pending', 'running', 'done']);
      const done = events.find((e) => e.kind === 'toolCall' && e.call.status === 'done');
      assert.ok(done && done.kind === 'toolCall' && done.call.durationMs! >= 0 && done.call.preview!.startsWith('README.md (lines 1-3 of 3) 1: # Demo project'));

      assert.equal(bodies.length, 2);
      assert.deepEqual(bodies[0].tools.map((t: Json) => t.function.name), createToolRegistry().names);
      assert.equal(bodies[0].tool_choice, 'auto');
      const msgs = bodies[1].messages;
      assert.deepEqual(msgs.map((m: Json) => m.role), ['user', 'assistant', 'tool']);
      assert.deepEqual(msgs[1].tool_calls, [{ id: 'functions.read_file:0', type: 'function', function: { name: 'read_file', arguments: '{"path":"README.md"}' } }]);
      assert.equal(msgs[1].reasoning, 'I should read the README first.');
      assert.equal(msgs[1].content, '');
      assert.equal(msgs[2].tool_call_id, 'functions.read_file:0');
      assert.equal(msgs[2].content, call.result);
      // The loop's transcript is what conversation.ts would replay from the stored turns.
      assert.deepEqual(result.messages.slice(0, 3), msgs);
      assert.deepEqual(toRequestMessages({ turns: [{ role: 'user', id: 'u', createdAt: 0, text: 'What is this project?' }, ...result.turns] }), result.messages);
    });
  });

  it('two calls in one turn: collected by index, run concurrently, answered in call order with matching ids', async () => {
    await withEmulator({ script: [
      { thinking: 'Both at once.', toolCalls: [
        { name: 'read_file', arguments: { path: 'src/index.ts' } },
        { name: 'read_file', arguments: { path: 'src/lib/math.ts' } },
      ] },
      { answer: 'main() returns add(2, 3).' },
    ] }, async (h) => {
      // A barrier: each read waits until both have started — sequential execution would never get past it.
      let started = 0;
      let release!: () => void;
      const both = new Promise<void>((r) => (release = r));
      class BarrierWorkspace extends NodeWorkspace {
        override async readFile(p: ConfinedPath, o: { maxBytes: number; signal: AbortSignal }): Promise<ReadFileResult> {
          if (++started === 2) release();
          await Promise.race([both, new Promise((_, rej) => setTimeout(() => rej(new Error('the second read never started: calls ran one after the other')), 5000))]);
          return super.readFile(p, o);
        }
      }
      const { result, events, bodies } = await runLoop(h, 'explain main', { port: new BarrierWorkspace({ roots: [sb.ws] }) });
      assert.deepEqual(result.toolCalls.map((c) => [c.id, c.status]), [['functions.read_file:0', 'done'], ['functions.read_file:1', 'done']]);
      assert.match(result.toolCalls[0]!.result!, /^src\/index\.ts/);
      assert.match(result.toolCalls[1]!.result!, /^src\/lib\/math\.ts/);
      // Both were running before either finished.
      const order = events.flatMap((e) => (e.kind === 'toolCall' && (e.call.status === 'running' || e.call.status === 'done') ? [`${e.call.status}:${e.call.index}`] : []));
      assert.deepEqual(order.slice(0, 2).sort(), ['running:0', 'running:1']);
      const msgs = bodies[1].messages;
      assert.deepEqual(msgs.map((m: Json) => m.role), ['user', 'assistant', 'tool', 'tool']);
      assertPaired(msgs);
      assert.match(msgs[2].content, /^src\/index\.ts/);
      assert.match(msgs[3].content, /^src\/lib\/math\.ts/);
    });
  });

  it('three rounds: ids count across the conversation, every round replayed in order, every reasoning kept', async () => {
    await withEmulator({ script: [
      { thinking: 'Round one.', toolCalls: [{ name: 'list_directory', arguments: { path: '.' } }] },
      { thinking: 'Round two.', toolCalls: [{ name: 'find_files', arguments: { glob: '*.ts' } }, { name: 'search_text', arguments: { query: 'add(' } }] },
      { thinking: 'Round three.', toolCalls: [{ name: 'read_file', arguments: { path: 'src/lib/math.ts', startLine: 1, endLine: 2 } }] },
      { thinking: 'Done.', answer: 'add() is in src/lib/math.ts.' },
    ] }, async (h) => {
      const { result, bodies } = await runLoop(h, 'where is add defined?', { ws: sb.ws });
      assert.equal(bodies.length, 4);
      assert.deepEqual(result.toolCalls.map((c) => c.id), ['functions.list_directory:0', 'functions.find_files:1', 'functions.search_text:2', 'functions.read_file:3']);
      assert.ok(result.toolCalls.every((c) => c.status === 'done'), JSON.stringify(result.toolCalls.map((c) => c.result)));
      const last = bodies[3].messages;
      assert.deepEqual(last.map((m: Json) => m.role), ['user', 'assistant', 'tool', 'assistant', 'tool', 'tool', 'assistant', 'tool']);
      assert.deepEqual(last.filter((m: Json) => m.role === 'assistant').map((m: Json) => m.reasoning), ['Round one.', 'Round two.', 'Round three.']);
      assertPaired(last);
      // Each request is the previous one plus the new round.
      for (let i = 1; i < 4; i++) assert.deepEqual(bodies[i].messages.slice(0, bodies[i - 1].messages.length), bodies[i - 1].messages);
      assert.equal(result.thinking, 'Round one.\n\nRound two.\n\nRound three.\n\nDone.');
      assert.equal(result.answer, 'add() is in src/lib/math.ts.');
      assert.ok(result.usage && result.usage.prompt > 0 && result.usage.total === result.usage.prompt + result.usage.completion);
      const listing = result.toolCalls[0]!.result!;
      assert.match(listing, /^\.\/ \(\d+ entries\)\n/);
      assert.match(listing, /\nsrc\/\n/);
      assert.match(listing, /\nbuild\/ {2}\(ignored by \.gitignore\)/);
      assert.match(listing, /\n\.env {2}\(looks like a secret: reading needs approval\)/);
      assert.match(listing, /\nlink-dir {2}\(symlink to a place outside the workspace; cannot be used\)/);
      assert.equal(result.toolCalls[1]!.result, '3 files matching "**/*.ts":\nmath-link.ts\nsrc/index.ts\nsrc/lib/math.ts');
      assert.equal(result.toolCalls[2]!.result, '3 matches for "add(":\ndocs/guide.md:3: Call add() to add numbers.\nsrc/index.ts:4:   return add(2, 3);\nsrc/lib/math.ts:1: export function add(a: number, b: number): number {');
      assert.ok(!result.toolCalls[2]!.result!.includes('build/out.js'), 'gitignored files are not searched');
      assert.equal(result.toolCalls[3]!.result, 'src/lib/math.ts (lines 1-2 of 3)\n1: export function add(a: number, b: number): number {\n2:   return a + b;');
    });
  });

  it('arguments cut inside escape sequences (\\n, \\", \\u00e9, \\\\) arrive whole and parse exactly', async () => {
    const newText = 'line one\nsays "hi" café \\ done\n';
    // Compact JSON as the model writes it, with é as a \u escape: the emulator cuts right after the first backslash.
    const raw = JSON.stringify({ path: 'notes/hello.txt', newText }).replace('é', '\\u00e9');
    await withEmulator({ script: [
      { thinking: 'Write it.', toolCalls: [{ name: 'propose_edit', arguments: raw }] },
      { answer: 'Written.' },
    ] }, async (h) => {
      const approvals: ApprovalRequest[] = [];
      const { result, events } = await runLoop(h, 'write notes', { ws: sb.ws, workspace: { approve: async (r) => (approvals.push(r), 'accept') } });
      const deltas = events.flatMap((e) => (e.kind === 'toolCallDelta' && e.index === 0 ? [e.argumentsDelta] : []));
      assert.ok(deltas.length > 3, 'streamed in pieces');
      assert.ok(deltas.some((d) => d.endsWith('\\')), `a delta ends inside an escape: ${JSON.stringify(deltas)}`);
      assert.equal(deltas.join(''), raw);
      assert.equal(result.toolCalls[0]!.status, 'done', result.toolCalls[0]!.result);
      assert.deepEqual(result.toolCalls[0]!.args, { path: 'notes/hello.txt', newText });
      assert.equal(fs.readFileSync(path.join(sb.ws, 'notes', 'hello.txt'), 'utf8'), newText);
      assert.equal(approvals.length, 1);
      assert.equal(approvals[0]!.kind, 'edit');
    });
  });

  it('bad calls become error results the model sees (unknown tool, not JSON, schema violations, missing file) and it recovers', async () => {
    await withEmulator({ script: [
      { thinking: 'Try things.', toolCalls: [
        { name: 'delete_everything', arguments: {} },
        { name: 'read_file', arguments: '{"path": "README.md"' },
        { name: 'read_file', arguments: { path: 5, startLine: 0 } },
        { name: 'search_text', arguments: { query: 'x', extra: true } },
        { name: 'read_file', arguments: { path: 'nope/missing.ts' } },
        { name: 'read_file', arguments: { path: 'README.md', startLine: 3, endLine: 1 } },
      ] },
      { match: 'error:', thinking: 'Fix the call.', toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { answer: 'Recovered: it is a demo project.' },
    ] }, async (h) => {
      const { result, bodies } = await runLoop(h, 'read the readme', { ws: sb.ws });
      const r = result.toolCalls.map((c) => c.result!);
      assert.equal(r[0], 'error: unknown tool "delete_everything"; expected one of: read_file, list_directory, find_files, search_text, get_diagnostics, get_selection, get_open_editors, get_symbols, propose_edit, run_command');
      assert.match(r[1]!, /^error: the arguments of read_file are not valid JSON \(.+\); expected one JSON object \{"path": string non-empty, "startLine"\?: integer ≥ 1, "endLine"\?: integer ≥ 1\}\. Received: "\{\\"path\\": \\"README\.md\\""$/);
      assert.match(r[2]!, /^error: invalid arguments for read_file — path: Invalid input: expected string, received number; startLine: Too small: expected number to be >=1; expected \{"path": string/);
      assert.match(r[3]!, /^error: invalid arguments for search_text — arguments: Unrecognized key: "extra"; expected \{"query": string non-empty, "isRegex"\?: boolean, "include"\?: string non-empty, "maxResults"\?: integer ≥ 1 ≤ 1000\}$/);
      assert.match(r[4]!, /^error: no such file: nope\/missing\.ts; expected an existing file/);
      assert.equal(r[5], 'error: endLine (1) is before startLine (3); expected startLine ≤ endLine');
      assert.deepEqual(result.toolCalls.slice(0, 6).map((c) => c.status), Array(6).fill('error'));
      assert.equal(result.toolCalls[6]!.status, 'done');
      assert.equal(result.answer, 'Recovered: it is a demo project.');
      assert.equal(bodies.length, 3);
      const sent = bodies[1].messages.filter((m: Json) => m.role === 'tool').map((m: Json) => m.content);
      assert.deepEqual(sent, r.slice(0, 6));
      assertPaired(bodies[2].messages);
    });
  });

  it('raw <|tool_calls_section_begin|> markers (no --tool-call-parser) are parsed, run, and a hint names the flags', async () => {
    await withEmulator({ toolCallParser: false, script: [
      { thinking: 'Look.', toolCalls: [{ name: 'read_file', arguments: { path: 'docs/guide.md' } }, { name: 'find_files', arguments: { glob: '*.md' } }] },
      { answer: 'The guide says to call add().' },
    ] }, async (h) => {
      const { result, events, bodies } = await runLoop(h, 'what does the guide say', { ws: sb.ws });
      assert.deepEqual(result.toolCalls.map((c) => [c.id, c.status]), [['functions.read_file:0', 'done'], ['functions.find_files:1', 'done']]);
      assert.match(result.toolCalls[0]!.result!, /Call add\(\) to add numbers/);
      assert.ok(!result.answer.includes('<|'), 'no marker text in the answer');
      assert.equal(result.answer, 'The guide says to call add().');
      const hints = events.filter((e) => e.kind === 'hint');
      assert.equal(hints.length, 1);
      assert.ok(hints[0]!.kind === 'hint' && hints[0]!.flags.includes('--tool-call-parser kimi_k2') && hints[0]!.flags.includes('--enable-auto-tool-choice'));
      assert.match(result.hints[0]!, /--tool-call-parser kimi_k2 --enable-auto-tool-choice/);
      assertPaired(bodies[1].messages);
      assert.equal(bodies[1].messages[1].reasoning, 'Look.');
    });
  });

  it('no parsers at all (reasoning and tool calls inside content): still one thought, one call, one answer', async () => {
    await withEmulator({ toolCallParser: false, reasoningParser: false, script: [
      { thinking: 'Count the files.', toolCalls: [{ name: 'list_directory', arguments: { path: 'src' } }] },
      { thinking: 'Two entries.', answer: 'src has index.ts and lib/.' },
    ] }, async (h) => {
      const { result, bodies } = await runLoop(h, 'what is in src', { ws: sb.ws });
      assert.equal(result.toolCalls[0]!.result, 'src/ (2 entries)\nlib/\nindex.ts');
      assert.equal(bodies[1].messages[1].reasoning, 'Count the files.');
      assert.equal(result.answer, 'src has index.ts and lib/.');
      assert.equal(result.hints.length, 1);
    });
  });

  it('vLLM before 0.16 also gets reasoning_content; 0.16+ only reasoning', async () => {
    for (const [version, legacy] of [['0.15.1', true], ['0.16.0', false]] as const) {
      await withEmulator({ vllmVersion: version, script: [
        { thinking: 'Think.', toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
        { answer: 'ok' },
      ] }, async (h) => {
        const { bodies } = await runLoop(h, 'x', { ws: sb.ws, vllmVersion: version });
        const a = bodies[1].messages[1];
        assert.equal(a.reasoning, 'Think.');
        assert.equal(a.reasoning_content, legacy ? 'Think.' : undefined, version);
      });
    }
  });

  it('read-only calls run first and together; edits and commands one at a time after approval, in call order', async () => {
    await withEmulator({ script: [
      { thinking: 'Mixed.', toolCalls: [
        { name: 'run_command', arguments: { command: 'echo one > one.txt' } },
        { name: 'read_file', arguments: { path: 'README.md' } },
        { name: 'propose_edit', arguments: { path: 'src/lib/math.ts', oldText: 'a + b', newText: 'b + a' } },
        { name: 'list_directory', arguments: { path: 'docs' } },
      ] },
      { answer: 'Done.' },
    ] }, async (h) => {
      const seen: string[] = [];
      const { result, events } = await runLoop(h, 'do it', { ws: sb.ws, workspace: { approve: async (r) => (seen.push(r.kind), 'accept') } });
      assert.deepEqual(seen, ['command', 'edit']);
      const trace = events.flatMap((e) => (e.kind === 'toolCall' && ['running', 'awaitingApproval', 'done'].includes(e.call.status) ? [`${e.call.name}:${e.call.status}`] : []));
      // Read-only calls finish before the first approval is asked; the command finishes before the edit is asked.
      const firstApproval = trace.indexOf('run_command:awaitingApproval');
      assert.ok(trace.indexOf('read_file:done') < firstApproval && trace.indexOf('list_directory:done') < firstApproval, trace.join(' '));
      assert.ok(trace.indexOf('run_command:done') < trace.indexOf('propose_edit:awaitingApproval'), trace.join(' '));
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['done', 'done', 'done', 'done']);
      assert.equal(fs.readFileSync(path.join(sb.ws, 'one.txt'), 'utf8'), 'one\n');
      assert.match(fs.readFileSync(path.join(sb.ws, 'src/lib/math.ts'), 'utf8'), /return b \+ a;/);
      assert.match(result.toolCalls[0]!.result!, /^\$ echo one > one\.txt\n\(in \.; exit code 0; \d+ ms\)\n\(no output\)$/);
      assert.equal(result.toolCalls[2]!.result, 'Applied: src/lib/math.ts — replaced 1 line with 1.');
    });
  });

  it('a rejected edit leaves the file byte-identical; a rejected command never runs; both tell the model', async () => {
    const file = path.join(sb.ws, 'src/lib/math.ts');
    const before = fs.readFileSync(file);
    await withEmulator({ script: [
      { toolCalls: [
        { name: 'propose_edit', arguments: { path: 'src/lib/math.ts', oldText: 'a + b', newText: 'a - b', explanation: 'subtract' } },
        { name: 'run_command', arguments: { command: 'touch ran.txt' } },
      ] },
      { answer: 'OK, leaving it.' },
    ] }, async (h) => {
      const reqs: ApprovalRequest[] = [];
      const { result, events } = await runLoop(h, 'change it', { ws: sb.ws, workspace: { approve: async (r) => (reqs.push(r), 'reject') } });
      assert.ok(fs.readFileSync(file).equals(before));
      assert.ok(!fs.existsSync(path.join(sb.ws, 'ran.txt')));
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['rejected', 'rejected']);
      assert.match(result.toolCalls[0]!.result!, /^The user rejected the edit to src\/lib\/math\.ts; the file is unchanged\./);
      assert.match(result.toolCalls[1]!.result!, /^The user rejected running `touch ran\.txt`; it did not run\./);
      const edit = reqs[0]!;
      assert.ok(edit.kind === 'edit' && edit.original === before.toString('utf8') && edit.proposed.includes('return a - b;') && edit.explanation === 'subtract');
      const awaiting = events.find((e) => e.kind === 'toolCall' && e.call.status === 'awaitingApproval');
      assert.ok(awaiting && awaiting.kind === 'toolCall' && awaiting.call.approval?.kind === 'edit', 'the card gets the approval request');
    });
  });

  it('maxRounds: after N rounds of tools, calls of the next round are not run and the loop ends with a clear note', async () => {
    await withEmulator({ script: [
      { toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { toolCalls: [{ name: 'read_file', arguments: { path: 'docs/guide.md' } }] },
      { thinking: 'More!', toolCalls: [{ name: 'read_file', arguments: { path: 'src/index.ts' } }] },
      { answer: 'never asked' },
    ] }, async (h) => {
      const { result, events, bodies } = await runLoop(h, 'read everything', { ws: sb.ws, maxRounds: 2 });
      assert.equal(bodies.length, 3, 'no request after the limit');
      assert.equal(result.finishReason, 'max_rounds');
      assert.equal(result.maxRoundsReached, true);
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['done', 'done', 'skipped']);
      assert.match(result.toolCalls[2]!.result!, /^error: not run — the limit of 2 tool rounds/);
      assert.match(result.note!, /^Stopped after 2 rounds of tool calls: the model still wanted to call read_file, which did not run\. .*kimi\.tools\.maxRounds.*--max-rounds/);
      assert.ok(events.some((e) => e.kind === 'maxRounds' && e.maxRounds === 2));
      // The transcript stays well-formed for the next message.
      assertPaired(result.messages);
      assert.equal(result.messages.at(-1)!.role, 'tool');
    });
  });

  it('Stop mid-stream: nothing runs, the partial thinking is kept, a call that had started streaming is closed as cancelled', async () => {
    await withEmulator({ tokensPerSecond: 300, script: [
      { thinking: 'Let me look.', toolCalls: [{ name: 'read_file', arguments: { path: `docs/${'very-long-name-'.repeat(30)}.md` } }] },
    ] }, async (h) => {
      const ctrl = new AbortController();
      const { result, events, bodies } = await runLoop(h, 'x', {
        ws: sb.ws,
        signal: ctrl.signal,
        onEvent: (e) => {
          if (e.kind === 'toolCall' && e.call.status === 'streaming') ctrl.abort();
        },
      });
      assert.equal(result.stopped, true);
      assert.equal(result.finishReason, 'stopped');
      assert.equal(result.thinking, 'Let me look.');
      assert.equal(result.toolCalls.length, 1);
      assert.equal(result.toolCalls[0]!.status, 'cancelled');
      assert.deepEqual(statusesOf(events, 'functions.read_file:0'), ['streaming', 'cancelled']);
      assert.equal(bodies.length, 1);
      // The stored turn keeps the unfinished call without a result, so it is never replayed.
      assert.equal(result.turns[0]!.toolCalls[0]!.result, undefined);
    });
  });

  it('Stop mid-tool: a running command is killed, the loop returns at once, the call is cancelled', async function () {
    const pidFile = path.join(sb.ws, 'pid.txt');
    await withEmulator({ script: [
      { toolCalls: [{ name: 'run_command', arguments: { command: `echo $$ > ${pidFile}; exec sleep 30` } }] },
      { answer: 'never' },
    ] }, async (h) => {
      const ctrl = new AbortController();
      let stoppedAt = 0;
      const { result, bodies } = await runLoop(h, 'x', {
        ws: sb.ws,
        workspace: { yes: true },
        signal: ctrl.signal,
        onEvent: (e) => {
          if (e.kind === 'toolCall' && e.call.status === 'running' && e.call.name === 'run_command') {
            // Stop once the shell has written its pid (a condition with a deadline, not a sleep).
            const deadline = Date.now() + 5000;
            const poll = () => {
              if (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim()) {
                stoppedAt = performance.now();
                ctrl.abort();
              } else if (Date.now() < deadline) setImmediate(poll);
            };
            poll();
          }
        },
      });
      assert.ok(stoppedAt > 0, 'the command started');
      assert.ok(performance.now() - stoppedAt < 3000, 'returned promptly after Stop');
      assert.equal(result.stopped, true);
      assert.equal(result.toolCalls[0]!.status, 'cancelled');
      assert.equal(bodies.length, 1);
      const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      // The process group is gone (SIGTERM, then SIGKILL after 2 s at the latest).
      const deadline = Date.now() + 4000;
      let alive = true;
      while (alive && Date.now() < deadline) {
        try {
          process.kill(pid, 0);
          await new Promise((r) => setTimeout(r, 50));
        } catch {
          alive = false;
        }
      }
      assert.equal(alive, false, `sleep (pid ${pid}) was killed`);
    });
  });

  it('Stop while waiting for approval: the call is cancelled and nothing is applied', async () => {
    await withEmulator({ script: [
      { toolCalls: [{ name: 'propose_edit', arguments: { path: 'new.txt', newText: 'x' } }, { name: 'run_command', arguments: { command: 'touch ran.txt' } }] },
    ] }, async (h) => {
      const ctrl = new AbortController();
      const { result } = await runLoop(h, 'x', {
        ws: sb.ws,
        workspace: { approve: () => new Promise(() => undefined) }, // the user never answers
        signal: ctrl.signal,
        onEvent: (e) => {
          if (e.kind === 'toolCall' && e.call.status === 'awaitingApproval') ctrl.abort();
        },
      });
      assert.equal(result.stopped, true);
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['cancelled', 'cancelled']);
      assert.ok(!fs.existsSync(path.join(sb.ws, 'new.txt')));
      assert.ok(!fs.existsSync(path.join(sb.ws, 'ran.txt')));
    });
  });

  it('results are size-capped with a visible note: long files by whole lines (with where to read on), any tool as a last resort', async () => {
    fs.writeFileSync(path.join(sb.ws, 'big.txt'), Array.from({ length: 5000 }, (_, i) => `line ${i + 1} ${'x'.repeat(40)}`).join('\n'));
    const huge = defineTool({
      name: 'huge', group: 'demo', readOnly: true, needsApproval: false, description: 'returns a lot', input: z.strictObject({}),
      run: async () => 'y'.repeat(50_000),
    });
    const registry = new ToolRegistry([...createToolRegistry().tools, huge]);
    await withEmulator({ script: [
      { toolCalls: [{ name: 'read_file', arguments: { path: 'big.txt' } }, { name: 'huge', arguments: {} }, { name: 'read_file', arguments: { path: 'big.txt', startLine: 4990 } }] },
      { answer: 'ok' },
    ] }, async (h) => {
      const { result } = await runLoop(h, 'x', { ws: sb.ws, registry, limits: { maxResultChars: 8000 } });
      const [big, y, tail] = result.toolCalls.map((c) => c.result!);
      assert.ok(big!.length <= 8000, String(big!.length));
      const m = /\n\[truncated: showing lines 1-(\d+) of 5000; call read_file with startLine (\d+) to read on\]$/.exec(big!);
      assert.ok(m, big!.slice(-200));
      assert.equal(Number(m[2]), Number(m[1]) + 1);
      assert.ok(big!.includes(`\n${m[1]}: line ${m[1]} `), 'the last shown line is whole');
      assert.ok(y!.length <= 8000);
      assert.match(y!, /\n\[truncated: showing the first [\d,]+ of 50,000 characters; ask for less/);
      assert.match(tail!, /^big\.txt \(lines 4990-5000 of 5000\)\n4990: line 4990/);
    });
  });

  it('the demo tools (off by default) answer the tutorial\'s questions through the persona', async () => {
    assert.ok(!createToolRegistry().names.includes('add'));
    await withEmulator({}, async (h) => {
      const { result } = await runLoop(h, '用中文回答：strawberry中有多少个r?', { registry: createToolRegistry({ workspace: false, demo: true }) });
      assert.equal(result.toolCalls[0]!.name, 'count_letter_in_string');
      assert.deepEqual(result.toolCalls[0]!.args, { a: 'strawberry', b: 'r' });
      assert.equal(result.toolCalls[0]!.result, "The letter 'r' appears 3 times in the string.");
      assert.match(result.answer, /3/);
      const cmp = await runLoop(h, 'Which is smaller, 9.11 or 9.9? compare them', { registry: createToolRegistry({ workspace: false, demo: true }) });
      assert.equal(cmp.result.toolCalls[0]!.result, '9.9 is greater than 9.11');
    });
  });

  it('programming errors are refused up front: a bad maxRounds, workspace tools without a port', async () => {
    const chat = { baseUrl: 'http://127.0.0.1:9/v1', model: 'm', mode: 'thinking' as const };
    await assert.rejects(runToolLoop({ chat, messages: [], registry: createToolRegistry({ workspace: false, demo: true }), maxRounds: 0 }), /maxRounds must be a whole number ≥ 1, got 0/);
    await assert.rejects(runToolLoop({ chat, messages: [], registry: createToolRegistry() }), /the registry has workspace tools but no WorkspacePort was given/);
  });

  it('a failed request ends the loop with the error and what had arrived (400 without --enable-auto-tool-choice)', async () => {
    await withEmulator({ enableAutoToolChoice: false }, async (h) => {
      const { result } = await runLoop(h, 'read README.md', { ws: sb.ws });
      assert.equal(result.finishReason, 'error');
      assert.equal(result.error?.kind, 'toolChoiceNotEnabled');
      assert.match(result.error!.message, /--enable-auto-tool-choice --tool-call-parser kimi_k2/);
      assert.deepEqual(result.toolCalls, []);
    });
  });
});
