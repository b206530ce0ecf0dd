// zod/mini, never classic 'zod', anywhere in src/: the bundle stays small and activation fast (a unit test checks).
import * as z from 'zod/mini';

// The one protocol between the extension host and the chat webview. Both sides import this file.
// Host → webview messages are trusted (we send them); webview → host messages are validated with zod at the
// boundary because a webview is a browser context that renders model output.

/** The server the extension manages (a `kimi.servers` profile), when there is one. */
export interface ManagedServerView {
  profile: string;
  /** 'local' or the SSH destination. */
  host: string;
  kind: 'stopped' | 'preflight' | 'starting' | 'ready' | 'stopping' | 'failed';
  /** What a starting server is doing: "Loading weights 12/64", "Capturing CUDA graphs 13/51". */
  phase?: string;
  /** "8× NVIDIA H200, 140.4 GiB each, all free" */
  gpus?: string;
  /** Why a start failed, in plain words; fixLabel when a button can apply the fix ("Set max-model-len to …"). */
  diagnosis?: { title: string; explanation: string; fixLabel?: string };
}

/** A model download in progress. */
export interface DownloadView {
  /** "12.3 GB of 595 GB · 250 MB/s · 38 min left" */
  text: string;
  percent?: number;
}

export interface ServerView {
  /** Endpoint checks: checking | ready | starting | unreachable | unauthorized | error; a managed server adds
   *  stopping and failed. */
  state: 'checking' | 'ready' | 'starting' | 'unreachable' | 'unauthorized' | 'error' | 'stopping' | 'failed';
  /** The base URL being used, for display. */
  baseUrl: string;
  modelId?: string;
  maxModelLen?: number;
  /** Plain-language detail for non-ready states. */
  detail?: string;
  managed?: ManagedServerView;
  download?: DownloadView;
}


// ───────────────────────────── Chat ─────────────────────────────
// Design: docs/chat-design.md. One conversation is shown at a time; at most one assistant turn streams at a time.
// Streamed text travels as bare strings (StreamDelta) so the bytes posted stay within 1.1× the text generated:
// the first character says the channel ('t' thinking, 'a' answer), the rest is the new text, nothing else.

export type ChatModeView = 'thinking' | 'instant';

/** New text of the streaming assistant turn: `t…` thinking, `a…` answer. Only ever new text, never a resend. */
export type StreamDelta = `t${string}` | `a${string}`;

export interface AttachmentView {
  kind: 'file' | 'selection';
  /** Workspace-relative path as shown to the user and the model. */
  path: string;
  startLine?: number;
  endLine?: number;
  /** Size of the attached text in characters (for the chip's tooltip). */
  chars: number;
}

export interface ImageView {
  name?: string;
  /** `data:image/…;base64,…` — the CSP allows data: images only. */
  dataUrl: string;
  bytes: number;
  width?: number;
  height?: number;
}

export interface UserTurnView {
  role: 'user';
  id: string;
  createdAt: number;
  text: string;
  attachments: AttachmentView[];
  images: ImageView[];
}

/** What the UI offers next to a failed turn. `retry` re-sends the same request. */
export type ChatErrorActionView = 'retry' | 'startServer' | 'setApiKey' | 'restartServerWithFlags' | 'newChat' | 'openSettings';

export interface ChatErrorView {
  /** ChatErrorKind of src/core/chat/errors.ts ("connectionRefused", "contextTooLong", …). */
  kind: string;
  /** One plain-language sentence: what happened and what to do. */
  message: string;
  /** What the server itself said, verbatim, when it said something. */
  serverMessage?: string;
  actions: ChatErrorActionView[];
  /** For a server missing tool flags: the flags to add ("--enable-auto-tool-choice", …). */
  missingFlags?: string[];
}

export interface TurnMetricsView {
  promptTokens?: number;
  completionTokens?: number;
  /** Request sent → first token. */
  ttftMs?: number;
  tokensPerSecond?: number;
  /** How long the model thought (first thinking token → first answer token). */
  thinkingMs?: number;
  durationMs?: number;
}

