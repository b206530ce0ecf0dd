// "Too large" through the whole tool loop, with the default limits, against the emulator over real HTTP: what the
// server receives as the tool message when the model reads a file longer than the result cap (the capped lines with
// the visible "truncated" note) or bigger than read_file's size limit (an error result pointing at a line range, which
// then reads), and that the loop goes on to the model's next answer in both cases.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createToolRegistry } from '../../../src/core/tools/registry';
import { DEFAULT_LIMITS } from '../../../src/core/tools/types';
import { withEmulator } from '../chat/helpers';
import { makeSandbox, runLoop, type Json, type Sandbox } from './helpers';

describe('tool loop: files too large for one result (default limits)', function () {
  let sb: Sandbox;
  beforeEach(() => {
    sb = makeSandbox();
  });
  afterEach(() => sb.cleanup());

  it('a file over the result cap reaches the server capped, by whole lines, with the "truncated" note; the loop continues to the answer', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `row ${i + 1} ${'z'.repeat(60)}`);
    fs.writeFileSync(path.join(sb.ws, 'long.log.txt'), `${lines.join('\n')}\n`);
    assert.ok(lines.join('\n').length > DEFAULT_LIMITS.maxResultChars * 10);
    await withEmulator({ script: [
      { thinking: 'Read the log.', toolCalls: [{ name: 'read_file', arguments: { path: 'long.log.txt' } }] },
      // Only taken when the tool message the server got carries the note.
      { match: '\\[truncated: showing lines 1-\\d+ of 5000; call read_file with startLine \\d+ to read on\\]', thinking: 'Cut; read on.', toolCalls: [{ name: 'read_file', arguments: { path: 'long.log.txt', startLine: 4998 } }] },
      { match: 'row 5000 ', thinking: 'Got the end.', answer: 'The log has 5000 rows; the last is row 5000.' },
    ] }, async (h) => {
      const { result, bodies } = await runLoop(h, 'What is in long.log.txt?', { ws: sb.ws });
      assert.equal(result.answer, 'The log has 5000 rows; the last is row 5000.');
      assert.equal(result.finishReason, 'stop');
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['done', 'done']);
      assert.equal(bodies.length, 3, 'the model was asked again after each result');

      const tool = bodies[1].messages.filter((m: Json) => m.role === 'tool');
      assert.equal(tool.length, 1);
      assert.equal(tool[0].tool_call_id, 'functions.read_file:0');
      const sent: string = tool[0].content;
      assert.equal(sent, result.toolCalls[0]!.result);
      assert.ok(sent.length <= DEFAULT_LIMITS.maxResultChars, `${sent.length} characters`);
      assert.ok(sent.startsWith('long.log.txt (lines 1-'), sent.slice(0, 80));
      assert.match(sent, /^long\.log\.txt \(lines 1-\d+ of 5000\)\n +1: row 1 z{60}\n +2: row 2 /);
      const note = /\n\[truncated: showing lines 1-(\d+) of 5000; call read_file with startLine (\d+) to read on\]$/.exec(sent);
      assert.ok(note, sent.slice(-200));
      const shown = Number(note[1]);
      assert.ok(shown > 100 && shown < 5000, String(shown));
      assert.equal(Number(note[2]), shown + 1);
      // Whole lines: the last one shown is complete, the next one is not there at all.
      assert.ok(sent.includes(`\n${shown}: row ${shown} ${'z'.repeat(60)}\n[truncated`), sent.slice(-300));
      assert.ok(!sent.includes(`row ${shown + 1} `));
      assert.ok(!JSON.stringify(bodies[1]).includes('row 5000 '), 'nothing past the cap was sent');

      // Reading on from where the note said works, and the whole transcript is replayed in order.
      assert.deepEqual(bodies[2].messages.map((m: Json) => m.role), ['user', 'assistant', 'tool', 'assistant', 'tool']);
      assert.match(bodies[2].messages[4].content, /^long\.log\.txt \(lines 4998-5000 of 5000\)\n4998: row 4998 /);
    });
  });

  it('a file over read_file\'s size limit: a whole read is an error result pointing at a line range, and the range is read; the loop continues', async () => {
    // Lines of "aaaaaaaaa", 1 KiB over the limit.
    fs.writeFileSync(path.join(sb.ws, 'huge.txt'), Buffer.alloc(DEFAULT_LIMITS.maxReadBytes + 1024, 'aaaaaaaaa\n'));
    await withEmulator({ script: [
      { thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'huge.txt' } }] },
      { match: 'more than the 8,388,608 bytes \\(8\\.0 MB\\) read_file can read whole; read a part of it with startLine and endLine', thinking: 'Too big; read the start.',
        toolCalls: [{ name: 'read_file', arguments: { path: 'huge.txt', startLine: 1, endLine: 3 } }] },
      { match: 'huge\\.txt \\(lines 1-3; more lines follow', answer: 'huge.txt starts with lines of nine a\'s.' },
    ] }, async (h) => {
      const { result, bodies } = await runLoop(h, 'What does huge.txt start with?', { ws: sb.ws });
      assert.equal(result.answer, 'huge.txt starts with lines of nine a\'s.');
      assert.equal(result.finishReason, 'stop');
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['error', 'done']);
      assert.equal(bodies.length, 3);
      const tool = bodies[1].messages.filter((m: Json) => m.role === 'tool');
      assert.equal(tool.length, 1);
      assert.equal(tool[0].content, result.toolCalls[0]!.result);
      // Not "8.0 MB, more than the 8.0 MB"; and not search_text, which skips files over 2 MB.
      assert.equal(tool[0].content, 'error: huge.txt is 8,389,632 bytes, more than the 8,388,608 bytes (8.0 MB) read_file can read whole; ' +
        'read a part of it with startLine and endLine (e.g. startLine 1, endLine 200); search_text skips files over 2.0 MB, so to find ' +
        'lines in it use run_command (e.g. grep -n PATTERN huge.txt), which the user approves');
      assert.ok(JSON.stringify(bodies[1]).length < 100_000, 'none of the file was sent');
      assert.equal(bodies[2].messages.at(-1).content, 'huge.txt (lines 1-3; more lines follow in this 8.0 MB file)\n1: aaaaaaaaa\n2: aaaaaaaaa\n3: aaaaaaaaa');
    });
  });

  it('without run_command (the CLI without --yes) the error names no tool the model lacks: a range, and a command for the user naming --yes', async () => {
    fs.writeFileSync(path.join(sb.ws, 'huge.txt'), Buffer.alloc(DEFAULT_LIMITS.maxReadBytes + 1024, 'a'));
    await withEmulator({ script: [
      { thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'huge.txt' } }] },
      { match: 'ask the user to run a command', thinking: 'Ask the user.', answer: 'huge.txt is too large to search with my tools here: run `grep -n TODO huge.txt`, or start me again with --yes.' },
    ] }, async (h) => {
      // What `kimi-vllm chat --workspace DIR` without --yes builds: read-only tools, a port that accepts nothing.
      const { result, bodies } = await runLoop(h, 'Where in huge.txt is TODO?', { ws: sb.ws, registry: createToolRegistry({ writeTools: false }) });
      assert.ok(!bodies[0].tools.some((t: Json) => t.function.name === 'run_command'), 'run_command is not offered');
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['error']);
      const sent: string = bodies[1].messages.at(-1).content;
      assert.equal(sent, 'error: huge.txt is 8,389,632 bytes, more than the 8,388,608 bytes (8.0 MB) read_file can read whole; ' +
        'read a part of it with startLine and endLine (e.g. startLine 1, endLine 200); search_text skips files over 2.0 MB, so to find ' +
        'lines in it ask the user to run a command (e.g. grep -n PATTERN huge.txt) and tell you its output (run_command is not available here); ' +
        'the user can start kimi-vllm chat again with --yes, which lets you run commands (and write edits) without asking them');
      assert.ok(!/use run_command/.test(sent));
      assert.equal(result.answer, 'huge.txt is too large to search with my tools here: run `grep -n TODO huge.txt`, or start me again with --yes.');
    });
  });

  it('without run_command on a host that decides approvals itself: the same advice, without the CLI\'s --yes', async () => {
    fs.writeFileSync(path.join(sb.ws, 'huge.txt'), Buffer.alloc(DEFAULT_LIMITS.maxReadBytes + 1024, 'a'));
    await withEmulator({ script: [
      { thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'huge.txt' } }] },
      { thinking: 'Ask the user.', answer: 'Too large.' },
    ] }, async (h) => {
      const { bodies } = await runLoop(h, 'What does huge.txt start with?', {
        ws: sb.ws, registry: createToolRegistry({ writeTools: false }), workspace: { approve: async () => 'reject' },
      });
      assert.equal(bodies[1].messages.at(-1).content, 'error: huge.txt is 8,389,632 bytes, more than the 8,388,608 bytes (8.0 MB) read_file can read whole; ' +
        'read a part of it with startLine and endLine (e.g. startLine 1, endLine 200); search_text skips files over 2.0 MB, so to find ' +
        'lines in it ask the user to run a command (e.g. grep -n PATTERN huge.txt) and tell you its output (run_command is not available here)');
    });
  });

  it('between the search limit and the read limit the error points at search_text, and search_text finds it', async () => {
    const big = Buffer.alloc(1024 * 1024, 'b');
    big.write('NEEDLE-IN-THE-BIG-FILE\n', 0);
    fs.writeFileSync(path.join(sb.ws, 'mid.txt'), big);
    await withEmulator({ script: [
      { thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'mid.txt' } }] },
      { match: 'and use search_text to find the lines you need', thinking: 'Search.', toolCalls: [{ name: 'search_text', arguments: { query: 'NEEDLE-IN', include: 'mid.txt' } }] },
      { match: 'mid\\.txt:1: NEEDLE-IN-THE-BIG-FILE', answer: 'It starts with NEEDLE-IN-THE-BIG-FILE.' },
    ] }, async (h) => {
      const { result, bodies } = await runLoop(h, 'What does mid.txt start with?', { ws: sb.ws, limits: { maxReadBytes: 512 * 1024 } });
      assert.equal(result.answer, 'It starts with NEEDLE-IN-THE-BIG-FILE.');
      assert.deepEqual(result.toolCalls.map((c) => c.status), ['error', 'done']);
      assert.equal(bodies.length, 3);
      assert.equal(bodies[1].messages.at(-1).content, 'error: mid.txt is 1.0 MB, more than the 512.0 KB read_file can read whole; ' +
        'read a part of it with startLine and endLine (e.g. startLine 1, endLine 200), and use search_text to find the lines you need');
    });
  });
});
