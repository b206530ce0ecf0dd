// The contract of the project's vLLM emulator: what tests and the fake `vllm` executable may ask of it.
// Behaviour follows docs/vllm-kimi-protocol.md (a copy of the protocol sheet kept in this repo).

/** Which delta field carries reasoning. Derived from `vllmVersion` unless set explicitly:
 *  <= 0.11.0 → 'reasoning_content'; 0.11.1 .. 0.15.x → 'both'; >= 0.16.0 → 'reasoning'. */
export type ReasoningField = 'reasoning_content' | 'both' | 'reasoning';

/** One scripted model round: what the model thinks, answers and which tools it calls. */
export interface ScriptedRound {
  /** Optional regex (source, case-insensitive) matched against the text of the last user or tool message.
   *  Rounds are consumed in order; a round with `match` is used only when it matches. */
  match?: string;
  thinking?: string;
  answer?: string;
  /** Tool calls made in this round. `arguments` is an object (serialised compactly) or a raw string (sent as is,
   *  so a test can send arguments that are not JSON). */
  toolCalls?: { name: string; arguments: unknown }[];
  /** Default 'stop' ('tool_calls' automatically when toolCalls are present). */
  finishReason?: 'stop' | 'length';
  /** Fail this round. `when: 'before'` → HTTP error before streaming; `'midStream'` → a `data: {"error": …}` event
   *  after `afterChars` characters of output, then `data: [DONE]`; `'drop'` → the connection is destroyed after
   *  `afterChars` characters (a killed server). */
  error?: { when: 'before' | 'midStream' | 'drop'; afterChars?: number; status?: number; message?: string; type?: string };
}

export interface EmulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Reported by /version and the banner; drives the reasoning field, the 400 body form (flat before 0.10.1) and
   *  metric names (`vllm:gpu_cache_usage_perc` before 0.9). Default '0.15.1'. */
  vllmVersion?: string;
  reasoningField?: ReasoningField;
  /** false: no --reasoning-parser — reasoning stays inside content, ending with ' </think> '. Default true. */
  reasoningParser?: boolean;
  /** false: no --tool-call-parser — raw <|tool_calls_section_begin|>… markers inside content. Default true. */
  toolCallParser?: boolean;
  /** false: requests with tools and tool_choice auto (the default) get the 400 "auto tool choice requires …". Default true. */
  enableAutoToolChoice?: boolean;
  /** The model path as given to `vllm serve`. Default '/models/Kimi-K2.5'. */
  model?: string;
  /** `--served-model-name`; the id in /v1/models. Default: `model`. */
  servedModelName?: string;
  /** Default 262144 (Kimi-K2.5's native context). */
  maxModelLen?: number;
  /** `--api-key` (or VLLM_API_KEY): every /v1 path then requires `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Time to first token in ms. Default 0. */
  ttftMs?: number;
  /** Output speed. Default 0 = as fast as possible. */
  tokensPerSecond?: number;
  /** Scripted rounds, consumed in order; when none is left (or none matches) the default persona answers. */
  script?: ScriptedRound[];
  /** Start in the 'loading' state: the port is bound but every connection is dropped until `markReady()`. */
  startLoading?: boolean;
  /** Write one `Engine 000: Avg prompt throughput …` stats line per interval to this sink while requests run. */
  log?: (line: string) => void;
  /** Stats line interval in ms. Default 10000 (vLLM's). */
  statsIntervalMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined when the body was empty or not JSON. */
  body: unknown;
  rawBody: string;
  receivedAt: number;
}

/** Reported once per /v1/chat/completions or /v1/completions request when the emulator is done with it. */
export interface RequestEndInfo {
  path: string;
  /** The HTTP status sent (200 for a stream, even one that failed after it started). */
  status: number;
  /** completed: finished normally; error: an error response or error event; aborted: the client went away (or the
   *  server closed); dropped: a scripted `drop` destroyed the connection. */
  outcome: 'completed' | 'error' | 'aborted' | 'dropped';
  finishReason?: string;
  promptTokens: number;
  completionTokens: number;
}

/** The engine counters behind /metrics. */
export interface EmulatorStats {
  running: number;
  waiting: number;
  promptTokens: number;
  generationTokens: number;
  /** vllm:request_success_total by finished_reason. */
  requestSuccess: Record<string, number>;
  /** Generations stopped because the client disconnected (or the server closed / the engine died). */
  aborted: number;
}

export interface EmulatorHandle {
  /** e.g. 'http://127.0.0.1:43123' (no /v1). */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Leave the loading state: /health answers 200 from now on. */
  markReady(): void;
  /** The engine died: /health answers 503, completions fail. */
  markDead(): void;
  /** Replace the remaining script. */
  setScript(script: ScriptedRound[]): void;
  /** Stop accepting, end open streams, close the listener. */
  close(): Promise<void>;
  /** A copy of the engine counters behind /metrics. (Optional so that other fakes need not provide it.) */
  stats?(): EmulatorStats;
  /** Be told when a generation request ends, to wait on events instead of sleeping. Returns an unsubscribe. */
  onRequestEnd?(listener: (info: RequestEndInfo) => void): () => void;
}
