// POST /v1/completions (raw prompt in, raw text out), shaped like the seed transcript's real response.
import * as assert from 'node:assert/strict';
import { request, stream, withEmulator } from './serverHelpers';

const COMPLETIONS = '/v1/completions';

describe('vLLM emulator completions', () => {
  it('returns a text_completion body with every field vLLM sends', async () => {
    await withEmulator({ model: '/root/autodl-fs/moonshotai/Kimi-K2.5' }, async (h) => {
      const { status, json } = await request(h.url + COMPLETIONS, {
        body: { model: '/root/autodl-fs/moonshotai/Kimi-K2.5', prompt: '我想问你，什么是深度学习算法？<think>\n', max_tokens: 1024, temperature: 0 },
      });
      assert.equal(status, 200);
      assert.deepEqual(Object.keys(json), ['id', 'object', 'created', 'model', 'choices', 'service_tier', 'system_fingerprint', 'usage', 'kv_transfer_params']);
      assert.match(json.id, /^cmpl-[0-9a-f]{16}$/);
      assert.equal(json.object, 'text_completion');
      assert.equal(json.model, '/root/autodl-fs/moonshotai/Kimi-K2.5');
      const choice = json.choices[0];
      assert.deepEqual(Object.keys(choice), ['index', 'text', 'logprobs', 'finish_reason', 'stop_reason', 'token_ids', 'prompt_logprobs', 'prompt_token_ids']);
      assert.equal(choice.finish_reason, 'stop');
      assert.equal(choice.stop_reason, 163586);
      // The prompt ended with <think>: the model thinks, closes with " </think> ", then answers.
      assert.equal(choice.text.split(' </think> ').length, 2);
      assert.match(choice.text, /深度学习/);
      assert.deepEqual(Object.keys(json.usage), ['prompt_tokens', 'total_tokens', 'completion_tokens', 'prompt_tokens_details']);
      assert.equal(json.usage.total_tokens, json.usage.prompt_tokens + json.usage.completion_tokens);
      assert.equal(json.kv_transfer_params, null);
    });
  });

  it('defaults max_tokens to 16 like the OpenAI completions API', async () => {
    await withEmulator({}, async (h) => {
      const { json } = await request(h.url + COMPLETIONS, { body: { prompt: 'Explain tensors in detail.' } });
      assert.equal(json.choices[0].finish_reason, 'length');
      assert.equal(json.choices[0].stop_reason, null);
      assert.equal(json.usage.completion_tokens, 16);
    });
  });

  it('streams text chunks with usage null, a finish chunk, the usage chunk and [DONE]', async () => {
    await withEmulator({ script: [{ answer: 'Once upon a time there was a tensor.' }] }, async (h) => {
      const r = await stream(h.url + COMPLETIONS, { prompt: 'Tell a story', max_tokens: 100, stream_options: { include_usage: true } });
      assert.equal(r.events[r.events.length - 1], 'data: [DONE]');
      const body = r.chunks.slice(0, -1);
      for (const c of body) {
        assert.deepEqual(Object.keys(c), ['id', 'object', 'created', 'model', 'choices', 'usage']);
        assert.equal(c.object, 'text_completion');
        assert.equal(c.usage, null);
        assert.deepEqual(Object.keys(c.choices[0]), ['index', 'text', 'logprobs', 'finish_reason', 'stop_reason']);
      }
      assert.equal(body.map((c) => c.choices[0].text).join(''), 'Once upon a time there was a tensor.');
      const last = body[body.length - 1].choices[0];
      assert.equal(last.finish_reason, 'stop');
      assert.equal(last.stop_reason, 163586);
      const usage = r.chunks[r.chunks.length - 1];
      assert.deepEqual(usage.choices, []);
      assert.deepEqual(Object.keys(usage.usage), ['prompt_tokens', 'total_tokens', 'completion_tokens']);
    });
  });

  it('validates the prompt and the context like chat does', async () => {
    await withEmulator({ maxModelLen: 50 }, async (h) => {
      const missing = await request(h.url + COMPLETIONS, { body: { max_tokens: 5 } });
      assert.equal(missing.status, 400);
      assert.match(missing.json.error.message, /\('body', 'prompt'\)/);
      const long = await request(h.url + COMPLETIONS, { body: { prompt: 'word '.repeat(100), max_tokens: 10 } });
      assert.equal(long.status, 400);
      assert.match(long.json.error.message, /you requested 10 output tokens and your prompt contains at least 41 input tokens/);
      const ids = await request(h.url + COMPLETIONS, { body: { prompt: [1, 2, 3], max_tokens: 3 } });
      assert.equal(ids.status, 200);
      assert.equal(ids.json.usage.prompt_tokens, 3);
    });
  });
});
