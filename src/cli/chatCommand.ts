// `kimi-vllm chat [--base-url URL] [--model NAME] [--api-key KEY] [--instant] [--workspace DIR] [--json] PROMPT`
// over the same core as the extension (src/core/chat). Exit codes: 0 answered, 1 the request failed (the server's
// message on stderr), 2 usage error or a feature not available yet, 130 interrupted.
import * as path from 'node:path';
import { fetchModels, streamChat, type ChatTurnResult, type ModelInfo } from '../core/chat/chatClient';
import { checkContextFits } from '../core/chat/conversation';
import { ChatError } from '../core/chat/errors';
import type { ChatEvent } from '../core/chat/streamNormalizer';
import type { RequestMessage } from '../core/chat/types';
import { parseSettings } from '../core/config/settings';
import { parseArgs, UsageError } from './args';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8000/v1';

export const CHAT_USAGE = 'kimi-vllm chat [--base-url URL] [--model NAME] [--api-key KEY] [--instant] [--workspace DIR] [--json] PROMPT';

/** The little runChat needs of a stream (process.stdout/stderr fit). */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ChatIo {
  stdout: TextSink;
  stderr: TextSink;
  env: NodeJS.ProcessEnv | Record<string, string | undefined>;
  /** Ctrl+C: stop the answer (what was printed stays), exit 130. */
  signal?: AbortSignal;
}

const DIM = '\x1b[2m';
const RESET_DIM = '\x1b[22m';

