// The pure parts behind the server: the approximate tokenizer, the persona, the argument cutter and vLLM spellings.
import * as assert from 'node:assert/strict';
import { buildOutput, cutArguments } from '../../emulator/kimiOutput';
import { fillerWords, pathTokens, personaCompletion, personaReply, type PersonaInput } from '../../emulator/persona';
import { countChatPromptTokens, countTokens, IMAGE_TOKENS, splitTokens } from '../../emulator/tokens';
import { defaultReasoningField, pyRepr, PyTuple, pythonJsonDumps, versionAtLeast } from '../../emulator/vllmFormat';

const input = (content: string, extra: Partial<PersonaInput> = {}): PersonaInput =>
  ({ messages: [{ role: 'user', content }], tools: [], toolChoice: 'auto', thinking: true, ...extra });

describe('vLLM emulator tokens', () => {
  it('cuts text into small pieces that join back exactly', () => {
    const text = 'Hello, world!  Tokenization of 123456 things… 大模型是什么？\n\n<|im_end|></think> 🙂 done';
    const pieces = splitTokens(text);
    assert.equal(pieces.join(''), text);
    assert.ok(pieces.every((p) => p.length <= 10), pieces.join('|'));
    assert.ok(pieces.includes('<|im_end|>') && pieces.includes('</think>'), 'markers are single tokens');
    assert.ok(pieces.includes(' 🙂') || pieces.includes('🙂'), 'surrogate pairs stay whole');
  });

  it('comes out near 4 characters per token for English and 2 for Chinese', () => {
    const en = 'The quick brown fox jumps over the lazy dog while the engine streams tokens to the client. '.repeat(10);
    const zh = '大模型是基于深度学习的人工智能系统，通常包含数十亿至数千亿参数。'.repeat(10);
    const enRatio = en.length / countTokens(en);
    const zhRatio = zh.length / countTokens(zh);
    assert.ok(enRatio > 3 && enRatio < 6, `en ${enRatio}`);
    assert.ok(zhRatio > 1.3 && zhRatio < 2.5, `zh ${zhRatio}`);
  });

  it('counts chat prompts with template overhead and a fixed cost per image', () => {
    const text = [{ role: 'user', content: 'hi' }];
    assert.ok(countChatPromptTokens(text, undefined, true) > countTokens('hi'));
    const withImage = [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }];
    assert.equal(countChatPromptTokens(withImage, undefined, true) - countChatPromptTokens(text, undefined, true), IMAGE_TOKENS);
  });
});

describe('vLLM emulator persona', () => {
  it('is deterministic', () => {
    assert.deepEqual(personaReply(input('What is RAG?')), personaReply(input('What is RAG?')));
  });

  it('thinks in the language of the question and wraps thinking in spaces like K2.5', () => {
    const zh = personaReply(input('什么是大模型？'));
    assert.match(zh.thinking, /^ 用户问的是/);
    assert.ok(zh.thinking.endsWith(' '));
    assert.match(zh.answer, /^ 关于\*\*什么是大模型\*\*/);
    const en = personaReply(input('What is RAG?'));
    assert.match(en.thinking, /^ The user asks: "What is RAG"/);
    assert.match(en.answer, /\n1\. \*\*What it is\*\*/);
  });

  it('answers instantly without thinking and without the leading space', () => {
    const r = personaReply(input('What is RAG?', { thinking: false }));
    assert.equal(r.thinking, '');
    assert.match(r.answer, /^Here is a short answer/);
  });

  it('writes code blocks in the asked language and tables for comparisons', () => {
    assert.match(personaReply(input('Write a Rust function to reverse a string')).answer, /```rust\nfn reverse/);
    assert.match(personaReply(input('写一个 python 函数计算斐波那契数列')).answer, /```python\ndef fibonacci/);
    assert.match(personaReply(input('Compare PyTorch and JAX')).answer, /\| Aspect \| PyTorch \| JAX \|\n\|---\|---\|---\|/);
    assert.match(personaReply(input('vLLM 和 SGLang 有什么区别？')).answer, /\| 维度 \| vLLM \| SGLang \|/);
  });

  it('mentions an attached image', () => {
    const r = personaReply({ ...input(''), messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] }] });
    assert.match(r.answer, /image you attached/);
  });

  it('produces exactly N words for long-answer:N / long-thinking:N', () => {
    assert.equal(fillerWords(137).split(/\s+/).length, 137);
    const r = personaReply(input('perf long-answer:250 long-thinking:75'));
    assert.equal(r.answer.trim().split(/\s+/).length, 250);
    assert.equal(r.thinking.trim().split(/\s+/).length, 75);
  });

  it('finds path-like tokens but not numbers or URLs', () => {
    assert.deepEqual(pathTokens('open src/extension.ts, then ./lib/ and README.md (not 9.11 or https://x.y/z.md)'),
      ['src/extension.ts', './lib/', 'README.md']);
  });

  it('continues a raw completion prompt, thinking only after a trailing <think>', () => {
    assert.match(personaCompletion('<|im_user|>user<|im_middle|>What is RAG?<|im_end|><|im_assistant|>assistant<|im_middle|><think>'),
      /^ The user asks: "What is RAG"[^]* <\/think> Here is a short answer/);
    assert.ok(!personaCompletion('What is RAG?').includes('</think>'));
  });
});

describe('vLLM emulator output plan', () => {
  it('cuts arguments deterministically and losslessly', () => {
    const args = JSON.stringify({ path: 'a "b" \\ c', n: [1, 2, 3], s: 'é🙂' });
    const pieces = cutArguments(args, 'seed');
    assert.equal(pieces.join(''), args);
    assert.deepEqual(cutArguments(args, 'seed'), pieces);
    assert.ok(pieces.length > 5);
    assert.ok(pieces.every((p) => !/[\ud800-\udbff]$/.test(p)), 'never splits a surrogate pair');
  });

  it('counts completion tokens as pieces plus the end-of-turn token', () => {
    const plan = buildOutput({ thinking: '', answer: 'one two three', toolCalls: [] },
      { reasoningParser: true, reasoningField: 'reasoning', parseToolCalls: false });
    assert.equal(plan.completionTokens, 4);
    assert.equal(plan.finishReason, 'stop');
    assert.deepEqual(plan.finalDelta, { content: '' });
    assert.equal(plan.message.content, 'one two three');
  });
});

describe('vLLM emulator vLLM spellings', () => {
  it('derives the reasoning field from the version', () => {
    assert.equal(defaultReasoningField('0.11.0'), 'reasoning_content');
    assert.equal(defaultReasoningField('v0.11.1rc1'), 'both');
    assert.equal(defaultReasoningField('0.15.9'), 'both');
    assert.equal(defaultReasoningField('0.16.0'), 'reasoning');
    assert.ok(versionAtLeast('0.10.1.1', '0.10.1'));
    assert.ok(!versionAtLeast('0.9.2', '0.10.1'));
  });

  it("writes Python's json.dumps and repr", () => {
    assert.equal(pythonJsonDumps({ error: { message: 'né "x"', param: null, code: 400, ok: true, list: [1, 'a'] } }),
      '{"error": {"message": "n\\u00e9 \\"x\\"", "param": null, "code": 400, "ok": true, "list": [1, "a"]}}');
    assert.equal(pyRepr([{ loc: new PyTuple(['body', 0]), input: { a: [true, null] }, msg: "it's" }]),
      `[{'loc': ('body', 0), 'input': {'a': [True, None]}, 'msg': "it's"}]`);
    assert.equal(pyRepr(new PyTuple(['body'])), "('body',)");
  });
});
