// Chat history on disk: one JSON file per conversation (`conv-<id>.json`) plus an index of summaries
// (`index.json`) in one directory (the extension's global storage). Every write is atomic: the bytes go to a temp
// file in the same directory, are fsynced, then renamed over the target (and the directory is fsynced) — a crash
// leaves either the old or the new file, never a torn one. The conversation files are the source of truth; the
// index is a cache that list() reconciles with the directory, so a crash between the two writes loses nothing.
// A damaged file is moved aside as `<name>.corrupt-<timestamp>` with a clear message; nothing else is touched.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod/mini';
import type { Conversation } from './conversation';

export interface ConversationSummary {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  turnCount: number;
}

export interface HistoryListing {
  /** Newest first. */
  conversations: ConversationSummary[];
  /** Plain-language notes about damaged files found (and set aside) while listing. */
  problems: string[];
}

export type HistoryErrorKind = 'corrupt' | 'notFound' | 'invalidId' | 'unsupported' | 'io';

export class HistoryError extends Error {
  constructor(
    readonly kind: HistoryErrorKind,
    message: string,
    readonly conversationId?: string,
    /** Where a damaged file was moved. */
    readonly quarantinedTo?: string,
  ) {
    super(message);
    this.name = 'HistoryError';
  }
}

export interface HistoryStoreOptions {
  /** Test hook: runs after the temp file is written and fsynced, before it is renamed into place. */
  beforeRename?: (tempPath: string, finalPath: string) => void | Promise<void>;
  /** Temp files older than this are leftovers of a crash and are removed by list(). Default 60 s (younger ones may
   *  belong to another window writing right now). */
  staleTempMs?: number;
  now?: () => number;
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const INDEX = 'index.json';
const FILE_RE = /^conv-([A-Za-z0-9_-]{1,64})\.json$/;
const TEMP_RE = /^\..+\.tmp-\d+-[0-9a-f]+$/;

// ----- the on-disk schema (loose: unknown fields written by newer versions are kept) -----

const num = z.number();
const optNum = z.optional(z.number());
const optStr = z.optional(z.string());
const usageSchema = z.looseObject({ prompt: num, completion: num, total: num });
const attachmentSchema = z.looseObject({
  kind: z.enum(['file', 'selection']), path: z.string(), text: z.string(), startLine: optNum, endLine: optNum, language: optStr,
});
const imageSchema = z.looseObject({
  name: optStr, mimeType: z.enum(['image/png', 'image/jpeg', 'image/webp', 'image/gif']), dataUrl: z.string(), bytes: num, width: optNum, height: optNum,
});
const userTurnSchema = z.looseObject({
  role: z.literal('user'), id: z.string(), createdAt: num, text: z.string(),
  attachments: z.optional(z.array(attachmentSchema)), images: z.optional(z.array(imageSchema)),
});
const toolCallSchema = z.looseObject({ id: z.string(), name: z.string(), arguments: z.string(), result: optStr, isError: z.optional(z.boolean()) });
const turnErrorSchema = z.looseObject({ kind: z.string(), message: z.string(), retryable: z.boolean() });
const assistantTurnSchema = z.looseObject({
  role: z.literal('assistant'), id: z.string(), createdAt: num, mode: z.enum(['thinking', 'instant']), model: optStr,
  thinking: z.string(), answer: z.string(), toolCalls: z.array(toolCallSchema), usage: z.optional(usageSchema),
  ttftMs: optNum, tokensPerSecond: optNum, thinkingMs: optNum, durationMs: optNum, finishReason: optStr,
  stopped: z.optional(z.boolean()), error: z.optional(turnErrorSchema),
});
const conversationSchema = z.looseObject({
  version: z.literal(1), id: z.string(), title: z.string(), createdAt: num, updatedAt: num,
  turns: z.array(z.discriminatedUnion('role', [userTurnSchema, assistantTurnSchema])), systemPrompt: optStr,
});
const summarySchema = z.object({ id: z.string(), title: z.string(), createdAt: num, updatedAt: num, turnCount: num });
const indexSchema = z.object({ version: z.literal(1), conversations: z.array(summarySchema) });

function summaryOf(c: Conversation): ConversationSummary {
  return { id: c.id, title: c.title, createdAt: c.createdAt, updatedAt: c.updatedAt, turnCount: c.turns.length };
}

function reason(e: unknown): string {
  if (e instanceof SyntaxError) return `it is not valid JSON (${e.message})`;
  if (e && typeof e === 'object' && 'issues' in e && Array.isArray((e as { issues: unknown[] }).issues)) {
    const issue = (e as { issues: { path: PropertyKey[]; message: string }[] }).issues[0];
    return `it does not look like a conversation (${issue ? `${issue.path.map(String).join('.') || 'root'}: ${issue.message}` : 'invalid'})`;
  }
  return e instanceof Error ? e.message : String(e);
}

export class HistoryStore {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(readonly dir: string, private readonly opts: HistoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** All conversations (newest first), reconciling the index with the files on disk. */
  list(): Promise<HistoryListing> {
    return this.serial(() => this.listNow());
  }

  /** One conversation. Throws HistoryError: notFound, corrupt (the file is moved aside), unsupported (written by a
   *  newer version; left untouched). */
  open(id: string): Promise<Conversation> {
    return this.serial(() => this.openNow(id));
  }

  /** Writes the conversation atomically and updates the index. */
  save(conv: Conversation): Promise<void> {
    return this.serial(async () => {
      checkId(conv.id);
      await fsp.mkdir(this.dir, { recursive: true });
      await this.writeAtomic(this.fileOf(conv.id), JSON.stringify(conv));
      const index = await this.readIndexLenient();
      index.set(conv.id, summaryOf(conv));
      await this.writeIndex(index);
    });
  }

  delete(id: string): Promise<void> {
    return this.serial(async () => {
      checkId(id);
      await fsp.rm(this.fileOf(id), { force: true });
      const index = await this.readIndexLenient();
      if (index.delete(id)) await this.writeIndex(index);
    });
  }

  rename(id: string, title: string): Promise<ConversationSummary> {
    return this.serial(async () => {
      const t = title.trim();
      if (!t || t.length > 200) throw new HistoryError('invalidId', 'A conversation title must have 1 to 200 characters.', id);
      const conv = await this.openNow(id);
      conv.title = t;
      await this.writeAtomic(this.fileOf(id), JSON.stringify(conv));
      const index = await this.readIndexLenient();
      const s = summaryOf(conv);
      index.set(id, s);
      await this.writeIndex(index);
      return s;
    });
  }

  // ----- internals -----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    // The chain keeps neither the result nor the error: `run.catch()` would resolve to the last result, and the store
    // would hold the last conversation it opened (however long) until its next operation.
    this.chain = run.then(noop, noop);
    return run;
  }

