// Command-line parsing of `modelscope [--token T] download …` the way Python's argparse does it for
// modelscope 1.36's parser — including its error texts and quirks:
//  - the top-level parser's prog is "ModelScope Command Line tool" (the first positional argument of
//    ArgumentParser is prog), so unknown options read "ModelScope Command Line tool: error: unrecognized
//    arguments: --foo";
//  - errors inside `download` name the sub-parser "modelscope <command> [<args>] download";
//  - options may be abbreviated to any unique prefix (--local → --local_dir);
//  - the positionals repo_id (?) and files (*) are matched in one go, so in `download a --model M b` the "b" is
//    left over and reported as unrecognized.
// Usage and help texts are argparse's output for an 80-column terminal (Python 3.10/3.11).
import * as os from 'node:os';

export const MODELSCOPE_VERSION = '1.36.0';

const COMMANDS = ['create', 'download', 'skills', 'upload', 'clear-cache', 'plugin', 'pipeline', 'modelcard', 'server',
  'login', 'llamafile', 'scan-cache'];

export const TOP_USAGE = 'usage: modelscope <command> [<args>]\n';

export const TOP_HELP = `${TOP_USAGE}
positional arguments:
  {${COMMANDS.join(',')}}
                        modelscope commands helpers

options:
  -h, --help            show this help message and exit
  -V, --version         show program's version number and exit
  --token TOKEN         Specify ModelScope SDK token.
`;

const DOWNLOAD_INDENT = ' '.repeat(46);
export const DOWNLOAD_USAGE = `usage: modelscope <command> [<args>] download [-h]
${[
    '[--model MODEL | --dataset DATASET | --collection COLLECTION]',
    '[--repo-type {model,dataset}]',
    '[--token TOKEN]',
    '[--revision REVISION]',
    '[--cache_dir CACHE_DIR]',
    '[--local_dir LOCAL_DIR]',
    '[--include [INCLUDE ...]]',
    '[--exclude [EXCLUDE ...]]',
    '[--max-workers MAX_WORKERS]',
    '[repo_id] [files ...]',
  ].map((l) => DOWNLOAD_INDENT + l).join('\n')}
`;

export const DOWNLOAD_HELP = `${DOWNLOAD_USAGE}
positional arguments:
  repo_id               Optional, ID of the repo to download, It can also be
                        set by --model or --dataset.
  files                 Specify relative path to the repository file(s) to
                        download.(e.g 'tokenizer.json',
                        'onnx/decoder_model.onnx').

options:
  -h, --help            show this help message and exit
  --model MODEL         The id of the model to be downloaded. For download,
                        the id of either a model or dataset must be provided.
  --dataset DATASET     The id of the dataset to be downloaded. For download,
                        the id of either a model or dataset must be provided.
  --collection COLLECTION
                        The ID of the collection to download (skills only)
  --repo-type {model,dataset}
                        Type of repo to download from (defaults to 'model').
  --token TOKEN         Optional. Access token to download controlled
                        entities.
  --revision REVISION   Revision of the entity (e.g., model).
  --cache_dir CACHE_DIR
                        Cache directory to save entity (e.g., model).
  --local_dir LOCAL_DIR
                        File will be downloaded to local location specified
                        bylocal_dir, in this case, cache_dir parameter will be
                        ignored.
  --include [INCLUDE ...]
                        Glob patterns to match files to download.Ignored if
                        file is specified
  --exclude [EXCLUDE ...]
                        Glob patterns to exclude from files to
                        download.Ignored if file is specified
  --max-workers MAX_WORKERS
                        The maximum number of workers to download files.
`;

export interface DownloadArgs {
  model: string | null;
  dataset: string | null;
  collection: string | null;
  repoId: string | null;
  repoType: 'model' | 'dataset';
  token: string | null;
  revision: string | null;
  cacheDir: string | null;
  localDir: string | null;
  files: string[];
  include: string[] | null;
  exclude: string[] | null;
  maxWorkers: number;
}

