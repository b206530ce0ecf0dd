// The WorkspacePort of the chat in VS Code (docs/tools.md): the workspace folders as roots (real paths),
// files.exclude as the exclude list, unsaved editor text before the disk, ripgrep (VS Code's own binary) for
// find_files and search_text, and the editor's state and language services for diagnostics, the selection, open
// editors and symbols. Disk reads, listings and commands go through the same code as the CLI (NodeWorkspace: reads
// with O_NOFOLLOW and a check of the opened descriptor, commands with a timeout, capped output and no API keys in
// the environment). Edits are applied as a WorkspaceEdit after checking that the file still holds what the user
// was shown. Approvals are decided by whoever created the port (the chat session: cards, the diff editor).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Confinement } from '../../core/tools/confinement';
import { NodeWorkspace } from '../../core/tools/nodeWorkspace';
import { findBundledRipgrep, forgetLargeFiles, listFilesWithRipgrep, runRipgrep, type RipgrepResult } from '../../core/tools/ripgrep';
import {
  ToolError,
  type ApprovalCall,
  type ApprovalDecision,
  type ApprovalRequest,
  type CommandResult,
  type ConfinedPath,
  type DiagnosticInfo,
  type DirEntry,
  type FileStat,
  type OpenEditorInfo,
  type ReadFileResult,
  type SelectionInfo,
  type SymbolInfo,
  type WorkspacePort,
  type WorkspaceRoot,
} from '../../core/tools/types';
import { PROPOSAL_SCHEME } from './editProposals';

export type Approver = (req: ApprovalRequest, signal: AbortSignal, call?: ApprovalCall) => Promise<ApprovalDecision>;

export interface VscodeWorkspaceOptions {
  /** The workspace folders; only `file:` ones become roots. */
  folders: readonly vscode.WorkspaceFolder[];
  approve: Approver;
  /** The ripgrep executable (default: VS Code's own, else `rg` on PATH). */
  rgPath?: string;
  /** Where accepted commands and their output are echoed (asked for when a command runs). */
  output?: () => Pick<vscode.OutputChannel, 'appendLine' | 'show'>;
}

/** files.exclude of every folder: the globs set to `true` (conditional `{when: …}` entries are left out). */
export function filesExcludeGlobs(folders: readonly vscode.WorkspaceFolder[]): string[] {
  const out = new Set<string>();
  const scopes: (vscode.WorkspaceFolder | undefined)[] = folders.length ? [...folders] : [undefined];
  for (const f of scopes) {
    const ex = vscode.workspace.getConfiguration('files', f?.uri).get<Record<string, unknown>>('exclude') ?? {};
    for (const [glob, on] of Object.entries(ex)) if (on === true && glob.trim() !== '') out.add(glob.trim());
  }
  return [...out];
}

/** VS Code's ripgrep, when it can be found under vscode.env.appRoot; undefined means `rg` on PATH. */
export function vscodeRipgrep(): string | undefined {
  return findBundledRipgrep(vscode.env.appRoot);
}

function realOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function rootsOf(folders: readonly vscode.WorkspaceFolder[]): WorkspaceRoot[] {
  const roots: WorkspaceRoot[] = [];
  for (const f of folders) {
    if (f.uri.scheme !== 'file') continue;
    let real: string;
    try {
      real = fs.realpathSync(f.uri.fsPath);
    } catch {
      continue; // a folder that is gone offers nothing
    }
    if (roots.some((r) => r.path === real)) continue;
    const base = f.name || path.basename(real) || real;
    let name = base;
    for (let n = 2; roots.some((r) => r.name === name); n++) name = `${base}-${n}`;
    roots.push({ name, path: real });
  }
  return roots;
}

const SEVERITY: Record<vscode.DiagnosticSeverity, DiagnosticInfo['severity']> = {
  [vscode.DiagnosticSeverity.Error]: 'error',
  [vscode.DiagnosticSeverity.Warning]: 'warning',
  [vscode.DiagnosticSeverity.Information]: 'info',
  [vscode.DiagnosticSeverity.Hint]: 'hint',
};

