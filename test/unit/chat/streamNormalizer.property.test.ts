// Property: the normaliser's output does not depend on chunk boundaries. Streams are recorded from the emulator
// over real HTTP in every mode (vLLM 0.10.0 / 0.11.0 / 0.15.1 / 0.16.0, no reasoning parser, no tool parser,
// neither, instant, tool calls, CJK, a mid-stream error, a length cut, and derived variants: the singular tool
// section spelling, a leading <think>, CRLF line ends), then re-chunked at random — at the SSE byte level (pieces
// of 1..N bytes, cutting UTF-8 sequences, `data:` and blank lines) and at the delta-text level (every text field
// cut into many chunks, neighbours merged) — with a seeded PRNG, hundreds of times each. The canonical form
// (adjacent same-kind events merged; see streamNormalizer.ts on coalescing) must equal the one-piece baseline.
import { strict as assert } from 'node:assert';
import { normalizeSseBody, SseDecoder, StreamNormalizer, type ChatEvent, type NormalizerOptions } from '../../../src/core/chat/streamNormalizer';
import { startEmulator } from '../../emulator/server';
import type { EmulatorOptions, ScriptedRound } from '../../emulator/types';
import { canonical, cutBytes, rechunkDeltas, recordSse, seededRandom, sseData, textOf, type Json } from './helpers';
import { TOOLS_FILES } from '../emulator/serverHelpers';

interface Recording {
  name: string;
  sse: string;
  opts: NormalizerOptions;
}

interface Scenario {
  name: string;
  emulator: EmulatorOptions;
  body: Json;
  opts?: NormalizerOptions;
  /** Derive another recording from this one. */
  derive?: { name: string; transform: (sse: string) => string }[];
}

const ask = (content: string, extra: Json = {}) => ({ messages: [{ role: 'user', content }], ...extra });
const tricky: ScriptedRound = {
  thinking: ' Compare `Array<number>` with a <div>; note a < b, "quotes" and \\ backslashes. Also 中文思考。 ',
  answer: ' Use `Array<number>`:\n\n```ts\nconst xs: Array<number> = [1, 2];\nif (a < b && c > d) {}\n```\n\n| a | b |\n|---|---|\n| <x> | <|not a marker|> |\n\nDone 😀.',
};
const toolRound: ScriptedRound = {
  thinking: 'I will read both files.',
  answer: 'Reading.',
  toolCalls: [
    { name: 'read_file', arguments: { path: 'docs/ünïcode "notes" <1>.md' } },
    { name: 'list_directory', arguments: { path: 'src\\sub' } },
  ],
};

