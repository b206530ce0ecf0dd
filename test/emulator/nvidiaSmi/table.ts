// The default `nvidia-smi` report (driver 580 layout), column for column as in
// test/fixtures/nvidia-smi/table-idle.txt and table-busy.txt.
import { CUDA_VERSION, DRIVER_VERSION, type Gpu } from './host';

const INNER = 89; // characters between the outer pipes
const FULL_RULE = `+${'-'.repeat(INNER)}+`;
const GPU_RULE = `+${'-'.repeat(41)}+${'-'.repeat(24)}+${'-'.repeat(22)}+`;

function row(content: string): string {
  return `|${content.padEnd(INNER)}|`;
}

function gpuRow(a: string, b: string, c: string): string {
  return `|${a}|${b}|${c}|`;
}

/** C asctime() as nvidia-smi prints it: `Sat Nov 28 12:57:05 2026` (day of month space-padded). */
export function asctime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2)} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** Long names are cut with a trailing ellipsis, as nvidia-smi does. */
function fit(text: string, width: number, keep: 'start' | 'end'): string {
  if (text.length <= width) return text;
  return keep === 'start' ? `${text.slice(0, width - 3)}...` : `...${text.slice(text.length - (width - 3))}`;
}

function gpuBlock(gpu: Gpu): string[] {
  const s = gpu.sensors('table');
  const name = fit(gpu.model.name, 31, 'start').padEnd(31);
  const line1 = gpuRow(
    ` ${String(gpu.index).padStart(3)}  ${name}${'On'.padEnd(3)} `,
    `   ${gpu.busId} ${'Off'.padStart(3)} `,
    ` ${'0'.padStart(20)} `,
  );
  const left = ` ${'N/A'.padStart(3)}  ${`${s.tempC}C`.padStart(4)}    ${'P0'.padEnd(3)}`;
  const power = `${s.powerW}W / ${String(gpu.model.powerLimitW).padStart(4)}W`;
  const line2 = gpuRow(
    `${left}${power.padStart(41 - left.length - 1)} `,
    ` ${`${gpu.usedMiB}MiB / ${gpu.model.totalMiB}MiB`.padStart(22)} `,
    `${`${s.util}%`.padStart(8)}${'Default'.padStart(13)} `,
  );
  const line3 = gpuRow(' '.repeat(41), ' '.repeat(24), ` ${'Disabled'.padStart(20)} `);
  return [line1, line2, line3, GPU_RULE];
}

function processRows(gpus: Gpu[]): string[] {
  const rows: string[] = [];
  for (const gpu of gpus) {
    for (const p of gpu.processes) {
      rows.push(row(
        `${String(gpu.index).padStart(5)}   ${'N/A'.padStart(3)}  ${'N/A'.padStart(3)}  ${String(p.pid).padStart(14)}` +
        `  ${'C'.padStart(5)}   ${fit(p.name, 36, 'end').padEnd(36)} ${`${p.usedMiB}MiB`.padStart(9)} `,
      ));
    }
  }
  return rows.length ? rows : [row('  No running processes found')];
}

export function renderTable(gpus: Gpu[], now: Date): string {
  const lines = [
    `${asctime(now)}       `,
    FULL_RULE,
    row(` NVIDIA-SMI ${DRIVER_VERSION.padEnd(22)} Driver Version: ${DRIVER_VERSION.padEnd(14)} CUDA Version: ${CUDA_VERSION.padEnd(9)}`),
    GPU_RULE,
    gpuRow(' GPU  Name                 Persistence-M ', ' Bus-Id          Disp.A ', ' Volatile Uncorr. ECC '),
    gpuRow(' Fan  Temp   Perf          Pwr:Usage/Cap ', '           Memory-Usage ', ' GPU-Util  Compute M. '),
    gpuRow(' '.repeat(41), ' '.repeat(24), '               MIG M. '),
    `|${'='.repeat(41)}+${'='.repeat(24)}+${'='.repeat(22)}|`,
    ...gpus.flatMap(gpuBlock),
    '',
    FULL_RULE,
    row(' Processes:'),
    row('  GPU   GI   CI              PID   Type   Process name                        GPU Memory'),
    row('        ID   ID                                                               Usage'),
    `|${'='.repeat(INNER)}|`,
    ...processRows(gpus),
    FULL_RULE,
  ];
  return `${lines.join('\n')}\n`;
}
