// Standalone runner for the vLLM emulator, for manual tries and demos:
//   node out/test/emulator/cli.js --port 8000 [--host H] [--vllm-version 0.16.0] …
// It serves until SIGINT/SIGTERM, then exits 0. A wrong command line exits 2, like argparse does for `vllm serve`.
import * as fs from 'node:fs';
import { startEmulator } from './server';
import type { EmulatorOptions, ReasoningField, ScriptedRound } from './types';

export const USAGE = `usage: node out/test/emulator/cli.js [--port N] [--host H] [--vllm-version V]
        [--reasoning-field reasoning|reasoning_content|both] [--no-reasoning-parser] [--no-tool-parser]
        [--no-auto-tool-choice] [--api-key K] [--served-model-name N] [--model PATH] [--max-model-len N]
        [--ttft-ms N] [--tokens-per-second N] [--script FILE.json] [--loading-ms N] [--stats-interval-ms N]

Runs the project's vLLM emulator (Kimi-K2.5 persona). The API key also comes from VLLM_API_KEY.
--max-model-len accepts vLLM's forms: 8192, 100k (x1000), 128K (x1024).`;

export class CliError extends Error {}

export interface CliConfig {
  options: EmulatorOptions;
  /** Stay in the loading state this long before becoming ready. */
  loadingMs?: number;
  help?: boolean;
}

/** vLLM's `human_readable_int`: '25.6k' → 25600 (decimal), '128K' → 131072 (binary, integers only). */
export function parseHumanInt(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT])$/.exec(text.trim());
  if (m) {
    const [, num, suffix] = m;
    const decimal: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
    if (suffix in decimal) return Math.trunc(Number(num) * decimal[suffix]);
    if (!/^\d+$/.test(num)) {
      throw new CliError(`argument ${flag}: Decimals are not allowed with binary suffixes like ${suffix}. ` +
        `Did you mean to use ${num}${suffix.toLowerCase()} instead?`);
    }
    return Number(num) * 2 ** (10 * ' KMGT'.indexOf(suffix));
  }
  return parseIntArg(flag, text);
}

function parseIntArg(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new CliError(`argument ${flag}: invalid int value: '${text}'`);
  return Number(text);
}

function parseNumberArg(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new CliError(`argument ${flag}: invalid value: '${text}'`);
  return n;
}

function readScript(file: string): ScriptedRound[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`argument --script: cannot read ${file}: ${(e as Error).message}`);
  }
  const rounds = Array.isArray(parsed) ? parsed : (parsed as { script?: unknown })?.script;
  if (!Array.isArray(rounds)) throw new CliError(`argument --script: ${file} must hold a JSON array of rounds`);
  return rounds as ScriptedRound[];
}

export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliConfig {
  const options: EmulatorOptions = { port: 8000, host: '127.0.0.1' };
  const cfg: CliConfig = { options };
  const unknown: string[] = [];
  if (env.VLLM_API_KEY) options.apiKey = env.VLLM_API_KEY;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new CliError(`argument ${flag}: expected one argument`);
      i++;
      return next;
    };
    switch (flag) {
      case '--port': options.port = parseIntArg(flag, value()); break;
      case '--host': options.host = value(); break;
      case '--vllm-version': options.vllmVersion = value(); break;
      case '--reasoning-field': {
        const v = value();
        if (v !== 'reasoning' && v !== 'reasoning_content' && v !== 'both') {
          throw new CliError(`argument --reasoning-field: invalid choice: '${v}' (choose from 'reasoning', 'reasoning_content', 'both')`);
        }
        options.reasoningField = v as ReasoningField;
        break;
      }
      case '--no-reasoning-parser': options.reasoningParser = false; break;
      case '--no-tool-parser': options.toolCallParser = false; break;
      case '--no-auto-tool-choice': options.enableAutoToolChoice = false; break;
      case '--api-key': options.apiKey = value(); break;
      case '--served-model-name': options.servedModelName = value(); break;
      case '--model': options.model = value(); break;
      case '--max-model-len': options.maxModelLen = parseHumanInt(flag, value()); break;
      case '--ttft-ms': options.ttftMs = parseNumberArg(flag, value()); break;
      case '--tokens-per-second': options.tokensPerSecond = parseNumberArg(flag, value()); break;
      case '--script': options.script = readScript(value()); break;
      case '--loading-ms': cfg.loadingMs = parseNumberArg(flag, value()); break;
      case '--stats-interval-ms': options.statsIntervalMs = parseNumberArg(flag, value()); break;
      case '-h':
      case '--help': cfg.help = true; break;
      default: unknown.push(arg);
    }
  }
  if (unknown.length) throw new CliError(`unrecognized arguments: ${unknown.join(' ')}`);
  if (cfg.loadingMs) options.startLoading = true;
  return cfg;
}

export async function main(argv: string[]): Promise<void> {
  let cfg: CliConfig;
  try {
    cfg = parseCliArgs(argv);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    process.stderr.write(`${USAGE}\n\nvllm-emulator: error: ${e.message}\n`);
    process.exit(2);
  }
  if (cfg.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const emulator = await startEmulator({ ...cfg.options, log });
  const { host, servedModelName, vllmVersion } = emulator.config;
  log(`vLLM emulator listening on http://${host}:${emulator.port} (model ${servedModelName}, vLLM ${vllmVersion})`);
  let loadingTimer: NodeJS.Timeout | undefined;
  if (cfg.loadingMs) {
    log(`Loading the model for ${cfg.loadingMs} ms (connections are dropped until then)…`);
    loadingTimer = setTimeout(() => {
      emulator.markReady();
      log('INFO:     Application startup complete.');
    }, cfg.loadingMs);
  }
  const stop = (signal: string) => {
    if (loadingTimer) clearTimeout(loadingTimer);
    log(`Received ${signal}; shutting down.`);
    emulator.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`vllm-emulator: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
