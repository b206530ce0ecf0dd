// /v1/chat/completions: the SSE wire format, reasoning fields per vLLM version, thinking vs instant, the
// no-reasoning-parser form, non-streaming bodies, scripted rounds, max_tokens and pacing.
import * as assert from 'node:assert/strict';
import { deltas, finishChunk, joined, request, stream, withEmulator, type Json } from './serverHelpers';

const CHAT = '/v1/chat/completions';
const ask = (content: string, extra: Json = {}) => ({ messages: [{ role: 'user', content }], ...extra });

describe('vLLM emulator chat: streaming wire format', () => {
  it('sends compact data events: role chunk, deltas, finish chunk with stop_reason, usage chunk, [DONE]', async () => {
    await withEmulator({ servedModelName: 'kimi' }, async (h) => {
      const before = Math.floor(Date.now() / 1000);
      const r = await stream(h.url + CHAT, ask('What is a KV cache?', { model: 'kimi', stream_options: { include_usage: true } }));
      assert.equal(r.status, 200);
      assert.equal(r.contentType, 'text/event-stream; charset=utf-8');
      for (const ev of r.events) {
        assert.match(ev, /^data: \S/);
        assert.ok(!ev.includes('\n'), 'one line per event');
        if (ev !== 'data: [DONE]') assert.equal(ev.slice(6), JSON.stringify(JSON.parse(ev.slice(6))), 'compact JSON');
      }
      assert.equal(r.events[r.events.length - 1], 'data: [DONE]');
      assert.ok(r.done);

      const first = r.chunks[0];
      assert.match(first.id, /^chatcmpl-[0-9a-f]{16}$/);
      assert.deepEqual(first, {
        id: first.id, object: 'chat.completion.chunk', created: first.created, model: 'kimi',
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
      });
      assert.ok(Number.isInteger(first.created) && first.created >= before && first.created <= Date.now() / 1000 + 1);
      for (const c of r.chunks) {
        assert.equal(c.id, first.id);
        assert.equal(c.object, 'chat.completion.chunk');
        assert.equal(c.model, 'kimi');
      }

      const fin = finishChunk(r);
      assert.deepEqual(Object.keys(fin.choices[0]), ['index', 'delta', 'logprobs', 'finish_reason', 'stop_reason', 'token_ids']);
      assert.equal(fin.choices[0].finish_reason, 'stop');
      assert.equal(fin.choices[0].stop_reason, 163586);
      assert.equal(fin.choices[0].token_ids, null);

      const usage = r.chunks[r.chunks.length - 1];
      assert.deepEqual(usage.choices, []);
      assert.deepEqual(Object.keys(usage.usage), ['prompt_tokens', 'total_tokens', 'completion_tokens']);
      assert.equal(usage.usage.total_tokens, usage.usage.prompt_tokens + usage.usage.completion_tokens);
      assert.ok(usage.usage.prompt_tokens > 5);
      // Output arrives in small token-sized pieces; completion tokens count them (+ the end-of-turn token).
      const pieces = deltas(r).slice(1).filter((d) => (d.content ?? d.reasoning ?? '') !== '');
      assert.ok(pieces.length > 20);
      assert.ok(pieces.every((d) => (d.content ?? '').length <= 8 && (d.reasoning ?? '').length <= 8));
      assert.ok(usage.usage.completion_tokens >= pieces.length);
    });
  });

  it('sends no usage chunk unless include_usage is set, and usage on every chunk with continuous_usage_stats', async () => {
    await withEmulator({}, async (h) => {
      const plain = await stream(h.url + CHAT, ask('hi'));
      assert.ok(plain.chunks.every((c) => c.usage === undefined && c.choices.length === 1));
      const cont = await stream(h.url + CHAT, ask('hi', { stream_options: { include_usage: true, continuous_usage_stats: true } }));
      const withChoices = cont.chunks.filter((c) => c.choices.length);
      assert.ok(withChoices.every((c) => typeof c.usage?.completion_tokens === 'number'));
      const counts = withChoices.map((c) => c.usage.completion_tokens);
      assert.deepEqual([...counts].sort((a, b) => a - b), counts, 'completion tokens only grow');
    });
  });

  const versions: [string, string[]][] = [
    ['0.9.2', ['reasoning_content']],
    ['0.11.0', ['reasoning_content']],
    ['0.11.1', ['reasoning', 'reasoning_content']],
    ['0.15.1', ['reasoning', 'reasoning_content']],
    ['0.16.0', ['reasoning']],
    ['0.19.1', ['reasoning']],
  ];
  for (const [version, keys] of versions) {
    it(`vLLM ${version} streams reasoning in ${keys.join(' + ')}`, async () => {
      await withEmulator({ vllmVersion: version }, async (h) => {
        const r = await stream(h.url + CHAT, ask('Explain paged attention.'));
        const reasoningDeltas = deltas(r).filter((d) => 'reasoning' in d || 'reasoning_content' in d);
        assert.ok(reasoningDeltas.length > 5);
        for (const d of reasoningDeltas) {
          assert.deepEqual(Object.keys(d).filter((k) => k.startsWith('reasoning')), keys);
          if (keys.length === 2) assert.equal(d.reasoning, d.reasoning_content, 'identical text in both fields');
        }
        const text = joined(r, keys[0] as 'reasoning' | 'reasoning_content');
        assert.match(text, /paged attention/i);
        assert.ok(joined(r, 'content').length > 20);
      });
    });
  }

  it('reasoningField overrides the version default', async () => {
    await withEmulator({ vllmVersion: '0.16.0', reasoningField: 'reasoning_content' }, async (h) => {
      const r = await stream(h.url + CHAT, ask('hi'));
      assert.ok(deltas(r).some((d) => 'reasoning_content' in d));
      assert.ok(deltas(r).every((d) => !('reasoning' in d)));
    });
  });

  it('puts the last reasoning piece and the first answer piece in one chunk (a client must keep both)', async () => {
    await withEmulator({ vllmVersion: '0.16.0', script: [{ thinking: 'Think first.', answer: 'Then answer.' }] }, async (h) => {
      const r = await stream(h.url + CHAT, ask('x'));
      const both = deltas(r).filter((d) => d.reasoning !== undefined && d.content !== undefined);
      assert.equal(both.length, 1);
      assert.deepEqual(Object.keys(both[0]), ['content', 'reasoning']);
      assert.equal(joined(r, 'reasoning'), 'Think first.');
      assert.equal(joined(r, 'content'), 'Then answer.');
      const firstContent = deltas(r).findIndex((d) => d.content);
      const lastReasoning = deltas(r).map((d) => d.reasoning !== undefined).lastIndexOf(true);
      assert.equal(firstContent, lastReasoning);
    });
  });
});

