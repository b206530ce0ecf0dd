// `kimi-vllm chat [--base-url URL] [--model NAME] [--api-key KEY] [--instant] [--workspace DIR [--yes]]
// [--max-rounds N] [--demo-tools] [--json] PROMPT` over the same core as the extension (src/core/chat, and
// src/core/tools for tool calling). With --workspace the model gets the read-only workspace tools over DIR (and, with
// --yes, propose_edit — which then writes the file — and run_command, plus reading files that look like secrets or
// are ignored); --demo-tools adds the tutorial's add/mul/compare/count_letter_in_string.
// Exit codes: 0 answered, 1 the request failed (the server's message on stderr), 2 usage error, 3 the tool-round
// limit was reached before the model answered, 130 interrupted.
import * as path from 'node:path';
import { fetchModels, streamChat, type ChatTurnResult, type ModelInfo } from '../core/chat/chatClient';
import { checkContextFits } from '../core/chat/conversation';
import { ChatError } from '../core/chat/errors';
import type { ChatEvent } from '../core/chat/streamNormalizer';
import type { RequestMessage } from '../core/chat/types';
import { parseSettings } from '../core/config/settings';
import { NodeWorkspace } from '../core/tools/nodeWorkspace';
import { createToolRegistry } from '../core/tools/registry';
import { executedCalls, runToolLoop, type ToolCallInfo, type ToolLoopEvent, type ToolLoopResult } from '../core/tools/toolLoop';
import { workspaceSystemPrompt } from '../core/tools/workspaceTools';
import { parseArgs, UsageError } from './args';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8000/v1';

export const CHAT_USAGE = 'kimi-vllm chat [--base-url URL] [--model NAME] [--api-key KEY] [--instant] [--workspace DIR [--yes]] [--max-rounds N] [--demo-tools] [--json] PROMPT';

