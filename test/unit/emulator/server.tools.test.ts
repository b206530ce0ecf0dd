// Tool calling through the kimi_k2 parser (and without it): delta shapes, ids numbered across the conversation,
// arguments cut at arbitrary points, explicit-null deltas, and the persona's own tool use.
import * as assert from 'node:assert/strict';
import { deltas, finishChunk, joined, request, stream, TOOLS_FILES, TOOLS_SEED, withEmulator, type Json, type StreamResult } from './serverHelpers';

const CHAT = '/v1/chat/completions';

/** Reassemble streamed tool calls by index (the finish chunk may carry the tail of the last call). */
function collectCalls(r: StreamResult) {
  const calls: { id?: string; name?: string; args: string; pieces: string[]; deltas: Json[] }[] = [];
  for (const d of deltas(r)) {
    for (const tc of d.tool_calls ?? []) {
      const c = (calls[tc.index] ??= { args: '', pieces: [], deltas: [] });
      c.deltas.push(tc);
      if (tc.id) c.id = tc.id;
      if (tc.function?.name) c.name = tc.function.name;
      if (tc.function?.arguments) {
        c.args += tc.function.arguments;
        c.pieces.push(tc.function.arguments);
      }
    }
  }
  return calls;
}

/** For each cut between pieces: is it inside a JSON string, and inside an escape sequence? */
function cutPositions(pieces: string[]) {
  const text = pieces.join('');
  const cuts = new Set<number>();
  let pos = 0;
  for (const p of pieces.slice(0, -1)) cuts.add((pos += p.length));
  const out: { inString: boolean; inEscape: boolean }[] = [];
  let inString = false;
  let escapeLeft = 0;
  for (let i = 0; i <= text.length; i++) {
    if (cuts.has(i)) out.push({ inString, inEscape: escapeLeft > 0 });
    const ch = text[i];
    if (escapeLeft > 0) {
      if (escapeLeft === 5 && ch !== 'u') escapeLeft = 1; // a one-character escape such as \"
      escapeLeft--;
      continue;
    }
    if (inString && ch === '\\') escapeLeft = 5;
    else if (ch === '"') inString = !inString;
  }
  return out;
}

