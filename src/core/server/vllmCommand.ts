// Builds the `vllm serve` and `modelscope download` command lines from a server profile
// (docs/vllm-kimi-protocol.md §4 and §5), and wraps them for a POSIX shell with the profile's environment.
//
// argv builders return plain string arrays — one item per argument, exactly what the program will receive —
// and only shellCommand() turns them into shell text, through shellQuote. Every profile field is quoted there,
// except `environment.commandPrefix`, which is the user's own shell text by design (see wrapEnvironment).
import type { ServerProfile } from '../config/serverProfile';
import { exportLine, join, quote, quotePath } from './shellQuote';

export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9;

/** The variable vLLM reads its API key from. The key goes there, never on a command line: argv is world-readable
 *  in `ps`, and vLLM prints its non-default args (including --api-key) into the log. */
export const API_KEY_ENV = 'VLLM_API_KEY';

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

type Environment = ServerProfile['environment'];

/** The model directory on the host: `modelDir`, or `<downloadDir>/<model id>`; with no download dir, the model id
 *  itself (vLLM then resolves it from the hub). May start with `~/` — it is expanded on the host. */
export function modelPath(profile: Pick<ServerProfile, 'modelDir' | 'downloadDir' | 'model'>): string {
  if (profile.modelDir !== '') return profile.modelDir;
  if (profile.downloadDir === '') return profile.model;
  const dir = profile.downloadDir === '/' ? '' : profile.downloadDir.replace(/\/+$/, '');
  return `${dir}/${profile.model}`;
}

/** A positional path that begins with '-' would be read as an option; `./-x` names the same file. */
function positional(path: string): string {
  return path.startsWith('-') ? `./${path}` : path;
}

/** `--flag value`, or `--flag=value` when the value starts with '-' (argparse would take it for an option). */
function option(flag: string, value: string): string[] {
  return value.startsWith('-') ? [`${flag}=${value}`] : [flag, value];
}

/** `--api-key`, and the spellings argparse/vLLM accept for it: unique prefixes (`--api-k`) and `_` for `-`. */
const API_KEY_FLAG = /^--api[-_]k(e(y)?)?(=|$)/;

export interface ServeArgvOptions {
  /** The caller will provide the key as VLLM_API_KEY in the server's environment (see remoteScripts' secretEnv).
   *  The argv is the same either way — the key is never an argument; this only documents the caller's intent. */
  apiKeyEnv?: boolean;
}

/**
 * `vllm serve` argv for a profile. For the default profile this is exactly the official command:
 *   vllm serve <modelPath> --host 127.0.0.1 --port 8000 -tp 8 --mm-encoder-tp-mode data --trust-remote-code
 *     --tool-call-parser kimi_k2 --reasoning-parser kimi_k2 --enable-auto-tool-choice
 * followed by --served-model-name, --max-model-len (when > 0), --gpu-memory-utilization (when ≠ 0.9) and the
 * profile's extraArgs, each one argv item, verbatim.
 */
export function serveArgv(profile: ServerProfile, _opts: ServeArgvOptions = {}): string[] {
  const badKey = profile.extraArgs.find((a) => API_KEY_FLAG.test(a));
  if (badKey !== undefined) {
    throw new CommandError(
      'Extra arguments contain --api-key: the key would be visible to every user in the process list and printed ' +
        'in the server log. Remove it and use "Kimi: Set API Key" — the key is then passed as VLLM_API_KEY.',
    );
  }
  if (profile.enableAutoToolChoice && profile.toolCallParser === '') {
    throw new CommandError(
      'Auto tool choice needs a tool-call parser: set toolCallParser (kimi_k2 for Kimi-K2.5) or turn enableAutoToolChoice off.',
    );
  }
  const argv = ['vllm', 'serve', positional(modelPath(profile))];
  argv.push(...option('--host', profile.bindHost), '--port', String(profile.port));
  argv.push('-tp', String(profile.tensorParallelSize));
  argv.push('--mm-encoder-tp-mode', profile.mmEncoderTpMode);
  if (profile.trustRemoteCode) argv.push('--trust-remote-code');
  if (profile.toolCallParser !== '') argv.push(...option('--tool-call-parser', profile.toolCallParser));
  if (profile.reasoningParser !== '') argv.push(...option('--reasoning-parser', profile.reasoningParser));
  if (profile.enableAutoToolChoice) argv.push('--enable-auto-tool-choice');
  if (profile.servedModelName !== '') argv.push(...option('--served-model-name', profile.servedModelName));
  if (profile.maxModelLen > 0) argv.push('--max-model-len', String(profile.maxModelLen));
  if (profile.gpuMemoryUtilization !== DEFAULT_GPU_MEMORY_UTILIZATION) {
    argv.push('--gpu-memory-utilization', String(profile.gpuMemoryUtilization));
  }
  argv.push(...profile.extraArgs);
  return argv;
}

