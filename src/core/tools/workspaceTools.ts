// The workspace tools. Names and arguments are a contract (issue #5): read_file, list_directory, find_files,
// search_text, get_diagnostics, get_selection, get_open_editors, get_symbols, propose_edit, run_command.
// Every path and glob goes through the Confinement before the port sees it; every result is plain text for the
// model, capped with a visible note; every failure is a ToolError whose message becomes `error: …`.
import * as z from 'zod/mini';
import { described } from '../config/zodMini';
import { capText, formatBytes, formatDuration, MAX_LINE_CHARS, numberLines, splitLines } from './format';
import { defineTool, workspaceOf, type Tool, type ToolContext } from './tool';
import { ToolError, type ConfinedPath, type FileStat, type WorkspacePort } from './types';
import { SEARCH_MAX_FILE_BYTES } from './ripgrep';

const MATCH_TEXT_CHARS = 300;

const pathArg = (what: string) => described(z.string().check(z.minLength(1)), what);
const maxResultsArg = () => z.optional(described(z.int().check(z.gte(1), z.lte(1000)), 'How many results at most (default 100, up to 1000).'));

/** How to find lines in a file search_text does not search (over SEARCH_MAX_FILE_BYTES), naming only tools the model
 *  has: run_command (grep), or else a command for the user to run. `grep` is the example command. */
function findInLargeFile(ctx: ToolContext, port: WorkspacePort, grep: string): string {
  if (ctx.offers('run_command')) return `use run_command (e.g. ${grep}), which the user approves`;
  return `ask the user to run a command (e.g. ${grep}) and tell you its output (run_command is not available here)` +
    `${port.howToAllowCommands ? `; ${port.howToAllowCommands}` : ''}`;
}

/** Whether read_file can read a line range of a file over its size limit here (the port streams lines). */
function rangesOfLargeFiles(ctx: ToolContext, port: WorkspacePort): boolean {
  return port.readLines !== undefined && ctx.offers('read_file');
}

/** What to do instead of reading a whole file over read_file's size limit, naming only tools the model has: a line
 *  range (streamed), and search_text when the file is small enough for it (SEARCH_MAX_FILE_BYTES), else run_command
 *  (grep) — or, without run_command, a command the user runs. */
function tooLargeHint(ctx: ToolContext, port: WorkspacePort, p: ConfinedPath, size: number): string {
  const range = rangesOfLargeFiles(ctx, port) ? 'read a part of it with startLine and endLine (e.g. startLine 1, endLine 200)' : '';
  if (size <= SEARCH_MAX_FILE_BYTES && ctx.offers('search_text')) {
    return range ? `${range}, and use search_text to find the lines you need` : 'use search_text to find the part you need';
  }
  const skips = `search_text skips files over ${formatBytes(SEARCH_MAX_FILE_BYTES)}`;
  if (range) return `${range}; ${skips}, so to find lines in it ${findInLargeFile(ctx, port, `grep -n PATTERN ${p.display}`)}`;
  if (ctx.offers('run_command')) return `${skips} too; to see part of it use run_command (e.g. head, tail or grep), which the user approves`;
  return `${skips} too, and run_command is not available here, so none of your tools can show any of it. Tell the user, with a ` +
    `command they can run to see the part you need (e.g. head, tail or grep on ${p.display})` +
    `${port.howToAllowCommands ? `; ${port.howToAllowCommands}` : ''}`;
}