const SCENARIOS: Scenario[] = [
  { name: 'vLLM 0.10.0 (reasoning_content)', emulator: { vllmVersion: '0.10.0' }, body: ask('Write a python function for fibonacci') },
  { name: 'vLLM 0.11.0 (reasoning_content)', emulator: { vllmVersion: '0.11.0' }, body: ask('Compare Go and Rust for a CLI tool') },
  { name: 'vLLM 0.15.1 (both fields)', emulator: { vllmVersion: '0.15.1', script: [tricky] }, body: ask('tricky') },
  { name: 'vLLM 0.16.0 (reasoning)', emulator: { vllmVersion: '0.16.0' }, body: ask('用中文回答：什么是向量数据库？') },
  {
    name: 'no reasoning parser', emulator: { vllmVersion: '0.16.0', reasoningParser: false, script: [tricky] }, body: ask('tricky'),
    derive: [{ name: 'no reasoning parser + leading <think>', transform: (sse) => sse.replace('"content":" Compar', '"content":"<think> Compar') }],
  },
  {
    name: 'no tool parser (raw markers)', emulator: { vllmVersion: '0.16.0', toolCallParser: false, script: [toolRound] }, body: ask('x', { tools: TOOLS_FILES }),
    derive: [
      { name: 'no tool parser, singular section spelling', transform: (sse) => sse.replace(/tool_calls_section_/g, 'tool_call_section_') },
      { name: 'no tool parser, CRLF line ends', transform: (sse) => sse.replace(/\n/g, '\r\n') },
    ],
  },
  { name: 'no parsers at all', emulator: { vllmVersion: '0.15.1', toolCallParser: false, reasoningParser: false, script: [toolRound] }, body: ask('x', { tools: TOOLS_FILES }) },
  { name: 'tool calls (kimi_k2 parser)', emulator: { vllmVersion: '0.16.0', script: [toolRound] }, body: ask('x', { tools: TOOLS_FILES }) },
  { name: 'tool calls, persona (0.11.0)', emulator: { vllmVersion: '0.11.0' }, body: ask('Read src/main.ts and src/math.ts and explain them', { tools: TOOLS_FILES }) },
  { name: 'instant mode', emulator: { vllmVersion: '0.16.0' }, body: ask('Write a typescript function to reverse a string', { chat_template_kwargs: { thinking: false } }), opts: { instant: true } },
  { name: 'instant mode, no reasoning parser', emulator: { vllmVersion: '0.16.0', reasoningParser: false }, body: ask('hello', { chat_template_kwargs: { thinking: false } }), opts: { instant: true } },
  { name: 'length cut mid-thought, no parser (no </think>)', emulator: { vllmVersion: '0.16.0', reasoningParser: false }, body: ask('long-thinking:200 please', { max_tokens: 60 }) },
  { name: 'mid-stream error', emulator: { vllmVersion: '0.16.0', script: [{ ...tricky, error: { when: 'midStream', afterChars: 60, message: 'Scripted failure mid-answer.' } }] }, body: ask('tricky') },
  { name: 'mid-stream error, flat body (0.10.0)', emulator: { vllmVersion: '0.10.0', reasoningParser: false, script: [{ ...tricky, error: { when: 'midStream', afterChars: 30 } }] }, body: ask('tricky') },
];

function viaBytes(sse: string, opts: NormalizerOptions, rnd: () => number, maxPiece: number): ChatEvent[] {
  const dec = new SseDecoder();
  const n = new StreamNormalizer(opts);
  const out: ChatEvent[] = [];
  for (const piece of cutBytes(Buffer.from(sse, 'utf8'), rnd, maxPiece)) {
    for (const d of dec.push(piece)) out.push(...n.pushData(d));
  }
  if (!n.finished) out.push(...n.flush());
  return out;
}

function viaDeltas(sse: string, opts: NormalizerOptions, rnd: () => number): ChatEvent[] {
  const data = sseData(sse.replace(/\r\n/g, '\n'));
  const done = data[data.length - 1] === '[DONE]';
  const chunks = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  const n = new StreamNormalizer(opts);
  const out: ChatEvent[] = [];
  for (const c of rechunkDeltas(chunks, rnd)) out.push(...n.push(c));
  out.push(...(done ? n.end() : n.flush()));
  return out;
}

