// The stream normaliser on hand-written chunks: one case per shape in docs/vllm-kimi-protocol.md §2–§3.
import { strict as assert } from 'node:assert';
import { MAX_SSE_LINE, normalizeSseBody, SseDecoder, SseLineTooLongError, StreamNormalizer, type ChatEvent, type NormalizerOptions } from '../../../src/core/chat/streamNormalizer';
import { canonical, textOf, type Json } from './helpers';

const chunk = (delta: Json, finish: string | null = null, extra: Json = {}) =>
  ({ id: 'chatcmpl-0123456789abcdef', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...extra }] });

function run(chunks: Json[], opts: NormalizerOptions = {}, done = true): ChatEvent[] {
  const n = new StreamNormalizer(opts);
  const out: ChatEvent[] = [];
  for (const c of chunks) out.push(...n.push(c));
  out.push(...(done ? n.end() : n.flush()));
  return canonical(out);
}

const contents = (...parts: string[]) => [chunk({ role: 'assistant', content: '' }), ...parts.map((p) => chunk({ content: p }))];

describe('stream normaliser: shapes', () => {
  it('reads reasoning_content (≤ 0.11.0), reasoning (≥ 0.16) and both in one delta without doubling', () => {
    for (const field of ['reasoning', 'reasoning_content', 'both'] as const) {
      const r = (t: string) => (field === 'both' ? { reasoning: t, reasoning_content: t } : { [field]: t });
      const ev = run([chunk({ role: 'assistant', content: '' }), chunk(r(' Let me')), chunk(r(' think. ')), chunk({ content: ' Hi', ...r('!') }), chunk({ content: ' there' }), chunk({ content: '' }, 'stop', { stop_reason: 163586 })]);
      assert.deepEqual(ev, [
        { kind: 'thinking', text: 'Let me think. !' },
        { kind: 'answer', text: 'Hi there' },
        { kind: 'done', finishReason: 'stop', stopReason: 163586 },
      ], field);
    }
  });

  it('keeps reasoning that shares a chunk with content and tool calls (reasoning, then content, then calls)', () => {
    const ev = run([
      chunk({ reasoning: 'Need a file.', content: 'Reading it.', tool_calls: [{ index: 0, id: 'functions.read_file:0', type: 'function', function: { name: 'read_file', arguments: '{"pa' } }] }),
      chunk({ tool_calls: [{ id: null, type: null, index: 0, function: { name: null, arguments: 'th":"a.ts"}' } }] }, 'tool_calls'),
    ]);
    assert.deepEqual(ev, [
      { kind: 'thinking', text: 'Need a file.' },
      { kind: 'answer', text: 'Reading it.' },
      { kind: 'toolCall', index: 0, id: 'functions.read_file:0', name: 'read_file', argumentsDelta: '{"path":"a.ts"}' },
      { kind: 'toolCallsDone', calls: [{ index: 0, id: 'functions.read_file:0', name: 'read_file', arguments: '{"path":"a.ts"}' }] },
      { kind: 'done', finishReason: 'tool_calls' },
    ]);
  });

  it('no reasoning parser: content starts mid-thought, ` </think> ` split over deltas, spaces trimmed', () => {
    const ev = run(contents(' The user', ' wants X.', ' </th', 'ink>', ' Here', ' is X.'));
    assert.deepEqual(ev.slice(0, 2), [{ kind: 'thinking', text: 'The user wants X.' }, { kind: 'answer', text: 'Here is X.' }]);
  });

  it('no reasoning parser: the closing tag cut at every position gives the same result', () => {
    const raw = ' Hmm, a < b here. </think> Answer <b>bold</b> and a<c.';
    for (let i = 1; i < raw.length; i++) {
      for (let j = i + 1; j < Math.min(raw.length, i + 12); j++) {
        const ev = run(contents(raw.slice(0, i), raw.slice(i, j), raw.slice(j)));
        assert.equal(textOf(ev, 'thinking'), 'Hmm, a < b here.', `cut ${i},${j}`);
        assert.equal(textOf(ev, 'answer'), 'Answer <b>bold</b> and a<c.', `cut ${i},${j}`);
      }
    }
  });

  it('drops a leading <think> (even split, even after whitespace)', () => {
    const ev = run(contents('\n<thi', 'nk>Plan', ' it.</think>\n\nDone.'));
    assert.deepEqual(ev.slice(0, 2), [{ kind: 'thinking', text: 'Plan it.' }, { kind: 'answer', text: 'Done.' }]);
    // in instant mode a leading <think> also opens a thought
    const inst = run(contents('<think>x</think>y'), { instant: true });
    assert.deepEqual(inst.slice(0, 2), [{ kind: 'thinking', text: 'x' }, { kind: 'answer', text: 'y' }]);
  });

  it('no </think> at all: everything is reasoning — unless instant mode was asked for', () => {
    const thinking = run([...contents(' Still', ' thinking'), chunk({ content: ' about' }, 'length')]);
    assert.deepEqual(thinking, [{ kind: 'thinking', text: 'Still thinking about' }, { kind: 'done', finishReason: 'length' }]);
    const instant = run(contents('Hello', ' there'), { instant: true });
    assert.equal(textOf(instant, 'answer'), 'Hello there');
    assert.equal(textOf(instant, 'thinking'), '');
  });

  it('a reasoning field means the server has a parser: later content is answer, literal tags included', () => {
    const ev = run([chunk({ role: 'assistant', content: '' }), chunk({ reasoning: 'r' }), chunk({ content: 'Use </think> and <think> literally' })]);
    assert.equal(textOf(ev, 'answer'), 'Use </think> and <think> literally');
    // and reasoningParser: true says so up front (an empty thought in thinking mode)
    const known = run(contents('Plain answer'), { reasoningParser: true });
    assert.equal(textOf(known, 'answer'), 'Plain answer');
  });

  it('raw tool-call markers in content (no tool parser) become tool calls, never answer text — both section spellings', () => {
    for (const [begin, end] of [['<|tool_calls_section_begin|>', '<|tool_calls_section_end|>'], ['<|tool_call_section_begin|>', '<|tool_call_section_end|>']]) {
      const raw = ` I should read it. </think> Let me look.${begin}<|tool_call_begin|>functions.read_file:0 <|tool_call_argument_begin|>{"path":"<a>.ts"}<|tool_call_end|>` +
        `<|tool_call_begin|>functions.list_directory:1 <|tool_call_argument_begin|>{"path":"."}<|tool_call_end|>${end}`;
      const pieces: string[] = [];
      for (let i = 0; i < raw.length; i += 5) pieces.push(raw.slice(i, i + 5));
      const ev = run([...contents(...pieces), chunk({ content: '' }, 'stop')]);
      assert.deepEqual(ev, [
        { kind: 'thinking', text: 'I should read it.' },
        { kind: 'answer', text: 'Let me look.' },
        { kind: 'toolCall', index: 0, id: 'functions.read_file:0', name: 'read_file', argumentsDelta: '{"path":"<a>.ts"}' },
        { kind: 'toolCall', index: 1, id: 'functions.list_directory:1', name: 'list_directory', argumentsDelta: '{"path":"."}' },
        { kind: 'toolCallsDone', calls: [
          { index: 0, id: 'functions.read_file:0', name: 'read_file', arguments: '{"path":"<a>.ts"}' },
          { index: 1, id: 'functions.list_directory:1', name: 'list_directory', arguments: '{"path":"."}' },
        ] },
        // the server's parser could not report them, the normaliser does
        { kind: 'done', finishReason: 'tool_calls' },
      ], begin);
    }
  });

  it('a tool-call section right after the thought (no </think>) ends the thinking', () => {
    const ev = run(contents(' Need it.<|tool_calls_section_begin|><|tool_call_begin|>functions.add:0 <|tool_call_argument_begin|>{"a":1}<|tool_call_end|><|tool_calls_section_end|>'));
    assert.equal(textOf(ev, 'thinking'), 'Need it.');
    assert.equal(textOf(ev, 'answer'), '');
    assert.deepEqual((ev.find((e) => e.kind === 'toolCallsDone') as Json).calls, [{ index: 0, id: 'functions.add:0', name: 'add', arguments: '{"a":1}' }]);
  });

  it('answer text that merely looks like a marker is kept', () => {
    const ev = run([chunk({ reasoning: 'r' }), chunk({ content: 'a <| b <|im_end|> <|tool_x|> <' }), chunk({ content: '' }, 'stop')]);
    assert.equal(textOf(ev, 'answer'), 'a <| b <|im_end|> <|tool_x|> <');
  });

  it('mid-stream error events: nested (≥ 0.10.1, Python json.dumps spacing) and flat', () => {
    const nested = new StreamNormalizer();
    const out = [...nested.push(chunk({ reasoning: 'r' })), ...nested.push(chunk({ content: 'partial <' }))];
    out.push(...nested.pushData('{"error": {"message": "EngineCore encountered an issue.", "type": "InternalServerError", "param": null, "code": 500}}'));
    assert.deepEqual(canonical(out), [
      { kind: 'thinking', text: 'r' },
      { kind: 'answer', text: 'partial <' },
      { kind: 'error', message: 'EngineCore encountered an issue.', status: 500, type: 'InternalServerError' },
    ]);
    assert.deepEqual(nested.pushData('[DONE]'), [], 'nothing after the terminal event');
    const flat = new StreamNormalizer().push({ object: 'error', message: 'bad', type: 'BadRequestError', param: null, code: 400 });
    assert.deepEqual(flat, [{ kind: 'error', message: 'bad', status: 400, type: 'BadRequestError' }]);
  });

  it('usage chunk and explicit nulls', () => {
    const ev = run([chunk({ content: null, reasoning: null, reasoning_content: 'x' }), { id: 'c', choices: [], usage: { prompt_tokens: 5, total_tokens: 12, completion_tokens: 7 } }]);
    assert.deepEqual(ev, [{ kind: 'thinking', text: 'x' }, { kind: 'usage', prompt: 5, completion: 7, total: 12 }, { kind: 'done', finishReason: 'unknown' }]);
  });

  it('observations tell which server configuration the stream came from', () => {
    const n = new StreamNormalizer();
    n.push(chunk({ content: 'a </think> b<|tool_calls_section_begin|>' }));
    assert.deepEqual(n.observations, { reasoningField: 'none', thinkTagsInContent: true, rawToolMarkers: true });
    const m = new StreamNormalizer();
    m.push(chunk({ reasoning: 'a', reasoning_content: 'a' }));
    assert.equal(m.observations.reasoningField, 'both');
  });

  it('flush keeps held-back text of a stream cut short (stop, dropped connection)', () => {
    const n = new StreamNormalizer();
    const out = [...n.push(chunk({ reasoning: 'r' })), ...n.push(chunk({ content: 'x </thi' }))];
    out.push(...n.flush());
    assert.equal(textOf(out, 'answer'), 'x </thi');
  });
});