/** A word for the shell, in single quotes when it needs them. */
function shellWord(s: string): string {
  return /^[\w./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const SKIPPED_NAMES = 5;

/** search_text's note on the files it skipped for their size: how many, the first few with their sizes, and how to look
 *  into them with the tools the model has (a line range of read_file; grep through run_command, or the user). */
function notSearchedNote(ctx: ToolContext, port: WorkspacePort, files: readonly { shown: string; bytes: number }[], query: string, isRegex: boolean): string {
  const n = files.length;
  const names = files.slice(0, SKIPPED_NAMES).map((f) => `${f.shown} (${formatBytes(f.bytes)})`).join(', ');
  const rest = n > SKIPPED_NAMES ? ` and ${n - SKIPPED_NAMES} more` : '';
  const them = n === 1 ? 'it' : 'them';
  const read = rangesOfLargeFiles(ctx, port) ? `read_file with startLine and endLine reads any part of ${them}`
    : files.every((f) => f.bytes <= ctx.limits.maxReadBytes) && ctx.offers('read_file') ? `read_file reads ${them}` : '';
  const grep = `grep -n${isRegex ? 'E' : 'F'} ${shellWord(query)} ${shellWord(files[0]!.shown)}`;
  return `[not searched: ${n} file${n === 1 ? '' : 's'} over ${formatBytes(SEARCH_MAX_FILE_BYTES)}, which search_text skips — ${names}${rest}. ` +
    `${read ? `${read}; ` : ''}to find the lines you need in ${them}, ${findInLargeFile(ctx, port, grep)}]`;
}

/** The checks before a read: the file exists and is a regular file, not over the read limit unless `largeOk` (a line
 *  range, streamed), and the user allows reading it when it looks like a secret or is ignored/excluded. */
async function checkReadable(ctx: ToolContext, tool: string, p: ConfinedPath, largeOk = false): Promise<FileStat> {
  const { port, confinement } = workspaceOf(ctx, tool);
  const st = await port.stat(p);
  if (!st) throw new ToolError(`no such file: ${p.display}; expected an existing file — use find_files or list_directory to find the right path`);
  if (st.type === 'directory') throw new ToolError(`${p.display} is a folder, not a file; use list_directory to see what is in it`);
  if (st.type !== 'file') throw new ToolError(`${p.display} is not a regular file`);
  if (st.size > ctx.limits.maxReadBytes && !largeOk) {
    // Just over the limit both round to the same figure ("8.0 MB, more than the 8.0 MB"): then say the bytes.
    const [size, max] = [formatBytes(st.size), formatBytes(ctx.limits.maxReadBytes)];
    const sizes = size !== max ? `${size}, more than the ${max}`
      : `${st.size.toLocaleString('en-US')} bytes, more than the ${ctx.limits.maxReadBytes.toLocaleString('en-US')} bytes (${max})`;
    const whole = rangesOfLargeFiles(ctx, port) ? ' whole' : '';
    throw new ToolError(`${p.display} is ${sizes} ${tool} can read${whole}; ${tooLargeHint(ctx, port, p, st.size)}`);
  }
  const sens = confinement.sensitivity(p);
  if (sens) {
    const ok = await ctx.approve({ kind: 'sensitiveRead', tool, path: p, reason: sens.reason, sensitivity: sens.kind });
    if (!ok) throw new ToolError(`the user did not allow reading ${p.display} (${sens.reason}); do not try to read it another way`);
  }
  return st;
}

function binaryError(p: ConfinedPath, tool: string): ToolError {
  return new ToolError(`${p.display} looks like a binary file (it contains NUL bytes); ${tool} works on text files only`);
}

/** How many lines of a range fit one result: at most maxReadLines, and whole lines within the character budget. */
function lineBudget(ctx: ToolContext): (line: string, shown: number) => boolean {
  const budget = ctx.limits.maxResultChars - 400;
  let used = 0;
  return (line, shown) => {
    if (shown >= ctx.limits.maxReadLines) return false;
    const cost = Math.min(line.length, MAX_LINE_CHARS + 50) + 10;
    if (used + cost > budget && shown > 0) return false;
    used += cost;
    return true;
  };
}

/** A line range of a file over the read limit, streamed through the port: lines before the range are read past, and
 *  reading stops at the first line after what is shown (the range's end or the result's cap). The file's line count
 *  is known only when the range reaches its end. */
async function readLargeRange(ctx: ToolContext, port: WorkspacePort, p: ConfinedPath, size: number, from: number, endLine: number | undefined): Promise<string> {
  const fits = lineBudget(ctx);
  const shown: string[] = [];
  let n = 0;
  let stoppedAt: 'rangeEnd' | 'cap' | undefined;
  for await (let line of port.readLines!(p, { maxLineChars: MAX_LINE_CHARS + 100, signal: ctx.signal })) {
    n++;
    if (n === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.includes('\0')) throw binaryError(p, 'read_file');
    if (n < from) continue;
    if (endLine !== undefined && n > endLine) {
      stoppedAt = 'rangeEnd';
      break;
    }
    if (!fits(line, shown.length)) {
      stoppedAt = 'cap';
      break;
    }
    shown.push(line);
  }
  if (!shown.length) {
    // The file ended before the range began (it was read to its end, so its length is known).
    if (n === 0) return `${p.display} is empty (0 lines).`;
    throw new ToolError(`${p.display} has ${n} line${n === 1 ? '' : 's'}; expected startLine between 1 and ${n}`);
  }
  const last = from + shown.length - 1;
  const header = stoppedAt === undefined ? `${p.display} (lines ${from}-${last} of ${n})`
    : `${p.display} (lines ${from}-${last}; more lines follow in this ${formatBytes(size)} file)`;
  const more = stoppedAt === 'cap' ? `\n[truncated: showing lines ${from}-${last}; call read_file with startLine ${last + 1} to read on]` : '';
  return `${header}\n${numberLines(shown, from)}${more}`;
}

function readFileTool() {
  return defineTool({
    name: 'read_file',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description:
      'Read a text file of the workspace. Returns the lines as "N: text" with 1-based line numbers (the numbers are not part ' +
      'of the file). Long files are cut with a note saying how to read on; pass startLine/endLine to read a range (the only way to ' +
      'read a very large file). Paths are relative to the workspace root, e.g. "src/index.ts".',
    input: z.strictObject({
      path: pathArg('File path relative to the workspace root.'),
      startLine: z.optional(described(z.int().check(z.gte(1)), 'First line to return (1-based, default 1).')),
      endLine: z.optional(described(z.int().check(z.gte(1)), 'Last line to return (inclusive, default: the end of the file).')),
    }),
    async run({ path, startLine, endLine }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'read_file');
      if (startLine !== undefined && endLine !== undefined && endLine < startLine) {
        throw new ToolError(`endLine (${endLine}) is before startLine (${startLine}); expected startLine ≤ endLine`);
      }
      const p = await confinement.resolve(path);
      const ranged = (startLine !== undefined || endLine !== undefined) && port.readLines !== undefined;
      const st = await checkReadable(ctx, 'read_file', p, ranged);
      if (st.size > ctx.limits.maxReadBytes) return readLargeRange(ctx, port, p, st.size, startLine ?? 1, endLine);
      const { text } = await port.readFile(p, { maxBytes: ctx.limits.maxReadBytes, signal: ctx.signal });
      if (text.includes('\0')) throw binaryError(p, 'read_file');
      const lines = splitLines(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      const total = lines.length;
      if (total === 0) return `${p.display} is empty (0 lines).`;
      const from = startLine ?? 1;
      if (from > total) throw new ToolError(`${p.display} has ${total} line${total === 1 ? '' : 's'}; expected startLine between 1 and ${total}`);
      const to = Math.min(endLine ?? total, total);
      // Whole lines only, within the line and character budgets.
      const fits = lineBudget(ctx);
      let last = from - 1;
      while (last < to && fits(lines[last]!, last - from + 1)) last++;
      const header = `${p.display} (lines ${from}-${last} of ${total})`;
      const body = numberLines(lines.slice(from - 1, last), from);
      const more = last < to ? `\n[truncated: showing lines ${from}-${last} of ${total}; call read_file with startLine ${last + 1} to read on]` : '';
      return `${header}\n${body}${more}`;
    },
  });
}

function listDirectoryTool() {
  return defineTool({
    name: 'list_directory',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description:
      'List a folder of the workspace: one entry per line, folders with a trailing "/". Entries ignored by .gitignore or that ' +
      'look like secrets are marked. Use "." for the workspace root.',
    input: z.strictObject({ path: pathArg('Folder path relative to the workspace root ("." for the root).') }),
    async run({ path }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'list_directory');
      const p = await confinement.resolve(path);
      const st = await port.stat(p);
      if (!st) throw new ToolError(`no such folder: ${p.display}; expected an existing folder — use "." for the workspace root`);
      if (st.type !== 'directory') throw new ToolError(`${p.display} is a file, not a folder; use read_file to read it`);
      const entries = await port.list(p, ctx.signal);
      if (!entries.length) return `${p.display} is empty.`;
      entries.sort((a, b) => (a.type === 'directory' ? 0 : 1) - (b.type === 'directory' ? 0 : 1) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const shown = entries.slice(0, ctx.limits.maxListEntries);
      const lines = shown.map((e) => {
        const rel = p.relative === '' ? e.name : `${p.relative}/${e.name}`;
        const isDir = e.type === 'directory';
        const sens = confinement.sensitivity({ root: p.root, relative: rel }, isDir);
        const mark = sens?.kind === 'secret' ? '  (looks like a secret: reading needs approval)'
          : sens?.kind === 'ignored' ? '  (ignored by .gitignore)'
          : sens?.kind === 'excluded' ? '  (excluded)'
          : sens?.kind === 'git' ? '  (repository internals)'
          : '';
        return `${e.name}${isDir ? '/' : ''}${e.note ? `  (${e.note})` : ''}${mark}`;
      });
      const header = `${p.display}/ (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'})`;
      const more = entries.length > shown.length ? `\n[truncated: showing ${shown.length} of ${entries.length} entries; use find_files with a glob to narrow down]` : '';
      return `${header}\n${lines.join('\n')}${more}`;
    },
  });
}

function findFilesTool() {
  return defineTool({
    name: 'find_files',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description:
      'Find files whose workspace-relative path matches a glob: "*" (within one folder), "**" (any folders), "?", "{a,b}", ' +
      '"[abc]". A glob without "/" matches at any depth ("*.md" finds every Markdown file). Files ignored by .gitignore ' +
      'are skipped. Returns one path per line.',
    input: z.strictObject({
      glob: described(z.string().check(z.minLength(1)), 'Glob relative to the workspace root, e.g. "src/**/*.ts" or "package.json".'),
      maxResults: maxResultsArg(),
    }),
    async run({ glob, maxResults }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'find_files');
      const g = confinement.normalizeGlob(glob);
      const max = Math.min(maxResults ?? ctx.limits.defaultMaxResults, ctx.limits.maxMaxResults);
      const found = await port.findFiles({ glob: g, maxResults: max, signal: ctx.signal });
      const paths: string[] = [];
      for (const f of found.files) {
        // Shown as found (a symlinked file under its own name), kept only when it really is inside.
        const c = await confinement.contain(f);
        const shown = c ? confinement.displayOf(f) ?? c.display : undefined;
        if (shown && !paths.includes(shown)) paths.push(shown);
      }
      if (!paths.length) return `No files match ${JSON.stringify(g)}.`;
      const more = found.truncated ? `\n[truncated: more than ${max} files match; use a narrower glob${max < ctx.limits.maxMaxResults ? ` or a larger maxResults (up to ${ctx.limits.maxMaxResults})` : ''}]` : '';
      return `${paths.length}${found.truncated ? '+' : ''} file${paths.length === 1 ? '' : 's'} matching ${JSON.stringify(g)}:\n${paths.join('\n')}${more}`;
    },
  });
}

function searchTextTool() {
  return defineTool({
    name: 'search_text',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description:
      'Search the text of the workspace files (ripgrep). Returns matching lines as "path:line: text". The query is plain text ' +
      'unless isRegex is true (then a Rust/ripgrep regular expression). Case-insensitive when the query is all lower case. ' +
      '"include" limits the search to files matching a glob ("*.ts", "src/**"). Files ignored by .gitignore and files that look ' +
      'like secrets are not searched.',
    input: z.strictObject({
      query: described(z.string().check(z.minLength(1)), 'The text (or regular expression) to find.'),
      isRegex: z.optional(described(z.boolean(), 'Treat the query as a regular expression (default false).')),
      include: z.optional(described(z.string().check(z.minLength(1)), 'Only files matching this glob, e.g. "*.py" or "src/**/*.ts".')),
      maxResults: maxResultsArg(),
    }),
    async run({ query, isRegex, include, maxResults }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'search_text');
      if (query.includes('\0')) throw new ToolError('query contains a NUL byte; expected plain text');
      const inc = include !== undefined ? confinement.normalizeGlob(include, 'include') : undefined;
      const max = Math.min(maxResults ?? ctx.limits.defaultMaxResults, ctx.limits.maxMaxResults);
      const res = await port.searchText({ query, isRegex: isRegex ?? false, ...(inc ? { include: inc } : {}), maxResults: max, signal: ctx.signal });
      const lines: string[] = [];
      let hidden = 0;
      const seen = new Map<string, string | null>();
      for (const m of res.matches) {
        let shown = seen.get(m.path);
        if (shown === undefined) {
          const c = await confinement.contain(m.path);
          shown = c && confinement.sensitivity(c)?.kind !== 'secret' ? confinement.displayOf(m.path) ?? c.display : null;
          seen.set(m.path, shown);
        }
        if (!shown) {
          hidden++;
          continue;
        }
        const text = m.text.replace(/\r?\n$/, '');
        lines.push(`${shown}:${m.line}: ${text.length > MATCH_TEXT_CHARS ? `${text.slice(0, MATCH_TEXT_CHARS)}…` : text}`);
      }
      const where = inc ? ` in files matching ${JSON.stringify(inc)}` : '';
      const hiddenNote = hidden ? `\n[${hidden} match${hidden === 1 ? '' : 'es'} in files outside the workspace or that look like secrets left out]` : '';
      const skipped: { shown: string; bytes: number }[] = [];
      for (const f of res.tooLarge ?? []) {
        const c = await confinement.contain(f.path);
        const shown = c && confinement.sensitivity(c)?.kind !== 'secret' ? confinement.displayOf(f.path) ?? c.display : undefined;
        if (shown) skipped.push({ shown, bytes: f.bytes });
      }
      const skippedNote = skipped.length ? `\n${notSearchedNote(ctx, port, skipped, query, isRegex ?? false)}` : '';
      if (!lines.length) return `No matches for ${JSON.stringify(query)}${where}.${skippedNote}${hiddenNote}`;
      const more = res.truncated ? `\n[truncated: showing the first ${res.matches.length} matches; narrow the query or the include glob${max < ctx.limits.maxMaxResults ? `, or raise maxResults (up to ${ctx.limits.maxMaxResults})` : ''}]` : '';
      return `${lines.length}${res.truncated ? '+' : ''} match${lines.length === 1 ? '' : 'es'} for ${JSON.stringify(query)}${where}:\n${lines.join('\n')}${more}${skippedNote}${hiddenNote}`;
    },
  });
}