describe('vLLM emulator chat: thinking, instant and no reasoning parser', () => {
  it('chat_template_kwargs.thinking=false gives no reasoning at all', async () => {
    await withEmulator({}, async (h) => {
      const r = await stream(h.url + CHAT, ask('What is vLLM?', { chat_template_kwargs: { thinking: false } }));
      assert.ok(deltas(r).every((d) => !('reasoning' in d) && !('reasoning_content' in d)));
      assert.match(joined(r, 'content'), /vLLM/);
      const whole = await request(h.url + CHAT, { body: ask('What is vLLM?', { chat_template_kwargs: { thinking: false } }) });
      assert.equal(whole.json.choices[0].message.reasoning, null);
      assert.equal(whole.json.choices[0].message.content, joined(r, 'content'));
    });
  });

  it('without --reasoning-parser the thought stays in content, ending with a split " </think> "', async () => {
    await withEmulator({ reasoningParser: false }, async (h) => {
      const r = await stream(h.url + CHAT, ask('What is vLLM?'));
      const ds = deltas(r);
      assert.ok(ds.every((d) => !('reasoning' in d) && !('reasoning_content' in d)));
      const content = joined(r, 'content');
      assert.ok(!content.includes('<think>'), 'no opening tag: the prompt already ended with it');
      assert.equal(content.split(' </think> ').length, 2, 'exactly one " </think> " with its spaces');
      const [thought, answer] = content.split(' </think> ');
      assert.match(thought, /vLLM/);
      assert.ok(answer.length > 20 && !answer.startsWith(' '));
      const i = ds.findIndex((d) => d.content?.endsWith('</th'));
      assert.ok(i > 0, 'the closing tag starts in one delta');
      assert.ok(ds[i + 1].content.startsWith('ink>'), '… and ends in the next');
      const whole = await request(h.url + CHAT, { body: ask('What is vLLM?') });
      assert.equal(whole.json.choices[0].message.content, content);
      assert.equal(whole.json.choices[0].message.reasoning, null);
    });
  });

  it('without --reasoning-parser in instant mode content is just the answer', async () => {
    await withEmulator({ reasoningParser: false, script: [{ thinking: 'ignored', answer: 'Plain answer.' }] }, async (h) => {
      const r = await stream(h.url + CHAT, ask('x', { chat_template_kwargs: { thinking: false } }));
      assert.equal(joined(r, 'content'), 'Plain answer.');
    });
  });

  it('scripted thinking and answer come back verbatim; without the parser they join around " </think> "', async () => {
    const script = [{ thinking: 'Step one.\nStep two.', answer: '**Done.**' }];
    await withEmulator({ script }, async (h) => {
      const r = await stream(h.url + CHAT, ask('go'));
      assert.equal(joined(r, 'reasoning'), 'Step one.\nStep two.');
      assert.equal(joined(r, 'content'), '**Done.**');
    });
    await withEmulator({ script, reasoningParser: false }, async (h) => {
      const r = await stream(h.url + CHAT, ask('go'));
      assert.equal(joined(r, 'content'), 'Step one.\nStep two. </think> **Done.**');
    });
  });
});