export async function runChat(argv: string[], io: ChatIo): Promise<number> {
  const err = (line: string) => io.stderr.write(`kimi-vllm: ${line}\n`);
  let flags: Record<string, string | true>;
  let positionals: string[];
  try {
    ({ flags, positionals } = parseArgs(argv, {
      'base-url': { value: true },
      model: { value: true },
      'api-key': { value: true },
      instant: { value: false },
      workspace: { value: true },
      json: { value: false },
    }));
    if (positionals.length === 0 || positionals.every((p) => p.trim() === '')) throw new UsageError('chat needs a PROMPT');
    if (positionals.length > 1) throw new UsageError(`chat takes one PROMPT (quote it); got ${positionals.length} arguments`);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\nUsage: ${CHAT_USAGE}`);
      return 2;
    }
    throw e;
  }
  if (typeof flags.workspace === 'string') {
    err('--workspace (the workspace tools) is not available yet: it arrives with tool calling in a coming release. Run without --workspace to chat.');
    return 2;
  }
  const baseUrl = typeof flags['base-url'] === 'string' ? flags['base-url'] : DEFAULT_BASE_URL;
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    err(`--base-url must be an http(s) URL, got ${JSON.stringify(baseUrl)}\nUsage: ${CHAT_USAGE}`);
    return 2;
  }
  const apiKey = typeof flags['api-key'] === 'string' ? flags['api-key'] : io.env.KIMI_API_KEY || undefined;
  const json = flags.json === true;
  const instant = flags.instant === true;
  const prompt = positionals[0]!;
  const { settings } = parseSettings({});

  const fail = (e: unknown): number => {
    if (e instanceof ChatError) {
      err(e.message);
      if (e.serverMessage && !e.message.includes(e.serverMessage)) io.stderr.write(`  (${e.serverMessage})\n`);
    } else {
      err(e instanceof Error ? e.message : String(e));
    }
    return 1;
  };

  // The model (and max_model_len for the pre-check) from /v1/models. With --model given, a failing /models is not
  // fatal: the chat request itself will say what is wrong.
  let info: ModelInfo | undefined;
  try {
    info = await fetchModels(baseUrl, { ...(apiKey ? { apiKey } : {}), ...(io.signal ? { signal: io.signal } : {}) });
  } catch (e) {
    if (typeof flags.model !== 'string' || (e instanceof ChatError && (e.kind === 'connectionRefused' || e.kind === 'unauthorized'))) return fail(e);
  }
  const model = typeof flags.model === 'string' ? flags.model : info!.id;
  const messages: RequestMessage[] = [{ role: 'user', content: prompt }];
  if (info?.maxModelLen) {
    try {
      checkContextFits(messages, { maxModelLen: info.maxModelLen });
    } catch (e) {
      return fail(e);
    }
  }

  const tty = io.stdout.isTTY === true && !io.env.NO_COLOR;
  const printer = json ? undefined : new StreamPrinter(io.stdout, tty);
  const result = await streamChat(
    { baseUrl, model, messages, mode: instant ? 'instant' : 'thinking', ...(apiKey ? { apiKey } : {}), sampling: {
      thinkingTemperature: settings['chat.thinkingTemperature'], instantTemperature: settings['chat.instantTemperature'], topP: settings['chat.topP'],
    } },
    { ...(io.signal ? { signal: io.signal } : {}), ...(printer ? { onEvent: (e) => printer.event(e) } : {}) },
  );
  printer?.finish();
  if (result.error) return fail(result.error);
  if (json) io.stdout.write(`${JSON.stringify(jsonResult(result))}\n`);
  if (result.stopped) {
    err('stopped.');
    return 130;
  }
  return 0;
}

/** The --json object. `arguments` is the parsed JSON when it parses, else the raw text. */
export function jsonResult(r: ChatTurnResult) {
  return {
    reasoning: r.thinking,
    content: r.answer,
    toolCalls: r.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: parseArgsText(c.arguments) })),
    finishReason: r.finishReason ?? (r.stopped ? 'stopped' : 'unknown'),
    usage: r.usage ? { prompt_tokens: r.usage.prompt, completion_tokens: r.usage.completion, total_tokens: r.usage.total } : null,
  };
}

function parseArgsText(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    return text;
  }
}

/** Streams thinking (dimmed on a TTY) under "Thinking:", then the answer under "Answer:" (the labels only when
 *  there was thinking), then any tool calls. */
class StreamPrinter {
  private section: 'none' | 'thinking' | 'answer' | 'tools' = 'none';
  private endsWithNewline = true;

  constructor(private readonly out: TextSink, private readonly tty: boolean) {}

  event(e: ChatEvent) {
    if (e.kind === 'thinking') {
      if (this.section !== 'thinking') {
        this.write(`${this.section === 'none' ? '' : '\n'}${this.tty ? DIM : ''}Thinking:\n`);
        this.section = 'thinking';
      }
      this.write(e.text);
    } else if (e.kind === 'answer') {
      if (this.section !== 'answer') {
        if (this.section === 'thinking') this.write(`${this.tty ? RESET_DIM : ''}\n\nAnswer:\n`);
        else if (this.section === 'tools') this.write('\n');
        this.section = 'answer';
      }
      this.write(e.text);
    } else if (e.kind === 'toolCallsDone') {
      this.closeThinking();
      for (const c of e.calls) this.write(`${this.endsWithNewline ? '' : '\n'}Tool call: ${c.name} ${c.arguments}\n`);
      this.section = 'tools';
    }
  }

  finish() {
    this.closeThinking();
    if (!this.endsWithNewline) this.write('\n');
  }

  private closeThinking() {
    if (this.section === 'thinking' && this.tty) this.write(RESET_DIM);
    if (this.section === 'thinking') this.section = 'none';
  }

  private write(s: string) {
    if (!s) return;
    this.out.write(s);
    this.endsWithNewline = s.endsWith('\n');
  }
}

// A runner for tests and direct use: `node out/src/cli/chatCommand.js [flags] PROMPT`. The file-name check keeps
// it from firing inside a bundle (dist/cli.js), where `require.main === module` is true for every bundled module.
if (require.main === module && /^chatCommand\.[cm]?js$/.test(path.basename(__filename))) {
  const ctrl = new AbortController();
  process.once('SIGINT', () => ctrl.abort());
  runChat(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ctrl.signal })
    .then((code) => {
      process.exitCode = code;
    })
    .catch((e: unknown) => {
      process.stderr.write(`kimi-vllm: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    });
}