function getDiagnosticsTool() {
  return defineTool({
    name: 'get_diagnostics',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description:
      'The problems (errors, warnings) VS Code\'s language services report, for one file or the whole workspace. Returns ' +
      '"path:line:column: severity: message".',
    input: z.strictObject({ path: z.optional(pathArg('File path relative to the workspace root; omit for every file.')) }),
    async run({ path }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'get_diagnostics');
      const p = path !== undefined ? await confinement.resolve(path) : undefined;
      const diags = await port.diagnostics(p);
      const order = { error: 0, warning: 1, info: 2, hint: 3 } as const;
      const lines: string[] = [];
      for (const d of diags.sort((a, b) => order[a.severity] - order[b.severity] || a.path.localeCompare(b.path) || a.line - b.line)) {
        const shown = confinement.displayOf(d.path);
        if (!shown) continue;
        lines.push(`${shown}:${d.line}:${d.column}: ${d.severity}: ${d.message}${d.source ? ` [${d.source}${d.code ? ` ${d.code}` : ''}]` : ''}`);
      }
      const where = p ? ` in ${p.display}` : ' in the workspace';
      if (!lines.length) return `No problems reported${where}.`;
      return capText(`${lines.length} problem${lines.length === 1 ? '' : 's'}${where}:\n${lines.join('\n')}`, ctx.limits.maxResultChars, 'ask for one file with path');
    },
  });
}