describe('vLLM emulator chat: non-streaming', () => {
  const MESSAGE_KEYS = ['role', 'content', 'refusal', 'annotations', 'audio', 'function_call', 'tool_calls'];
  const cases: [string, string[]][] = [['0.10.0', ['reasoning_content']], ['0.15.1', ['reasoning', 'reasoning_content']], ['0.16.0', ['reasoning']]];
  for (const [version, reasoningKeys] of cases) {
    it(`returns a chat.completion with every vLLM field (vLLM ${version})`, async () => {
      await withEmulator({ vllmVersion: version, servedModelName: 'kimi' }, async (h) => {
        const { status, json } = await request(h.url + CHAT, { body: ask('什么是大模型？') });
        assert.equal(status, 200);
        assert.deepEqual(Object.keys(json), ['id', 'object', 'created', 'model', 'choices', 'service_tier',
          'system_fingerprint', 'usage', 'prompt_logprobs', 'prompt_token_ids', 'kv_transfer_params']);
        assert.match(json.id, /^chatcmpl-[0-9a-f]{16}$/);
        assert.equal(json.object, 'chat.completion');
        assert.equal(json.model, 'kimi');
        for (const k of ['service_tier', 'system_fingerprint', 'prompt_logprobs', 'prompt_token_ids', 'kv_transfer_params']) {
          assert.equal(json[k], null, k);
        }
        const choice = json.choices[0];
        assert.deepEqual(Object.keys(choice), ['index', 'message', 'logprobs', 'finish_reason', 'stop_reason', 'token_ids']);
        assert.equal(choice.finish_reason, 'stop');
        assert.equal(choice.stop_reason, 163586);
        assert.equal(choice.token_ids, null);
        const m = choice.message;
        assert.deepEqual(Object.keys(m), [...MESSAGE_KEYS, ...reasoningKeys]);
        assert.equal(m.role, 'assistant');
        assert.deepEqual(m.tool_calls, []);
        for (const k of ['refusal', 'annotations', 'audio', 'function_call']) assert.equal(m[k], null);
        const reasoning = m[reasoningKeys[0]];
        assert.match(reasoning, /[\u4e00-\u9fff]/, 'thinks in the language of the question');
        if (reasoningKeys.length === 2) assert.equal(m.reasoning, m.reasoning_content);
        assert.ok(reasoning.startsWith(' ') && reasoning.endsWith(' '), 'K2.5 reasoning is wrapped in spaces');
        assert.match(m.content, /大模型/);
        assert.deepEqual(Object.keys(json.usage), ['prompt_tokens', 'total_tokens', 'completion_tokens', 'prompt_tokens_details']);
        assert.equal(json.usage.total_tokens, json.usage.prompt_tokens + json.usage.completion_tokens);
      });
    });
  }

  it('streams exactly what the non-streaming body says (deterministic persona)', async () => {
    await withEmulator({}, async (h) => {
      const body = ask('Compare Rust vs Go for a CLI tool.');
      const whole = (await request(h.url + CHAT, { body })).json;
      const r = await stream(h.url + CHAT, { ...body, stream_options: { include_usage: true } });
      assert.equal(joined(r, 'content'), whole.choices[0].message.content);
      assert.equal(joined(r, 'reasoning'), whole.choices[0].message.reasoning);
      assert.deepEqual(r.chunks[r.chunks.length - 1].usage, {
        prompt_tokens: whole.usage.prompt_tokens, total_tokens: whole.usage.total_tokens, completion_tokens: whole.usage.completion_tokens,
      });
      assert.match(whole.choices[0].message.content, /\| Aspect \| Rust \| Go \|/);
    });
  });
});

