// The fake GPU host: which GPUs exist and what their sensors read right now.
//
// Every number that a real capture shows comes from test/fixtures/nvidia-smi (a 2×H200 host running driver
// 580.159.04). GPUs 0 and 1 reproduce the captures exactly; further GPUs get small deterministic variations so an
// 8-GPU host does not look like eight copies of one card.
import { createHash } from 'node:crypto';
import { defaultGpuDir, readLiveClaims, type GpuClaim } from './claims';

export const DRIVER_VERSION = '580.159.04';
export const CUDA_VERSION = '13.0';

export interface GpuModelSpec {
  name: string;
  totalMiB: number;
  /** Memory the driver keeps for itself: total − used − free. 615 MiB on the captured H200s. */
  reservedMiB: number;
  powerLimitW: number;
  maxSmClockMHz: number;
  memClockMHz: number;
  computeCap: string;
  vbios: string;
}

/** H200 values are captured; H100/A100 totals are the real ones, the rest plausible (not captured). */
export const GPU_MODELS: Record<string, GpuModelSpec> = {
  'NVIDIA H200': {
    name: 'NVIDIA H200', totalMiB: 143771, reservedMiB: 615, powerLimitW: 700,
    maxSmClockMHz: 1980, memClockMHz: 3201, computeCap: '9.0', vbios: '96.00.A5.00.01',
  },
  'NVIDIA H100 80GB HBM3': {
    name: 'NVIDIA H100 80GB HBM3', totalMiB: 81559, reservedMiB: 553, powerLimitW: 700,
    maxSmClockMHz: 1980, memClockMHz: 2619, computeCap: '9.0', vbios: '96.00.99.00.01',
  },
  'NVIDIA A100-SXM4-80GB': {
    name: 'NVIDIA A100-SXM4-80GB', totalMiB: 81920, reservedMiB: 485, powerLimitW: 400,
    maxSmClockMHz: 1410, memClockMHz: 1593, computeCap: '8.0', vbios: '92.00.45.00.06',
  },
};

/** Which capture a reading reproduces. The three idle captures were taken moments apart, so their sensor values
 *  differ (GPU 0: 127 W in the table, 121.92 W in the csv, 120.20 W in the nounits csv) — as on a real host,
 *  where every call reads the sensors anew. Each output form replays the snapshot it was captured with. */
export type Snapshot = 'table' | 'csv' | 'csvNounits';

interface Sensors { tempC: number; powerW: number; smMHz: number; util: number; memUtil: number }

type Load = 'idle' | 'busy';

/** Captured readings of GPU 0 and GPU 1 per load and snapshot. The busy state has no csv-with-units capture;
 *  it reuses the nounits one. */
const CAPTURED: Record<Load, Record<Snapshot, [Sensors, Sensors]>> = {
  idle: {
    table: [{ tempC: 40, powerW: 127, smMHz: 405, util: 0, memUtil: 0 }, { tempC: 40, powerW: 119, smMHz: 345, util: 0, memUtil: 0 }],
    csv: [{ tempC: 39, powerW: 121.92, smMHz: 405, util: 0, memUtil: 0 }, { tempC: 40, powerW: 106.38, smMHz: 345, util: 0, memUtil: 0 }],
    csvNounits: [{ tempC: 39, powerW: 120.2, smMHz: 405, util: 0, memUtil: 0 }, { tempC: 40, powerW: 103.44, smMHz: 345, util: 0, memUtil: 0 }],
  },
  busy: {
    table: [{ tempC: 62, powerW: 692, smMHz: 1440, util: 100, memUtil: 23 }, { tempC: 44, powerW: 127, smMHz: 1980, util: 0, memUtil: 0 }],
    csv: [{ tempC: 62, powerW: 692.01, smMHz: 1440, util: 100, memUtil: 23 }, { tempC: 45, powerW: 128.02, smMHz: 1980, util: 0, memUtil: 0 }],
    csvNounits: [{ tempC: 62, powerW: 692.01, smMHz: 1440, util: 100, memUtil: 23 }, { tempC: 45, powerW: 128.02, smMHz: 1980, util: 0, memUtil: 0 }],
  },
};

/** The captured busy host: one `python3` (pid 568) holding ~39 GB on each GPU. */
const BUSY_PID = 568;
const BUSY_PROCESS_MIB = [39150, 38666];
/** GPU memory.used exceeds the sum of its processes by this much once a context exists (39159 vs 39150). */
const CONTEXT_OVERHEAD_MIB = 9;

const CAPTURED_UUIDS = ['GPU-d814c0a1-34c5-1ff7-63ef-fa7ebbb3dc16', 'GPU-63b011ae-cac3-6133-f9f3-db00caa2472e'];

export interface GpuProcess { pid: number; name: string; usedMiB: number }

export interface Gpu {
  index: number;
  model: GpuModelSpec;
  uuid: string;
  busId: string;
  serial: string;
  processes: GpuProcess[];
  usedMiB: number;
  reservedMiB: number;
  freeMiB: number;
  /** Readings for the given snapshot (see Snapshot). */
  sensors(snapshot: Snapshot): Sensors;
}

export interface HostConfig {
  gpuCount: number;
  model: GpuModelSpec;
  state: Load;
  /** 'fail' → the driver cannot be reached. */
  failure: 'none' | 'driver';
  gpuDir: string;
}

export class ConfigError extends Error {}