function getSelectionTool() {
  return defineTool({
    name: 'get_selection',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description: 'The text the user has selected in the active editor, with its file and line numbers. Use it when the user says "this", "the selected code" or "here".',
    input: z.strictObject({}),
    async run(_args, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'get_selection');
      const sel = await port.selection();
      if (!sel || sel.text === '') return 'Nothing is selected (no active editor, or an empty selection).';
      let shown: string;
      if (sel.path.startsWith('/') || /^[a-z]:[\\/]/i.test(sel.path)) {
        const c = await confinement.contain(sel.path);
        if (!c) throw new ToolError('the selection is in a file outside the workspace; ask the user to attach it to the message instead');
        shown = c.display;
      } else {
        shown = sel.path; // an untitled editor
      }
      const lines = splitLines(sel.text);
      return capText(`Selection in ${shown} (lines ${sel.startLine}-${sel.endLine}${sel.language ? `, ${sel.language}` : ''}):\n${numberLines(lines, sel.startLine)}`, ctx.limits.maxResultChars, 'the selection is longer; use read_file with startLine/endLine');
    },
  });
}

function getOpenEditorsTool() {
  return defineTool({
    name: 'get_open_editors',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description: 'The files open in editor tabs, the active one first, with unsaved changes marked.',
    input: z.strictObject({}),
    async run(_args, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'get_open_editors');
      const eds = await port.openEditors();
      if (!eds.length) return 'No editors are open.';
      const lines = eds
        .sort((a, b) => Number(b.active) - Number(a.active))
        .map((e) => {
          const shown = e.path.startsWith('/') || /^[a-z]:[\\/]/i.test(e.path) ? confinement.displayOf(e.path) ?? '(a file outside the workspace)' : e.path;
          const flags = [e.active ? 'active' : '', e.dirty ? 'unsaved changes' : '', e.language ?? ''].filter(Boolean);
          return `${shown}${flags.length ? ` (${flags.join(', ')})` : ''}`;
        });
      return `${eds.length} open editor${eds.length === 1 ? '' : 's'}:\n${lines.join('\n')}`;
    },
  });
}

