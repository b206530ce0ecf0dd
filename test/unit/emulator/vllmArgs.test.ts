// In-process tests of the fake vLLM's argument parser, number formatting and memory arithmetic.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArgparseExit, humanReadableInt, nonDefaultArgs, parseServeArgs } from '../../emulator/vllm/args';
import { serveConfig } from '../../emulator/vllm/config';
import { KIMI, estimateMaxModelLen, neededBytes, planKv } from '../../emulator/vllm/memory';
import { barLine, completedLine } from '../../emulator/vllm/progress';
import { PyFloat, pyFixed, pyFloat, pyRepr, pyRound, pyStr, pyThousands } from '../../emulator/vllm/pyrepr';

function argparseError(fn: () => unknown): ArgparseExit {
  try {
    fn();
  } catch (e) {
    if (e instanceof ArgparseExit) return e;
    throw e;
  }
  assert.fail('expected an argparse error');
}

describe('fake vllm: argument parsing', () => {
  it('accepts the seed tutorial command (underscore flags, -tp) and logs the non-default args like vLLM', () => {
    const parsed = parseServeArgs([
      '/root/autodl-fs/moonshotai/Kimi-K2.5', '-tp', '8', '--max_model_len', '8192', '--trust-remote-code',
      '--tool-call-parser', 'kimi_k2', '--reasoning-parser', 'kimi_k2',
    ]);
    assert.equal(
      pyRepr(nonDefaultArgs(parsed.values)),
      "{'model_tag': '/root/autodl-fs/moonshotai/Kimi-K2.5', 'tool_call_parser': 'kimi_k2', " +
        "'model': '/root/autodl-fs/moonshotai/Kimi-K2.5', 'trust_remote_code': True, 'max_model_len': 8192, " +
        "'reasoning_parser': 'kimi_k2', 'tensor_parallel_size': 8}",
    );
    const cfg = serveConfig(parsed.values);
    assert.equal(cfg.tp, 8);
    assert.equal(cfg.maxModelLen, 8192);
    assert.equal(cfg.host, null, 'no --host: vLLM binds every interface (logged as 0.0.0.0)');
    assert.equal(cfg.port, 8000);
  });

  it('accepts --flag=value, -tp=8, -tp8, abbreviations, and the last occurrence wins', () => {
    const cfg = serveConfig(parseServeArgs(['m', '--port=9000', '-tp=4', '-pp2', '--gpu_memory_utilization=0.85', '--port', '9001', '--max-num-seq', '16']).values);
    assert.equal(cfg.port, 9001);
    assert.equal(cfg.tp, 4);
    assert.equal(cfg.pp, 2);
    assert.equal(cfg.gpuMemoryUtilization, 0.85);
    assert.equal(cfg.maxNumSeqs, 16);
  });

  it('parses 100K-style lengths like vllm human_readable_int (k = 1000, K = 1024)', () => {
    assert.equal(humanReadableInt('100K'), 102400);
    assert.equal(humanReadableInt('128k'), 128000);
    assert.equal(humanReadableInt('1M'), 1048576);
    assert.equal(humanReadableInt('1m'), 1000000);
    assert.equal(humanReadableInt('25.6k'), 25600);
    assert.equal(humanReadableInt('8192'), 8192);
    assert.equal(serveConfig(parseServeArgs(['m', '--max-model-len', '100K']).values).maxModelLen, 102400);
    assert.equal(serveConfig(parseServeArgs(['m', '--max-model-len', 'auto']).values).maxModelLen, -1);
    const e = argparseError(() => parseServeArgs(['m', '--max-model-len', '1.5K']));
    assert.deepEqual(e.stderr, [
      'usage: vllm serve [model_tag] [options]',
      'vllm serve: error: argument --max-model-len: Decimals are not allowed with binary suffixes like K. Did you mean to use 1.5k instead?',
    ]);
  });

  it('rejects --enable-reasoning (removed in 0.10) with argparse\'s top-level "unrecognized arguments", exit 2', () => {
    const e = argparseError(() => parseServeArgs(['m', '--enable-reasoning', '--reasoning-parser', 'kimi_k2']));
    assert.equal(e.code, 2);
    assert.deepEqual(e.stderr, [
      'usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...',
      'vllm: error: unrecognized arguments: --enable-reasoning',
    ]);
    assert.equal(argparseError(() => parseServeArgs(['m', 'extra'])).stderr[1], 'vllm: error: unrecognized arguments: extra');
  });

  it('reports type errors, invalid choices and missing values like the vllm serve sub-parser', () => {
    assert.equal(
      argparseError(() => parseServeArgs(['m', '--distributed-executor-backend', 'x'])).stderr[1],
      "vllm serve: error: argument --distributed-executor-backend: invalid choice: 'x' (choose from 'ray', 'mp', 'uni', 'external_launcher')",
    );
    assert.equal(argparseError(() => parseServeArgs(['m', '-tp', 'eight'])).stderr[1], "vllm serve: error: argument -tp/--tensor-parallel-size: invalid int value: 'eight'");
    assert.equal(argparseError(() => parseServeArgs(['m', '--port'])).stderr[1], 'vllm serve: error: argument --port: expected one argument');
    assert.equal(
      argparseError(() => parseServeArgs(['m', '--limit-mm-per-prompt', 'image=2'])).stderr[1],
      "vllm serve: error: argument --limit-mm-per-prompt: invalid loads value: 'image=2'",
    );
    assert.equal(
      argparseError(() => parseServeArgs(['m', '--trust-remote-code=true'])).stderr[1],
      "vllm serve: error: argument --trust-remote-code/--no-trust-remote-code: ignored explicit argument 'true'",
    );
  });

  it('moves --model to the positional slot with vLLM\'s warning; booleans have --no- forms; JSON options parse', () => {
    const parsed = parseServeArgs(['--model', 'moonshotai/Kimi-K2.5', '--no-enable-prefix-caching', '--limit-mm-per-prompt', '{"image": 2, "video": 0}', '--enable-expert-parallel', '--headless']);
    assert.equal(parsed.values.get('model'), 'moonshotai/Kimi-K2.5');
    assert.match(parsed.warnings[0].message, /^With `vllm serve`, you should provide the model as a positional argument/);
    const cfg = serveConfig(parsed.values);
    assert.equal(cfg.enablePrefixCaching, false);
    assert.equal(cfg.enableExpertParallel, true);
    assert.equal(cfg.headless, true);
    assert.equal(pyRepr(parsed.values.get('limit_mm_per_prompt')!), "{'image': 2, 'video': 0}");
  });

  it('folds dotted JSON options and reads --config YAML files (command line wins)', () => {
    const dotted = parseServeArgs(['m', '--compilation_config.pass_config.fuse_allreduce_rms', 'true']);
    assert.equal(pyRepr(dotted.values.get('compilation_config')!), "{'pass_config': {'fuse_allreduce_rms': True}}");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vllm-cfg-'));
    const file = path.join(dir, 'k25.yaml');
    fs.writeFileSync(file, 'model: "/data/models/Kimi-K25/"\ntensor-parallel-size: 8\nmax-model-len: 38000\ntrust-remote-code: true\nport: 9000\n');
    try {
      const cfg = serveConfig(parseServeArgs(['--config', file, '--port', '9100']).values);
      assert.equal(cfg.model, '/data/models/Kimi-K25/');
      assert.equal(cfg.tp, 8);
      assert.equal(cfg.maxModelLen, 38000);
      assert.equal(cfg.trustRemoteCode, true);
      assert.equal(cfg.port, 9100);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints --help instead of parsing further', () => {
    assert.equal(parseServeArgs(['m', '--help', '--bogus']).help, '');
    assert.equal(parseServeArgs(['--help=ModelConfig']).help, 'ModelConfig');
  });
});

describe('fake vllm: Python number formatting', () => {
  it('reprs like CPython', () => {
    assert.equal(pyFloat(0.9), '0.9');
    assert.equal(pyFloat(1), '1.0');
    assert.equal(pyFloat(1e-7), '1e-07');
    assert.equal(pyRound(139.80468, 2), '139.8');
    assert.equal(pyRound(126.3603, 2), '126.36');
    assert.equal(pyStr("it's"), '"it\'s"');
    assert.equal(pyRepr({ a: [true, null, new PyFloat(4)] }), "{'a': [True, None, 4.0]}");
    assert.equal(pyFixed(12.5, 0), '12', 'format() rounds exact ties to even');
    assert.equal(pyFixed(13.5, 0), '14');
    assert.equal(pyThousands(3522400), '3,522,400');
  });

  it('renders tqdm lines as vLLM prints them', () => {
    assert.equal(
      completedLine('Loading safetensors checkpoint shards', 1, 64, 5, 4.93),
      'Loading safetensors checkpoint shards:   2% Completed | 1/64 [00:05<05:10,  4.93s/it]',
    );
    assert.equal(completedLine('Loading safetensors checkpoint shards', 0, 64, 0, null), 'Loading safetensors checkpoint shards:   0% Completed | 0/64 [00:00<?, ?it/s]');
    assert.equal(completedLine('x', 46, 86, 5464, 130.23), 'x:  53% Completed | 46/86 [1:31:04<1:26:49, 130.23s/it]');
    assert.equal(barLine('Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)', 51, 51, 5.6, 0.11), 'Capturing CUDA graphs (mixed prefill-decode, PIECEWISE): 100%|██████████| 51/51 [00:05<00:00,  9.09it/s]');
  });
});

describe('fake vllm: KV cache arithmetic', () => {
  const base = { totalGiB: 143771 / 1024, utilization: 0.9, tp: 8, pp: 1, kvCacheDtype: 'auto', blockSize: null, kvCacheMemoryBytes: null, kvGiBOverride: null, fail: null };

  it('sizes the KV cache of Kimi-K2.5 on 8×H200 consistently (tokens = whole blocks, concurrency = tokens / len)', () => {
    const plan = planKv(base);
    assert.equal(plan.tokens % KIMI.defaultBlockSize, 0);
    assert.ok(plan.tokens * plan.bytesPerBlock / plan.blockSize <= plan.kvBytes);
    assert.ok(neededBytes(plan, KIMI.nativeMaxLen) <= plan.kvBytes, 'the full 262144 context fits at 0.9 on H200');
  });

  it('kv-cache mode leaves room for less than the native context, and the estimate itself fits', () => {
    const plan = planKv({ ...base, fail: 'kv-cache' });
    const estimate = estimateMaxModelLen(plan);
    assert.ok(estimate < KIMI.nativeMaxLen);
    assert.ok(neededBytes(plan, KIMI.nativeMaxLen) > plan.kvBytes);
    assert.ok(neededBytes(plan, estimate) <= plan.kvBytes);
    assert.ok(neededBytes(plan, estimate + 1) > plan.kvBytes);
  });

  it('8×H100 cannot hold the weights plus a KV cache (no cache blocks)', () => {
    assert.ok(planKv({ ...base, totalGiB: 81559 / 1024 }).kvBytes <= 0);
  });
});
