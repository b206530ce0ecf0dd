// The fake `nvidia-smi`: argument handling and the non-table reports (-L, topo -m), as one pure function so
// the CLI entry stays a two-liner. Like the real tool it writes everything, errors included, to stdout and
// reports failures through its exit status (2 bad arguments, 6 no such device, 9 driver unreachable).
import { buildHost, ConfigError, CUDA_VERSION, DRIVER_VERSION, hostConfigFromEnv, type Gpu } from './host';
import { queryComputeApps, queryGpus, UnknownFieldError, type CsvFormat } from './query';
import { renderTable } from './table';

export interface SmiResult { stdout: string; stderr: string; code: number }

export const EXIT = { ok: 0, invalidArgument: 2, notFound: 6, driverNotLoaded: 9 } as const;

const INVALID_ARGS = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n";
const NO_DEVICES = 'No devices were found\n';
const DRIVER_FAILURE =
  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. " +
  'Make sure that the latest NVIDIA driver is installed and running.\n\n';

type Mode =
  | { kind: 'table' }
  | { kind: 'list' }
  | { kind: 'topo' }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'queryGpu'; fields: string }
  | { kind: 'queryApps'; fields: string };

interface Parsed { mode: Mode; ids?: string; format?: CsvFormat }

class InvalidArguments extends Error {}

/** `--opt=value` or `--opt value`. */
function takeValue(args: string[], i: number, flag: string): [string, number] {
  const arg = args[i]!;
  if (arg.startsWith(`${flag}=`)) return [arg.slice(flag.length + 1), i];
  const next = args[i + 1];
  if (next === undefined) throw new InvalidArguments();
  return [next, i + 1];
}

function parseFormat(spec: string): CsvFormat {
  const parts = spec.split(',').map((p) => p.trim());
  if (!parts.includes('csv') || parts.some((p) => !['csv', 'noheader', 'nounits'].includes(p))) throw new InvalidArguments();
  return { header: !parts.includes('noheader'), units: !parts.includes('nounits') };
}

function parseArgs(args: string[]): Parsed {
  let mode: Mode | undefined;
  let ids: string | undefined;
  let format: CsvFormat | undefined;
  const setMode = (m: Mode) => {
    if (mode) throw new InvalidArguments();
    mode = m;
  };
  let i = 0;
  if (args[0] === 'topo') {
    // Only the matrix view of the topo sub-command is emulated.
    if (args.length !== 2 || (args[1] !== '-m' && args[1] !== '--matrix')) throw new InvalidArguments();
    return { mode: { kind: 'topo' } };
  }
  for (; i < args.length; i++) {
    const arg = args[i]!;
    const flag = arg.startsWith('--') ? arg.split('=')[0]! : arg;
    switch (flag) {
      case '-h':
      case '--help':
        setMode({ kind: 'help' });
        break;
      case '--version':
        setMode({ kind: 'version' });
        break;
      case '-L':
      case '--list-gpus':
        setMode({ kind: 'list' });
        break;
      case '-i':
      case '--id': {
        let value: string;
        [value, i] = takeValue(args, i, flag);
        ids = value;
        break;
      }
      case '--query-gpu': {
        let value: string;
        [value, i] = takeValue(args, i, flag);
        setMode({ kind: 'queryGpu', fields: value });
        break;
      }
      case '--query-compute-apps': {
        let value: string;
        [value, i] = takeValue(args, i, flag);
        setMode({ kind: 'queryApps', fields: value });
        break;
      }
      case '--format': {
        let value: string;
        [value, i] = takeValue(args, i, flag);
        format = parseFormat(value);
        break;
      }
      default:
        throw new InvalidArguments();
    }
  }
  const final: Mode = mode ?? { kind: 'table' };
  const isQuery = final.kind === 'queryGpu' || final.kind === 'queryApps';
  if (isQuery !== (format !== undefined)) throw new InvalidArguments();
  return { mode: final, ids, format };
}

/** `-i 0`, `-i 0,3`, `-i GPU-…` (UUID) or `-i 00000000:00:06.0` (bus id). Unknown → null ("No devices"). */
function selectGpus(gpus: Gpu[], ids: string | undefined): Gpu[] | null {
  if (ids === undefined) return gpus;
  const chosen: Gpu[] = [];
  for (const id of ids.split(',').map((s) => s.trim())) {
    const gpu = /^\d+$/.test(id)
      ? gpus.find((g) => g.index === Number(id))
      : gpus.find((g) => g.uuid.toLowerCase() === id.toLowerCase() || g.busId.toLowerCase() === id.toLowerCase());
    if (!gpu) return null;
    if (!chosen.includes(gpu)) chosen.push(gpu);
  }
  return chosen.sort((a, b) => a.index - b.index);
}

function renderList(gpus: Gpu[]): string {
  return gpus.map((g) => `GPU ${g.index}: ${g.model.name} (UUID: ${g.uuid})\n`).join('');
}