/** Reads the KIMI_FAKE_* environment. A bad value is a test-setup mistake, so it fails loudly. */
export function hostConfigFromEnv(env: NodeJS.ProcessEnv): HostConfig {
  const countRaw = env.KIMI_FAKE_GPUS ?? '8';
  if (!/^\d+$/.test(countRaw)) throw new ConfigError(`KIMI_FAKE_GPUS must be a count, got "${countRaw}"`);
  const modelName = env.KIMI_FAKE_GPU_MODEL || 'NVIDIA H200';
  const model = GPU_MODELS[modelName];
  if (!model) {
    throw new ConfigError(`KIMI_FAKE_GPU_MODEL "${modelName}" is not one of: ${Object.keys(GPU_MODELS).join(', ')}`);
  }
  const state = env.KIMI_FAKE_GPU_STATE || 'idle';
  if (state !== 'idle' && state !== 'busy') throw new ConfigError(`KIMI_FAKE_GPU_STATE must be idle or busy, got "${state}"`);
  const mode = env.KIMI_FAKE_NVIDIA_SMI || '';
  if (mode !== '' && mode !== 'fail') throw new ConfigError(`KIMI_FAKE_NVIDIA_SMI must be unset or "fail", got "${mode}"`);
  return {
    gpuCount: Number(countRaw),
    model,
    state,
    failure: mode === 'fail' ? 'driver' : 'none',
    gpuDir: defaultGpuDir(env),
  };
}

/** A small deterministic integer in [-spread, spread] for GPU `index` — the "variation" of cards beyond 0/1. */
function jitter(index: number, salt: string, spread: number): number {
  if (index < 2) return 0;
  const h = createHash('sha256').update(`${salt}:${index}`).digest();
  return (h[0]! % (2 * spread + 1)) - spread;
}

function uuidFor(index: number): string {
  if (index < CAPTURED_UUIDS.length) return CAPTURED_UUIDS[index]!;
  const h = createHash('sha256').update(`kimi-fake-gpu-uuid:${index}`).digest('hex');
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** 00000000:00:06.0, 00000000:00:07.0, … as on the captured VM (one device per slot, upper-case hex). */
function busIdFor(index: number): string {
  const slot = 6 + index;
  const bus = Math.floor(slot / 32);
  const device = slot % 32;
  const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
  return `00000000:${hex2(bus)}:${hex2(device)}.0`;
}

function serialFor(index: number): string {
  const h = createHash('sha256').update(`kimi-fake-gpu-serial:${index}`).digest();
  return String(1650000000000 + (h.readUInt32BE(0) % 1000000000)).padStart(13, '0');
}

/** Clocks move in 15 MHz steps on these parts. */
function clockStep(mhz: number): number {
  return Math.round(mhz / 15) * 15;
}

export function buildHost(config: HostConfig, claims: GpuClaim[] = readLiveClaims(config.gpuDir)): Gpu[] {
  const gpus: Gpu[] = [];
  for (let index = 0; index < config.gpuCount; index++) {
    const processes: GpuProcess[] = [];
    if (config.state === 'busy') {
      processes.push({ pid: BUSY_PID, name: 'python3', usedMiB: BUSY_PROCESS_MIB[index % 2]! + 37 * jitter(index, 'busy-mem', 6) });
    }
    let claimedUtil = 0;
    for (const claim of claims) {
      for (const g of claim.gpus) {
        if (g.index !== index) continue;
        processes.push({ pid: g.pid, name: g.processName, usedMiB: g.usedMiB });
        claimedUtil = Math.max(claimedUtil, g.utilizationGpu ?? 0);
      }
    }
    gpus.push(makeGpu(config, index, processes, claimedUtil));
  }
  return gpus;
}

function makeGpu(config: HostConfig, index: number, processes: GpuProcess[], claimedUtil: number): Gpu {
  const model = config.model;
  // The captured busy host had 1 MiB less reserved than the idle one once a context existed (614 vs 615).
  const reservedMiB = model.reservedMiB - (processes.length > 0 ? 1 : 0);
  const wanted = processes.reduce((sum, p) => sum + p.usedMiB, 0) + (processes.length > 0 ? CONTEXT_OVERHEAD_MIB : 0);
  const usedMiB = Math.min(wanted, model.totalMiB - reservedMiB);
  const freeMiB = model.totalMiB - reservedMiB - usedMiB;
  const powerScale = model.powerLimitW / 700;
  const clockScale = model.maxSmClockMHz / 1980;
  const sensors = (snapshot: Snapshot): Sensors => {
    const parity = index % 2;
    const load: Load = config.state;
    let base = CAPTURED[load][snapshot][parity]!;
    if (claimedUtil > base.util) {
      // A claim reports more work than the host state shows: move from the idle reading towards the captured
      // fully busy GPU (GPU 0 under load) in proportion to the utilisation.
      const idle = CAPTURED.idle[snapshot][parity]!;
      const full = CAPTURED.busy[snapshot][0]!;
      const k = Math.min(100, claimedUtil) / 100;
      base = {
        tempC: Math.round(idle.tempC + (full.tempC - idle.tempC) * k),
        powerW: idle.powerW + (full.powerW - idle.powerW) * k,
        smMHz: full.smMHz,
        util: Math.round(claimedUtil),
        memUtil: Math.round(full.memUtil * k),
      };
    }
    const power = Math.max(0, base.powerW * powerScale + jitter(index, `power-${load}`, 4) * (snapshot === 'table' ? 1 : 1.37));
    return {
      tempC: base.tempC + jitter(index, `temp-${load}`, 2),
      powerW: snapshot === 'table' ? Math.round(power) : Math.round(power * 100) / 100,
      smMHz: Math.min(model.maxSmClockMHz, clockStep(base.smMHz * clockScale) + 15 * jitter(index, `clock-${load}`, 1)),
      util: base.util,
      memUtil: base.memUtil,
    };
  };
  return {
    index, model, uuid: uuidFor(index), busId: busIdFor(index), serial: serialFor(index),
    processes, usedMiB, reservedMiB, freeMiB, sensors,
  };
}