function getSymbolsTool() {
  return defineTool({
    name: 'get_symbols',
    group: 'workspace',
    readOnly: true,
    needsApproval: false,
    description:
      'Symbols (classes, functions, methods, variables …) from VS Code\'s language services: with path, the outline of that ' +
      'file; with query, the workspace symbols whose name matches. Returns "kind name — path:line". Give path, query or both.',
    input: z.strictObject({
      path: z.optional(pathArg('File path relative to the workspace root, for that file\'s outline.')),
      query: z.optional(described(z.string().check(z.minLength(1)), 'Part of a symbol name to look up across the workspace.')),
    }),
    async run({ path, query }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'get_symbols');
      if (path === undefined && query === undefined) throw new ToolError('get_symbols needs a path (a file\'s outline) or a query (a name to look up); expected {"path": "src/a.ts"} or {"query": "parse"}');
      const p = path !== undefined ? await confinement.resolve(path) : undefined;
      const syms = await port.symbols({ ...(p ? { path: p } : {}), ...(query !== undefined ? { query } : {}), maxResults: ctx.limits.defaultMaxResults * 2, signal: ctx.signal });
      const lines: string[] = [];
      for (const s of syms) {
        const shown = confinement.displayOf(s.path);
        if (!shown) continue;
        lines.push(`${s.kind} ${s.name}${s.containerName ? ` (in ${s.containerName})` : ''} — ${shown}:${s.line}`);
      }
      const what = [p ? `in ${p.display}` : '', query !== undefined ? `matching ${JSON.stringify(query)}` : ''].filter(Boolean).join(' ');
      if (!lines.length) return `No symbols ${what}.`;
      return capText(`${lines.length} symbol${lines.length === 1 ? '' : 's'} ${what}:\n${lines.join('\n')}`, ctx.limits.maxResultChars, 'use a more specific query');
    },
  });
}

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

