// GET /metrics: Prometheus exposition as vLLM's prometheus_client prints it, and values that move with the traffic.
import * as assert from 'node:assert/strict';
import { parseMetrics, request, sseEvents, withEmulator } from './serverHelpers';

const CHAT = '/v1/chat/completions';
const L = '{engine="0",model_name="kimi"}';

describe('vLLM emulator metrics', () => {
  it('exposes gauges, _total counters and histograms with HELP/TYPE lines and vLLM labels', async () => {
    await withEmulator({ servedModelName: 'kimi' }, async (h) => {
      const r = await request(`${h.url}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = r.text;
      for (const [name, type] of [
        ['vllm:num_requests_running', 'gauge'], ['vllm:num_requests_waiting', 'gauge'], ['vllm:kv_cache_usage_perc', 'gauge'],
        ['vllm:prompt_tokens_total', 'counter'], ['vllm:generation_tokens_total', 'counter'],
        ['vllm:request_success_total', 'counter'], ['vllm:num_preemptions_total', 'counter'],
        ['vllm:prefix_cache_queries_total', 'counter'], ['vllm:prefix_cache_hits_total', 'counter'],
        ['vllm:time_to_first_token_seconds', 'histogram'], ['vllm:inter_token_latency_seconds', 'histogram'],
        ['vllm:e2e_request_latency_seconds', 'histogram'], ['vllm:request_queue_time_seconds', 'histogram'],
      ]) {
        assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
        assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
      }
      assert.ok(text.includes(`vllm:num_requests_running${L} 0.0\n`));
      for (const reason of ['stop', 'length']) {
        assert.ok(text.includes(`vllm:request_success_total{engine="0",finished_reason="${reason}",model_name="kimi"} 0.0\n`), reason);
      }
      assert.ok(text.includes('vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="kimi"} 0.0\n'));
      assert.ok(text.includes('vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="kimi"} 0.0\n'));
      assert.ok(text.includes(`vllm:e2e_request_latency_seconds_count${L} 0.0\n`));
      assert.ok(text.includes(`vllm:e2e_request_latency_seconds_sum${L} 0.0\n`));
      assert.ok(!text.includes('gpu_cache_usage_perc'));
      // Every sample line is `name{labels} value`.
      for (const line of text.trim().split('\n').filter((l) => !l.startsWith('#'))) {
        assert.match(line, /^vllm:[a-z0-9_:]+\{[^}]*\} (?:[0-9.e+-]+|\+Inf)$/, line);
      }
    });
  });

  it('names the KV gauge vllm:gpu_cache_usage_perc before vLLM 0.9', async () => {
    await withEmulator({ vllmVersion: '0.8.5' }, async (h) => {
      const text = (await request(`${h.url}/metrics`)).text;
      assert.match(text, /^# TYPE vllm:gpu_cache_usage_perc gauge$/m);
      assert.ok(!text.includes('kv_cache_usage_perc'));
    });
  });

  it('counts tokens, successes and latencies as requests are served', async () => {
    await withEmulator({ servedModelName: 'kimi' }, async (h) => {
      const before = parseMetrics((await request(`${h.url}/metrics`)).text);
      const chat = (await request(h.url + CHAT, { body: { messages: [{ role: 'user', content: 'What is a GPU?' }] } })).json;
      const cut = (await request(h.url + CHAT, { body: { messages: [{ role: 'user', content: 'long-answer:100' }], max_tokens: 5 } })).json;
      const after = parseMetrics((await request(`${h.url}/metrics`)).text);
      const delta = (k: string) => (after.get(k) ?? NaN) - (before.get(k) ?? NaN);
      assert.equal(delta(`vllm:prompt_tokens_total${L}`), chat.usage.prompt_tokens + cut.usage.prompt_tokens);
      assert.equal(delta(`vllm:generation_tokens_total${L}`), chat.usage.completion_tokens + cut.usage.completion_tokens);
      assert.equal(delta('vllm:request_success_total{engine="0",finished_reason="stop",model_name="kimi"}'), 1);
      assert.equal(delta('vllm:request_success_total{engine="0",finished_reason="length",model_name="kimi"}'), 1);
      assert.equal(delta(`vllm:time_to_first_token_seconds_count${L}`), 2);
      assert.equal(delta(`vllm:e2e_request_latency_seconds_count${L}`), 2);
      assert.equal(delta(`vllm:request_queue_time_seconds_count${L}`), 2);
      assert.ok(delta(`vllm:inter_token_latency_seconds_count${L}`) > 10);
      assert.equal(delta(`vllm:prefix_cache_queries_total${L}`), delta(`vllm:prompt_tokens_total${L}`));
      assert.equal(after.get(`vllm:num_requests_running${L}`), 0);
    });
  });

  it('shows a running request and KV usage during a slow stream, and both back at 0 after', async () => {
    await withEmulator({ servedModelName: 'kimi', tokensPerSecond: 100 }, async (h) => {
      const res = await fetch(h.url + CHAT, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'long-answer:20' }], stream: true }),
      });
      const events = sseEvents(res);
      await events.next();
      const during = parseMetrics((await request(`${h.url}/metrics`)).text);
      assert.equal(during.get(`vllm:num_requests_running${L}`), 1);
      assert.ok((during.get(`vllm:kv_cache_usage_perc${L}`) ?? 0) > 0);
      for await (const ev of events) void ev; // drain to the end
      const after = parseMetrics((await request(`${h.url}/metrics`)).text);
      assert.equal(after.get(`vllm:num_requests_running${L}`), 0);
      assert.equal(after.get(`vllm:kv_cache_usage_perc${L}`), 0);
    });
  });

  it('counts prefix cache hits when a conversation is continued', async () => {
    await withEmulator({ servedModelName: 'kimi' }, async (h) => {
      const messages = [
        { role: 'system', content: 'You are a helpful assistant. '.repeat(20) },
        { role: 'user', content: 'Tell me about caches.' },
      ];
      const first = (await request(h.url + CHAT, { body: { messages } })).json;
      const before = parseMetrics((await request(`${h.url}/metrics`)).text);
      assert.equal(before.get(`vllm:prefix_cache_hits_total${L}`), 0);
      messages.push({ role: 'assistant', content: first.choices[0].message.content }, { role: 'user', content: 'And prefix caching?' });
      await request(h.url + CHAT, { body: { messages } });
      const after = parseMetrics((await request(`${h.url}/metrics`)).text);
      const hits = after.get(`vllm:prefix_cache_hits_total${L}`) ?? 0;
      assert.ok(hits >= 100, `hits ${hits}`);
      assert.equal(hits % 16, 0, 'whole blocks only');
    });
  });
});
