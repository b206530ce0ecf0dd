// Plain-language diagnoses of the lines a failing `vllm serve` prints (docs/vllm-kimi-protocol.md §4).
//
// Each rule is keyed on vLLM's (or the shell's, or transformers') own wording, tolerant of the variants between
// releases: `models's`/`model's`, a docs link appended by newer releases, `cuda:N` in the free-memory error,
// `Starting vLLM (API) server…`. A rule first checks cheap substrings and only then runs its regular expressions,
// and every expression is linear (no nested quantifiers), so hostile or megabyte lines cost little and never throw.
//
// Diagnoses differ in how specific they are: "Engine core initialization failed. See root cause above." only says
// that something earlier went wrong, so a log consumer (VllmLogParser) keeps the most specific one it has seen.

export type DiagnosisCode =
  | 'addressInUse'
  | 'kvCacheTooSmall'
  | 'noCacheBlocks'
  | 'gpuMemoryBusy'
  | 'cudaOutOfMemory'
  | 'notEnoughGpus'
  | 'noGpu'
  | 'cCompilerMissing'
  | 'unknownToolCallParser'
  | 'unknownReasoningParser'
  | 'autoToolChoiceNeedsParser'
  | 'trustRemoteCode'
  | 'unrecognizedArguments'
  | 'invalidArgument'
  | 'vllmNotInstalled'
  | 'environmentNotFound'
  | 'invalidModel'
  | 'maxModelLenTooLong'
  | 'workerDied'
  | 'workerFailed'
  | 'engineInitFailed'
  // Several hosts (src/core/cluster): a node failed or went away, cannot reach the head, runs another version, or
  // the layout cannot hold the model on these GPUs.
  | 'nodeFailed'
  | 'nodeUnreachable'
  | 'versionMismatch'
  | 'layoutDoesNotFit';

/** Server-profile fields a fix may change (names as in the `kimi.servers` setting). */
export type FixSettingKey =
  | 'maxModelLen'
  | 'gpuMemoryUtilization'
  | 'tensorParallelSize'
  | 'port'
  | 'toolCallParser'
  | 'reasoningParser'
  | 'trustRemoteCode'
  | 'extraArgs';

export interface Fix {
  /** What to do, as a button/label: "Set max-model-len to 157248 and restart". */
  label: string;
  /** The profile change that applies the fix. For `extraArgs` the value is `{ remove: string[] }`: the arguments
   *  to drop from the list (the profile's current list is not known here). */
  setting?: { key: FixSettingKey; value: unknown };
}

export interface Diagnosis {
  code: DiagnosisCode;
  title: string;
  explanation: string;
  fix?: Fix;
  /** The (cleaned, length-capped) line the diagnosis was made from. */
  line: string;
  /** In a cluster: the node it is about ('local' or its SSH destination). */
  node?: string;
}

/** What a caller knows besides the line itself (VllmLogParser fills it from earlier lines). */
export interface DiagnoseContext {
  /** The port vLLM was asked to listen on (from `non-default args`; 8000 when absent there). */
  port?: number;
  /** --gpu-memory-utilization in effect. */
  gpuMemoryUtilization?: number;
  /** The process prefix of the line: `Worker_TP3`, `EngineCore_DP0`, `APIServer`. */
  proc?: string;
  /** The last exception line seen before this one (`ValueError: …`), for the generic diagnoses. */
  lastError?: string;
}

/** 0: only says "see above"; 1: a wrapper that may still hide the cause; 2: names the root cause. */
export type Specificity = 0 | 1 | 2;

const GENERIC: Partial<Record<DiagnosisCode, Specificity>> = { engineInitFailed: 0, workerFailed: 1, workerDied: 1 };

export function specificity(code: DiagnosisCode): Specificity {
  return GENERIC[code] ?? 2;
}

/** Longest line a rule looks at; longer input is cut (vLLM's real failure lines are a few hundred characters). */
export const MAX_DIAGNOSED_CHARS = 65536;