function lineCount(s: string): number {
  return splitLines(s).length;
}

function proposeEditTool() {
  return defineTool({
    name: 'propose_edit',
    group: 'workspace',
    readOnly: false,
    needsApproval: true,
    description:
      'Propose a change to one file; the user sees it as a diff and it is applied only if they accept. To change part of a ' +
      'file, give oldText (copied exactly from the file, without read_file\'s line numbers, long enough to occur exactly once) ' +
      'and newText to replace it. To create a file or replace all of it, omit oldText and give the whole content as newText. ' +
      'Read the file first. Returns whether the edit was applied.',
    input: z.strictObject({
      path: pathArg('File path relative to the workspace root.'),
      newText: described(z.string(), 'The replacement text (or, without oldText, the complete new content of the file).'),
      oldText: z.optional(described(z.string().check(z.minLength(1)), 'The exact text to replace; it must occur exactly once in the file.')),
      explanation: z.optional(described(z.string(), 'One sentence for the user: what the change does and why.')),
    }),
    async run({ path, newText, oldText, explanation }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'propose_edit');
      const p = await confinement.resolve(path);
      let original: string | undefined;
      if (p.exists) {
        const st = await port.stat(p);
        if (st?.type === 'directory') throw new ToolError(`${p.display} is a folder; expected a file path`);
        if (st && st.size > ctx.limits.maxReadBytes) throw new ToolError(`${p.display} is ${formatBytes(st.size)}, too large to edit here`);
        original = (await port.readFile(p, { maxBytes: ctx.limits.maxReadBytes, signal: ctx.signal })).text;
        if (original.includes('\0')) throw new ToolError(`${p.display} looks like a binary file; propose_edit edits text files only`);
      }
      let proposed: string;
      let summary: string;
      if (oldText !== undefined) {
        if (original === undefined) throw new ToolError(`${p.display} does not exist; to create it, omit oldText and give the whole content as newText`);
        let from = oldText;
        let to = newText;
        let n = count(original, from);
        if (n === 0 && original.includes('\r\n') && !from.includes('\r\n')) {
          // The model writes \n; the file uses \r\n.
          from = from.replace(/\n/g, '\r\n');
          to = to.replace(/\r?\n/g, '\r\n');
          n = count(original, from);
        }
        if (n === 0) throw new ToolError(`oldText was not found in ${p.display}; expected text copied exactly from the file (whitespace included, without read_file's line numbers) — read the file again`);
        if (n > 1) throw new ToolError(`oldText occurs ${n} times in ${p.display}; expected it to match exactly once — include more of the surrounding lines`);
        const at = original.indexOf(from);
        proposed = original.slice(0, at) + to + original.slice(at + from.length);
        summary = `replaced ${lineCount(from)} line${lineCount(from) === 1 ? '' : 's'} with ${lineCount(to)}`;
      } else {
        proposed = newText;
        summary = original === undefined ? `created it (${lineCount(proposed)} lines)` : `rewrote it (${lineCount(original)} → ${lineCount(proposed)} lines)`;
      }
      if (proposed === original) throw new ToolError(`the edit changes nothing in ${p.display} (newText gives the same content); expected a change`);
      const ok = await ctx.approve({ kind: 'edit', tool: 'propose_edit', path: p, original, proposed, ...(explanation ? { explanation } : {}) });
      if (!ok) return `The user rejected the edit to ${p.display}; the file is unchanged. Ask what they want instead of retrying the same edit.`;
      await port.applyEdit({ path: p, original, proposed });
      return `Applied: ${p.display} — ${summary}.`;
    },
  });
}

