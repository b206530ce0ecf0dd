// Environment of the fake `modelscope`. KIMI_FAKE_MODELSCOPE_* steer the fake; MODELSCOPE_CACHE,
// MODELSCOPE_DOMAIN, DEFAULT_MAX_WORKERS and PYTHONUNBUFFERED mean what they mean to the real tool.
import * as os from 'node:os';
import * as path from 'node:path';
import { KIMI_K25_FILES } from './repo';

export type FailureMode = 'none' | 'disk-full' | 'network-drop' | 'unknown-model';

export interface FakeHubConfig {
  /** Real bytes per byte on disk for large files. */
  scale: number;
  /** Download speed in real-scale bytes per second, shared by all parallel downloads. */
  bytesPerSec: number;
  failure: FailureMode;
  /** Real-scale bytes downloaded in this run before a disk-full / network-drop failure; null → half the run. */
  failAfterBytes: number | null;
  /** Endpoint from $MODELSCOPE_DOMAIN (the real override), else the cn site first. */
  domain: string | null;
  /** $MODELSCOPE_CACHE or ~/.cache/modelscope/hub. */
  cacheHome: string;
  /** PYTHONUNBUFFERED set: stdout is written through even into a pipe. */
  unbufferedStdout: boolean;
}

export class FakeConfigError extends Error {}

/** The whole model in about two seconds. */
const DEFAULT_BYTES_PER_SEC = Math.round(KIMI_K25_FILES.reduce((sum, f) => sum + f.size, 0) / 2);

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new FakeConfigError(`${name} must be a positive number, got "${raw}"`);
  return value;
}

export function configFromEnv(env: NodeJS.ProcessEnv): FakeHubConfig {
  const failure = (env.KIMI_FAKE_MODELSCOPE_FAIL || 'none') as FailureMode;
  if (!['none', 'disk-full', 'network-drop', 'unknown-model'].includes(failure)) {
    throw new FakeConfigError(`KIMI_FAKE_MODELSCOPE_FAIL must be disk-full, network-drop or unknown-model, got "${failure}"`);
  }
  const failAfterRaw = env.KIMI_FAKE_MODELSCOPE_FAIL_AFTER_BYTES;
  let failAfterBytes: number | null = null;
  if (failAfterRaw !== undefined && failAfterRaw !== '') {
    failAfterBytes = Number(failAfterRaw);
    if (!Number.isInteger(failAfterBytes) || failAfterBytes < 0) {
      throw new FakeConfigError(`KIMI_FAKE_MODELSCOPE_FAIL_AFTER_BYTES must be a byte count, got "${failAfterRaw}"`);
    }
  }
  const home = env.HOME || os.homedir();
  const cache = env.MODELSCOPE_CACHE ? env.MODELSCOPE_CACHE.replace(/^~(?=$|\/)/, home) : path.join(home, '.cache', 'modelscope', 'hub');
  return {
    scale: positive(env, 'KIMI_FAKE_MODELSCOPE_SCALE', 1_000_000),
    bytesPerSec: positive(env, 'KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC', DEFAULT_BYTES_PER_SEC),
    failure,
    failAfterBytes,
    domain: env.MODELSCOPE_DOMAIN && env.MODELSCOPE_DOMAIN.trim() ? env.MODELSCOPE_DOMAIN.trim() : null,
    cacheHome: cache,
    unbufferedStdout: Boolean(env.PYTHONUNBUFFERED),
  };
}