  private fileOf(id: string) {
    return path.join(this.dir, `conv-${id}.json`);
  }

  private async openNow(id: string): Promise<Conversation> {
    checkId(id);
    const file = this.fileOf(id);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new HistoryError('notFound', 'This conversation no longer exists (it may have been deleted in another window).', id);
      throw new HistoryError('io', `The conversation could not be read: ${reason(e)}`, id);
    }
    try {
      return this.parse(text, id);
    } catch (e) {
      if (e instanceof HistoryError) throw e;
      const title = (await this.readIndexLenient()).get(id)?.title;
      const moved = await this.quarantine(file);
      const index = await this.readIndexLenient();
      if (index.delete(id)) await this.writeIndex(index);
      throw new HistoryError(
        'corrupt',
        `The conversation ${title ? `"${title}"` : id} could not be opened: ${reason(e)}. The damaged file was kept as ` +
          `${path.basename(moved)}; your other conversations are not affected.`,
        id,
        moved,
      );
    }
  }

  private parse(text: string, id: string): Conversation {
    const raw: unknown = JSON.parse(text);
    const version = (raw as { version?: unknown })?.version;
    if (typeof version === 'number' && version > 1) {
      throw new HistoryError('unsupported', `This conversation was saved by a newer version of the extension (format ${version}); update the extension to open it.`, id);
    }
    const conv = z.parse(conversationSchema, raw) as unknown as Conversation;
    if (conv.id !== id) throw new Error(`its id ${JSON.stringify(conv.id)} does not match the file name`);
    return conv;
  }