describe('stream normaliser: bounded buffers', () => {
  it('a huge whitespace run, a runaway tool-call header: held text stays bounded, output still chunk-independent', () => {
    const ws = ' '.repeat(20_000);
    const one = run(contents(`${ws}x${ws}y${ws}</think>${ws}z`));
    for (const size of [7, 999, 5000]) {
      const cut = `${ws}x${ws}y${ws}</think>${ws}z`.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
      assert.deepEqual(run(cut.map((p) => chunk({ content: p }))), one, `pieces of ${size}`);
    }
    assert.equal(textOf(one, 'thinking'), `x${ws}y${' '.repeat(20_000 - 4096)}`);
    assert.equal(textOf(one, 'answer'), 'z');
    const hdr = run(contents(`a</think>b<|tool_call_begin|>${'h'.repeat(100_000)}<|tool_call_argument_begin|>{}<|tool_call_end|>`));
    const call = hdr.find((e) => e.kind === 'toolCall') as Json;
    assert.equal(call.id.length, 1024);
  });

  it('an SSE line beyond the limit is refused instead of buffered', () => {
    const d = new SseDecoder();
    assert.throws(() => d.push(`data: ${'x'.repeat(MAX_SSE_LINE + 1)}`), SseLineTooLongError);
  });

  it('data lines without the blank line that ends an event are refused once they pass the limit, not kept', () => {
    const line = `data: ${'x'.repeat(1024 * 1024 - 1)}\n`; // 1 MiB of data per line
    // Events that end: any number of them, the bound is per event.
    const ok = new SseDecoder();
    for (let i = 0; i < 40; i++) assert.equal(ok.push(`${line}\n`).length, 1);
    // One event that never ends: refused at 32 MiB of data.
    const d = new SseDecoder();
    let pushed = 0;
    assert.throws(() => {
      for (; pushed < 40; pushed++) assert.deepEqual(d.push(line), []);
    }, (e: unknown) => e instanceof SseLineTooLongError && /an event longer than 32 MiB/.test(e.message));
    assert.equal(pushed, MAX_SSE_LINE / (1024 * 1024));
    // The decoder let go of what it held: the next event decodes.
    assert.deepEqual(d.push('data: {"a":1}\n\n'), ['{"a":1}']);
  });

  it('a long line read in many pieces is scanned once (pieces without a line end are only appended)', () => {
    const d = new SseDecoder();
    const piece = 'y'.repeat(16 * 1024);
    d.push('data: ');
    for (let i = 0; i < 512; i++) assert.deepEqual(d.push(piece), []);
    const [event] = d.push('\n\n');
    assert.equal(event, piece.repeat(512));
  });
});

describe('SSE decoder', () => {
  it('handles CRLF, CR, comments, other fields, multi-line data and bytes cut inside UTF-8', () => {
    const text = ': ping\r\nevent: message\r\ndata: {"a":"é中"}\r\n\r\ndata: line1\rdata: line2\r\rdata: [DONE]\n\n';
    const bytes = Buffer.from(text, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new SseDecoder();
      const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      assert.deepEqual(got, ['{"a":"é中"}', 'line1\nline2', '[DONE]'], `cut at ${cut}`);
    }
  });

  it('an event without its blank line (connection cut) is not dispatched', () => {
    const d = new SseDecoder();
    assert.deepEqual(d.push('data: {"a":1}\n\ndata: {"b":'), ['{"a":1}']);
    assert.deepEqual(d.end(), []);
  });

  it('normalizeSseBody: non-JSON data is an error event', () => {
    const ev = normalizeSseBody('data: hello\n\n');
    assert.equal(ev[0]?.kind, 'error');
  });
});