/** What the command line asks for; `exit` outcomes carry argparse's exact output. */
export type ParseOutcome =
  | { kind: 'download'; args: DownloadArgs }
  | { kind: 'exit'; stdout: string; stderr: string; code: number }
  | { kind: 'otherCommand'; command: string };

class ArgError extends Error {
  constructor(readonly usage: string, readonly prog: string, message: string) {
    super(message);
  }
}

interface OptionSpec { flags: string[]; dest: keyof DownloadArgs | 'help'; nargs: 0 | 1 | '*'; type?: 'int'; choices?: string[]; group?: 'repo' }

const DOWNLOAD_OPTIONS: OptionSpec[] = [
  { flags: ['-h', '--help'], dest: 'help', nargs: 0 },
  { flags: ['--model'], dest: 'model', nargs: 1, group: 'repo' },
  { flags: ['--dataset'], dest: 'dataset', nargs: 1, group: 'repo' },
  { flags: ['--collection'], dest: 'collection', nargs: 1, group: 'repo' },
  { flags: ['--repo-type'], dest: 'repoType', nargs: 1, choices: ['model', 'dataset'] },
  { flags: ['--token'], dest: 'token', nargs: 1 },
  { flags: ['--revision'], dest: 'revision', nargs: 1 },
  { flags: ['--cache_dir'], dest: 'cacheDir', nargs: 1 },
  { flags: ['--local_dir'], dest: 'localDir', nargs: 1 },
  { flags: ['--include'], dest: 'include', nargs: '*' },
  { flags: ['--exclude'], dest: 'exclude', nargs: '*' },
  { flags: ['--max-workers'], dest: 'maxWorkers', nargs: 1, type: 'int' },
];

const DOWNLOAD_PROG = 'modelscope <command> [<args>] download';
const TOP_PROG = 'ModelScope Command Line tool';

const pyRepr = (s: string): string => (s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);

interface Classified { pattern: string; option?: { spec: OptionSpec | null; flag: string; explicit: string | null } }

/** argparse._parse_optional: is this string an option, and which one (exact, `--opt=value`, or unique prefix)? */
function classify(arg: string, specs: OptionSpec[], usage: string, prog: string): Classified {
  if (arg === '--') return { pattern: '-' };
  if (!arg.startsWith('-') || arg === '-') return { pattern: 'A' };
  const exact = specs.find((s) => s.flags.includes(arg));
  if (exact) return { pattern: 'O', option: { spec: exact, flag: arg, explicit: null } };
  const eq = arg.indexOf('=');
  if (eq > 0) {
    const head = arg.slice(0, eq);
    const spec = specs.find((s) => s.flags.includes(head));
    if (spec) return { pattern: 'O', option: { spec, flag: head, explicit: arg.slice(eq + 1) } };
  }
  if (arg.startsWith('--')) {
    const head = eq > 0 ? arg.slice(0, eq) : arg;
    const matches: { spec: OptionSpec; flag: string }[] = [];
    for (const spec of specs) for (const flag of spec.flags) if (flag.startsWith(head)) matches.push({ spec, flag });
    if (matches.length > 1) {
      throw new ArgError(usage, prog, `ambiguous option: ${head} could match ${matches.map((m) => m.flag).join(', ')}`);
    }
    if (matches.length === 1) {
      return { pattern: 'O', option: { spec: matches[0]!.spec, flag: matches[0]!.flag, explicit: eq > 0 ? arg.slice(eq + 1) : null } };
    }
  }
  if (/^-\d+$|^-\d*\.\d+$/.test(arg)) return { pattern: 'A' };
  if (arg.includes(' ')) return { pattern: 'A' };
  return { pattern: 'O', option: { spec: null, flag: arg, explicit: null } };
}

