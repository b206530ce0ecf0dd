// The conversation model → request messages: attachments with path and lines, image parts, reasoning replayed on
// assistant messages that made tool calls (checked on the wire in a second request), the context pre-check and the
// image checks.
import { strict as assert } from 'node:assert';
import { fetchModels, streamChat } from '../../../src/core/chat/chatClient';
import {
  addUserTurn,
  assistantTurnFromResult,
  checkContextFits,
  estimateTokens,
  imageFromBytes,
  imageFromDataUrl,
  imageSize,
  MAX_IMAGE_BYTES,
  newConversation,
  renderAttachment,
  toRequestMessages,
  type Conversation,
} from '../../../src/core/chat/conversation';
import { ChatError } from '../../../src/core/chat/errors';
import type { ToolDefinition } from '../../../src/core/chat/types';
import { TOOLS_FILES } from '../emulator/serverHelpers';
import { withEmulator, type Json } from './helpers';

// A real 1×1 PNG, and a 2×3 GIF header.
const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const GIF_2x3 = Buffer.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 2, 0, 3, 0, 0, 0, 0, 0x3b]);

function jpeg(width: number, height: number): Buffer {
  // SOI, an APP0 segment, then SOF0 with the size.
  const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
  const sof = [0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 255, width >> 8, width & 255, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return Buffer.from([0xff, 0xd8, ...app0, ...sof, 0xff, 0xd9]);
}

describe('conversation → request messages', () => {
  it('renders file and selection attachments with path and line numbers, in a fence that survives backticks', () => {
    const conv = newConversation();
    addUserTurn(conv, {
      text: 'What does this do?',
      attachments: [
        { kind: 'selection', path: 'src/math.ts', text: 'export const add = (a: number, b: number) => a + b;\n', startLine: 12, endLine: 12 },
        { kind: 'file', path: 'README.md', text: 'Use ```js``` blocks\nline 2' },
      ],
    });
    const [m] = toRequestMessages(conv);
    assert.equal(m!.role, 'user');
    assert.equal(m!.content,
      'Selection from `src/math.ts` (line 12):\n```typescript\nexport const add = (a: number, b: number) => a + b;\n```\n\n' +
      'File `README.md` (lines 1-2):\n````markdown\nUse ```js``` blocks\nline 2\n````\n\n' +
      'What does this do?');
    assert.equal(conv.title, 'What does this do?');
    assert.equal(renderAttachment({ kind: 'selection', path: 'a.py', text: 'x\ny\nz', startLine: 40 }).split('\n')[0], 'Selection from `a.py` (lines 40-42):');
  });

  it('images become image_url parts with the data URL', () => {
    const conv = newConversation();
    const img = imageFromBytes(PNG_1x1, { name: 'dot.png' });
    addUserTurn(conv, { text: 'What is this?', images: [img] });
    const [m] = toRequestMessages(conv);
    assert.deepEqual(m, { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1.toString('base64')}` } }] });
  });

  it('reasoning is replayed only on assistant messages that made (executed) tool calls; stopped partial answers are kept; failed empty turns skipped', () => {
    const conv: Conversation = newConversation();
    addUserTurn(conv, { text: 'hi' });
    conv.turns.push({ role: 'assistant', id: 'a1', createdAt: 1, mode: 'thinking', thinking: 'greet back', answer: 'Hello!', toolCalls: [] });
    addUserTurn(conv, { text: 'read a.ts' });
    conv.turns.push({ role: 'assistant', id: 'a2', createdAt: 2, mode: 'thinking', thinking: 'need the file', answer: '', toolCalls: [{ id: 'functions.read_file:0', name: 'read_file', arguments: '{"path":"a.ts"}', result: 'export {}' }] });
    conv.turns.push({ role: 'assistant', id: 'a3', createdAt: 3, mode: 'thinking', thinking: 'it is empty', answer: 'It exports nothing.', toolCalls: [], stopped: true });
    addUserTurn(conv, { text: 'again' });
    conv.turns.push({ role: 'assistant', id: 'a4', createdAt: 4, mode: 'thinking', thinking: 'x', answer: '', toolCalls: [], error: { kind: 'connectionRefused', message: 'no server', retryable: true } });
    addUserTurn(conv, { text: 'again?' });
    const msgs = toRequestMessages(conv, { vllmVersion: '0.16.0' });
    assert.deepEqual(msgs, [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'read a.ts' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'functions.read_file:0', type: 'function', function: { name: 'read_file', arguments: '{"path":"a.ts"}' } }], reasoning: 'need the file' },
      { role: 'tool', tool_call_id: 'functions.read_file:0', content: 'export {}' },
      { role: 'assistant', content: 'It exports nothing.' },
      { role: 'user', content: 'again' },
      { role: 'user', content: 'again?' },
    ]);
    // older servers also get reasoning_content
    const legacy = toRequestMessages(conv, { vllmVersion: '0.15.1' })[3] as Json;
    assert.equal(legacy.reasoning, 'need the file');
    assert.equal(legacy.reasoning_content, 'need the file');
  });

  it('round trip against the emulator: the second request carries `reasoning` on the assistant message with tool_calls', async () => {
    await withEmulator({ vllmVersion: '0.16.0' }, async (h, baseUrl) => {
      const conv = newConversation();
      addUserTurn(conv, { text: 'Read src/main.ts and explain it' });
      const tools = TOOLS_FILES as ToolDefinition[];
      const first = await streamChat({ baseUrl, model: '/models/Kimi-K2.5', messages: toRequestMessages(conv), mode: 'thinking', tools });
      assert.equal(first.finishReason, 'tool_calls');
      const turn = assistantTurnFromResult(first, { mode: 'thinking', model: '/models/Kimi-K2.5' });
      assert.ok(turn.thinking.length > 0);
      // what the tool-calling loop will do: execute and store the result
      turn.toolCalls[0]!.result = 'console.log("hi");';
      conv.turns.push(turn);
      const second = await streamChat({ baseUrl, model: '/models/Kimi-K2.5', messages: toRequestMessages(conv, { vllmVersion: '0.16.0' }), mode: 'thinking', tools });
      assert.equal(second.error, undefined);
      assert.match(second.answer, /console\.log\("hi"\)/, 'the model saw the tool result');
      const sent = (h.requests[1]!.body as Json).messages;
      assert.equal(sent[1].role, 'assistant');
      assert.equal(sent[1].reasoning, turn.thinking);
      assert.equal(sent[1].reasoning_content, undefined);
      assert.deepEqual(sent[1].tool_calls, [{ id: 'functions.read_file:0', type: 'function', function: { name: 'read_file', arguments: '{"path":"src/main.ts"}' } }]);
      assert.deepEqual(sent[2], { role: 'tool', tool_call_id: 'functions.read_file:0', content: 'console.log("hi");' });
    });
  });

  it('assistantTurnFromResult keeps usage, timings, finish reason, stopped and error', () => {
    const t = assistantTurnFromResult({
      thinking: 't', answer: 'a', toolCalls: [], usage: { prompt: 1, completion: 2, total: 3 }, finishReason: 'stop', ttftMs: 12.4, tokensPerSecond: 33.333,
      thinkingMs: 5, durationMs: 99.6, stopped: true, error: new ChatError({ kind: 'streamError', message: 'm', retryable: true }),
      observations: { reasoningField: 'reasoning', thinkTagsInContent: false, rawToolMarkers: false },
    }, { mode: 'instant' });
    assert.deepEqual({ ...t, id: undefined, createdAt: undefined }, {
      role: 'assistant', id: undefined, createdAt: undefined, mode: 'instant', thinking: 't', answer: 'a', toolCalls: [], usage: { prompt: 1, completion: 2, total: 3 },
      ttftMs: 12, tokensPerSecond: 33.3, thinkingMs: 5, durationMs: 100, finishReason: 'stop', stopped: true, error: { kind: 'streamError', message: 'm', retryable: true },
    });
  });
});

describe('context pre-check', () => {
  it('estimate: ~3 characters per token + 8 per message, images by size, tools counted', () => {
    assert.equal(estimateTokens([{ role: 'user', content: 'x'.repeat(300) }]), 8 + 8 + 100);
    const img = imageFromBytes(jpeg(560, 280));
    assert.equal(estimateTokens([{ role: 'user', content: [{ type: 'image_url', image_url: { url: img.dataUrl } }] }]), 8 + 8 + 20 * 10 + 4);
    const withTools = estimateTokens([{ role: 'user', content: 'hi' }], TOOLS_FILES as ToolDefinition[]);
    assert.ok(withTools > 8 + 8 + 1 + 50);
  });

  it('the estimate against the emulator\'s tokenizer: at or above it for prose and CJK, close to it for code', async () => {
    // The emulator cuts words at 6 letters and symbols at 3 characters, a cruder (more tokens) split of code than
    // a real BPE vocabulary; prose and CJK must never be underestimated.
    await withEmulator({}, async (_h, baseUrl) => {
      const cases: [string, number][] = [
        ['Hello there, how are you today? '.repeat(30), 1],
        ['用中文回答：什么是向量数据库？它和普通数据库有什么区别？'.repeat(10), 1],
        ['function add(a: number, b: number) { return a + b; }\n'.repeat(20), 0.85],
      ];
      for (const [content, ratio] of cases) {
        const r = await streamChat({ baseUrl, model: '/models/Kimi-K2.5', messages: [{ role: 'user', content }], mode: 'instant' });
        const est = estimateTokens([{ role: 'user', content }]);
        assert.ok(est >= r.usage!.prompt * ratio, `${content.slice(0, 20)}: estimate ${est}, server ${r.usage!.prompt}`);
      }
    });
  });

  it('refuses before sending with the numbers; nothing reaches the server', async () => {
    await withEmulator({ maxModelLen: 1000 }, async (h, baseUrl) => {
      const info = await fetchModels(baseUrl);
      assert.equal(info.maxModelLen, 1000);
      const conv = newConversation();
      addUserTurn(conv, { text: 'y'.repeat(3000) });
      const before = h.requests.length;
      assert.throws(() => checkContextFits(toRequestMessages(conv), { maxModelLen: info.maxModelLen! }), (e: ChatError) => {
        assert.equal(e.kind, 'contextPrecheck');
        assert.equal(e.retryable, false);
        assert.match(e.message, /about 1,016 tokens .* plus 250 for the answer, but the server's context is 1,000 tokens \(max_model_len\)/);
        return true;
      });
      assert.equal(h.requests.length, before);
      // a message that fits passes and returns the estimate
      assert.deepEqual(checkContextFits([{ role: 'user', content: 'short' }], { maxModelLen: 1000 }), { estimate: 18, maxModelLen: 1000, reserve: 250 });
    });
  });
});

describe('images: type and size checks', () => {
  it('accepts PNG, JPEG, GIF and WebP by content, and reads their size', () => {
    assert.deepEqual(imageSize(PNG_1x1), [1, 1]);
    assert.deepEqual(imageSize(GIF_2x3), [2, 3]);
    assert.deepEqual(imageSize(jpeg(640, 480)), [640, 480]);
    const webp = Buffer.alloc(30);
    webp.write('RIFF', 0);
    webp.write('WEBPVP8X', 8);
    webp.writeUIntLE(799, 24, 3);
    webp.writeUIntLE(599, 27, 3);
    assert.deepEqual(imageSize(webp), [800, 600]);
    assert.equal(imageFromBytes(webp).mimeType, 'image/webp');
    // a PNG labelled as JPEG is sent as what it is
    const relabelled = imageFromDataUrl(`data:image/jpeg;base64,${PNG_1x1.toString('base64')}`, { name: 'x.jpg' });
    assert.equal(relabelled.mimeType, 'image/png');
    assert.match(relabelled.dataUrl, /^data:image\/png;base64,/);
    assert.equal(relabelled.bytes, PNG_1x1.length);
  });

  it('refuses other types with a clear message', () => {
    const svg = `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>').toString('base64')}`;
    assert.throws(() => imageFromDataUrl(svg, { name: 'logo.svg' }), (e: ChatError) =>
      e.kind === 'invalidInput' && /"logo\.svg" cannot be sent: it is an SVG\. Kimi accepts PNG, JPEG, WebP and GIF images\./.test(e.message));
    assert.throws(() => imageFromBytes(Buffer.from('BM fake bitmap'), { name: 'a.bmp', declaredType: 'image/bmp' }), /it is of type image\/bmp/);
    assert.throws(() => imageFromDataUrl('data:image/png,notbase64'), /not a base64 data URL/);
  });

  it('refuses images over 10 MB with the sizes named', () => {
    const big = Buffer.alloc(MAX_IMAGE_BYTES + 1024 * 1024);
    PNG_1x1.copy(big);
    assert.throws(() => imageFromBytes(big, { name: 'huge.png' }), (e: ChatError) =>
      e.kind === 'invalidInput' && e.message === '"huge.png" is 11.0 MB; the limit is 10.0 MB per image. Resize or compress it and try again.');
    assert.throws(() => imageFromDataUrl(`data:image/png;base64,${big.toString('base64')}`), /is 11\.0 MB; the limit is 10\.0 MB/);
    assert.doesNotThrow(() => imageFromBytes(big.subarray(0, MAX_IMAGE_BYTES)));
  });
});
