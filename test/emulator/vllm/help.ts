// `vllm --help` and `vllm serve --help` (short forms of vLLM 0.15's, which list config groups rather than every flag;
// `--help=all` / `--help=<group>` / `--help=<keyword>` narrow it down like FlexibleArgumentParser.format_help).
import { SPECS, actionName, type ArgSpec } from './argspec';
import { SERVE_USAGE, TOP_USAGE } from './args';

export function topHelp(): string {
  return [
    TOP_USAGE,
    '',
    'vLLM CLI',
    '',
    'positional arguments:',
    '  {chat,complete,serve,bench,collect-env,run-batch}',
    '    chat                Generate chat completions via the running API server.',
    '    complete            Generate text completions based on the given prompt via the running API server.',
    '    serve               Launch a local OpenAI-compatible API server to serve LLM completions via HTTP.',
    '    bench               vLLM bench subcommand.',
    '    collect-env         Start collecting environment information.',
    '    run-batch           Run batch prompts and write results to file.',
    '',
    'options:',
    '  -h, --help            show this help message and exit',
    '  -v, --version         show program\'s version number and exit',
    '',
    'For full list:            vllm [subcommand] --help=all',
    'For a section:            vllm [subcommand] --help=ModelConfig    (case-insensitive)',
    'For a flag:               vllm [subcommand] --help=max-model-len  (_ or - accepted)',
    'Documentation:            https://docs.vllm.ai',
    '',
  ].join('\n');
}

const GROUP_DESCRIPTIONS: Record<string, string> = {
  'positional arguments': '',
  options: '',
  Frontend: 'Arguments for the OpenAI-compatible frontend server.',
  ModelConfig: 'Configuration for the model.',
  LoadConfig: 'Configuration for loading the model weights.',
  StructuredOutputsConfig: 'Dataclass which contains structured outputs config for the engine.',
  ParallelConfig: 'Configuration for the distributed execution.',
  CacheConfig: 'Configuration for the KV cache.',
  MultiModalConfig: 'Controls the behavior of multimodal models.',
  LoRAConfig: 'Configuration for LoRA.',
  ObservabilityConfig: 'Configuration for observability - metrics and tracing.',
  SchedulerConfig: 'Scheduler configuration.',
  VllmConfig: 'Dataclass which contains all vllm-related configuration.',
};

function optionLine(s: ArgSpec): string {
  const names = actionName(s).split('/').join(', ');
  const metavar = s.kind === 'bool' || s.kind === 'store_true' ? '' : ` ${s.choices ? `{${s.choices.join(',')}}` : s.dest.toUpperCase()}`;
  return `  ${names}${metavar}`;
}

export function serveHelp(search: string): string {
  const epilog = [
    '',
    'For full list:            vllm serve --help=all',
    'For a section:            vllm serve --help=ModelConfig    (case-insensitive)',
    'For a flag:               vllm serve --help=max-model-len  (_ or - accepted)',
    'Documentation:            https://docs.vllm.ai',
    '',
  ];
  const groups = [...new Set(SPECS.map((s) => s.group))];
  const key = search.toLowerCase().replace(/_/g, '-');
  if (key === 'all') {
    const out = [SERVE_USAGE, ''];
    for (const g of groups) {
      out.push(`${g}:`, ...SPECS.filter((s) => s.group === g).map(optionLine), '');
    }
    return out.join('\n');
  }
  if (key) {
    const group = groups.find((g) => g.toLowerCase() === key);
    if (group) return [`${group}:`, `  ${GROUP_DESCRIPTIONS[group] ?? ''}`, '', ...SPECS.filter((s) => s.group === group).map(optionLine), ''].join('\n');
    const matched = SPECS.filter((s) => actionName(s).toLowerCase().includes(key));
    if (matched.length) return [`Arguments matching '${key}':`, ...matched.map(optionLine), ''].join('\n');
    return [`No group or arguments matching '${key}'.`, "Use '--help' to see available groups or '--help=all' to see all available parameters.", ''].join('\n');
  }
  const width = Math.max(...groups.map((g) => g.length)) + 1;
  return [
    SERVE_USAGE,
    '',
    'Launch a local OpenAI-compatible API server to serve LLM',
    'completions via HTTP. Defaults to Qwen/Qwen3-0.6B if no model is specified.',
    '',
    'Config Groups:',
    ...groups.map((g) => `  ${g.padEnd(width)}${GROUP_DESCRIPTIONS[g] ?? ''}`.trimEnd()),
    ...epilog,
  ].join('\n');
}