export interface ModelscopeArgvOptions {
  /** Glob patterns (`--include`, nargs='*'): only these files. */
  include?: readonly string[];
  /** Glob patterns (`--exclude`). */
  exclude?: readonly string[];
}

/** `modelscope download --model <id> --local_dir <modelPath> [--include …] [--exclude …]` (§5). */
export function modelscopeArgv(profile: ServerProfile, opts: ModelscopeArgvOptions = {}): string[] {
  const argv = ['modelscope', 'download', ...option('--model', profile.model), ...option('--local_dir', modelPath(profile))];
  for (const [flag, globs] of [['--include', opts.include], ['--exclude', opts.exclude]] as const) {
    if (!globs || globs.length === 0) continue;
    // nargs='*' takes the following items until one looks like an option, so a glob cannot start with '-'.
    const bad = globs.find((g) => g.startsWith('-') || g === '');
    if (bad !== undefined) throw new CommandError(`${flag} pattern "${bad}" is empty or starts with "-"`);
    argv.push(flag, ...globs);
  }
  return argv;
}

/**
 * Shell text that runs `commandText` inside the profile's environment:
 *   venv          → `. '<venv>/bin/activate' && …`
 *   commandPrefix → prepended VERBATIM. It is trusted user configuration (like a line in their ~/.bashrc): the
 *                   user writes shell text such as `env PATH=/opt/vllm/bin:$PATH` or `source /opt/setup.sh &&`,
 *                   and it runs with the user's own rights on the user's own host. It is never built from anything
 *                   but that setting (which VS Code keeps machine-scoped, out of workspace settings).
 *   conda         → `conda run --no-capture-output -n '<name>' …`
 * Applied in that order when several are set.
 */
export function wrapEnvironment(environment: Environment, commandText: string): string {
  let text = commandText;
  if (environment.conda !== '') {
    if (environment.conda.startsWith('-')) throw new CommandError(`conda environment name "${environment.conda}" must not start with "-"`);
    text = `conda run --no-capture-output -n ${quote(environment.conda)} ${text}`;
  }
  if (environment.commandPrefix.trim() !== '') text = `${environment.commandPrefix.trim()} ${text}`;
  if (environment.venv !== '') {
    const activate = `${environment.venv.replace(/\/+$/, '')}/bin/activate`;
    text = `. ${quotePath(activate)} && ${text}`;
  }
  return text;
}

/**
 * The whole shell script for `argv` on the profile's host: the profile's `env` (overridden by `env`) exported,
 * then the command inside the environment. argv items starting with `~/` expand to the host's home directory
 * (modelPath defaults to `~/models/…`); every other character of every item reaches the program literally.
 * Secrets do not belong in `env` (the script may become a process argument); see remoteScripts' secretEnv.
 */
export function shellCommand(profile: ServerProfile, argv: readonly string[], env: Readonly<Record<string, string>> = {}): string {
  if (argv.length === 0) throw new CommandError('empty command');
  const exports = exportLine({ ...profile.env, ...env });
  const command = wrapEnvironment(profile.environment, join(argv, { expandTilde: true }));
  return exports === '' ? command : `${exports}\n${command}`;
}