function symbolKind(k: vscode.SymbolKind): string {
  const name = vscode.SymbolKind[k] ?? 'symbol';
  return name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

function tokenFor(signal: AbortSignal): { token: vscode.CancellationToken; dispose(): void } {
  const src = new vscode.CancellationTokenSource();
  const onAbort = () => src.cancel();
  if (signal.aborted) src.cancel();
  else signal.addEventListener('abort', onAbort, { once: true });
  return { token: src.token, dispose: () => (signal.removeEventListener('abort', onAbort), src.dispose()) };
}

export class VscodeWorkspace implements WorkspacePort {
  readonly roots: readonly WorkspaceRoot[];
  readonly excludes: readonly string[];
  readonly hostName = 'VS Code';
  private readonly disk: NodeWorkspace;
  private readonly confinement: Confinement;
  private readonly rgPath: string | undefined;
  private rgMissing = false;

  constructor(private readonly opts: VscodeWorkspaceOptions) {
    this.roots = rootsOf(opts.folders);
    if (!this.roots.length) throw new Error('the workspace has no folder on this machine\'s file system');
    this.excludes = filesExcludeGlobs(opts.folders);
    this.rgPath = opts.rgPath ?? vscodeRipgrep();
    this.disk = new NodeWorkspace({ roots: this.roots.map((r) => r.path), excludes: this.excludes, approve: opts.approve, ...(this.rgPath ? { rgPath: this.rgPath } : {}) });
    this.confinement = new Confinement(this.roots, { excludes: this.excludes });
  }

  /** The open text document of this real path, if any. */
  private document(absolute: string): vscode.TextDocument | undefined {
    return vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && !d.isClosed && (d.uri.fsPath === absolute || realOr(d.uri.fsPath) === absolute));
  }

  private inside(absolute: string): boolean {
    return this.roots.some((r) => absolute === r.path || absolute.startsWith(r.path + path.sep));
  }

  async readFile(p: ConfinedPath, opts: { maxBytes: number; signal: AbortSignal }): Promise<ReadFileResult> {
    const doc = this.document(p.absolute);
    if (doc?.isDirty) {
      // What the user sees in the editor, unsaved changes included.
      const text = doc.getText();
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > opts.maxBytes) throw new ToolError(`${p.display} is too large to read (${bytes} bytes in the editor; the limit is ${opts.maxBytes})`);
      return { text, bytes };
    }
    return this.disk.readFile(p, opts);
  }

  /** A line range of a file over the read limit: the editor's lines when it has unsaved changes, else the disk's,
   *  streamed (NodeWorkspace). */
  async *readLines(p: ConfinedPath, opts: { maxLineChars: number; signal: AbortSignal }): AsyncGenerator<string> {
    const doc = this.document(p.absolute);
    if (!doc?.isDirty) {
      yield* this.disk.readLines(p, opts);
      return;
    }
    for (let i = 0; i < doc.lineCount; i++) {
      if (opts.signal.aborted) throw Object.assign(new Error('stopped'), { name: 'AbortError' });
      const text = doc.lineAt(i).text;
      // The empty line after a final line break is no line of the file (as when it is read from the disk).
      if (i === doc.lineCount - 1 && text === '') return;
      yield text.length > opts.maxLineChars ? text.slice(0, opts.maxLineChars) : text;
    }
  }

  stat(p: ConfinedPath): Promise<FileStat | undefined> {
    return this.disk.stat(p);
  }

  list(p: ConfinedPath, signal: AbortSignal): Promise<DirEntry[]> {
    return this.disk.list(p, signal);
  }

  async findFiles(q: { glob: string; maxResults: number; signal: AbortSignal }): Promise<{ files: string[]; truncated: boolean }> {
    // ripgrep rather than workspace.findFiles: findFiles does not honour .gitignore, so an ignored node_modules or
    // build folder would fill the capped result.
    if (!this.rgMissing) {
      try {
        return await listFilesWithRipgrep({ ...(this.rgPath ? { rgPath: this.rgPath } : {}), roots: this.roots.map((r) => r.path), glob: q.glob, excludeGlobs: this.excludes, maxResults: q.maxResults, keep: this.disk.searchable, signal: q.signal });
      } catch (e) {
        if (!(e instanceof ToolError && /needs ripgrep/.test(e.message))) throw e;
        this.rgMissing = true;
      }
    }
    return this.findFilesWithVscode(q);
  }

  /** Without ripgrep: VS Code's file search (files.exclude applied), .gitignore'd files dropped afterwards. */
  private async findFilesWithVscode(q: { glob: string; maxResults: number; signal: AbortSignal }): Promise<{ files: string[]; truncated: boolean }> {
    const files: string[] = [];
    const t = tokenFor(q.signal);
    try {
      for (const root of this.roots) {
        const uris = await vscode.workspace.findFiles(new vscode.RelativePattern(vscode.Uri.file(root.path), q.glob), undefined, q.maxResults + 1, t.token);
        if (q.signal.aborted) throw Object.assign(new Error('stopped'), { name: 'AbortError' });
        const rules = this.confinement.rulesFor(root);
        const found = uris
          .filter((u) => u.scheme === 'file')
          .map((u) => u.fsPath)
          .filter((f) => {
            const rel = path.relative(root.path, f).split(path.sep).join('/');
            return !rel.startsWith('..') && !rel.split('/').includes('.git') && !rules.match(rel, false);
          })
          .sort();
        for (const f of found) {
          if (files.length >= q.maxResults) return { files, truncated: true };
          files.push(f);
        }
      }
      return { files, truncated: false };
    } finally {
      t.dispose();
    }
  }

  searchText(q: { query: string; isRegex: boolean; include?: string; maxResults: number; signal: AbortSignal }): Promise<RipgrepResult> {
    return runRipgrep({
      ...(this.rgPath ? { rgPath: this.rgPath } : {}),
      roots: this.roots.map((r) => r.path),
      query: q.query,
      isRegex: q.isRegex,
      ...(q.include ? { include: q.include } : {}),
      excludeGlobs: this.excludes,
      maxResults: q.maxResults,
      keep: this.disk.searchable,
      signal: q.signal,
    });
  }

  async diagnostics(p: ConfinedPath | undefined): Promise<DiagnosticInfo[]> {
    const out: DiagnosticInfo[] = [];
    const real = new Map<string, string>();
    for (const [uri, diags] of vscode.languages.getDiagnostics()) {
      if (uri.scheme !== 'file' || !diags.length) continue;
      let abs = real.get(uri.fsPath);
      if (abs === undefined) real.set(uri.fsPath, (abs = realOr(uri.fsPath)));
      if (p ? abs !== p.absolute : !this.inside(abs)) continue;
      for (const d of diags) {
        const code = typeof d.code === 'object' ? d.code.value : d.code;
        out.push({
          path: abs,
          severity: SEVERITY[d.severity] ?? 'info',
          line: d.range.start.line + 1,
          column: d.range.start.character + 1,
          message: d.message.replace(/\s*\n\s*/g, ' '),
          ...(d.source ? { source: d.source } : {}),
          ...(code !== undefined && code !== '' ? { code: String(code) } : {}),
        });
      }
    }
    return out;
  }

  async selection(): Promise<SelectionInfo | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return undefined;
    const doc = editor.document;
    let where: string;
    if (doc.uri.scheme === 'file') where = realOr(doc.uri.fsPath);
    else if (doc.uri.scheme === 'untitled') where = path.posix.basename(doc.uri.path) || 'Untitled';
    else return undefined; // output, diff sides, virtual documents: not the user's code
    const sel = editor.selection;
    const endLine = sel.end.character === 0 && sel.end.line > sel.start.line ? sel.end.line : sel.end.line + 1;
    return { path: where, startLine: sel.start.line + 1, endLine, text: doc.getText(sel), language: doc.languageId };
  }

  async openEditors(): Promise<OpenEditorInfo[]> {
    const out: OpenEditorInfo[] = [];
    const seen = new Set<string>();
    const activeGroup = vscode.window.tabGroups.activeTabGroup;
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        const input = tab.input;
        const uri = input instanceof vscode.TabInputText ? input.uri
          : input instanceof vscode.TabInputTextDiff ? input.modified
          : input instanceof vscode.TabInputNotebook ? input.uri
          : undefined;
        if (!uri || uri.scheme === PROPOSAL_SCHEME) continue;
        let where: string;
        if (uri.scheme === 'file') where = realOr(uri.fsPath);
        else if (uri.scheme === 'untitled') where = tab.label;
        else continue;
        const active = tab.isActive && group === activeGroup;
        if (seen.has(where)) {
          if (active) out.forEach((e) => e.path === where && (e.active = true));
          continue;
        }
        seen.add(where);
        const language = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString())?.languageId;
        out.push({ path: where, active, dirty: tab.isDirty, ...(language ? { language } : {}) });
      }
    }
    return out;
  }

  async symbols(q: { path?: ConfinedPath; query?: string; maxResults: number; signal: AbortSignal }): Promise<SymbolInfo[]> {
    const out: SymbolInfo[] = [];
    const wanted = q.query?.toLowerCase();
    const add = (s: SymbolInfo): boolean => {
      if (wanted && !s.name.toLowerCase().includes(wanted)) return true;
      out.push(s);
      return out.length < q.maxResults;
    };
    if (q.path) {
      const abs = q.path.absolute;
      const found = await vscode.commands.executeCommand<(vscode.DocumentSymbol | vscode.SymbolInformation)[] | undefined>(
        'vscode.executeDocumentSymbolProvider', vscode.Uri.file(abs));
      const walk = (list: readonly (vscode.DocumentSymbol | vscode.SymbolInformation)[], container: string | undefined): boolean => {
        for (const s of list) {
          if (q.signal.aborted) return false;
          if ('children' in s) {
            if (!add({ name: s.name, kind: symbolKind(s.kind), path: abs, line: s.selectionRange.start.line + 1, ...(container ? { containerName: container } : {}) })) return false;
            if (!walk(s.children, s.name)) return false;
          } else if (!add({ name: s.name, kind: symbolKind(s.kind), path: abs, line: s.location.range.start.line + 1, ...(s.containerName ? { containerName: s.containerName } : {}) })) {
            return false;
          }
        }
        return true;
      };
      walk(found ?? [], undefined);
      return out;
    }
    const found = await vscode.commands.executeCommand<vscode.SymbolInformation[] | undefined>('vscode.executeWorkspaceSymbolProvider', q.query ?? '');
    const real = new Map<string, string>();
    for (const s of found ?? []) {
      if (q.signal.aborted) break;
      const uri = s.location.uri;
      if (uri.scheme !== 'file') continue;
      let abs = real.get(uri.fsPath);
      if (abs === undefined) real.set(uri.fsPath, (abs = realOr(uri.fsPath)));
      if (!this.inside(abs)) continue;
      out.push({ name: s.name, kind: symbolKind(s.kind), path: abs, line: s.location.range.start.line + 1, ...(s.containerName ? { containerName: s.containerName } : {}) });
      if (out.length >= q.maxResults) break;
    }
    return out;
  }

  async applyEdit(e: { path: ConfinedPath; original: string | undefined; proposed: string }): Promise<void> {
    const p = e.path;
    await this.recheck(p);
    const uri = vscode.Uri.file(p.absolute);
    const open = this.document(p.absolute);
    let current: string | undefined;
    if (open) {
      current = open.getText();
    } else {
      try {
        current = await fs.promises.readFile(p.absolute, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ToolError(`${p.display} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); the edit was not applied`);
      }
    }
    if (current !== e.original) {
      throw new ToolError(`${p.display} changed while the edit waited for approval; the edit was not applied — read the file again and propose a new edit`);
    }
    const edit = new vscode.WorkspaceEdit();
    let doc: vscode.TextDocument | undefined;
    if (current === undefined) {
      edit.createFile(uri, { ignoreIfExists: false, contents: Buffer.from(e.proposed, 'utf8') });
    } else {
      doc = open ?? (await vscode.workspace.openTextDocument(uri));
      if (doc.getText() !== e.original) {
        throw new ToolError(`${p.display} changed while the edit waited for approval; the edit was not applied — read the file again and propose a new edit`);
      }
      edit.replace(uri, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), e.proposed);
    }
    // The document's own state right before the edit (not a lookup made earlier: the editor may have saved it since,
    // e.g. with files.autoSave, and openTextDocument may hand back a dirty document the lookup did not match).
    const wasDirty = doc?.isDirty ?? false;
    forgetLargeFiles(); // search_text looks for large files afresh
    if (!(await vscode.workspace.applyEdit(edit))) {
      throw new ToolError(`VS Code did not apply the edit to ${p.display} (is the file read-only?); it is unchanged`);
    }
    // A file that had no unsaved changes is saved, so the edit is on disk like any accepted change; one with unsaved
    // changes stays unsaved (the user's pending work and the edit are saved together, by the user).
    if (doc && !wasDirty && !(await doc.save())) {
      throw new ToolError(`the edit to ${p.display} was made in the editor but could not be saved; it is there unsaved`);
    }
  }

  /** The path still resolves where it did when the user was asked (nothing was swapped for a symlink meanwhile). */
  private async recheck(p: ConfinedPath): Promise<void> {
    let probe = p.absolute;
    for (;;) {
      try {
        const real = await fs.promises.realpath(probe);
        if (probe === p.absolute ? real !== p.absolute : !this.inside(real)) {
          throw new ToolError(`${p.display} no longer leads where it did (a symlink changed); the edit was not applied`);
        }
        return;
      } catch (err) {
        if (err instanceof ToolError) throw err;
        const parent = path.dirname(probe);
        if (parent === probe || !this.inside(parent)) throw new ToolError(`${p.display} cannot be written: its folder is gone`);
        probe = parent;
      }
    }
  }

  async runCommand(c: { command: string; cwd: ConfinedPath; timeoutMs: number; maxOutputChars: number; signal: AbortSignal }): Promise<CommandResult> {
    const out = this.opts.output?.();
    out?.appendLine(`$ ${c.command}    (in ${c.cwd.display})`);
    out?.show(true);
    try {
      const r = await this.disk.runCommand(c);
      if (out) {
        if (r.output) out.appendLine(r.output.replace(/\n$/, ''));
        out.appendLine(r.timedOut ? `[timed out after ${Math.round(c.timeoutMs / 1000)} s and was stopped]` : `[exit code ${r.exitCode ?? r.signal ?? '?'}]`);
        out.appendLine('');
      }
      return r;
    } catch (e) {
      out?.appendLine(e instanceof Error && e.name === 'AbortError' ? '[stopped]' : `[failed: ${e instanceof Error ? e.message : String(e)}]`);
      throw e;
    }
  }

  requestApproval(req: ApprovalRequest, signal: AbortSignal, call?: ApprovalCall): Promise<ApprovalDecision> {
    return this.opts.approve(req, signal, call);
  }
}
