// "Continue in chat": an inline explanation becomes a chat conversation — the user's request with the explained lines
// attached (path, line numbers, language), and the explanation as the assistant's answer (thinking included) — so the
// user can ask follow-up questions in the chat panel.
import { randomUUID } from 'node:crypto';
import type { ChatTurnResult } from '../chat/chatClient';
import { assistantTurnFromResult, newConversation, type Conversation, type TextAttachment } from '../chat/conversation';
import type { ChatMode } from '../chat/types';
import type { ExplainDiagnostic, Excerpt, LineRange } from './explainPrompt';

export interface ExplainedRequest {
  path: string;
  languageId: string;
  lines: readonly string[];
  /** The selections and the lines of each that were sent. */
  excerpts: readonly Excerpt[];
  diagnostic?: ExplainDiagnostic;
}

function rangeText(r: LineRange): string {
  return r.startLine === r.endLine ? `line ${r.startLine}` : `lines ${r.startLine}–${r.endLine}`;
}

/** The user's request in words (the attachments carry the code). Plain text: the chat shows a user's text as is. */
export function explainRequestText(req: Pick<ExplainedRequest, 'path' | 'excerpts' | 'diagnostic'>): string {
  const d = req.diagnostic;
  if (d) {
    const origin = [d.source, d.code].filter(Boolean).join(' ');
    return `Explain this ${d.severity}${origin ? ` (${origin})` : ''} in ${req.path} at ${rangeText(d)}:\n${d.message}`;
  }
  const cut = req.excerpts.some((e) => e.sent.endLine < e.range.endLine);
  return `Explain the selected code in ${req.path} (${req.excerpts.map((e) => rangeText(e.range)).join(', ')}).` +
    (cut ? ' Only the attached part of the selection was sent: it did not fit the server\'s context.' : '');
}

/** The conversation title: "Explain src/math.ts lines 8–10". */
export function explainTitle(req: Pick<ExplainedRequest, 'path' | 'excerpts' | 'diagnostic'>): string {
  const first = req.excerpts[0];
  const where = first ? ` ${rangeText(req.diagnostic ?? first.range)}` : '';
  const title = `${req.diagnostic ? 'Explain problem in' : 'Explain'} ${req.path}${where}${req.excerpts.length > 1 && !req.diagnostic ? ` (+${req.excerpts.length - 1})` : ''}`;
  return title.length > 60 ? `${title.slice(0, 59)}…` : title;
}

export function explainAttachments(req: ExplainedRequest): TextAttachment[] {
  return req.excerpts.map((e) => ({
    kind: 'selection',
    path: req.path,
    text: req.lines.slice(e.sent.startLine - 1, e.sent.endLine).join('\n'),
    startLine: e.sent.startLine,
    endLine: e.sent.endLine,
    language: req.languageId,
  }));
}

/** The conversation "Continue in chat" opens. */
export function explanationConversation(
  req: ExplainedRequest,
  result: ChatTurnResult,
  meta: { mode: ChatMode; model?: string; startedAt: number; now: number },
): Conversation {
  const conv = newConversation({ now: meta.now, title: explainTitle(req) });
  const attachments = explainAttachments(req);
  conv.turns.push({
    role: 'user',
    id: randomUUID(),
    createdAt: meta.startedAt,
    text: explainRequestText(req),
    ...(attachments.length ? { attachments } : {}),
  });
  conv.turns.push(assistantTurnFromResult(result, { mode: meta.mode, ...(meta.model ? { model: meta.model } : {}), now: meta.startedAt }));
  return conv;
}
