#!/usr/bin/env node
// kimi-vllm: the command line over the same core as the extension (not `kimi`, which is Moonshot's own CLI).
import { probeEndpoint } from '../core/server/endpointProbe';
import { parseArgs, UsageError } from './args';
import { runGpus, runServe } from './serveCommand';

const VERSION = '0.1.0';
const DEFAULT_BASE_URL = 'http://127.0.0.1:8000/v1';

const HELP = `kimi-vllm ${VERSION} — self-hosted Kimi-K2.5 on vLLM, from the terminal

Usage:
  kimi-vllm status [--base-url URL] [--api-key KEY] [--json]
      Is the server ready, and what does it serve? Exit 0 when ready, 1 otherwise.
  kimi-vllm serve start|stop|status|logs [--profile NAME] [--config FILE] [--host local|SSH-DEST]
                 [--model PATH-OR-ID] [--port N] [--tp N] [--max-model-len N] [--json] [--follow] [--lines N]
      Run vllm serve (Kimi-K2.5's recommended flags) detached on this machine or an SSH host. start exits 0
      once the server answers and leaves it running; status/stop/logs (and the VS Code extension) find it.
      --config is a JSON file {"servers":[…]} with the schema of the kimi.servers setting.
  kimi-vllm gpus [--profile NAME] [--config FILE] [--host …] [--json]
  kimi-vllm --version
  kimi-vllm --help

Defaults: --base-url ${DEFAULT_BASE_URL}; the API key is also read from KIMI_API_KEY.
Coming in later releases: chat, download.`;

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
    if (command === 'serve') return await runServe(rest, { stdout: out, stderr: err, env: process.env });
    if (command === 'gpus') return await runGpus(rest, { stdout: out, stderr: err, env: process.env });
    if (command === 'chat' || command === 'download') {
      err.write(`kimi-vllm: "${command}" is not available in this version yet; it arrives in a coming release.\n`);
      return 2;
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