const PRIOR = [
  { role: 'user', content: 'Look around the repo.' },
  {
    role: 'assistant', content: null,
    tool_calls: [
      { id: 'functions.list_directory:0', type: 'function', function: { name: 'list_directory', arguments: '{"path":"."}' } },
      { id: 'functions.read_file:1', type: 'function', function: { name: 'read_file', arguments: '{"path":"README.md"}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'functions.list_directory:0', content: 'README.md\nsrc/' },
  { role: 'tool', tool_call_id: 'functions.read_file:1', content: '# Demo' },
  { role: 'user', content: 'Now open three more things.' },
];

const SCRIPTED_CALLS = [
  { name: 'read_file', arguments: { path: 'src/a "quoted" file.ts' } },
  { name: 'read_file', arguments: '{"path":"caf\\u00e9\\\\notes.md"}' },
  { name: 'list_directory', arguments: { path: 'src', depth: 2, filters: ['*.ts', '*.md'], hidden: false } },
];

describe('vLLM emulator tools: kimi_k2 parser, streaming', () => {
  it('streams three calls with kimi ids continuing the conversation, arbitrary cuts and explicit nulls', async () => {
    await withEmulator({ script: [{ thinking: 'I need three reads.', toolCalls: SCRIPTED_CALLS }] }, async (h) => {
      const r = await stream(h.url + CHAT, { messages: PRIOR, tools: TOOLS_FILES, stream_options: { include_usage: true } });
      const calls = collectCalls(r);
      assert.equal(calls.length, 3);
      assert.deepEqual(calls.map((c) => c.id), ['functions.read_file:2', 'functions.read_file:3', 'functions.list_directory:4']);
      calls.forEach((c, i) => {
        // The first delta of a call: index, id, type, name, empty arguments.
        assert.deepEqual(c.deltas[0], { index: i, id: c.id, type: 'function', function: { name: c.name, arguments: '' } });
        assert.deepEqual(Object.keys(c.deltas[0]), ['index', 'id', 'type', 'function']);
        for (const later of c.deltas.slice(1)) {
          assert.equal(later.index, i);
          assert.ok(later.id === undefined || later.id === null, 'later deltas carry no id');
          assert.ok(later.function.name === undefined || later.function.name === null);
        }
      });
      assert.deepEqual(JSON.parse(calls[0].args), SCRIPTED_CALLS[0].arguments);
      assert.equal(calls[1].args, SCRIPTED_CALLS[1].arguments, 'raw string arguments are sent as is');
      assert.deepEqual(JSON.parse(calls[1].args), { path: 'café\\notes.md' });
      assert.deepEqual(JSON.parse(calls[2].args), SCRIPTED_CALLS[2].arguments);

      const explicit = calls.flatMap((c) => c.deltas.slice(1)).filter((d) => d.id === null);
      assert.ok(explicit.length >= 3, 'at least one explicit-null delta per call');
      for (const d of explicit) {
        assert.deepEqual(Object.keys(d), ['id', 'type', 'index', 'function']);
        assert.equal(d.type, null);
        assert.equal(d.function.name, null);
      }
      assert.ok(calls.flatMap((c) => c.deltas.slice(1)).some((d) => !('id' in d)), 'and plain {index, function} deltas');

      const positions = calls.flatMap((c) => cutPositions(c.pieces));
      assert.ok(positions.some((p) => p.inString && !p.inEscape), 'a cut inside a JSON string');
      assert.ok(positions.some((p) => p.inEscape), 'a cut inside an escape sequence');
      assert.ok(cutPositions(calls[1].pieces).some((p) => p.inEscape), 'including inside \\u00e9');

      const fin = finishChunk(r).choices[0];
      assert.equal(fin.finish_reason, 'tool_calls');
      assert.equal(fin.stop_reason, 163586);
      assert.equal(joined(r, 'reasoning'), 'I need three reads.');
      assert.ok(deltas(r).every((d) => !d.tool_calls || Object.keys(d).join() === 'tool_calls'));
    });
  });

  it('cuts the same arguments the same way every time', async () => {
    const script = () => [{ toolCalls: [SCRIPTED_CALLS[0]] }];
    const pieces = async () => withEmulator({ script: script() }, async (h) =>
      collectCalls(await stream(h.url + CHAT, { messages: [{ role: 'user', content: 'x' }], tools: TOOLS_FILES }))[0].pieces);
    assert.deepEqual(await pieces(), await pieces());
  });

  it('returns full calls in a non-streaming message, content null (or the text before the calls)', async () => {
    await withEmulator({ script: [{ toolCalls: SCRIPTED_CALLS.slice(0, 2) }, { answer: 'Reading it now.', toolCalls: [SCRIPTED_CALLS[2]] }] }, async (h) => {
      const { json } = await request(h.url + CHAT, { body: { messages: PRIOR, tools: TOOLS_FILES } });
      const choice = json.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.stop_reason, 163586);
      assert.equal(choice.message.content, null);
      assert.deepEqual(choice.message.tool_calls, [
        { id: 'functions.read_file:2', type: 'function', function: { name: 'read_file', arguments: JSON.stringify(SCRIPTED_CALLS[0].arguments) } },
        { id: 'functions.read_file:3', type: 'function', function: { name: 'read_file', arguments: SCRIPTED_CALLS[1].arguments } },
      ]);
      const second = (await request(h.url + CHAT, { body: { messages: [{ role: 'user', content: 'y' }], tools: TOOLS_FILES } })).json;
      assert.equal(second.choices[0].message.content, 'Reading it now.');
      assert.equal(second.choices[0].message.tool_calls[0].id, 'functions.list_directory:0');
    });
  });
});

describe('vLLM emulator tools: without the tool parser', () => {
  const RAW = '<|tool_calls_section_begin|><|tool_call_begin|>functions.add:0 <|tool_call_argument_begin|>{"a":1,"b":2}' +
    '<|tool_call_end|><|tool_calls_section_end|>';

  it('leaves raw kimi markers in content and finishes with stop', async () => {
    await withEmulator({ toolCallParser: false, script: [{ toolCalls: [{ name: 'add', arguments: { a: 1, b: 2 } }] }] }, async (h) => {
      const r = await stream(h.url + CHAT, { messages: [{ role: 'user', content: 'x' }], tools: TOOLS_SEED, chat_template_kwargs: { thinking: false } });
      assert.ok(deltas(r).every((d) => !('tool_calls' in d)));
      assert.equal(joined(r, 'content'), RAW);
      assert.equal(finishChunk(r).choices[0].finish_reason, 'stop');
    });
  });

  it('keeps the thought, " </think> " and the markers in content when no parser runs at all', async () => {
    const script = [{ thinking: 'Add them.', toolCalls: [{ name: 'add', arguments: { a: 1, b: 2 } }] }];
    await withEmulator({ toolCallParser: false, reasoningParser: false, script }, async (h) => {
      const { json } = await request(h.url + CHAT, { body: { messages: [{ role: 'user', content: 'x' }], tools: TOOLS_SEED } });
      assert.equal(json.choices[0].message.content, `Add them. </think> ${RAW}`);
      assert.deepEqual(json.choices[0].message.tool_calls, []);
      assert.equal(json.choices[0].finish_reason, 'stop');
    });
  });

  it('sends raw markers when the request offered no tools (the parser only runs for tool requests)', async () => {
    await withEmulator({ script: [{ toolCalls: [{ name: 'add', arguments: { a: 1, b: 2 } }] }] }, async (h) => {
      const r = await stream(h.url + CHAT, { messages: [{ role: 'user', content: 'x' }], chat_template_kwargs: { thinking: false } });
      assert.equal(joined(r, 'content'), RAW);
    });
  });

  it('rejects auto tool choice without --enable-auto-tool-choice, but serves tool_choice none', async () => {
    await withEmulator({ enableAutoToolChoice: false, toolCallParser: false }, async (h) => {
      const body = { messages: [{ role: 'user', content: 'add 1 and 2' }], tools: TOOLS_SEED };
      const refused = await request(h.url + CHAT, { body });
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.json, { error: {
        message: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
        type: 'BadRequestError', param: null, code: 400,
      } });
      assert.equal((await request(h.url + CHAT, { body: { ...body, tool_choice: 'auto' } })).status, 400);
      const none = await request(h.url + CHAT, { body: { ...body, tool_choice: 'none' } });
      assert.equal(none.status, 200);
      assert.deepEqual(none.json.choices[0].message.tool_calls, []);
    });
  });
});

describe('vLLM emulator tools: the persona uses tools sensibly', () => {
  const callsOf = async (url: string, content: string, tools: Json[], extra: Json = {}) => {
    const { json } = await request(url + CHAT, { body: { messages: [{ role: 'user', content }], tools, ...extra } });
    return json.choices[0].message.tool_calls.map((c: Json) => ({ id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) }));
  };

  it('counts letters, adds and compares with the seed tutorial tools', async () => {
    await withEmulator({}, async (h) => {
      assert.deepEqual(await callsOf(h.url, '用中文回答：strawberry中有多少个r?', TOOLS_SEED),
        [{ id: 'functions.count_letter_in_string:0', name: 'count_letter_in_string', args: { a: 'strawberry', b: 'r' } }]);
      assert.deepEqual(await callsOf(h.url, 'How many times does the letter "s" appear in mississippi?', TOOLS_SEED),
        [{ id: 'functions.count_letter_in_string:0', name: 'count_letter_in_string', args: { a: 'mississippi', b: 's' } }]);
      assert.deepEqual((await callsOf(h.url, 'Please add 17 and 25.', TOOLS_SEED))[0], { id: 'functions.add:0', name: 'add', args: { a: 17, b: 25 } });
      assert.deepEqual((await callsOf(h.url, '用中文回答：9.11和9.9，哪个小?', TOOLS_SEED))[0].args, { a: 9.11, b: 9.9 });
      assert.deepEqual(await callsOf(h.url, 'Please add 17 and 25.', TOOLS_SEED, { tool_choice: 'none' }), []);
      assert.deepEqual(await callsOf(h.url, 'What is a tensor?', TOOLS_SEED), [], 'no tool fits: a plain answer');
    });
  });

  it('reads files and lists directories from path-like tokens', async () => {
    await withEmulator({}, async (h) => {
      assert.deepEqual(await callsOf(h.url, 'Explain what src/extension.ts does', TOOLS_FILES),
        [{ id: 'functions.read_file:0', name: 'read_file', args: { path: 'src/extension.ts' } }]);
      assert.deepEqual((await callsOf(h.url, 'Open README.md and package.json please', TOOLS_FILES)).map((c: Json) => [c.id, c.args.path]),
        [['functions.read_file:0', 'README.md'], ['functions.read_file:1', 'package.json']]);
      assert.deepEqual((await callsOf(h.url, 'List the files in src/', TOOLS_FILES))[0], { id: 'functions.list_directory:0', name: 'list_directory', args: { path: 'src/' } });
      assert.deepEqual((await callsOf(h.url, 'Which files are in this folder?', TOOLS_FILES))[0].args, { path: '.' });
      assert.deepEqual(await callsOf(h.url, 'Explain closures', TOOLS_FILES), []);
      const forced = await callsOf(h.url, 'Hello', TOOLS_FILES, { tool_choice: { type: 'function', function: { name: 'list_directory' } } });
      assert.equal(forced[0].name, 'list_directory');
    });
  });

  it('answers with the tool result after the tool round trip', async () => {
    await withEmulator({}, async (h) => {
      const messages: Json[] = [{ role: 'user', content: '用中文回答：strawberry中有多少个r?' }];
      const first = (await request(h.url + CHAT, { body: { messages, tools: TOOLS_SEED } })).json.choices[0].message;
      messages.push(first, { role: 'tool', tool_call_id: first.tool_calls[0].id, content: "The letter 'r' appears 3 times in the string." });
      const r = await stream(h.url + CHAT, { messages, tools: TOOLS_SEED });
      assert.equal(finishChunk(r).choices[0].finish_reason, 'stop');
      const answer = joined(r, 'content');
      assert.match(answer, /> The letter 'r' appears 3 times in the string\./);
      assert.match(answer, /count_letter_in_string/);
      assert.match(joined(r, 'reasoning'), /[\u4e00-\u9fff]/);
      // A later call in the same conversation continues the numbering.
      messages.push({ role: 'assistant', content: answer }, { role: 'user', content: 'Now add 2 and 3.' });
      const next = (await request(h.url + CHAT, { body: { messages, tools: TOOLS_SEED } })).json.choices[0].message;
      assert.equal(next.tool_calls[0].id, 'functions.add:1');
    });
  });

  it('quotes multi-line tool output (a file) in a code block', async () => {
    await withEmulator({}, async (h) => {
      const messages = [
        { role: 'user', content: 'Explain src/a.ts' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'functions.read_file:0', type: 'function', function: { name: 'read_file', arguments: '{"path":"src/a.ts"}' } }] },
        { role: 'tool', tool_call_id: 'functions.read_file:0', content: 'export const a = 1;\nexport const b = 2;' },
      ];
      const { json } = await request(h.url + CHAT, { body: { messages, tools: TOOLS_FILES } });
      assert.match(json.choices[0].message.content, /```\nexport const a = 1;\nexport const b = 2;\n```/);
    });
  });
});
