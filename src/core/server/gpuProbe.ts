// GPU pre-flight check from `nvidia-smi` (docs/vllm-kimi-protocol.md §7): what GPUs a host has, who holds their
// memory, and whether `vllm serve -tp N --gpu-memory-utilization U` can start there — said in plain words before
// the user waits minutes for vLLM to fail with the same finding.
//
// nvidia-smi's CSV: `--format=csv,noheader,nounits` gives `0, NVIDIA H200, GPU-…, 143771, 0, 143156, 0`; with a
// header the units are in brackets (`memory.total [MiB]`) and without `nounits` on the values (`143771 MiB`).
// Unavailable readings are `[N/A]` / `[Not Supported]`. Errors are printed on stdout with a non-zero status.

export const NVIDIA_SMI_GPU_FIELDS = ['index', 'name', 'uuid', 'memory.total', 'memory.used', 'memory.free', 'utilization.gpu'] as const;
export const NVIDIA_SMI_APP_FIELDS = ['pid', 'process_name', 'used_memory', 'gpu_uuid'] as const;

/** The two nvidia-smi invocations (argv after `nvidia-smi`) whose output the parsers below read. */
export const NVIDIA_SMI_QUERY = {
  gpus: [`--query-gpu=${NVIDIA_SMI_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
  processes: [`--query-compute-apps=${NVIDIA_SMI_APP_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
} as const;

export interface Gpu {
  index: number;
  name: string;
  /** `GPU-d814c0a1-…`; '' when not reported. */
  uuid: string;
  /** MiB; null when nvidia-smi reports `[N/A]`. */
  totalMiB: number | null;
  usedMiB: number | null;
  freeMiB: number | null;
  utilizationPct: number | null;
}

export interface GpuProcess {
  pid: number;
  name: string;
  usedMiB: number | null;
  gpuUuid: string;
}

export class NvidiaSmiParseError extends Error {
  override name = 'NvidiaSmiParseError';
}

/** Field-name aliases nvidia-smi accepts (the header prints the canonical one). */
const ALIASES: Record<string, string> = {
  gpu_name: 'name',
  used_gpu_memory: 'used_memory',
};

const NOT_AVAILABLE = /^\[?(?:N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU requires reset)\]?$/i;

function splitLines(csv: string): { n: number; text: string }[] {
  return csv
    .split(/\r\n|\n|\r/)
    .map((text, i) => ({ n: i + 1, text: text.trim() }))
    .filter((l) => l.text.length > 0);
}

function cells(line: string): string[] {
  return line.split(',').map((c) => c.trim());
}

/** `memory.total [MiB]` → `memory.total`. */
function headerName(cell: string): string {
  const name = cell.replace(/\s*\[[^\]]*\]$/, '').trim();
  return ALIASES[name] ?? name;
}

function preview(line: string): string {
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

/** A number, `[N/A]`-style → null; units (`143771 MiB`, `0 %`) tolerated. Anything else is garbage. */
function numeric(value: string, what: string, line: { n: number; text: string }, source: string): number | null {
  if (NOT_AVAILABLE.test(value)) return null;
  const v = value.replace(/\s*(?:MiB|GiB|%|W|MHz)$/, '');
  if (!/^[+-]?\d+(?:\.\d+)?$/.test(v)) {
    throw new NvidiaSmiParseError(`${source}: line ${line.n} has "${preview(value)}" where ${what} should be a number: "${preview(line.text)}"`);
  }
  return Number(v);
}

/** Column layout: the header's names when the output has one, else `fields`. */
function layout(
  lines: { n: number; text: string }[],
  fields: readonly string[],
  firstField: string,
): { names: string[]; rows: { n: number; text: string }[] } {
  const first = lines[0];
  if (first && headerName(cells(first.text)[0] ?? '') === firstField && !/^\d/.test(first.text)) {
    return { names: cells(first.text).map(headerName), rows: lines.slice(1) };
  }
  return { names: fields.map((f) => ALIASES[f] ?? f), rows: lines };
}

/**
 * `nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits]` → GPUs. With a header the columns are found by name
 * (any query that includes index, name, memory.total and memory.free); without one, `fields` names them (default:
 * NVIDIA_SMI_QUERY's). Blank lines and CRLF are fine; anything that is not a GPU row (an error message, a wrong
 * column count, a non-number where a number belongs) throws NvidiaSmiParseError naming the line.
 */
export function parseGpuQuery(csv: string, fields: readonly string[] = NVIDIA_SMI_GPU_FIELDS): Gpu[] {
  const source = 'nvidia-smi --query-gpu output';
  const { names, rows } = layout(splitLines(String(csv)), fields, 'index');
  const col = (name: string) => names.indexOf(name);
  for (const required of ['index', 'name', 'memory.total', 'memory.free']) {
    if (col(required) < 0) throw new NvidiaSmiParseError(`${source}: no ${required} column (columns: ${names.join(', ')})`);
  }
  const gpus: Gpu[] = [];
  for (const line of rows) {
    const c = cells(line.text);
    if (c.length !== names.length) {
      throw new NvidiaSmiParseError(
        `${source}: line ${line.n} is not a GPU row (expected ${names.length} comma-separated fields: ${names.join(', ')}): "${preview(line.text)}"`,
      );
    }
    const get = (name: string) => (col(name) >= 0 ? c[col(name)] : undefined);
    const index = numeric(get('index')!, 'the GPU index', line, source);
    if (index === null || !Number.isInteger(index) || index < 0) {
      throw new NvidiaSmiParseError(`${source}: line ${line.n} has no valid GPU index: "${preview(line.text)}"`);
    }
    const opt = (name: string, what: string) => {
      const v = get(name);
      return v === undefined ? null : numeric(v, what, line, source);
    };
    const uuid = get('uuid') ?? '';
    gpus.push({
      index,
      name: get('name')!,
      uuid: NOT_AVAILABLE.test(uuid) ? '' : uuid,
      totalMiB: opt('memory.total', 'memory.total'),
      usedMiB: opt('memory.used', 'memory.used'),
      freeMiB: opt('memory.free', 'memory.free'),
      utilizationPct: opt('utilization.gpu', 'utilization.gpu'),
    });
  }
  return gpus;
}

/**
 * `nvidia-smi --query-compute-apps=pid,process_name,used_memory,gpu_uuid --format=csv…` → processes. No processes is
 * an empty output (or "No running processes found"). A process name containing commas is kept whole.
 */
export function parseComputeApps(csv: string, fields: readonly string[] = NVIDIA_SMI_APP_FIELDS): GpuProcess[] {
  const source = 'nvidia-smi --query-compute-apps output';
  const lines = splitLines(String(csv)).filter((l) => !/^No running (?:compute )?processes found$/i.test(l.text));
  const { names, rows } = layout(lines, fields, 'pid');
  const col = (name: string) => names.indexOf(name);
  for (const required of ['pid', 'process_name']) {
    if (col(required) < 0) throw new NvidiaSmiParseError(`${source}: no ${required} column (columns: ${names.join(', ')})`);
  }
  const out: GpuProcess[] = [];
  for (const line of rows) {
    let c = cells(line.text);
    const extra = c.length - names.length;
    if (extra > 0) {
      // Only the process name can hold commas: glue the surplus cells back into it.
      const at = col('process_name');
      c = [...c.slice(0, at), c.slice(at, at + extra + 1).join(', '), ...c.slice(at + extra + 1)];
    }
    if (c.length !== names.length) {
      throw new NvidiaSmiParseError(
        `${source}: line ${line.n} is not a process row (expected ${names.length} comma-separated fields: ${names.join(', ')}): "${preview(line.text)}"`,
      );
    }
    const get = (name: string) => (col(name) >= 0 ? c[col(name)] : undefined);
    const pid = numeric(get('pid')!, 'the pid', line, source);
    if (pid === null || !Number.isInteger(pid) || pid < 0) {
      throw new NvidiaSmiParseError(`${source}: line ${line.n} has no valid pid: "${preview(line.text)}"`);
    }
    const used = get('used_memory');
    const uuid = get('gpu_uuid') ?? '';
    out.push({
      pid,
      name: get('process_name')!,
      usedMiB: used === undefined ? null : numeric(used, 'used_memory', line, source),
      gpuUuid: NOT_AVAILABLE.test(uuid) ? '' : uuid,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// pre-flight

export interface PreflightInput {
  gpus: Gpu[];
  processes: GpuProcess[];
  tensorParallelSize: number;
  gpuMemoryUtilization: number;
  /** GPU memory the model needs in total (Kimi-K2.5: about 714). */
  modelGiB?: number;
  /** For messages; default Kimi-K2.5. */
  modelName?: string;
}

export type PreflightResult =
  | { ok: true; summary: string; warnings: string[] }
  | { ok: false; reason: string; summary: string; warnings: string[] };

/** MiB → `140.4` (GiB, one decimal, as vLLM and nvidia-smi users read it). */
export function formatGiB(mib: number): string {
  return (mib / 1024).toFixed(1);
}

/** `NVIDIA H200` or `1× NVIDIA H200, 1× NVIDIA H100 80GB HBM3`. */
function modelsOf(gpus: Gpu[]): string {
  const counts = new Map<string, number>();
  for (const g of gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  if (counts.size === 1) return [...counts.keys()][0];
  return [...counts].map(([name, n]) => `${n}× ${name}`).join(', ');
}

/** `8× NVIDIA H200` or `1× NVIDIA H200 + 1× NVIDIA A100-SXM4-80GB`. */
function countedModels(gpus: Gpu[]): string {
  const counts = new Map<string, number>();
  for (const g of gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  return [...counts].map(([name, n]) => `${n}× ${name}`).join(' + ');
}

function processesOn(gpu: Gpu, processes: GpuProcess[]): GpuProcess[] {
  return gpu.uuid ? processes.filter((p) => p.gpuUuid === gpu.uuid) : [];
}

/** A GPU counts as in use when a process is listed on it or more than 1 GiB of it is taken. */
function inUse(gpu: Gpu, processes: GpuProcess[]): boolean {
  return processesOn(gpu, processes).length > 0 || (gpu.usedMiB ?? 0) >= 1024;
}

/** One line for a status view: `8× NVIDIA H200, 140.4 GiB each, all free`. */
export function summarizeGpus(gpus: Gpu[], processes: GpuProcess[] = []): string {
  if (gpus.length === 0) return 'no GPUs';
  const totals = [...new Set(gpus.map((g) => g.totalMiB))];
  const size =
    totals.length === 1
      ? totals[0] === null
        ? 'memory not reported'
        : `${formatGiB(totals[0])} GiB each`
      : gpus.map((g) => (g.totalMiB === null ? '?' : formatGiB(g.totalMiB))).join('/') + ' GiB';
  const busy = gpus.filter((g) => inUse(g, processes));
  let state = 'all free';
  if (busy.length > 0) {
    const known = busy.filter((g) => g.freeMiB !== null);
    const least = known.reduce<Gpu | null>((a, g) => (a === null || g.freeMiB! < a.freeMiB! ? g : a), null);
    state =
      `${busy.length === gpus.length ? 'all' : `${busy.length} of ${gpus.length}`} in use` +
      (least ? ` (least free: GPU ${least.index}, ${formatGiB(least.freeMiB!)} GiB)` : '');
  }
  return `${countedModels(gpus)}, ${size}, ${state}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Can `vllm serve -tp N --gpu-memory-utilization U` start on these GPUs? Refuses when there are fewer GPUs than N,
 * or when one of the first N GPUs (the ones vLLM uses) has less free memory than U × its total (vLLM's own startup
 * check); warns when the N GPUs together are smaller than the model.
 */
export function preflight(input: PreflightInput): PreflightResult {
  const { tensorParallelSize: tp, gpuMemoryUtilization: util } = input;
  const modelGiB = input.modelGiB ?? 714;
  const model = input.modelName ?? 'Kimi-K2.5';
  const gpus = [...input.gpus].sort((a, b) => a.index - b.index);
  const processes = input.processes ?? [];
  const summary = summarizeGpus(gpus, processes);
  const warnings: string[] = [];
  const refuse = (reason: string): PreflightResult => ({ ok: false, reason, summary, warnings });

  if (!Number.isInteger(tp) || tp < 1) return refuse(`tensor-parallel-size must be a whole number of GPUs, not ${tp}`);
  if (!(util > 0 && util <= 1)) return refuse(`gpu-memory-utilization must be between 0 and 1, not ${util}`);
  if (gpus.length === 0) return refuse(`This host has no GPUs that nvidia-smi can see; the profile asks for ${tp} (tensor-parallel-size)`);
  if (gpus.length < tp) {
    return refuse(`This host has ${plural(gpus.length, 'GPU')} (${modelsOf(gpus)}); the profile asks for ${tp} (tensor-parallel-size)`);
  }

  const used = gpus.slice(0, tp);
  for (const g of used) {
    if (g.totalMiB === null || g.freeMiB === null) warnings.push(`GPU ${g.index} does not report its memory, so it could not be checked`);
  }

  // Size: do the tp GPUs hold the model at all?
  if (used.every((g) => g.totalMiB !== null)) {
    const totalMiB = used.reduce((s, g) => s + g.totalMiB!, 0);
    const totalGiB = totalMiB / 1024;
    if (totalGiB < modelGiB) {
      warnings.push(`${countedModels(used)} = ${Math.round(totalGiB)} GiB: ${model} needs about ${modelGiB} GB — use 8×H200 or two hosts`);
    } else if (totalGiB * util < modelGiB) {
      warnings.push(
        `With gpu-memory-utilization ${util} vLLM may use ${Math.round(totalGiB * util)} of the ${Math.round(totalGiB)} GiB; ` +
          `${model} needs about ${modelGiB} GB — raise gpu-memory-utilization`,
      );
    }
  }

  // Free memory: vLLM refuses to start when free < utilization × total on any GPU it uses.
  const short = used.filter((g) => g.totalMiB !== null && g.freeMiB !== null && g.freeMiB < util * g.totalMiB);
  if (short.length > 0) {
    const g = short[0];
    const holders = processesOn(g, processes);
    const held =
      holders.length > 0
        ? `Held by: ${holders.map((p) => `pid ${p.pid} ${p.name}${p.usedMiB !== null ? ` (${formatGiB(p.usedMiB)} GiB)` : ''}`).join(', ')}.`
        : 'No process is listed on it (it may run in another container or VM).';
    const others = short.slice(1).map((o) => o.index);
    return refuse(
      `GPU ${g.index} has ${formatGiB(g.freeMiB!)} GiB free of ${formatGiB(g.totalMiB!)} GiB; vLLM needs ` +
        `${formatGiB(util * g.totalMiB!)} GiB (gpu-memory-utilization ${util}). ${held}` +
        (others.length > 0 ? ` ${others.length === 1 ? 'GPU' : 'GPUs'} ${others.join(', ')} ${others.length === 1 ? 'is' : 'are'} short of memory too.` : ''),
    );
  }
  return { ok: true, summary, warnings };
}

// ---------------------------------------------------------------------------------------------------------------
// nvidia-smi itself failing

export type NvidiaSmiFailureKind = 'notInstalled' | 'driverFailure' | 'noDevices' | 'failed';

export interface NvidiaSmiFailure {
  kind: NvidiaSmiFailureKind;
  title: string;
  explanation: string;
}

/**
 * Why running nvidia-smi failed. `exitCode` is the exit status, or the spawn error's code (`ENOENT`) when it could
 * not be started at all; `output` is what it printed (nvidia-smi prints its errors on stdout, the shell on stderr:
 * pass both).
 */
export function interpretNvidiaSmiFailure(exitCode: number | string | null, output: string): NvidiaSmiFailure {
  const text = String(output ?? '').slice(0, 4096);
  const firstLine = text.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  if (exitCode === 9 || /couldn't communicate with the NVIDIA driver|NVIDIA driver is not loaded/i.test(text)) {
    return {
      kind: 'driverFailure',
      title: 'The NVIDIA driver is not working',
      explanation:
        'nvidia-smi cannot talk to the NVIDIA driver: it is not loaded, or it no longer matches the running kernel (a kernel ' +
        'update without a reboot or driver rebuild is the usual cause). Reboot the host or reinstall the driver.',
    };
  }
  if (exitCode === 18 || /Driver\/library version mismatch/i.test(text)) {
    return {
      kind: 'driverFailure',
      title: 'The NVIDIA driver was updated but not reloaded',
      explanation: 'The NVIDIA driver and its library have different versions (the driver was upgraded while running). Reboot the host.',
    };
  }
  if (exitCode === 6 || /No devices were found/i.test(text)) {
    return {
      kind: 'noDevices',
      title: 'No NVIDIA GPUs found',
      explanation: 'The NVIDIA driver is installed but sees no GPU on this host (or none is visible to this user or container).',
    };
  }
  if (exitCode === 'ENOENT' || exitCode === 127 || /nvidia-smi['"]?: (?:command )?not found|command not found: nvidia-smi|nvidia-smi['"]?: No such file or directory/.test(text)) {
    return {
      kind: 'notInstalled',
      title: 'nvidia-smi is not installed',
      explanation:
        'This host has no nvidia-smi, which comes with the NVIDIA driver: the driver is not installed, so vLLM cannot use ' +
        'any GPU here. Kimi-K2.5 needs a host with NVIDIA GPUs (8×H200).',
    };
  }
  return {
    kind: 'failed',
    title: 'nvidia-smi failed',
    explanation: `nvidia-smi ended with ${exitCode === null ? 'no exit status' : `status ${exitCode}`}${firstLine ? `: ${preview(firstLine)}` : ''}`,
  };
}