export interface ToolCallView {
  id: string;
  name: string;
  /** Arguments text as the model produced it (cut by the host when very long; see argumentsChars). */
  arguments: string;
  /** cancelled: stopped by the user before it finished; skipped: not run, the round limit was reached. */
  status: 'streaming' | 'pending' | 'awaitingApproval' | 'running' | 'done' | 'error' | 'rejected' | 'cancelled' | 'skipped';
  /** Start of the result (capped by the host). */
  resultPreview?: string;
  durationMs?: number;
  /** Its position in the turn: cards are keyed by it (a call's id may change once its stream ends). */
  index?: number;
  /** A tool without side effects (reads only). */
  readOnly?: boolean;
  /** The result is an error the model sees (`error: …`). */
  isError?: boolean;
  /** The full length of `arguments` when the host cut them for the card. */
  argumentsChars?: number;
  /** While status is awaitingApproval: what the user is asked (the card shows Accept / Reject). */
  approval?: ToolApprovalView;
}

/** What a tool call waits for the user to allow. */
export type ToolApprovalView =
  /** propose_edit: the diff is open in an editor. summary: "+3 −1 lines" / "new file, 12 lines". */
  | { kind: 'edit'; path: string; summary: string; explanation?: string; created: boolean }
  | { kind: 'command'; command: string; cwd: string }
  /** A read-only tool wants a file that looks like a secret or is ignored/excluded. alwaysAllow: "Always allow" is
   *  offered, and this says what it covers. */
  | { kind: 'sensitiveRead'; path: string; reason: string; alwaysAllow?: string };

/** The parts of an assistant turn other than its text (sent when a turn starts and again when it ends). */
export interface AssistantTurnMeta {
  mode: ChatModeView;
  model?: string;
  /** Epoch ms when the request was sent (the thinking timer runs from the first thinking text). */
  startedAt: number;
  metrics: TurnMetricsView;
  finishReason?: string;
  /** The user pressed Stop: the text is partial. */
  stopped?: boolean;
  error?: ChatErrorView;
  toolCalls: ToolCallView[];
  /** The model called tools and another request follows at once (the next turnStarted, without a user message):
   *  this turn ended, the answer to the message has not. */
  continued?: boolean;
}

export interface AssistantTurnView extends AssistantTurnMeta {
  role: 'assistant';
  id: string;
  thinking: string;
  answer: string;
}

export type TurnView = UserTurnView | AssistantTurnView;

export interface ConversationView {
  id: string;
  title: string;
  turns: TurnView[];
}

export interface HistoryItemView {
  id: string;
  title: string;
  updatedAt: number;
  turnCount: number;
}

/** Whether the composer can send, and if not why (shown in place of the input's placeholder, with a button). */
export interface ComposerStateView {
  mode: ChatModeView;
  /** A turn is streaming: Send becomes Stop, Esc stops. */
  busy: boolean;
  /** Undefined when a message can be sent now. */
  blocked?: { reason: string; action?: 'startServer' | 'setApiKey' | 'openSettings' };
  attachments: AttachmentView[];
  images: ImageView[];
}

export type ChatHostMessage =
  /** Replace the whole conversation shown (open, new chat, reload, after regenerate/edit truncated it). */
  | { type: 'conversation'; conversation: ConversationView }
  | { type: 'history'; items: HistoryItemView[]; problems: string[] }
  | { type: 'composer'; composer: ComposerStateView }
  /** A turn begins: the user's message (absent for Regenerate/Retry) and the empty assistant turn that streams next. */
  | { type: 'turnStarted'; user?: UserTurnView; assistantId: string; meta: AssistantTurnMeta }
  /** The streaming turn ended (done, stopped or failed). Carries no text: the webview already has it. */
  | { type: 'turnFinished'; assistantId: string; meta: AssistantTurnMeta }
  /** Tool-call cards (tool-calling issue): the full current list for the streaming turn. */
  | { type: 'toolCalls'; assistantId: string; calls: ToolCallView[] }
  /** Something about what the user tried that did not go out (too long, image too large …); the draft is kept. */
  | { type: 'composerError'; message: string }
  /** Put text into the input (e.g. "Continue in chat") and focus it. */
  | { type: 'prefill'; text: string }
  | { type: 'focusInput' };

export type HostToWebview =
  | { type: 'server'; server: ServerView }
  | { type: 'notice'; level: 'info' | 'warning'; text: string }
  | ChatHostMessage
  | StreamDelta;

/** Limits the host enforces on what the webview sends (a compromised webview cannot make it allocate more). */
export const PROTOCOL_LIMITS = Object.freeze({
  /** Characters in one message the user types. */
  maxMessageChars: 1_000_000,
  /** Length of one image data URL (10 MB decoded ≈ 13.4 M base64 characters). */
  maxImageDataUrlChars: 14_000_000,
  maxImagesPerMessage: 8,
  /** Link targets the webview asks to open. */
  maxHrefChars: 4096,
  /** Code a Copy / Insert button sends. */
  maxCodeChars: 2_000_000,
});

