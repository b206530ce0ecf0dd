// Environment knobs of the fake `vllm` (documented in docs/… by the lead; the list lives here):
//   KIMI_FAKE_VLLM_VERSION         vLLM version to impersonate (default 0.15.1)
//   KIMI_FAKE_VLLM_FAIL            kv-cache | no-cache-blocks | oom | engine-init | not-installed (the shim)
//   KIMI_FAKE_VLLM_SHARD_MS        real milliseconds per checkpoint shard (default 20)
//   KIMI_FAKE_VLLM_PHASE_MS        real milliseconds per other startup phase (default 50)
//   KIMI_FAKE_VLLM_REAL_TIMES=1    print actual elapsed times instead of real-scale simulated ones
//   KIMI_FAKE_VLLM_IGNORE_SIGTERM=1 ignore SIGINT/SIGTERM (server and workers): only SIGKILL stops it
//   KIMI_FAKE_VLLM_KV_GIB          force "Available KV cache memory" per GPU (GiB)
//   KIMI_FAKE_VLLM_SCRIPT          JSON file with ScriptedRound[] for the emulator
//   KIMI_FAKE_VLLM_TTFT_MS / KIMI_FAKE_VLLM_TPS   emulator generation speed
//   KIMI_FAKE_VLLM_STATS_MS        interval of the `Engine 000: …` stats line (default 10000, vLLM's)
// Real vLLM/environment variables it honours: VLLM_API_KEY, VLLM_USE_MODELSCOPE, VLLM_ALLOW_LONG_MAX_MODEL_LEN,
// CUDA_VISIBLE_DEVICES, NO_COLOR, MODELSCOPE_CACHE, HF_HOME.
import * as fs from 'node:fs';
import type { ScriptedRound } from '../types';
import { DEFAULT_VERSION } from './version';

export type FailMode = 'kv-cache' | 'no-cache-blocks' | 'oom' | 'engine-init' | 'not-installed';
const FAIL_MODES: FailMode[] = ['kv-cache', 'no-cache-blocks', 'oom', 'engine-init', 'not-installed'];

export interface Settings {
  version: string;
  fail: FailMode | null;
  shardMs: number;
  phaseMs: number;
  realTimes: boolean;
  ignoreSignals: boolean;
  kvGiB: number | null;
  script: ScriptedRound[] | undefined;
  ttftMs: number | undefined;
  tokensPerSecond: number | undefined;
  statsIntervalMs: number | undefined;
}

function numberEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const fail = (env.KIMI_FAKE_VLLM_FAIL ?? '').trim();
  let script: ScriptedRound[] | undefined;
  if (env.KIMI_FAKE_VLLM_SCRIPT) {
    script = JSON.parse(fs.readFileSync(env.KIMI_FAKE_VLLM_SCRIPT, 'utf8')) as ScriptedRound[];
  }
  return {
    version: env.KIMI_FAKE_VLLM_VERSION?.trim() || DEFAULT_VERSION,
    fail: (FAIL_MODES as string[]).includes(fail) ? (fail as FailMode) : null,
    shardMs: Math.max(0, numberEnv(env, 'KIMI_FAKE_VLLM_SHARD_MS') ?? 20),
    phaseMs: Math.max(0, numberEnv(env, 'KIMI_FAKE_VLLM_PHASE_MS') ?? 50),
    realTimes: env.KIMI_FAKE_VLLM_REAL_TIMES === '1',
    ignoreSignals: env.KIMI_FAKE_VLLM_IGNORE_SIGTERM === '1',
    kvGiB: numberEnv(env, 'KIMI_FAKE_VLLM_KV_GIB') ?? null,
    script,
    ttftMs: numberEnv(env, 'KIMI_FAKE_VLLM_TTFT_MS'),
    tokensPerSecond: numberEnv(env, 'KIMI_FAKE_VLLM_TPS'),
    statsIntervalMs: numberEnv(env, 'KIMI_FAKE_VLLM_STATS_MS'),
  };
}