function runCommandTool() {
  return defineTool({
    name: 'run_command',
    group: 'workspace',
    readOnly: false,
    needsApproval: true,
    description:
      'Run a shell command in the workspace (e.g. the tests or the build) after the user accepts it. Returns the exit code and ' +
      'the combined output (long output keeps its beginning and end). cwd is a folder relative to the workspace root (default ' +
      'the root). Commands run without a terminal: nothing can be typed into them, and they are stopped after a timeout.',
    input: z.strictObject({
      command: described(z.string().check(z.minLength(1), z.maxLength(10_000)), 'The shell command line.'),
      cwd: z.optional(pathArg('Folder to run in, relative to the workspace root (default ".").')),
    }),
    async run({ command, cwd }, ctx) {
      const { port, confinement } = workspaceOf(ctx, 'run_command');
      if (command.includes('\0')) throw new ToolError('command contains a NUL byte');
      if (command.trim() === '') throw new ToolError('command is empty; expected a shell command such as "npm test"');
      const dir = await confinement.resolve(cwd ?? '.', 'cwd');
      const st = dir.exists ? await port.stat(dir) : undefined;
      if (!st || st.type !== 'directory') throw new ToolError(`cwd ${dir.display} is not an existing folder; expected a folder relative to the workspace root`);
      const ok = await ctx.approve({ kind: 'command', tool: 'run_command', command, cwd: dir });
      if (!ok) return `The user rejected running \`${command}\`; it did not run. Ask what they want instead of retrying the same command.`;
      const r = await port.runCommand({ command, cwd: dir, timeoutMs: ctx.limits.commandTimeoutMs, maxOutputChars: ctx.limits.maxCommandOutputChars, signal: ctx.signal });
      const status = r.timedOut ? `timed out after ${formatDuration(ctx.limits.commandTimeoutMs)} and was stopped`
        : r.exitCode !== null ? `exit code ${r.exitCode}` : `killed by ${r.signal ?? 'a signal'}`;
      const dropped = r.droppedChars ? `\n[truncated: ${r.droppedChars.toLocaleString('en-US')} characters of output left out in the middle]` : '';
      const out = r.output === '' ? '(no output)' : r.output;
      return `$ ${command}\n(in ${dir.display}; ${status}; ${formatDuration(r.durationMs)})\n${out}${dropped}`;
    },
  });
}

export function workspaceTools(): Tool[] {
  return [
    readFileTool(),
    listDirectoryTool(),
    findFilesTool(),
    searchTextTool(),
    getDiagnosticsTool(),
    getSelectionTool(),
    getOpenEditorsTool(),
    getSymbolsTool(),
    proposeEditTool(),
    runCommandTool(),
  ] as Tool[];
}

/** A system prompt for a chat with workspace tools. */
export function workspaceSystemPrompt(port: Pick<WorkspacePort, 'roots' | 'hostName'>, opts: { canEdit: boolean }): string {
  const roots = port.roots.map((r) => `"${r.name}"`).join(', ');
  return [
    `You are Kimi, a coding assistant working in the user's workspace ${roots} through tools (in ${port.hostName}).`,
    'Paths are relative to the workspace root. Look before you answer: search, list and read the relevant files instead of guessing.',
    'Call several independent read-only tools in one turn when you can.',
    opts.canEdit
      ? 'propose_edit and run_command wait for the user to accept; explain briefly what you are about to change or run.'
      : 'You can read the workspace but not change it: describe changes in your answer instead.',
  ].join(' ');
}