function parseDownload(argv: string[]): { args: DownloadArgs; extras: string[] } | { help: true } {
  const fail = (message: string): never => {
    throw new ArgError(DOWNLOAD_USAGE, DOWNLOAD_PROG, message);
  };
  const result: DownloadArgs = {
    model: null, dataset: null, collection: null, repoId: null, repoType: 'model', token: null, revision: null,
    cacheDir: null, localDir: null, files: [], include: null, exclude: null, maxWorkers: defaultMaxWorkers(),
  };
  const classified = argv.map((a, i) => {
    const dashdash = argv.indexOf('--');
    if (dashdash >= 0 && i > dashdash) return { pattern: 'A' } as Classified;
    return classify(a, DOWNLOAD_OPTIONS, DOWNLOAD_USAGE, DOWNLOAD_PROG);
  });
  const pattern = classified.map((c) => c.pattern).join('');
  const extras: string[] = [];
  let groupSeen: string | null = null;
  const positionals: ('repoId' | 'files')[] = ['repoId', 'files'];

  const store = (spec: OptionSpec, flag: string, values: string[]): void => {
    if (spec.group) {
      if (groupSeen && groupSeen !== flag) fail(`argument ${flag}: not allowed with argument ${groupSeen}`);
      groupSeen = flag;
    }
    if (spec.nargs === '*') {
      (result as unknown as Record<string, unknown>)[spec.dest] = values;
      return;
    }
    const value = values[0]!;
    if (spec.choices && !spec.choices.includes(value)) {
      fail(`argument ${spec.flags.join('/')}: invalid choice: ${pyRepr(value)} (choose from ${spec.choices.map(pyRepr).join(', ')})`);
    }
    if (spec.type === 'int') {
      if (!/^\s*[-+]?\d+\s*$/.test(value)) fail(`argument ${spec.flags.join('/')}: invalid int value: ${pyRepr(value)}`);
      result.maxWorkers = parseInt(value, 10);
      return;
    }
    (result as unknown as Record<string, unknown>)[spec.dest] = value;
  };

  const consumeOptional = (start: number): number | 'help' => {
    const opt = classified[start]!.option!;
    if (!opt.spec) {
      extras.push(argv[start]!);
      return start + 1;
    }
    const spec = opt.spec;
    const flagsName = spec.flags.join('/');
    if (opt.explicit !== null) {
      if (spec.nargs === 0) fail(`argument ${flagsName}: ignored explicit argument ${pyRepr(opt.explicit)}`);
      store(spec, opt.flag, [opt.explicit]);
      return start + 1;
    }
    if (spec.nargs === 0) return 'help';
    let count = 0;
    while (start + 1 + count < argv.length && pattern[start + 1 + count] === 'A') count++;
    if (spec.nargs === 1) {
      if (count < 1) fail(`argument ${flagsName}: expected one argument`);
      count = 1;
    }
    store(spec, opt.flag, argv.slice(start + 1, start + 1 + count));
    return start + 1 + count;
  };

  /** argparse._match_arguments_partial for [repo_id '?', files '*'] against the 'A's from `start`. */
  const consumePositionals = (start: number): number => {
    const nargsPattern = { repoId: '(-*A?-*)', files: '(-*[A-]*)' };
    const rest = pattern.slice(start);
    for (let k = positionals.length; k > 0; k--) {
      const re = new RegExp(`^${positionals.slice(0, k).map((p) => nargsPattern[p]).join('')}`);
      const m = re.exec(rest);
      if (!m) continue;
      let index = start;
      for (let g = 0; g < k; g++) {
        const len = m[g + 1]!.length;
        const values = argv.slice(index, index + len).filter((_, j) => pattern[index + j] !== '-');
        if (positionals[g] === 'repoId') result.repoId = values[0] ?? null;
        else result.files = values;
        index += len;
      }
      positionals.splice(0, k);
      return index;
    }
    return start;
  };

  const optionIndices = classified.map((c, i) => (c.pattern === 'O' ? i : -1)).filter((i) => i >= 0);
  const maxOption = optionIndices.length ? Math.max(...optionIndices) : -1;
  let start = 0;
  while (start <= maxOption) {
    const nextOption = Math.min(...optionIndices.filter((i) => i >= start));
    if (start !== nextOption) {
      const end = consumePositionals(start);
      if (end > start) {
        start = end;
        continue;
      }
      start = end;
    }
    if (!optionIndices.includes(start)) {
      extras.push(...argv.slice(start, nextOption));
      start = nextOption;
    }
    const next = consumeOptional(start);
    if (next === 'help') return { help: true };
    start = next;
  }
  const stop = consumePositionals(start);
  extras.push(...argv.slice(stop).filter((a) => a !== '--'));
  return { args: result, extras };
}