  private async quarantine(file: string): Promise<string> {
    const target = `${file}.corrupt-${new Date(this.now()).toISOString().replace(/[:.]/g, '-')}`;
    await fsp.rename(file, target);
    return target;
  }

  private async listNow(): Promise<HistoryListing> {
    const problems: string[] = [];
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { conversations: [], problems };
      throw new HistoryError('io', `The chat history folder could not be read: ${reason(e)}`);
    }
    await this.removeStaleTemps(names);
    const onDisk = new Set<string>();
    for (const n of names) {
      const m = FILE_RE.exec(n);
      if (m) onDisk.add(m[1]!);
    }
    let index: Map<string, ConversationSummary>;
    let changed = false;
    try {
      index = await this.readIndex();
    } catch (e) {
      const moved = await this.quarantine(path.join(this.dir, INDEX));
      problems.push(`The chat history index was damaged (${reason(e)}); it was rebuilt from the conversation files. The damaged copy was kept as ${path.basename(moved)}.`);
      index = new Map();
      changed = true;
    }
    for (const id of [...index.keys()]) {
      if (!onDisk.has(id)) {
        index.delete(id);
        changed = true;
      }
    }
    for (const id of onDisk) {
      if (index.has(id)) continue;
      // On disk but not indexed (a crash between the two writes, another window, a rebuilt index).
      const file = this.fileOf(id);
      try {
        index.set(id, summaryOf(this.parse(await fsp.readFile(file, 'utf8'), id)));
      } catch (e) {
        if (e instanceof HistoryError) {
          problems.push(e.message);
          continue;
        }
        const moved = await this.quarantine(file);
        problems.push(`A conversation file (${path.basename(file)}) was damaged (${reason(e)}) and was set aside as ${path.basename(moved)}; the other conversations are not affected.`);
      }
      changed = true;
    }
    if (changed) await this.writeIndex(index);
    const conversations = [...index.values()].sort((a, b) => b.updatedAt - a.updatedAt);
    return { conversations, problems };
  }

  private async removeStaleTemps(names: string[]) {
    const maxAge = this.opts.staleTempMs ?? 60_000;
    for (const n of names) {
      if (!TEMP_RE.test(n)) continue;
      const p = path.join(this.dir, n);
      try {
        const st = await fsp.stat(p);
        if (this.now() - st.mtimeMs >= maxAge) await fsp.rm(p, { force: true });
      } catch {
        /* gone already */
      }
    }
  }

  /** Throws when the index exists but is damaged; an absent index is empty. */
  private async readIndex(): Promise<Map<string, ConversationSummary>> {
    let text: string;
    try {
      text = await fsp.readFile(path.join(this.dir, INDEX), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    const idx = z.parse(indexSchema, JSON.parse(text));
    return new Map(idx.conversations.filter((s) => ID_RE.test(s.id)).map((s) => [s.id, s]));
  }

  /** For writers: a damaged index is replaced (list() rebuilds missing entries from the files). */
  private async readIndexLenient(): Promise<Map<string, ConversationSummary>> {
    try {
      return await this.readIndex();
    } catch {
      return new Map();
    }
  }

  private async writeIndex(index: Map<string, ConversationSummary>) {
    await fsp.mkdir(this.dir, { recursive: true });
    await this.writeAtomic(path.join(this.dir, INDEX), JSON.stringify({ version: 1, conversations: [...index.values()] }));
  }

  private async writeAtomic(file: string, data: string) {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const fh = await fsp.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(data, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.opts.beforeRename?.(tmp, file);
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw new HistoryError('io', `The chat could not be saved: ${reason(e)}`);
    }
    await fsyncDir(path.dirname(file));
  }
}

function noop(): void {}

function checkId(id: string) {
  if (!ID_RE.test(id)) throw new HistoryError('invalidId', `Not a valid conversation id: ${JSON.stringify(id)}`, id);
}

/** Makes a rename durable (POSIX). Not supported on Windows, where it is skipped. */
async function fsyncDir(dir: string) {
  if (process.platform === 'win32') return;
  let fh: import('node:fs').promises.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    /* best effort */
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