/** Kimi-K2.5's minimum GPU memory (protocol sheet §3). */
const KIMI_GPU_MEMORY = 'about 714 GB of GPU memory in total: 8×H200 (141 GB each) fits, 8×H100 (80 GB each) does not';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/g;

/** ANSI sequences and control characters removed (tab kept; line breaks, which only a caller passing several
 *  lines at once can leave in, become spaces so that words stay apart). */
export function cleanText(s: string): string {
  // Cheap test first: most lines have neither.
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x08\x0a-\x1f\x7f]/.test(s)) return s;
  return s.replace(ANSI, '').replace(/[\r\n]+/g, ' ').replace(CONTROL, '');
}

type Found = Omit<Diagnosis, 'line' | 'code'> & { code?: DiagnosisCode };

interface Rule {
  code: DiagnosisCode;
  /** At least one must occur in the line for `match` to run. */
  quick: string[];
  match(text: string, ctx: DiagnoseContext): Found | null;
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s.replace(/,/g, ''));
  return Number.isFinite(n) ? n : undefined;
};

function seeAbove(ctx: DiagnoseContext): string {
  return ctx.lastError ? ` The last error before it was: ${ctx.lastError}` : ' The cause is printed in the lines above this one.';
}

/** `Worker_TP3` → `GPU 3` (with tensor parallelism only, local rank n uses visible GPU n). */
function gpuOfWorker(proc: string | undefined): string | undefined {
  const m = proc ? /^Worker_TP(\d+)$/.exec(proc) : null;
  return m ? `GPU ${m[1]}` : undefined;
}

function parserRule(kind: 'tool call' | 'reasoning'): Rule {
  const isTool = kind === 'tool call';
  const flag = isTool ? 'tool-call-parser' : 'reasoning-parser';
  return {
    code: isTool ? 'unknownToolCallParser' : 'unknownReasoningParser',
    quick: [`invalid ${kind} parser`],
    match(text) {
      // KeyError: 'invalid tool call parser: kimi (chose from { deepseek_v3,…,kimi_k2,… })'
      const m = new RegExp(`invalid ${kind} parser: (\\S*) \\(chose from \\{([^}]*)\\}`).exec(text);
      if (!m) return null;
      const name = m[1];
      const valid = m[2].split(',').map((s) => s.trim()).filter(Boolean);
      const hasKimi = valid.includes('kimi_k2');
      const what = isTool ? 'tool-call parser' : 'reasoning parser';
      return {
        title: `Unknown ${what} "${name}"`,
        explanation:
          `This vLLM has no ${what} called "${name}" (--${flag}). It knows: ${valid.join(', ') || '(none listed)'}. ` +
          (hasKimi
            ? 'Kimi-K2.5 uses kimi_k2.'
            : 'kimi_k2, the one Kimi-K2.5 needs, is not among them: this vLLM is too old for Kimi-K2.5 (0.15.0 or later is needed).'),
        fix: hasKimi
          ? { label: `Use the kimi_k2 ${what}`, setting: { key: isTool ? 'toolCallParser' : 'reasoningParser', value: 'kimi_k2' } }
          : { label: 'Upgrade vLLM to 0.15.0 or later on the host' },
      };
    },
  };
}