/** `topo -m`: every GPU pair bonded by 18 NVLinks, all GPUs on NUMA node 0 with 16 CPUs per GPU (the captured
 *  2-GPU VM shows 0-31). The header is underlined with ANSI escapes even when not on a TTY, as captured. */
function renderTopo(gpus: Gpu[]): string {
  const names = gpus.map((g) => `GPU${g.index}`);
  const cpus = `0-${16 * gpus.length - 1}`;
  const lines = [`\t\x1b[4m${names.join('\t')}\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m`];
  for (const g of gpus) {
    const cells = gpus.map((o) => (o === g ? ' X ' : 'NV18'));
    lines.push(`GPU${g.index}\t${cells.join('\t')}\t${cpus}\t0\t\tN/A`);
  }
  lines.push(
    '',
    'Legend:',
    '',
    '  X    = Self',
    '  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes (e.g., QPI/UPI)',
    '  NODE = Connection traversing PCIe as well as the interconnect between PCIe Host Bridges within a NUMA node',
    '  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)',
    '  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)',
    '  PIX  = Connection traversing at most a single PCIe bridge',
    '  NV#  = Connection traversing a bonded set of # NVLinks',
  );
  return `${lines.join('\n')}\n`;
}

const HELP = `NVIDIA System Management Interface -- v${DRIVER_VERSION}

NVSMI provides monitoring information for Tesla and select Quadro devices.
The data is presented in either a plain text or an XML format, via stdout or a file.
NVSMI also provides several management operations for changing the device state.

Note that the functionality of NVSMI is exposed through the NVML C-based
library. See the NVIDIA developer website for more information about NVML.
Python wrappers to NVML are also available.  The output of NVSMI is
not guaranteed to be backwards compatible; NVML and the bindings are backwards
compatible.

Supported products:
- Full Support
    - NVIDIA Tesla Line:    All products.
    - NVIDIA Data Center:   All products.

nvidia-smi [OPTION1 [ARG1]] [OPTION2 [ARG2]] ...

    -h,   --help                Print usage information and exit.

  LIST OPTIONS:

    -L,   --list-gpus           Display a list of GPUs connected to the system.

  SUMMARY OPTIONS:

    <no arguments>              Show a summary of GPUs connected to the system.

    [plus any of]

    -i,   --id=                 Target a specific GPU.

  QUERY OPTIONS:

    --query-gpu=                Information about GPU.
                                Call --help-query-gpu for more info.
    --query-compute-apps=       List of currently active compute processes.
                                Call --help-query-compute-apps for more info.
    --format=                   Comma separated list of format options:
                                  csv - comma separated values (MANDATORY)
                                  noheader - skip the first line with column headers
                                  nounits - don't print units for numerical
                                             values

  TOPOLOGY:

    topo                        Display topological information about the system.
                                Use "nvidia-smi topo -h" for more information.

Please see the nvidia-smi(1) manual page for more detailed information.
`;

export function runNvidiaSmi(args: string[], env: NodeJS.ProcessEnv, now: Date = new Date()): SmiResult {
  const out = (stdout: string, code: number = EXIT.ok): SmiResult => ({ stdout, stderr: '', code });
  let parsed: Parsed;
  try {
    parsed = parseArgs(args);
  } catch (e) {
    if (e instanceof InvalidArguments) return out(INVALID_ARGS, EXIT.invalidArgument);
    throw e;
  }
  if (parsed.mode.kind === 'help') return out(HELP);
  if (parsed.mode.kind === 'version') {
    return out(`NVIDIA-SMI version  : ${DRIVER_VERSION}\nNVML version        : ${DRIVER_VERSION.split('.').slice(0, 2).join('.')}\n` +
      `DRIVER version      : ${DRIVER_VERSION}\nCUDA Version        : ${CUDA_VERSION}\n`);
  }
  let config;
  try {
    config = hostConfigFromEnv(env);
  } catch (e) {
    // A broken test setup, not something the real tool could say: make it loud and distinct.
    if (e instanceof ConfigError) return { stdout: '', stderr: `fake nvidia-smi: ${e.message}\n`, code: 255 };
    throw e;
  }
  if (config.failure === 'driver') return out(DRIVER_FAILURE, EXIT.driverNotLoaded);
  const all = buildHost(config);
  const gpus = selectGpus(all, parsed.ids);
  if (all.length === 0 || gpus === null || gpus.length === 0) return out(NO_DEVICES, EXIT.notFound);
  try {
    switch (parsed.mode.kind) {
      case 'table':
        return out(renderTable(gpus, now));
      case 'list':
        return out(renderList(gpus));
      case 'topo':
        return out(renderTopo(all));
      case 'queryGpu':
        return out(queryGpus(parsed.mode.fields, gpus, parsed.format!, now, all.length));
      case 'queryApps':
        return out(queryComputeApps(parsed.mode.fields, gpus, parsed.format!, now));
    }
  } catch (e) {
    // The real tool answers an unknown field with this line and a blank one, on stdout.
    if (e instanceof UnknownFieldError) return out(`${e.message}\n\n`, EXIT.invalidArgument);
    throw e;
  }
}