/** modelscope's DEFAULT_MAX_WORKERS: $DEFAULT_MAX_WORKERS or min(8, cpu count + 4). */
function defaultMaxWorkers(): number {
  const env = process.env.DEFAULT_MAX_WORKERS;
  if (env && /^\d+$/.test(env)) return Number(env);
  return Math.min(8, os.availableParallelism() + 4);
}

/** Parses the whole command line (everything after the program name). */
export function parseCommandLine(argv: string[]): ParseOutcome {
  const error = (e: ArgError): ParseOutcome => ({ kind: 'exit', stdout: '', stderr: `${e.usage}${e.prog}: error: ${e.message}\n`, code: 2 });
  const topOptions: OptionSpec[] = [
    { flags: ['-h', '--help'], dest: 'help', nargs: 0 },
    { flags: ['-V', '--version'], dest: 'help', nargs: 0 },
    { flags: ['--token'], dest: 'token', nargs: 1 },
  ];
  const extras: string[] = [];
  try {
    let i = 0;
    for (; i < argv.length; i++) {
      const c = classify(argv[i]!, topOptions, TOP_USAGE, TOP_PROG);
      if (c.pattern !== 'O') break;
      const opt = c.option!;
      if (!opt.spec) {
        extras.push(argv[i]!);
        continue;
      }
      if (opt.spec.flags[0] === '-h') return { kind: 'exit', stdout: TOP_HELP, stderr: '', code: 0 };
      if (opt.spec.flags[0] === '-V') return { kind: 'exit', stdout: `ModelScope CLI ${MODELSCOPE_VERSION}\n`, stderr: '', code: 0 };
      if (opt.explicit === null) {
        if (i + 1 >= argv.length || classify(argv[i + 1]!, topOptions, TOP_USAGE, TOP_PROG).pattern !== 'A') {
          throw new ArgError(TOP_USAGE, TOP_PROG, 'argument --token: expected one argument');
        }
        i++;
      }
    }
    const command = argv[i];
    if (command === undefined) {
      if (extras.length) throw new ArgError(TOP_USAGE, TOP_PROG, `unrecognized arguments: ${extras.join(' ')}`);
      // No sub-command: modelscope prints its help and exits 1.
      return { kind: 'exit', stdout: TOP_HELP, stderr: '', code: 1 };
    }
    if (!COMMANDS.includes(command)) {
      throw new ArgError(TOP_USAGE, TOP_PROG,
        `argument {${COMMANDS.join(',')}}: invalid choice: ${pyRepr(command)} (choose from ${COMMANDS.map(pyRepr).join(', ')})`);
    }
    if (command !== 'download') return { kind: 'otherCommand', command };
    const parsed = parseDownload(argv.slice(i + 1));
    if ('help' in parsed) return { kind: 'exit', stdout: DOWNLOAD_HELP, stderr: '', code: 0 };
    const all = [...extras, ...parsed.extras];
    if (all.length) throw new ArgError(TOP_USAGE, TOP_PROG, `unrecognized arguments: ${all.join(' ')}`);
    return { kind: 'download', args: parsed.args };
  } catch (e) {
    if (e instanceof ArgError) return error(e);
    throw e;
  }
}
