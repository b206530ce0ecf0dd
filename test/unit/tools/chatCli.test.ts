// `kimi-vllm chat --workspace DIR …` as a user runs it: the real built CLI (dist/cli.js, from `node esbuild.mjs`)
// spawned against the emulator, with scripted tool calls.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';
import { runNode, withEmulator } from '../chat/helpers';
import { ENV_SENTINEL, makeSandbox, SENTINEL, type Json, type Sandbox } from './helpers';

const CLI = path.join(repoRoot, 'dist', 'cli.js');

function chatBodies(h: { requests: { path: string; body: unknown }[] }): Json[] {
  return h.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as Json);
}

describe('kimi-vllm chat --workspace (the built CLI against the emulator)', function () {
  let sb: Sandbox;
  before(() => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`node esbuild.mjs\` first (npm test and scripts/test.mjs do)`);
  });
  beforeEach(() => {
    sb = makeSandbox();
  });
  afterEach(() => sb.cleanup());

  it('--json: every executed tool call in order across rounds, with parsed arguments; reasoning and content of all rounds', async () => {
    await withEmulator({ script: [
      { thinking: 'Find it.', toolCalls: [{ name: 'search_text', arguments: { query: 'add(' } }, { name: 'find_files', arguments: { glob: '*.md' } }] },
      { thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'src/lib/math.ts', startLine: 1, endLine: 3 } }] },
      { thinking: 'Answer.', answer: 'add() adds two numbers (src/lib/math.ts).' },
    ] }, async (h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, '--json', 'What does add do?']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout.trim().split('\n').length, 1);
      const o = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(o), ['reasoning', 'content', 'toolCalls', 'finishReason', 'usage']);
      assert.deepEqual(o.toolCalls, [
        { id: 'functions.search_text:0', name: 'search_text', arguments: { query: 'add(' } },
        { id: 'functions.find_files:1', name: 'find_files', arguments: { glob: '*.md' } },
        { id: 'functions.read_file:2', name: 'read_file', arguments: { path: 'src/lib/math.ts', startLine: 1, endLine: 3 } },
      ]);
      assert.equal(o.reasoning, 'Find it.\n\nRead it.\n\nAnswer.');
      assert.equal(o.content, 'add() adds two numbers (src/lib/math.ts).');
      assert.equal(o.finishReason, 'stop');
      assert.deepEqual(Object.keys(o.usage), ['prompt_tokens', 'completion_tokens', 'total_tokens']);
      const bodies = chatBodies(h);
      assert.equal(bodies.length, 3);
      // Without --yes: read-only tools only, and a system prompt that says so.
      assert.deepEqual(bodies[0].tools.map((t: Json) => t.function.name), ['read_file', 'list_directory', 'find_files', 'search_text', 'get_diagnostics', 'get_selection', 'get_open_editors', 'get_symbols']);
      assert.equal(bodies[0].messages[0].role, 'system');
      assert.match(bodies[0].messages[0].content, /workspace "ws"[\s\S]*read the workspace but not change it/);
      const last = bodies[2].messages;
      assert.deepEqual(last.map((m: Json) => m.role), ['system', 'user', 'assistant', 'tool', 'tool', 'assistant', 'tool']);
      assert.deepEqual(last.filter((m: Json) => m.role === 'tool').map((m: Json) => m.tool_call_id), ['functions.search_text:0', 'functions.find_files:1', 'functions.read_file:2']);
      assert.match(last[6].content, /^src\/lib\/math\.ts \(lines 1-3 of 3\)\n1: export function add/);
    });
  });

  it('plain output: thinking, each tool call with a result preview in call order, then the answer', async () => {
    await withEmulator({ script: [
      { thinking: 'Look.', toolCalls: [{ name: 'list_directory', arguments: { path: 'src' } }, { name: 'read_file', arguments: { path: 'nope.ts' } }] },
      { thinking: 'Got it.', answer: 'src holds index.ts and lib/.' },
    ] }, async (_h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, 'what is in src?']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Thinking:\nLook\.\nTool call: list_directory \{"path":"src"\}\n {2}→ src\/ \(2 entries\) lib\/ index\.ts \(\d+ ms\)\nTool call: read_file \{"path":"nope\.ts"\}\n {2}→ \[error\] error: no such file: nope\.ts; .*\(\d+ ms\)\n\nThinking:\nGot it\.\n\nAnswer:\nsrc holds index\.ts and lib\/\.\n$/);
    });
  });

  it('without --yes: a secret-looking file is refused (the model is told to need --yes), nothing of it is sent', async () => {
    await withEmulator({ script: [
      { thinking: 'Read env.', toolCalls: [{ name: 'read_file', arguments: { path: '.env' } }, { name: 'read_file', arguments: { path: 'link-file' } }] },
      { answer: 'I may not read it.' },
    ] }, async (h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, '--json', 'show .env']);
      assert.equal(r.code, 0, r.stderr);
      const tools = chatBodies(h)[1].messages.filter((m: Json) => m.role === 'tool').map((m: Json) => m.content);
      assert.match(tools[0], /^error: reading \.env needs the user's approval because it looks like a secret .*only with --yes$/);
      assert.match(tools[1], /^error: path "link-file" leads outside the workspace through a symlink/);
      for (const req of h.requests) assert.ok(!req.rawBody.includes(ENV_SENTINEL) && !req.rawBody.includes(SENTINEL));
    });
  });

  it('--yes: propose_edit writes the file, run_command runs in the workspace, secret files can be read', async () => {
    await withEmulator({ script: [
      { thinking: 'Edit and test.', toolCalls: [
        { name: 'propose_edit', arguments: { path: 'src/lib/math.ts', oldText: 'return a + b;', newText: 'return a + b; // checked', explanation: 'mark it' } },
        { name: 'run_command', arguments: { command: 'grep -c checked src/lib/math.ts' } },
      ] },
      { answer: 'Edited and checked.' },
    ] }, async (h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, '--yes', '--json', 'mark add as checked']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(fs.readFileSync(path.join(sb.ws, 'src/lib/math.ts'), 'utf8'), /return a \+ b; \/\/ checked/);
      const tools = chatBodies(h)[1].messages.filter((m: Json) => m.role === 'tool').map((m: Json) => m.content);
      assert.equal(tools[0], 'Applied: src/lib/math.ts — replaced 1 line with 1.');
      assert.match(tools[1], /^\$ grep -c checked src\/lib\/math\.ts\n\(in \.; exit code 0; \d+ ms\)\n1\n$/);
      assert.ok(chatBodies(h)[0].tools.some((t: Json) => t.function.name === 'propose_edit'));
      assert.match(chatBodies(h)[0].messages[0].content, /wait for the user to accept/);
      assert.deepEqual(JSON.parse(r.stdout).toolCalls.map((c: Json) => c.name), ['propose_edit', 'run_command']);
    });
  });

  it('a file too large to read whole or search: a line range, and to find lines without --yes a command for the user (naming --yes), with --yes run_command', async () => {
    fs.writeFileSync(path.join(sb.ws, 'huge.log'), Buffer.alloc(9 * 1024 * 1024, 'x'));
    const script = [
      { thinking: 'Read it.', toolCalls: [{ name: 'read_file', arguments: { path: 'huge.log' } }] },
      { answer: 'It is too large.' },
    ];
    const refused = 'error: huge.log is 9.0 MB, more than the 8.0 MB read_file can read whole; read a part of it with startLine and ' +
      'endLine (e.g. startLine 1, endLine 200); search_text skips files over 2.0 MB, so to find lines in it';
    await withEmulator({ script }, async (h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, '--json', 'how does huge.log start?']);
      assert.equal(r.code, 0, r.stderr);
      const bodies = chatBodies(h);
      assert.ok(!bodies[0].tools.some((t: Json) => t.function.name === 'run_command'));
      assert.equal(bodies[1].messages.at(-1).content, `${refused} ask the user to run a command (e.g. grep -n PATTERN huge.log) and tell ` +
        'you its output (run_command is not available here); ' +
        'the user can start kimi-vllm chat again with --yes, which lets you run commands (and write edits) without asking them');
    });
    await withEmulator({ script }, async (h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, '--yes', '--json', 'how does huge.log start?']);
      assert.equal(r.code, 0, r.stderr);
      const bodies = chatBodies(h);
      assert.ok(bodies[0].tools.some((t: Json) => t.function.name === 'run_command'));
      assert.equal(bodies[1].messages.at(-1).content, `${refused} use run_command (e.g. grep -n PATTERN huge.log), which the user approves`);
    });
  });

  it('--max-rounds: the limit reached → exit 3, the note on stderr, finishReason max_rounds, later calls not listed', async () => {
    await withEmulator({ script: [
      { toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { toolCalls: [{ name: 'read_file', arguments: { path: 'docs/guide.md' } }] },
      { answer: 'never' },
    ] }, async (h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, '--max-rounds', '1', '--json', 'read all']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^kimi-vllm: Stopped after 1 round of tool calls: the model still wanted to call read_file, which did not run\./);
      const o = JSON.parse(r.stdout);
      assert.equal(o.finishReason, 'max_rounds');
      assert.deepEqual(o.toolCalls.map((c: Json) => c.arguments.path), ['README.md']);
      assert.equal(chatBodies(h).length, 2);
    });
  });

  it('a server without the tool parser: the calls still run and a hint names the flags', async () => {
    await withEmulator({ toolCallParser: false, script: [
      { thinking: 'Look.', toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] },
      { answer: 'A demo.' },
    ] }, async (_h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--workspace', sb.ws, '--json', 'what is this']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^kimi-vllm: hint: The server sent its tool calls as raw text markers .* restart vllm serve with --tool-call-parser kimi_k2 --enable-auto-tool-choice\.\n$/);
      const o = JSON.parse(r.stdout);
      assert.deepEqual(o.toolCalls, [{ id: 'functions.read_file:0', name: 'read_file', arguments: { path: 'README.md' } }]);
      assert.equal(o.content, 'A demo.');
    });
  });

  it('--demo-tools without a workspace: the tutorial\'s question answered through count_letter_in_string', async () => {
    await withEmulator({}, async (h, baseUrl) => {
      const r = await runNode(CLI, ['chat', '--base-url', baseUrl, '--demo-tools', '--json', 'How many times does the letter r appear in strawberry?']);
      assert.equal(r.code, 0, r.stderr);
      const o = JSON.parse(r.stdout);
      assert.deepEqual(o.toolCalls, [{ id: 'functions.count_letter_in_string:0', name: 'count_letter_in_string', arguments: { a: 'strawberry', b: 'r' } }]);
      assert.match(o.content, /3/);
      assert.deepEqual(chatBodies(h)[0].tools.map((t: Json) => t.function.name), ['add', 'mul', 'compare', 'count_letter_in_string']);
    });
  });

  it('usage errors exit 2 before anything is sent: missing folder, a file as workspace, --yes alone, bad --max-rounds', async () => {
    await withEmulator({}, async (h, baseUrl) => {
      const cases: [string[], RegExp][] = [
        [['--workspace', path.join(sb.ws, 'nope'), 'x'], /--workspace: the workspace folder .*nope does not exist/],
        [['--workspace', path.join(sb.ws, 'README.md'), 'x'], /--workspace: the workspace .*README\.md is not a folder/],
        [['--yes', 'x'], /--yes only applies with --workspace DIR/],
        [['--max-rounds', '3', 'x'], /--max-rounds only applies to tool calling/],
        [['--workspace', sb.ws, '--max-rounds', '0', 'x'], /--max-rounds must be a whole number from 1 to 50, got "0"/],
        [['--workspace', sb.ws, '--max-rounds', 'lots', 'x'], /--max-rounds must be a whole number from 1 to 50, got "lots"/],
      ];
      for (const [args, re] of cases) {
        const r = await runNode(CLI, ['chat', '--base-url', baseUrl, ...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re);
        assert.match(r.stderr, /Usage: kimi-vllm chat .*--workspace DIR \[--yes\]\] \[--max-rounds N\]/);
      }
      assert.equal(h.requests.length, 0);
    });
  });
});
