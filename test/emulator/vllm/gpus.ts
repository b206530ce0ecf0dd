// What the fake sees of the GPUs: it asks `nvidia-smi` on PATH (the project's fake nvidia-smi in tests, which also
// counts live claims of other fake servers), exactly the query a pre-flight check would run. Torch reports the same
// numbers (free/total from cudaMemGetInfo); GiB = MiB / 1024.
import { execFile } from 'node:child_process';

export interface GpuInfo {
  /** Physical index (nvidia-smi's). */
  index: number;
  totalMiB: number;
  freeMiB: number;
}

export type GpuProbe = { ok: true; gpus: GpuInfo[] } | { ok: false; reason: string };

export function queryGpus(env: NodeJS.ProcessEnv = process.env): Promise<GpuProbe> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=index,memory.total,memory.free', '--format=csv,noheader,nounits'],
      { env, timeout: 10_000 },
      (err, stdout) => {
        if (err) {
          resolve({ ok: false, reason: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no nvidia-smi' : String(err.message) });
          return;
        }
        const gpus: GpuInfo[] = [];
        for (const line of stdout.split(/\r?\n/)) {
          const parts = line.split(',').map((p) => p.trim());
          if (parts.length < 3 || !/^\d+$/.test(parts[0])) continue;
          gpus.push({ index: Number(parts[0]), totalMiB: Number(parts[1]), freeMiB: Number(parts[2]) });
        }
        resolve({ ok: true, gpus: visible(gpus, env.CUDA_VISIBLE_DEVICES) });
      },
    );
  });
}

/** CUDA_VISIBLE_DEVICES=2,3 → the process sees those two, as cuda:0 and cuda:1. */
function visible(gpus: GpuInfo[], spec: string | undefined): GpuInfo[] {
  if (spec === undefined) return gpus;
  const out: GpuInfo[] = [];
  for (const part of spec.split(',')) {
    const idx = Number(part.trim());
    if (!Number.isInteger(idx)) break; // CUDA stops at the first invalid entry
    const g = gpus.find((x) => x.index === idx);
    if (!g) break;
    out.push(g);
  }
  return out;
}

export const mibToGiB = (mib: number) => mib / 1024;