describe('stream normaliser: property over random re-chunkings of recorded emulator streams', function () {
  this.timeout(60_000);
  const recordings: Recording[] = [];
  const ITERATIONS = 300;

  before(async () => {
    for (const s of SCENARIOS) {
      const h = await startEmulator(s.emulator);
      try {
        const sse = await recordSse(h, s.body);
        const opts = s.opts ?? {};
        recordings.push({ name: s.name, sse, opts });
        for (const d of s.derive ?? []) {
          const derived = d.transform(sse);
          assert.notEqual(derived, sse, `${d.name}: the transform changed nothing`);
          recordings.push({ name: d.name, sse: derived, opts });
        }
      } finally {
        await h.close();
      }
    }
  });

  it('the recordings cover what they claim (baseline sanity)', () => {
    const by = (name: string) => canonical(normalizeSseBody(recordings.find((r) => r.name === name)!.sse, recordings.find((r) => r.name === name)!.opts));
    for (const r of recordings) {
      const ev = canonical(normalizeSseBody(r.sse, r.opts));
      const last = ev[ev.length - 1]!;
      assert.ok(last.kind === 'done' || last.kind === 'error', `${r.name}: ends with done or error`);
      assert.ok(!textOf(ev, 'answer').includes('<|tool_call'), `${r.name}: no raw markers in the answer`);
      assert.ok(!textOf(ev, 'answer').includes('</think>'), `${r.name}: no </think> in the answer`);
      assert.ok(!textOf(ev, 'thinking').includes('</think>'), `${r.name}: no </think> in the thinking`);
    }
    // The same scripted turn reads the same with and without the reasoning parser, and with either section spelling.
    assert.deepEqual(
      by('no reasoning parser').filter((e) => e.kind === 'thinking' || e.kind === 'answer'),
      by('vLLM 0.15.1 (both fields)').filter((e) => e.kind === 'thinking' || e.kind === 'answer'),
    );
    assert.equal(textOf(by('no reasoning parser'), 'thinking'), tricky.thinking!.trim());
    assert.equal(textOf(by('no reasoning parser'), 'answer'), tricky.answer!.trim());
    assert.deepEqual(by('no reasoning parser + leading <think>'), by('no reasoning parser'));
    const calls = (name: string) => (by(name).find((e) => e.kind === 'toolCallsDone') as Json)?.calls;
    const expected = [
      { index: 0, id: 'functions.read_file:0', name: 'read_file', arguments: JSON.stringify(toolRound.toolCalls![0]!.arguments) },
      { index: 1, id: 'functions.list_directory:1', name: 'list_directory', arguments: JSON.stringify(toolRound.toolCalls![1]!.arguments) },
    ];
    for (const name of ['no tool parser (raw markers)', 'no tool parser, singular section spelling', 'no tool parser, CRLF line ends', 'no parsers at all', 'tool calls (kimi_k2 parser)']) {
      assert.deepEqual(calls(name), expected, name);
      assert.equal(textOf(by(name), 'answer'), 'Reading.', name);
      assert.equal(textOf(by(name), 'thinking'), 'I will read both files.', name);
      assert.equal((by(name).at(-1) as Json).finishReason, 'tool_calls', name);
    }
    const cut = by('length cut mid-thought, no parser (no </think>)');
    assert.equal(textOf(cut, 'answer'), '');
    assert.ok(textOf(cut, 'thinking').length > 50);
    assert.equal((cut.at(-1) as Json).finishReason, 'length');
    assert.equal(textOf(by('instant mode, no reasoning parser'), 'thinking'), '');
    assert.match(textOf(by('instant mode, no reasoning parser'), 'answer'), /^Hello!/);
    assert.equal(by('mid-stream error').at(-1)!.kind, 'error');
    assert.equal(by('mid-stream error, flat body (0.10.0)').at(-1)!.kind, 'error');
  });

  for (const s of SCENARIOS.flatMap((sc) => [sc.name, ...(sc.derive ?? []).map((d) => d.name)])) {
    it(`${s}: identical output over ${ITERATIONS} byte-level and ${ITERATIONS} delta-level re-chunkings`, () => {
      const r = recordings.find((x) => x.name === s)!;
      const baseline = canonical(normalizeSseBody(r.sse, r.opts));
      for (let i = 0; i < ITERATIONS; i++) {
        const seed = 0x5eed0000 + i;
        const rnd = seededRandom(seed);
        const maxPiece = [1, 3, 17, 64, 512][i % 5]!;
        assert.deepEqual(canonical(viaBytes(r.sse, r.opts, rnd, maxPiece)), baseline, `bytes, seed ${seed.toString(16)}, pieces ≤ ${maxPiece}`);
        assert.deepEqual(canonical(viaDeltas(r.sse, r.opts, seededRandom(seed ^ 0xabcdef))), baseline, `deltas, seed ${seed.toString(16)}`);
      }
    });
  }
});
