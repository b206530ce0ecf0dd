#!/usr/bin/env node
// kimi-vllm: the command line over the same core as the extension (not `kimi`, which is Moonshot's own CLI).
import { probeEndpoint } from '../core/server/endpointProbe';
import { parseArgs, UsageError } from './args';
import { CHAT_USAGE, runChat } from './chatCommand';
import { runDownload } from './downloadCommand';
import { runGpus } from './gpusCommand';
import { runServe, type Io } from './serveCommand';

const VERSION = '0.1.0';
const DEFAULT_BASE_URL = 'http://127.0.0.1:8000/v1';

const HELP = `kimi-vllm ${VERSION} — self-hosted Kimi-K2.5 on vLLM, from the terminal

Usage:
  kimi-vllm status [--base-url URL] [--api-key KEY] [--json]
      Is the server ready, and what does it serve? Exit 0 when ready, 1 otherwise.
  kimi-vllm serve start|stop|status|logs [--profile NAME] [--config FILE] [--host local|SSH-DEST]
                 [--model PATH-OR-ID] [--port N] [--tp N] [--max-model-len N] [--json] [--follow] [--lines N]
                 [--node HOST|N]
      Run vllm serve (Kimi-K2.5's recommended flags) detached on this machine or an SSH host. start exits 0
      once the server answers and leaves it running; status/stop/logs (and the VS Code extension) find it.
      --config is a JSON file {"servers":[…]} with the schema of the kimi.servers setting.
      For an SSH host, start and status print the "ssh -N -L …" command that makes the server reachable here.
      The config file defaults to $KIMI_VLLM_CONFIG, else ~/.config/kimi-vllm/config.json, else this machine.
      A profile with "cluster": {"workers": [...], "layout": "ray"|"dp"} runs on several hosts (its host is the head):
      every node is checked first, then Ray and vLLM start in order; status --json adds a "nodes" array, and
      logs --node HOST|N reads one node's log (0 is the head).
  kimi-vllm download [--profile NAME] [--config FILE] [--host …] [--model ID] [--include GLOB]… [--exclude GLOB]…
                 [--json]
      modelscope download of the model into the profile's download dir on the target: disk check first, a
      progress line (bytes, speed, ETA); Ctrl+C cancels (partial files stay, a rerun resumes). For a cluster: onto
      every node at once, or once on the head when cluster.sharedStorage says the model dir is shared.
  kimi-vllm gpus [--profile NAME] [--config FILE] [--host …] [--tp N] [--json]
      The target's GPUs, who holds them, and whether the profile passes the GPU pre-flight. For a cluster: every
      node's GPUs, whether the profile's layout holds the model there, and the smallest layout that would.
  kimi-vllm --version
  kimi-vllm --help

Defaults: --base-url ${DEFAULT_BASE_URL}; the API key is also read from KIMI_API_KEY.
  ${CHAT_USAGE}
      Ask the served model; thinking streams dimmed, then the answer. --json prints one object at the end.
      --workspace DIR gives the model read-only tools over DIR (read_file, list_directory, find_files,
      search_text — which needs ripgrep on PATH); --yes also lets it edit files and run commands there, and read
      files that look like secrets or are ignored. --max-rounds N caps the tool rounds (default 8; exit 3 when
      reached). --demo-tools adds the tutorial's add/mul/compare/count_letter_in_string.`;

export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      out.write(`${HELP}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-V') {
      out.write(`${VERSION}\n`);
      return 0;
    }
    if (command === 'status') return await status(rest, out);
    if (command === 'serve' || command === 'gpus' || command === 'download' || command === 'chat') {
      // Ctrl+C: logs --follow ends, download is cancelled (SIGINT to modelscope), start stops waiting.
      const ctrl = new AbortController();
      const onSigint = () => ctrl.abort();
      process.once('SIGINT', onSigint);
      const io: Io = { stdout: out, stderr: err, env: process.env, signal: ctrl.signal };
      try {
        if (command === 'chat') return await runChat(rest, io);
        if (command === 'serve') return await runServe(rest, io);
        if (command === 'gpus') return await runGpus(rest, io);
        return await runDownload(rest, io);
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`kimi-vllm: ${e.message}\nRun "kimi-vllm --help" for usage.\n`);
      return 2;
    }
    err.write(`kimi-vllm: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

async function status(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { flags, positionals } = parseArgs(argv, { 'base-url': { value: true }, 'api-key': { value: true }, json: { value: false } });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const baseUrl = typeof flags['base-url'] === 'string' ? flags['base-url'] : DEFAULT_BASE_URL;
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new UsageError(`--base-url must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
  }
  const apiKey = typeof flags['api-key'] === 'string' ? flags['api-key'] : process.env.KIMI_API_KEY;
  const state = await probeEndpoint(baseUrl, { ...(apiKey ? { apiKey } : {}) });
  if (flags.json) {
    out.write(`${JSON.stringify({ baseUrl, ...state })}\n`);
  } else if (state.kind === 'ready') {
    out.write(`ready: ${state.modelId} at ${baseUrl}${state.maxModelLen ? ` (max_model_len ${state.maxModelLen})` : ''}\n`);
  } else {
    out.write(`${state.kind}: ${baseUrl} — ${state.detail}\n`);
  }
  return state.kind === 'ready' ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`kimi-vllm: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