/** The --max-rounds range (that of the kimi.tools.maxRounds setting). */
const MAX_ROUNDS_RANGE = [1, 50] as const;

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
      yes: { value: false },
      'max-rounds': { value: true },
      'demo-tools': { value: false },
      json: { value: false },
    }));
    if (positionals.length === 0 || positionals.every((p) => p.trim() === '')) throw new UsageError('chat needs a PROMPT');
    if (positionals.length > 1) throw new UsageError(`chat takes one PROMPT (quote it); got ${positionals.length} arguments`);
    if (flags.yes === true && typeof flags.workspace !== 'string') throw new UsageError('--yes only applies with --workspace DIR');
    if (flags['max-rounds'] !== undefined && typeof flags.workspace !== 'string' && flags['demo-tools'] !== true) {
      throw new UsageError('--max-rounds only applies to tool calling (--workspace DIR or --demo-tools)');
    }
    if (typeof flags['max-rounds'] === 'string') {
      const v = flags['max-rounds'];
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < MAX_ROUNDS_RANGE[0] || n > MAX_ROUNDS_RANGE[1]) {
        throw new UsageError(`--max-rounds must be a whole number from ${MAX_ROUNDS_RANGE[0]} to ${MAX_ROUNDS_RANGE[1]}, got ${JSON.stringify(v)}`);
      }
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\nUsage: ${CHAT_USAGE}`);
      return 2;
    }
    throw e;
  }
  let workspace: NodeWorkspace | undefined;
  if (typeof flags.workspace === 'string') {
    try {
      workspace = new NodeWorkspace({ roots: [path.resolve(flags.workspace)], yes: flags.yes === true });
    } catch (e) {
      err(`--workspace: ${e instanceof Error ? e.message : String(e)}\nUsage: ${CHAT_USAGE}`);
      return 2;
    }
  }
  const toolsOn = workspace !== undefined || flags['demo-tools'] === true;
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
  const registry = toolsOn ? createToolRegistry({ workspace: workspace !== undefined, writeTools: flags.yes === true, demo: flags['demo-tools'] === true }) : undefined;
  const messages: RequestMessage[] = [];
  if (workspace) messages.push({ role: 'system', content: workspaceSystemPrompt(workspace, { canEdit: flags.yes === true }) });
  messages.push({ role: 'user', content: prompt });
  if (info?.maxModelLen) {
    try {
      checkContextFits(messages, { maxModelLen: info.maxModelLen, ...(registry ? { tools: registry.definitions() } : {}) });
    } catch (e) {
      return fail(e);
    }
  }

  const tty = io.stdout.isTTY === true && !io.env.NO_COLOR;
  const printer = json ? undefined : new StreamPrinter(io.stdout, tty);
  const chatRequest = { baseUrl, model, mode: instant ? 'instant' as const : 'thinking' as const, ...(apiKey ? { apiKey } : {}), sampling: {
    thinkingTemperature: settings['chat.thinkingTemperature'], instantTemperature: settings['chat.instantTemperature'], topP: settings['chat.topP'],
  } };

  if (registry) {
    const loop = await runToolLoop({
      chat: chatRequest,
      messages,
      registry,
      ...(workspace ? { port: workspace } : {}),
      maxRounds: typeof flags['max-rounds'] === 'string' ? Number(flags['max-rounds']) : settings['tools.maxRounds'],
      ...(io.signal ? { signal: io.signal } : {}),
      ...(printer ? { onEvent: (e: ToolLoopEvent) => printer.loopEvent(e) } : {}),
    });
    printer?.finish();
    for (const h of loop.hints) err(`hint: ${h}`);
    if (loop.error) return fail(loop.error);
    if (json) io.stdout.write(`${JSON.stringify(loopJsonResult(loop))}\n`);
    if (loop.stopped) {
      err('stopped.');
      return 130;
    }
    if (loop.maxRoundsReached) {
      err(loop.note ?? 'the tool-round limit was reached.');
      return 3;
    }
    return 0;
  }

  const result = await streamChat(
    { ...chatRequest, messages },
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

/** The --json object of a tool-calling chat: reasoning and content of every round, every tool call that produced
 *  a result (ran, failed or was refused), in order across rounds. */
export function loopJsonResult(r: ToolLoopResult) {
  return {
    reasoning: r.thinking,
    content: r.answer,
    toolCalls: executedCalls(r).map((c) => ({ id: c.id, name: c.name, arguments: parseArgsText(c.arguments) })),
    finishReason: r.finishReason,
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
function isFinal(c: ToolCallInfo): boolean {
  return c.status === 'done' || c.status === 'error' || c.status === 'rejected' || c.status === 'cancelled' || c.status === 'skipped';
}

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

  /** Finished calls of the current round by index, printed in call order as soon as all earlier ones are done. */
  private finished = new Map<number, ToolCallInfo>();
  private nextCall = 0;

  /** Tool-calling chats: the stream of each round, then one line per finished call and its result preview. */
  loopEvent(e: ToolLoopEvent) {
    if (e.kind === 'roundStart') {
      this.finished.clear();
      this.nextCall = 0;
    } else if (e.kind === 'chat') {
      this.event(e.event);
    } else if (e.kind === 'toolCall' && isFinal(e.call)) {
      this.finished.set(e.call.index, e.call);
      for (let c = this.finished.get(this.nextCall); c; c = this.finished.get(++this.nextCall)) this.printCall(c);
    }
  }

  private printCall(c: ToolCallInfo) {
    this.closeThinking();
    const dur = c.durationMs !== undefined ? ` (${c.durationMs < 1000 ? `${Math.round(c.durationMs)} ms` : `${(c.durationMs / 1000).toFixed(1)} s`})` : '';
    this.write(`${this.endsWithNewline ? '' : '\n'}Tool call: ${c.name} ${c.arguments}\n`);
    this.write(`${this.tty ? DIM : ''}  → ${c.status === 'done' ? '' : `[${c.status}] `}${c.preview ?? ''}${dur}${this.tty ? RESET_DIM : ''}\n`);
    this.section = 'tools';
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