// Built on first use, not when the module loads: constructing zod schemas is most of what evaluating the activation
// bundle costs, and the chat view's messages are only checked once the panel is open.
function buildWebviewToHostSchema() {
  const id = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/));
  const imageIn = z.strictObject({
    name: z.optional(z.string().check(z.maxLength(255))),
    dataUrl: z.string().check(z.maxLength(PROTOCOL_LIMITS.maxImageDataUrlChars)),
  });
  return z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('ready') }),
    z.strictObject({ type: z.literal('checkServer') }),
    /** Apply the fix of the managed server's current failure (the host looks it up; the webview names nothing). */
    z.strictObject({ type: z.literal('applyServerFix') }),
    // ── chat ──
    z.strictObject({
      type: z.literal('send'),
      text: z.string().check(z.maxLength(PROTOCOL_LIMITS.maxMessageChars)),
      images: z.optional(z.array(imageIn).check(z.maxLength(PROTOCOL_LIMITS.maxImagesPerMessage))),
    }),
    /** Stop the streaming turn (Esc or the Stop button); the partial text stays, marked stopped. */
    z.strictObject({ type: z.literal('stop') }),
    z.strictObject({ type: z.literal('newChat') }),
    /** Regenerate (or Retry) the assistant turn with this id: it is replaced by a new answer to the same request. */
    z.strictObject({ type: z.literal('regenerate'), turnId: id }),
    /** Edit the user turn with this id (the last one) and send again: it and everything after it are replaced. */
    z.strictObject({ type: z.literal('editResend'), turnId: id, text: z.string().check(z.maxLength(PROTOCOL_LIMITS.maxMessageChars)) }),
    z.strictObject({ type: z.literal('setMode'), mode: z.enum(['thinking', 'instant']) }),
    z.strictObject({ type: z.literal('openConversation'), id }),
    z.strictObject({ type: z.literal('deleteConversation'), id }),
    z.strictObject({ type: z.literal('listHistory') }),
    /** Attach the active editor's file or selection to the next message. */
    z.strictObject({ type: z.literal('attach'), what: z.enum(['file', 'selection']) }),
    z.strictObject({ type: z.literal('removeAttachment'), index: z.number().check(z.int(), z.nonnegative(), z.lte(63)) }),
    z.strictObject({ type: z.literal('removeImage'), index: z.number().check(z.int(), z.nonnegative(), z.lte(63)) }),
    /** An image pasted or dropped into the composer; the host checks type and size and answers with `composer`. */
    z.strictObject({ type: z.literal('addImage'), image: imageIn }),
    z.strictObject({ type: z.literal('copyCode'), code: z.string().check(z.maxLength(PROTOCOL_LIMITS.maxCodeChars)) }),
    z.strictObject({ type: z.literal('insertCode'), code: z.string().check(z.maxLength(PROTOCOL_LIMITS.maxCodeChars)) }),
    /** A link in model output was clicked; the host checks the scheme and asks before opening. */
    z.strictObject({ type: z.literal('openLink'), href: z.string().check(z.maxLength(PROTOCOL_LIMITS.maxHrefChars)) }),
    /** Accept / Reject (/ Always allow, for a read-only tool) on the card of a tool call awaiting approval. */
    z.strictObject({
      type: z.literal('approveToolCall'),
      callId: z.string().check(z.minLength(1), z.maxLength(256)),
      decision: z.enum(['accept', 'reject', 'always']),
    }),
    /** An error's action button (ChatErrorActionView other than retry, which is `regenerate`). */
    z.strictObject({ type: z.literal('errorAction'), turnId: id, action: z.enum(['startServer', 'setApiKey', 'restartServerWithFlags', 'newChat', 'openSettings']) }),
    z.strictObject({
      type: z.literal('runCommand'),
      command: z.enum([
        'kimi.startServer',
        'kimi.stopServer',
        'kimi.restartServer',
        'kimi.downloadModel',
        'kimi.serverActions',
        'kimi.setApiKey',
        'kimi.openSettings',
        'kimi.showServerLogs',
      ]),
    }),
  ]);
}

let webviewToHost: ReturnType<typeof buildWebviewToHostSchema> | undefined;

/** The schema every webview → host message is checked against (built once, on first use). */
export function webviewToHostSchema(): ReturnType<typeof buildWebviewToHostSchema> {
  return (webviewToHost ??= buildWebviewToHostSchema());
}

export type WebviewToHost = z.infer<ReturnType<typeof buildWebviewToHostSchema>>;
