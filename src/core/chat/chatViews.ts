// The chat model as the webview sees it (src/shared/protocol.ts): conversation and turn views, turn metadata,
// error views with the actions the UI offers, the history list, and why the composer cannot send. Pure functions.
import type {
  AssistantTurnMeta,
  AssistantTurnView,
  AttachmentView,
  ChatErrorActionView,
  ChatErrorView,
  ComposerStateView,
  ConversationView,
  HistoryItemView,
  ImageView,
  ServerView,
  ToolCallView,
  TurnView,
  UserTurnView,
} from '../../shared/protocol';
import type { AssistantTurn, Conversation, ImageAttachment, TextAttachment, ToolCallRecord, UserTurn } from './conversation';
import type { ChatErrorAction, ChatErrorInit } from './errors';
import type { ConversationSummary } from './historyStore';

export function attachmentView(a: TextAttachment): AttachmentView {
  const lines = a.text === '' ? 1 : a.text.split('\n').length - (a.text.endsWith('\n') ? 1 : 0);
  const startLine = a.startLine ?? 1;
  return { kind: a.kind, path: a.path, startLine, endLine: a.endLine ?? startLine + Math.max(lines, 1) - 1, chars: a.text.length };
}

export function imageView(i: ImageAttachment): ImageView {
  return {
    ...(i.name !== undefined ? { name: i.name } : {}),
    dataUrl: i.dataUrl,
    bytes: i.bytes,
    ...(i.width !== undefined ? { width: i.width } : {}),
    ...(i.height !== undefined ? { height: i.height } : {}),
  };
}

export function userTurnView(t: UserTurn): UserTurnView {
  return {
    role: 'user',
    id: t.id,
    createdAt: t.createdAt,
    text: t.text,
    attachments: t.attachments ? t.attachments.map(attachmentView) : [],
    images: t.images ? t.images.map(imageView) : [],
  };
}

const ACTION_VIEW: Record<ChatErrorAction, ChatErrorActionView> = {
  startServer: 'startServer',
  setApiKey: 'setApiKey',
  restartServerWithFlags: 'restartServerWithFlags',
  newChat: 'newChat',
  checkSettings: 'openSettings',
};

/** A failure as the turn shows it: Retry first when retrying can help, then the error's own action. */
export function errorView(e: ChatErrorInit): ChatErrorView {
  const actions: ChatErrorActionView[] = [];
  if (e.retryable) actions.push('retry');
  if (e.action) actions.push(ACTION_VIEW[e.action]);
  return {
    kind: e.kind,
    message: e.message,
    ...(e.serverMessage !== undefined && e.serverMessage !== '' ? { serverMessage: e.serverMessage } : {}),
    actions,
    ...(e.missingFlags?.length ? { missingFlags: e.missingFlags } : {}),
  };
}

/** Arguments longer than this are cut in a card (a propose_edit's whole file; the diff editor shows it all). */
export const MAX_CARD_ARGUMENTS_CHARS = 20_000;
/** Results longer than this are cut in a card. */
export const MAX_CARD_RESULT_CHARS = 2_000;

export function clipForCard(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A stored call as its card (history). */
export function toolCallView(c: ToolCallRecord, index?: number): ToolCallView {
  const status = c.status ?? (c.result === undefined ? 'pending' : c.isError ? 'error' : 'done');
  return {
    id: c.id,
    name: c.name,
    arguments: clipForCard(c.arguments, MAX_CARD_ARGUMENTS_CHARS),
    ...(c.arguments.length > MAX_CARD_ARGUMENTS_CHARS ? { argumentsChars: c.arguments.length } : {}),
    status,
    ...(c.result !== undefined ? { resultPreview: clipForCard(c.result, MAX_CARD_RESULT_CHARS) } : {}),
    ...(c.isError ? { isError: true } : {}),
    ...(c.durationMs !== undefined ? { durationMs: c.durationMs } : {}),
    ...(index !== undefined ? { index } : {}),
  };
}

/** Everything about an assistant turn but its text (what turnStarted/turnFinished carry). */
export function assistantMeta(t: AssistantTurn): AssistantTurnMeta {
  const metrics: AssistantTurnMeta['metrics'] = {};
  if (t.usage) {
    metrics.promptTokens = t.usage.prompt;
    metrics.completionTokens = t.usage.completion;
  }
  if (t.ttftMs !== undefined) metrics.ttftMs = t.ttftMs;
  if (t.tokensPerSecond !== undefined) metrics.tokensPerSecond = t.tokensPerSecond;
  if (t.thinkingMs !== undefined) metrics.thinkingMs = t.thinkingMs;
  if (t.durationMs !== undefined) metrics.durationMs = t.durationMs;
  return {
    mode: t.mode,
    ...(t.model !== undefined ? { model: t.model } : {}),
    startedAt: t.createdAt,
    metrics,
    ...(t.finishReason !== undefined ? { finishReason: t.finishReason } : {}),
    ...(t.stopped ? { stopped: true } : {}),
    ...(t.error ? { error: errorView(t.error) } : {}),
    toolCalls: t.toolCalls.map((c, i) => toolCallView(c, i)),
  };
}

export function assistantTurnView(t: AssistantTurn): AssistantTurnView {
  return { role: 'assistant', id: t.id, thinking: t.thinking, answer: t.answer, ...assistantMeta(t) };
}

/** The conversation as the panel shows it; `uptoTurn` leaves out that turn and everything after it (the turn that
 *  is streaming right now is sent separately). */
export function conversationView(c: Conversation, uptoTurn?: number): ConversationView {
  const n = uptoTurn === undefined ? c.turns.length : Math.min(uptoTurn, c.turns.length);
  const turns: TurnView[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = c.turns[i]!;
    turns[i] = t.role === 'user' ? userTurnView(t) : assistantTurnView(t);
  }
  return { id: c.id, title: c.title, turns };
}

export function historyItems(list: ConversationSummary[]): HistoryItemView[] {
  return list.map((s) => ({ id: s.id, title: s.title, updatedAt: s.updatedAt, turnCount: s.turnCount }));
}

/** Why nothing can be sent to this server right now (undefined: it is ready). */
export function composerBlock(server: ServerView): ComposerStateView['blocked'] {
  const managed = server.managed && server.managed.kind !== 'stopped' ? server.managed : undefined;
  switch (server.state) {
    case 'ready':
      return server.modelId ? undefined : { reason: 'The server serves no model yet — check again in a moment' };
    case 'checking':
      return { reason: 'Checking the server…' };
    case 'starting':
      return { reason: `The server is starting${server.detail ? ` (${server.detail})` : ''} — you can send once it is ready` };
    case 'stopping':
      return { reason: 'The server is stopping' };
    case 'unreachable':
      return { reason: 'No server running — Start Server', action: 'startServer' };
    case 'unauthorized':
      return { reason: 'The server needs an API key', action: 'setApiKey' };
    case 'failed':
      return { reason: `The server failed to start${managed?.diagnosis ? `: ${managed.diagnosis.title}` : ''} — Start Server to try again`, action: 'startServer' };
    case 'error':
      return { reason: `The server cannot be used${server.detail ? `: ${server.detail}` : ''}`, action: 'openSettings' };
  }
}
