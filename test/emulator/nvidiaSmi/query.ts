// `--query-gpu=…` and `--query-compute-apps=…` with `--format=csv[,noheader][,nounits]`.
// Headers carry the unit in brackets even with nounits (as the real tool does); values carry it only without
// nounits. Fields that are accepted under two names print the canonical name in the header
// (`clocks.sm` → `clocks.current.sm [MHz]`, `used_memory` → `used_gpu_memory [MiB]`).
import { DRIVER_VERSION, type Gpu, type GpuProcess, type Snapshot } from './host';

export interface CsvFormat { header: boolean; units: boolean }

interface Field<T> {
  /** Canonical name, shown in the header. */
  name: string;
  aliases?: string[];
  unit?: string;
  value: (item: T, ctx: QueryContext) => string | number;
}

interface QueryContext { snapshot: Snapshot; now: Date; count: number }

const NA = '[N/A]';

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const GPU_FIELDS: Field<Gpu>[] = [
  { name: 'timestamp', value: (_g, c) => timestamp(c.now) },
  { name: 'driver_version', value: () => DRIVER_VERSION },
  { name: 'count', value: (_g, c) => c.count },
  { name: 'name', aliases: ['gpu_name'], value: (g) => g.model.name },
  { name: 'serial', aliases: ['gpu_serial'], value: (g) => g.serial },
  { name: 'uuid', aliases: ['gpu_uuid'], value: (g) => g.uuid },
  { name: 'pci.bus_id', aliases: ['gpu_bus_id'], value: (g) => g.busId },
  { name: 'pci.domain', value: () => '0x0000' },
  { name: 'pci.bus', value: (g) => `0x${g.busId.slice(9, 11)}` },
  { name: 'pci.device', value: (g) => `0x${g.busId.slice(12, 14)}` },
  { name: 'index', value: (g) => g.index },
  { name: 'vbios_version', value: (g) => g.model.vbios },
  { name: 'compute_cap', value: (g) => g.model.computeCap },
  { name: 'persistence_mode', value: () => 'Enabled' },
  { name: 'display_active', value: () => 'Disabled' },
  { name: 'display_mode', value: () => 'Disabled' },
  { name: 'compute_mode', value: () => 'Default' },
  { name: 'mig.mode.current', value: () => 'Disabled' },
  { name: 'ecc.mode.current', value: () => 'Enabled' },
  { name: 'pstate', value: () => 'P0' },
  { name: 'fan.speed', unit: '%', value: () => NA },
  { name: 'memory.total', unit: 'MiB', value: (g) => g.model.totalMiB },
  { name: 'memory.reserved', unit: 'MiB', value: (g) => g.reservedMiB },
  { name: 'memory.used', unit: 'MiB', value: (g) => g.usedMiB },
  { name: 'memory.free', unit: 'MiB', value: (g) => g.freeMiB },
  { name: 'utilization.gpu', unit: '%', value: (g, c) => g.sensors(c.snapshot).util },
  { name: 'utilization.memory', unit: '%', value: (g, c) => g.sensors(c.snapshot).memUtil },
  { name: 'temperature.gpu', value: (g, c) => g.sensors(c.snapshot).tempC },
  { name: 'temperature.memory', value: (g, c) => g.sensors(c.snapshot).tempC + 4 },
  { name: 'power.draw', unit: 'W', value: (g, c) => g.sensors(c.snapshot).powerW.toFixed(2) },
  { name: 'power.draw.instant', unit: 'W', value: (g, c) => g.sensors(c.snapshot).powerW.toFixed(2) },
  { name: 'power.limit', unit: 'W', value: (g) => g.model.powerLimitW.toFixed(2) },
  { name: 'enforced.power.limit', unit: 'W', value: (g) => g.model.powerLimitW.toFixed(2) },
  { name: 'power.default_limit', unit: 'W', value: (g) => g.model.powerLimitW.toFixed(2) },
  { name: 'power.max_limit', unit: 'W', value: (g) => g.model.powerLimitW.toFixed(2) },
  { name: 'clocks.current.graphics', aliases: ['clocks.gr'], unit: 'MHz', value: (g, c) => g.sensors(c.snapshot).smMHz },
  { name: 'clocks.current.sm', aliases: ['clocks.sm'], unit: 'MHz', value: (g, c) => g.sensors(c.snapshot).smMHz },
  { name: 'clocks.current.memory', aliases: ['clocks.mem'], unit: 'MHz', value: (g) => g.model.memClockMHz },
  { name: 'clocks.max.graphics', aliases: ['clocks.max.gr'], unit: 'MHz', value: (g) => g.model.maxSmClockMHz },
  { name: 'clocks.max.sm', unit: 'MHz', value: (g) => g.model.maxSmClockMHz },
  { name: 'clocks.max.memory', aliases: ['clocks.max.mem'], unit: 'MHz', value: (g) => g.model.memClockMHz },
];

export interface AppRow { gpu: Gpu; process: GpuProcess }

const APP_FIELDS: Field<AppRow>[] = [
  { name: 'timestamp', value: (_r, c) => timestamp(c.now) },
  { name: 'gpu_name', value: (r) => r.gpu.model.name },
  { name: 'gpu_bus_id', value: (r) => r.gpu.busId },
  { name: 'gpu_serial', value: (r) => r.gpu.serial },
  { name: 'gpu_uuid', value: (r) => r.gpu.uuid },
  { name: 'pid', value: (r) => r.process.pid },
  { name: 'process_name', aliases: ['name'], value: (r) => r.process.name },
  { name: 'used_gpu_memory', aliases: ['used_memory'], unit: 'MiB', value: (r) => r.process.usedMiB },
];

/** The error the real tool prints (on stdout, exit 2) for a field it does not know. */
export class UnknownFieldError extends Error {
  constructor(readonly field: string) {
    super(`Field "${field}" is not a valid field to query.`);
  }
}

function resolve<T>(table: Field<T>[], list: string): Field<T>[] {
  return list.split(',').map((raw) => {
    const wanted = raw.trim();
    const field = table.find((f) => f.name === wanted || f.aliases?.includes(wanted));
    if (!field || wanted === '') throw new UnknownFieldError(wanted);
    return field;
  });
}

function render<T>(fields: Field<T>[], items: T[], format: CsvFormat, ctx: QueryContext): string {
  const lines: string[] = [];
  if (format.header) lines.push(fields.map((f) => (f.unit ? `${f.name} [${f.unit}]` : f.name)).join(', '));
  for (const item of items) {
    lines.push(fields.map((f) => {
      const v = String(f.value(item, ctx));
      return f.unit && format.units && v !== NA ? `${v} ${f.unit}` : v;
    }).join(', '));
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export function queryGpus(list: string, gpus: Gpu[], format: CsvFormat, now: Date, count: number): string {
  const fields = resolve(GPU_FIELDS, list);
  return render(fields, gpus, format, { snapshot: format.units ? 'csv' : 'csvNounits', now, count });
}

export function queryComputeApps(list: string, gpus: Gpu[], format: CsvFormat, now: Date): string {
  const fields = resolve(APP_FIELDS, list);
  const rows = gpus.flatMap((gpu) => gpu.processes.map((process) => ({ gpu, process })));
  return render(fields, rows, format, { snapshot: format.units ? 'csv' : 'csvNounits', now, count: gpus.length });
}
