// Compatibility with the official `openai` SDK, the client the product and most users drive vLLM with.
import * as assert from 'node:assert/strict';
import OpenAI from 'openai';
import { TOOLS_FILES, withEmulator } from './serverHelpers';

type ReasoningDelta = { reasoning?: string | null; reasoning_content?: string | null };

describe('vLLM emulator with the openai SDK', () => {
  it('streams reasoning and content that the SDK yields chunk by chunk', async () => {
    await withEmulator({ vllmVersion: '0.16.0', servedModelName: 'kimi-k2.5' }, async (h) => {
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const models = await client.models.list();
      assert.deepEqual(models.data.map((m) => m.id), ['kimi-k2.5']);

      const stream = await client.chat.completions.create({
        model: 'kimi-k2.5',
        messages: [{ role: 'user', content: 'Write a python function for fibonacci' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let reasoning = '';
      let content = '';
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (chunk.usage) usage = chunk.usage;
        if (!choice) continue;
        const delta = choice.delta as typeof choice.delta & ReasoningDelta;
        reasoning += delta.reasoning ?? delta.reasoning_content ?? '';
        content += delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      assert.match(reasoning, /python/i);
      assert.match(content, /```python\ndef fibonacci/);
      assert.equal(finish, 'stop');
      assert.ok(usage && usage.completion_tokens > 0 && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens);

      const whole = await client.chat.completions.create({
        model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Write a python function for fibonacci' }],
      });
      const message = whole.choices[0].message as typeof whole.choices[0]['message'] & ReasoningDelta;
      assert.equal(message.content, content);
      assert.equal(message.reasoning, reasoning);
    });
  });

  it('passes chat_template_kwargs through for instant mode', async () => {
    await withEmulator({}, async (h) => {
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const params = {
        model: '/models/Kimi-K2.5',
        messages: [{ role: 'user' as const, content: 'hello' }],
        stream: true as const,
        chat_template_kwargs: { thinking: false },
      };
      const stream = await client.chat.completions.create(params);
      let sawReasoning = false;
      let content = '';
      for await (const chunk of stream) {
        const delta = (chunk.choices[0]?.delta ?? {}) as ReasoningDelta & { content?: string | null };
        if (delta.reasoning || delta.reasoning_content) sawReasoning = true;
        content += delta.content ?? '';
      }
      assert.equal(sawReasoning, false);
      assert.match(content, /^Hello!/);
      assert.deepEqual((h.requests[0].body as { chat_template_kwargs: unknown }).chat_template_kwargs, { thinking: false });
    });
  });

  it('assembles streamed tool calls (arbitrary cuts, explicit nulls) with the SDK stream helper', async () => {
    const args = { path: 'docs/ünïcode "notes".md' };
    await withEmulator({ script: [{ thinking: 'Read both.', toolCalls: [{ name: 'read_file', arguments: args }, { name: 'list_directory', arguments: { path: '.' } }] }] }, async (h) => {
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const runner = client.chat.completions.stream({
        model: '/models/Kimi-K2.5',
        messages: [{ role: 'user', content: 'x' }],
        tools: TOOLS_FILES as OpenAI.ChatCompletionTool[],
      });
      const final = await runner.finalChatCompletion();
      const choice = final.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      const calls = (choice.message.tool_calls ?? []).map((c) => (c.type === 'function' ? c : undefined));
      assert.equal(calls.length, 2);
      assert.equal(calls[0]?.id, 'functions.read_file:0');
      assert.equal(calls[0]?.type, 'function');
      assert.deepEqual(JSON.parse(calls[0]?.function.arguments ?? ''), args);
      assert.equal(calls[1]?.id, 'functions.list_directory:1');
      assert.deepEqual(JSON.parse(calls[1]?.function.arguments ?? ''), { path: '.' });
    });
  });

  it('surfaces vLLM errors as the SDK error classes', async () => {
    await withEmulator({ apiKey: 'k', maxModelLen: 100 }, async (h) => {
      const wrongKey = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'nope', maxRetries: 0 });
      await assert.rejects(wrongKey.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
      await assert.rejects(
        client.chat.completions.create({ model: '/models/Kimi-K2.5', messages: [{ role: 'user', content: 'word '.repeat(200) }] }),
        (e: unknown) => {
          assert.ok(e instanceof OpenAI.BadRequestError);
          assert.equal(e.status, 400);
          assert.match(e.message, /maximum context length is 100 tokens/);
          return true;
        },
      );
      await assert.rejects(
        client.chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'hi' }] }),
        (e: unknown) => e instanceof OpenAI.NotFoundError,
      );
    });
  });

  it('reports a connection error while the engine loads', async () => {
    await withEmulator({ startLoading: true }, async (h) => {
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      await assert.rejects(client.models.list(), (e: unknown) => e instanceof OpenAI.APIConnectionError);
      h.markReady();
      assert.equal((await client.models.list()).data.length, 1);
    });
  });
});