describe('vLLM emulator chat: scripts, max_tokens, pacing', () => {
  it('consumes scripted rounds in order, honours match, falls back to the persona, and setScript replaces', async () => {
    await withEmulator({ script: [{ answer: 'one' }, { match: 'weather', answer: 'sunny' }, { answer: 'three' }] }, async (h) => {
      const text = async (q: string) => (await request(h.url + CHAT, { body: ask(q, { chat_template_kwargs: { thinking: false } }) }))
        .json.choices[0].message.content as string;
      assert.equal(await text('anything'), 'one');
      const persona = await text('What is a tensor?');
      assert.ok(persona !== 'sunny' && /tensor/.test(persona), 'no match: the persona answers and the round waits');
      assert.equal(await text('How is the WEATHER?'), 'sunny');
      assert.equal(await text('anything'), 'three');
      assert.match(await text('What is a tensor?'), /tensor/, 'script exhausted: the persona again');
      h.setScript([{ answer: 'replaced' }]);
      assert.equal(await text('x'), 'replaced');
    });
  });

  it('matches a round against the last tool message too', async () => {
    await withEmulator({ script: [{ match: '^42$', answer: 'The answer is 42.' }] }, async (h) => {
      const messages = [
        { role: 'user', content: 'add 40 and 2' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'functions.add:0', type: 'function', function: { name: 'add', arguments: '{"a":40,"b":2}' } }] },
        { role: 'tool', tool_call_id: 'functions.add:0', content: '42' },
      ];
      const { json } = await request(h.url + CHAT, { body: { messages } });
      assert.equal(json.choices[0].message.content, 'The answer is 42.');
    });
  });

  it('stops at max_tokens with finish_reason length and no stop_reason', async () => {
    await withEmulator({}, async (h) => {
      const r = await stream(h.url + CHAT, ask('long-answer:200', { max_tokens: 10, stream_options: { include_usage: true } }));
      const fin = finishChunk(r).choices[0];
      assert.equal(fin.finish_reason, 'length');
      assert.equal(fin.stop_reason, null);
      assert.equal(r.chunks[r.chunks.length - 1].usage.completion_tokens, 10);
      const whole = await request(h.url + CHAT, { body: ask('long-answer:200', { max_completion_tokens: 10 }) });
      assert.equal(whole.json.choices[0].finish_reason, 'length');
      assert.equal(whole.json.usage.completion_tokens, 10);
      const scripted = await withEmulator({ script: [{ answer: 'cut', finishReason: 'length' }] }, (h2) =>
        request(h2.url + CHAT, { body: ask('x') }));
      assert.equal(scripted.json.choices[0].finish_reason, 'length');
    });
  });

  it('without max_tokens runs to the end of the context, then stops with length', async () => {
    await withEmulator({ maxModelLen: 300 }, async (h) => {
      const messages = [{ role: 'user', content: 'long-answer:1000' }];
      const prompt = (await request(`${h.url}/tokenize`, { body: { messages } })).json.count as number;
      const { json } = await request(h.url + CHAT, { body: { messages } });
      assert.equal(json.choices[0].finish_reason, 'length');
      assert.equal(json.usage.prompt_tokens, prompt);
      assert.equal(json.usage.completion_tokens, 300 - prompt);
    });
  });

  it('long-answer:N and long-thinking:N produce N words', async () => {
    await withEmulator({}, async (h) => {
      const { json } = await request(h.url + CHAT, { body: ask('long-answer:300 long-thinking:120') });
      assert.equal(json.choices[0].message.content.trim().split(/\s+/).length, 300);
      assert.equal(json.choices[0].message.reasoning.trim().split(/\s+/).length, 120);
    });
  });

  it('honours ttftMs before the first token (lower bound only)', async () => {
    await withEmulator({ ttftMs: 300, script: [{ answer: 'Quick.' }] }, async (h) => {
      const r = await stream(h.url + CHAT, ask('x'));
      const firstContent = r.chunks.findIndex((c) => c.choices[0]?.delta?.content);
      assert.ok(r.times[0] >= 300, `role chunk at ${r.times[0]} ms`);
      assert.ok(r.times[firstContent] >= 300);
      const t0 = Date.now();
      await request(h.url + CHAT, { body: ask('y') });
      assert.ok(Date.now() - t0 >= 300, 'non-streaming waits too');
    });
  });

  it('paces output at tokensPerSecond (lower bound only)', async () => {
    await withEmulator({ tokensPerSecond: 100, script: [{ answer: 'one two three four five six seven eight nine ten eleven twelve' }] }, async (h) => {
      const r = await stream(h.url + CHAT, ask('x', { stream_options: { include_usage: true } }));
      const completion = r.chunks[r.chunks.length - 1].usage.completion_tokens;
      assert.equal(completion, 13); // 12 words + the end-of-turn token
      const fin = r.chunks.findIndex((c) => c.choices[0]?.finish_reason);
      // token k (0-based) is due at k * 10 ms; the finish chunk follows the last one.
      assert.ok(r.times[fin] >= (completion - 1) * 10, `finished after ${r.times[fin]} ms`);
      const contentTimes = r.chunks.map((c, i) => (c.choices[0]?.delta?.content ? r.times[i] : -1)).filter((t) => t >= 0);
      assert.ok(contentTimes[contentTimes.length - 1] - contentTimes[0] >= 10 * (contentTimes.length - 1) - 5);
    });
  });
});