/** The rules, most specific first; the first that matches wins. */
const RULES: Rule[] = [
  {
    code: 'addressInUse',
    quick: ['ddress already in use', 'EADDRINUSE'],
    match(text, ctx) {
      // vLLM: `OSError: [Errno 98] Address already in use` (no port in it); uvicorn: `[Errno 98] error while
      // attempting to bind on address ('0.0.0.0', 8000): address already in use`.
      const port = num(/\('[^']*', (\d{1,5})\)/.exec(text)?.[1]) ?? ctx.port;
      const where = port !== undefined ? `port ${port}` : 'the port';
      const fix: Fix =
        port !== undefined && port < 65535
          ? { label: `Use port ${port + 1} instead (or stop the other server on port ${port})`, setting: { key: 'port', value: port + 1 } }
          : { label: 'Choose another port in the server profile, or stop the other server' };
      return {
        title: port !== undefined ? `Port ${port} is already in use` : 'The port is already in use',
        explanation:
          `Another program — often a vLLM server started earlier — already listens on ${where} on this host, so vLLM ` +
          'could not open it. vLLM takes the port before it loads the model, so it stopped right away.',
        fix,
      };
    },
  },
  {
    code: 'kvCacheTooSmall',
    quick: ['max seq len', 'KV cache is needed'],
    match(text, ctx) {
      // "To serve at least one request with the models's max seq len (262144), (17.16 GiB KV cache is needed, which
      // is larger than the available KV cache memory (10.29 GiB). Based on the available memory, the estimated
      // maximum model length is 157248. Try increasing …"
      if (!/max seq len \(\d+\)/.test(text)) return null;
      const maxLen = num(/max seq len \((\d+)\)/.exec(text)?.[1]);
      const needed = /\(([\d.]+ ?[KMGT]i?B) KV cache is needed/.exec(text)?.[1];
      const available = /available KV cache memory \(([\d.]+ ?[KMGT]i?B)\)/.exec(text)?.[1];
      const estimate = num(/estimated maximum model length is (\d+)/.exec(text)?.[1]);
      const parts = [
        `One request at the full context length${maxLen !== undefined ? ` (${maxLen} tokens)` : ''} needs ` +
          `${needed ?? 'more'} of KV cache on each GPU, but only ${available ?? 'less'} is left after loading the model.`,
      ];
      if (estimate !== undefined && estimate > 0) parts.push(`vLLM estimates that the longest context that fits is ${estimate} tokens.`);
      const fix: Fix =
        estimate !== undefined && estimate > 0
          ? { label: `Set max-model-len to ${estimate} and restart`, setting: { key: 'maxModelLen', value: estimate } }
          : raiseUtilization(ctx, 'or lower max-model-len');
      return { title: 'The context length does not fit in GPU memory', explanation: parts.join(' '), fix };
    },
  },
  {
    code: 'noCacheBlocks',
    quick: ['No available memory for the cache blocks'],
    match(_text, ctx) {
      return {
        title: 'No GPU memory left for the KV cache',
        explanation:
          'After loading the model weights no GPU memory is left for the KV cache (where vLLM keeps the context of ' +
          `running requests). Kimi-K2.5 needs ${KIMI_GPU_MEMORY}.`,
        fix: raiseUtilization(ctx, 'or lower max-model-len; if that is not enough, these GPUs are too small for Kimi-K2.5'),
      };
    },
  },
  {
    code: 'gpuMemoryBusy',
    quick: ['Free memory on device'],
    match(text, ctx) {
      // 0.15: "Free memory on device (37.95/139.8 GiB) on startup is less than desired GPU memory utilization
      // (0.9, 125.82 GiB)."; newer: "Free memory on device cuda:3 (…)".
      const m = /Free memory on device(?: cuda:(\d+))? \(([\d.]+)\/([\d.]+) GiB\) on startup is less than desired GPU memory utilization \(([\d.]+), ([\d.]+) GiB\)/.exec(text);
      if (!m) return null;
      const gpu = m[1] !== undefined ? `GPU ${m[1]}` : (gpuOfWorker(ctx.proc) ?? 'A GPU');
      return {
        title: 'The GPUs are already in use',
        explanation:
          `${gpu} has only ${m[2]} GiB free of ${m[3]} GiB, but vLLM wants ${m[5]} GiB on it (gpu-memory-utilization ${m[4]}). ` +
          'Another process holds the rest — often an earlier vLLM server that is still running.',
        fix: { label: 'Stop the other process on the GPUs (the GPU check names it), then start again' },
      };
    },
  },
  {
    code: 'cudaOutOfMemory',
    quick: ['out of memory', 'OutOfMemoryError'],
    match(text) {
      if (!/CUDA out of memory|CUDA error: out of memory|OutOfMemoryError/.test(text)) return null;
      // torch: "CUDA out of memory. Tried to allocate 1.75 GiB. GPU 0 has a total capacity of 140.40 GiB of which
      // 0.94 GiB is free."
      const alloc = /Tried to allocate ([\d.]+ ?[KMGT]i?B)/.exec(text)?.[1];
      const cap = /GPU (\d+) has a total capacity of ([\d.]+ ?[KMGT]i?B) of which ([\d.]+ ?[KMGT]i?B) is free/.exec(text);
      const what = cap
        ? `GPU ${cap[1]} (${cap[2]}) ran out of memory${alloc ? ` when vLLM asked for ${alloc} more` : ''}; only ${cap[3]} was free.`
        : 'A GPU ran out of memory.';
      return {
        title: 'A GPU ran out of memory',
        explanation: `${what} Either another process uses GPU memory, or the model does not fit these GPUs: Kimi-K2.5 needs ${KIMI_GPU_MEMORY}.`,
        fix: { label: 'Stop other GPU processes, or lower max-model-len / gpu-memory-utilization; use GPUs with more memory if it still fails' },
      };
    },
  },
  {
    code: 'notEnoughGpus',
    quick: ['World size', 'invalid device ordinal', 'placement group'],
    match(text) {
      const kimi = 'Kimi-K2.5 needs 8 GPUs of 141 GB (8×H200).';
      const ws = /World size \((\d+)\) is larger than the number of available GPUs \((\d+)\)/.exec(text);
      if (ws) {
        const available = Number(ws[2]);
        return {
          title: 'Fewer GPUs than tensor-parallel-size',
          explanation: `The profile asks vLLM to split the model across ${ws[1]} GPUs, but this host has only ${available}. ${kimi}`,
          fix:
            available >= 1
              ? {
                  label: `Set tensor-parallel-size to ${available} (only if ${available} GPU${available === 1 ? '' : 's'} can hold the model)`,
                  setting: { key: 'tensorParallelSize', value: available },
                }
              : { label: 'Run the server on a host with GPUs' },
        };
      }
      if (/CUDA error: invalid device ordinal/.test(text)) {
        return {
          title: 'Fewer GPUs than tensor-parallel-size',
          explanation: `A vLLM worker was given a GPU number that does not exist: fewer GPUs are visible than tensor-parallel-size asks for (check CUDA_VISIBLE_DEVICES and nvidia-smi). ${kimi}`,
          fix: { label: 'Lower tensor-parallel-size to the number of GPUs, or run on a host with more GPUs' },
        };
      }
      const pg = /Cannot provide a placement group requiring (\d+) GPUs/.exec(text);
      if (pg) {
        return {
          title: 'The Ray cluster has fewer GPUs than the model is split across',
          explanation:
            `vLLM waited for a Ray placement group of ${pg[1]} GPUs (tensor-parallel-size × pipeline-parallel-size) and gave up: the nodes that joined ` +
            'the Ray cluster do not have that many free GPUs. Check `ray status` on the head: every node must have joined, with VLLM_HOST_IP set to its own address.',
          fix: { label: 'Start Ray on every node of the cluster (or use a cluster profile), or lower tensor-parallel-size' },
        };
      }
      if (/required GPUs exceeds the total number of available GPUs in the placement group/.test(text)) {
        return {
          title: 'Fewer GPUs than tensor-parallel-size',
          explanation: `The Ray cluster has fewer GPUs than tensor-parallel-size × pipeline-parallel-size asks for (check \`ray status\`). ${kimi}`,
          fix: { label: 'Add hosts to the Ray cluster, or lower tensor-parallel-size' },
        };
      }
      return null;
    },
  },
  {
    code: 'noGpu',
    quick: ['Failed to infer device type', 'No CUDA GPUs are available', 'Found no NVIDIA driver'],
    match() {
      return {
        title: 'vLLM found no GPU',
        explanation:
          'vLLM could not find a CUDA GPU: the NVIDIA driver is missing or not loaded, or CUDA_VISIBLE_DEVICES hides every GPU. ' +
          'Run nvidia-smi on the host to check.',
        fix: { label: 'Check the GPUs (nvidia-smi) on the host' },
      };
    },
  },
  {
    code: 'cCompilerMissing',
    quick: ['Failed to find C compiler'],
    match() {
      return {
        title: 'No C compiler on the GPU host',
        explanation:
          'While measuring memory, vLLM compiles GPU kernels with Triton, which needs a C compiler (gcc). None was found in the environment vLLM runs in.',
        fix: { label: 'Install gcc on the host (e.g. apt install build-essential) or set CC in the profile\'s env, then restart' },
      };
    },
  },
  parserRule('tool call'),
  parserRule('reasoning'),
  {
    code: 'autoToolChoiceNeedsParser',
    quick: ['--enable-auto-tool-choice requires'],
    match() {
      return {
        title: 'Tool calling needs a tool-call parser',
        explanation: '--enable-auto-tool-choice only works together with --tool-call-parser. Kimi-K2.5 uses the kimi_k2 parser.',
        fix: { label: 'Use the kimi_k2 tool-call parser', setting: { key: 'toolCallParser', value: 'kimi_k2' } },
      };
    },
  },
  {
    code: 'trustRemoteCode',
    // Not "trust_remote_code=True" alone: the engine's config line prints exactly that on a good start.
    quick: ['contains custom code', 'argument `trust_remote_code=True`', 'option `trust_remote_code=True`', 'trust_remote_code=True` to'],
    match() {
      return {
        title: 'Kimi-K2.5 needs trust-remote-code',
        explanation:
          'The model ships its own Python code (its configuration and model classes), and vLLM only runs it when started with --trust-remote-code.',
        fix: { label: 'Turn on trust-remote-code and restart', setting: { key: 'trustRemoteCode', value: true } },
      };
    },
  },
  {
    code: 'unrecognizedArguments',
    quick: ['unrecognized arguments:'],
    match(text) {
      const m = /error: unrecognized arguments: (.+)$/.exec(text);
      if (!m) return null;
      const args = m[1].trim().split(/\s+/).slice(0, 50);
      const reasoning = args.includes('--enable-reasoning');
      return {
        title: `vLLM does not know ${args.length === 1 ? 'the argument' : 'the arguments'} ${args.join(' ')}`,
        explanation: reasoning
          ? '--enable-reasoning was removed in vLLM 0.10; reasoning is on with --reasoning-parser (kimi_k2), which the profile sets already.'
          : `This vLLM does not accept ${args.join(' ')}: it is misspelt, or belongs to another vLLM version.`,
        fix: {
          label: `Remove ${args.join(' ')} from the profile's extra arguments`,
          setting: { key: 'extraArgs', value: { remove: args } },
        },
      };
    },
  },
  {
    code: 'invalidArgument',
    quick: ['vllm: error: ', 'vllm serve: error: '],
    match(text) {
      // argparse: "vllm serve: error: argument --max-model-len: invalid human_readable_int value: 'abc'"
      const m = /vllm(?: serve)?: error: (.+)$/.exec(text);
      if (!m) return null;
      return {
        title: 'vLLM rejected its command line',
        explanation: `vLLM stopped before starting because of its arguments: ${m[1]}`,
        fix: { label: 'Check the server profile\'s settings and extra arguments' },
      };
    },
  },
  {
    code: 'environmentNotFound',
    quick: ['EnvironmentLocationNotFound', 'conda environment', 'activate: No such file', 'conda: command not found', 'conda: not found'],
    match(text) {
      if (/conda: (?:command )?not found/.test(text)) {
        return {
          title: 'conda is not installed where the server runs',
          explanation: 'The profile names a conda environment, but the shell on the host has no conda command.',
          fix: { label: 'Clear environment.conda in the server profile, or use environment.venv / commandPrefix instead' },
        };
      }
      return {
        title: 'The Python environment was not found',
        explanation:
          'The virtual environment (environment.venv) or conda environment (environment.conda) named in the server profile does not exist on the host.',
        fix: { label: 'Fix environment.venv or environment.conda in the server profile' },
      };
    },
  },
  {
    code: 'vllmNotInstalled',
    quick: ['vllm', 'VLLM'],
    match(text) {
      // bash: vllm: command not found · sh: 1: vllm: not found · zsh: command not found: vllm ·
      // bash: /opt/venv/bin/vllm: No such file or directory · env: 'vllm': No such file or directory ·
      // No module named 'vllm' · spawn vllm ENOENT
      if (
        !/(?:^|[\s:'"/])vllm['"]?: (?:command not found|not found|No such file or directory)|command not found: vllm\b|No module named '?vllm\b|spawn \S*vllm ENOENT/.test(
          text,
        )
      ) {
        return null;
      }
      return {
        title: 'vLLM is not installed where the server runs',
        explanation:
          'The shell on the host could not find the vllm command. If vLLM is installed in a Python virtual environment, set ' +
          "environment.venv in the server profile to that environment's path; for a conda environment set environment.conda to its " +
          'name; or set environment.commandPrefix, e.g. "env PATH=/opt/vllm/bin:$PATH". Otherwise install it on the host ' +
          '(pip install -U vllm; Kimi-K2.5 needs 0.15.0 or later).',
        fix: { label: 'Set the environment (venv, conda or command prefix) in the server profile' },
      };
    },
  },
  {
    code: 'invalidModel',
    quick: ['Invalid repository ID or local directory', 'is not a local folder and is not a valid model identifier', 'Repo id must be'],
    match(text) {
      const model = /Invalid repository ID or local directory specified: '([^']*)'/.exec(text)?.[1] ?? wordBefore(text, ' is not a local folder');
      return {
        title: model ? `Model not found: ${model}` : 'Model not found',
        explanation:
          `vLLM found neither a local folder holding the model's config.json nor a model repository called ${model ? `"${model}"` : 'that'}. ` +
          "Check the profile's modelDir (the folder with config.json and the .safetensors shards), or download the model first.",
        fix: { label: 'Fix modelDir in the server profile, or download the model (Kimi: Download Model)' },
      };
    },
  },
  {
    code: 'maxModelLenTooLong',
    quick: ['User-specified max_model_len'],
    match(text) {
      const m = /User-specified max_model_len \((\d+)\) is greater than the derived max_model_len \(max_position_embeddings=(\d+)/.exec(text);
      if (!m) return null;
      const derived = Number(m[2]);
      return {
        title: 'max-model-len is longer than the model supports',
        explanation: `The profile asks for ${m[1]} tokens of context, but the model was trained for at most ${derived}.`,
        fix: { label: `Set max-model-len to ${derived} and restart`, setting: { key: 'maxModelLen', value: derived } },
      };
    },
  },
  {
    code: 'workerDied',
    quick: ['died unexpectedly', 'EngineDeadError', 'EngineCore encountered an issue'],
    match(text, ctx) {
      const who = /Worker proc (\S+) died unexpectedly/.exec(text)?.[1];
      return {
        title: 'The engine stopped while serving',
        explanation:
          `${who ? `The vLLM worker process ${who}` : 'A vLLM engine process'} died, which takes the whole engine down; the server shuts ` +
          'itself down. Usual causes: the process was killed (out of host memory, or by someone) or a GPU error — check the ' +
          `lines above and the host's kernel log (dmesg).${ctx.lastError ? ` The last error before it was: ${ctx.lastError}` : ''}`,
        fix: { label: 'Restart the server' },
      };
    },
  },
  {
    code: 'workerFailed',
    quick: ['WorkerProc initialization failed', 'Worker failed with error'],
    match(text, ctx) {
      // "RuntimeError: Worker failed with error 'Failed to find C compiler. …', please check the stack trace above"
      const inner = /Worker failed with error '(.{1,4000}?)', please check/.exec(text)?.[1];
      if (inner) {
        const d = diagnoseClean(inner, ctx);
        if (d && specificity(d.code) === 2) return { ...d };
      }
      return {
        title: 'A GPU worker failed to start',
        explanation: `One of vLLM's GPU worker processes failed while starting.${seeAbove(ctx)}`,
      };
    },
  },
  {
    code: 'nodeFailed',
    quick: ['because its node has died', 'Every node should have a unique IP address'],
    match(text) {
      if (text.includes('Every node should have a unique IP address')) {
        return {
          code: 'invalidArgument',
          title: 'Two nodes of the Ray cluster have the same address',
          explanation:
            'vLLM found fewer distinct IP addresses than Ray nodes: VLLM_HOST_IP (or the address Ray detected) is the same on two nodes. ' +
            'Each node must use its own address — set it per node (cluster.workers[].ip) or let the extension detect it.',
          fix: { label: 'Check the node addresses of the cluster profile' },
        };
      }
      return {
        title: 'A node of the Ray cluster died',
        explanation:
          'A vLLM worker (a Ray actor) ran on a node that left the Ray cluster — the host went down, or its `ray start` process ended — ' +
          'and vLLM cannot continue without it. Check that host, then start the cluster again.',
        fix: { label: 'Restart the server' },
      };
    },
  },
  {
    code: 'engineInitFailed',
    quick: ['Engine core initialization failed'],
    match(_text, ctx) {
      return {
        title: 'The vLLM engine failed to start',
        explanation: `The engine process stopped during startup.${seeAbove(ctx)}`,
      };
    },
  },
];

/** The whitespace-delimited word just before `marker` (found with indexOf: a regex like /(\S+) marker/ is
 *  quadratic on a long line without spaces). */
function wordBefore(text: string, marker: string): string | undefined {
  const at = text.indexOf(marker);
  if (at <= 0) return undefined;
  const start = Math.max(text.lastIndexOf(' ', at - 1), text.lastIndexOf('\t', at - 1)) + 1;
  const word = text.slice(start, at);
  return word.length > 0 && word.length <= 1000 ? word : undefined;
}

function raiseUtilization(ctx: DiagnoseContext, also: string): Fix {
  const current = ctx.gpuMemoryUtilization ?? 0.9;
  if (current >= 0.95) return { label: `Lower max-model-len, or use GPUs with more memory (Kimi-K2.5 needs ${KIMI_GPU_MEMORY})` };
  return { label: `Raise gpu-memory-utilization to 0.95 ${also}`, setting: { key: 'gpuMemoryUtilization', value: 0.95 } };
}

function diagnoseClean(text: string, ctx: DiagnoseContext): Diagnosis | null {
  for (const rule of RULES) {
    if (!rule.quick.some((q) => text.includes(q))) continue;
    const found = rule.match(text, ctx);
    if (found) {
      const { code, ...rest } = found;
      return { code: code ?? rule.code, ...rest, line: text };
    }
  }
  return null;
}

/**
 * The diagnosis of one output line of `vllm serve` (or of the shell running it), or null when the line is not a
 * failure this module knows. Never throws; lines longer than MAX_DIAGNOSED_CHARS are cut first.
 */
export function diagnose(line: string, context: DiagnoseContext = {}): Diagnosis | null {
  try {
    const text = cleanText(typeof line === 'string' ? line.slice(0, MAX_DIAGNOSED_CHARS) : '');
    return diagnoseClean(text, context);
  } catch {
    return null;
  }
}
