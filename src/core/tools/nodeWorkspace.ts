// The WorkspacePort of `kimi-vllm chat --workspace DIR`: plain Node against a folder. Reads, listings, find_files
// (a walk that honours .gitignore and never descends into symlinked folders) and search_text (ripgrep) work
// everywhere; diagnostics, selection, open editors and symbols need VS Code and say so. Approvals follow one policy:
// with `yes` (--yes) everything is accepted — edits are written, commands run, secret-looking or ignored files are
// read; without it each is refused with a message naming --yes. Paths arrive already confined (confinement.ts);
// reads re-check on the open file descriptor that nothing was swapped for a symlink in between.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Confinement, workspaceRoots } from './confinement';
import { globToRegExp } from './glob';
import { forgetLargeFiles, runRipgrep, type RipgrepResult } from './ripgrep';
import {
  notAvailable,
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
} from './types';

export interface NodeWorkspaceOptions {
  /** The workspace folders (the first is the default for relative paths). */
  roots: readonly string[];
  /** --yes: accept every approval request. */
  yes?: boolean;
  /** Decide approvals instead of the yes/no policy (tests, an interactive prompt). */
  approve?: (req: ApprovalRequest, signal: AbortSignal, call?: ApprovalCall) => Promise<ApprovalDecision>;
  /** Globs whose files need approval to read and are never searched. */
  excludes?: readonly string[];
  /** The ripgrep executable. Default 'rg' on PATH. */
  rgPath?: string;
  /** Environment for run_command (default: this process's, without API keys). */
  env?: NodeJS.ProcessEnv;
}

/** Environment variables never passed to commands the model runs. */
const SECRET_ENV = /^(KIMI_API_KEY|VLLM_API_KEY|OPENAI_API_KEY|.*_TOKEN|.*_SECRET|.*_PASSWORD)$/i;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function abortError(): Error {
  return Object.assign(new Error('stopped'), { name: 'AbortError' });
}

/** Lines of an open file from its current position: `\n` / `\r\n` line breaks, UTF-8 decoded across chunk borders, each
 *  line cut to `maxLineChars` (the rest of a long line is read past, never kept), no extra empty line after a final
 *  line break. */
async function* splitStream(fh: fs.promises.FileHandle, maxLineChars: number, signal: AbortSignal): AsyncGenerator<string> {
  const buf = Buffer.alloc(64 * 1024);
  const decoder = new TextDecoder('utf-8');
  let kept = '';
  let rawLen = 0;
  const endLine = (): string => {
    // A \r before the \n belongs to the line break (when the line was cut, it was never kept).
    const line = kept.length === rawLen && kept.endsWith('\r') ? kept.slice(0, -1) : kept;
    kept = '';
    rawLen = 0;
    return line;
  };
  const add = (part: string) => {
    if (kept.length < maxLineChars) kept += part.length > maxLineChars - kept.length ? part.slice(0, maxLineChars - kept.length) : part;
    rawLen += part.length;
  };
  for (;;) {
    if (signal.aborted) throw abortError();
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    const text = bytesRead > 0 ? decoder.decode(buf.subarray(0, bytesRead), { stream: true }) : decoder.decode();
    let at = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', at)) {
      add(text.slice(at, nl));
      at = nl + 1;
      yield endLine();
    }
    add(text.slice(at));
    if (bytesRead === 0) break;
  }
  if (rawLen > 0) yield endLine();
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root + path.sep);
}

export class NodeWorkspace implements WorkspacePort {
  readonly roots: readonly WorkspaceRoot[];
  readonly excludes: readonly string[];
  readonly hostName = 'the kimi-vllm CLI';
  /** Without --yes the CLI offers no run_command (nor propose_edit). */
  readonly howToAllowCommands: string | undefined;
  private readonly confinement: Confinement;

  constructor(private readonly opts: NodeWorkspaceOptions) {
    if (!opts.roots.length) throw new Error('NodeWorkspace needs at least one folder');
    for (const r of opts.roots) {
      let st: fs.Stats;
      try {
        st = fs.statSync(r);
      } catch {
        throw new Error(`the workspace folder ${r} does not exist`);
      }
      if (!st.isDirectory()) throw new Error(`the workspace ${r} is not a folder`);
    }
    this.roots = workspaceRoots(opts.roots);
    this.excludes = opts.excludes ?? [];
    this.confinement = new Confinement(this.roots, { excludes: this.excludes });
    this.howToAllowCommands = opts.yes || opts.approve ? undefined
      : 'the user can start kimi-vllm chat again with --yes, which lets you run commands (and write edits) without asking them';
  }

  private rootOf(abs: string): WorkspaceRoot | undefined {
    return this.roots.find((r) => inside(r.path, abs));
  }

  /** Opens a regular file for reading without following a symlink, and checks that what was opened really is inside
   *  (Linux: the descriptor's own path). The caller closes it. */
  private async openRegular(p: ConfinedPath): Promise<{ fh: fs.promises.FileHandle; size: number }> {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(p.absolute, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new ToolError(`no such file: ${p.display}`);
      if (errno(e) === 'ELOOP') throw new ToolError(`${p.display} became a symlink while it was being read; read it again`);
      if (errno(e) === 'EACCES' || errno(e) === 'EPERM') throw new ToolError(`${p.display} cannot be read (permission denied)`);
      throw new ToolError(`${p.display} cannot be read (${errno(e) ?? String(e)})`);
    }
    try {
      try {
        const real = await fs.promises.readlink(`/proc/self/fd/${fh.fd}`);
        if (!this.rootOf(real)) throw new ToolError(`${p.display} leads outside the workspace`);
      } catch (e) {
        if (e instanceof ToolError) throw e;
      }
      const st = await fh.stat();
      if (!st.isFile()) throw new ToolError(`${p.display} is not a regular file`);
      return { fh, size: st.size };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async readFile(p: ConfinedPath, opts: { maxBytes: number; signal: AbortSignal }): Promise<ReadFileResult> {
    const { fh, size } = await this.openRegular(p);
    try {
      if (size > opts.maxBytes) throw new ToolError(`${p.display} is too large to read (${size} bytes; the limit is ${opts.maxBytes})`);
      if (opts.signal.aborted) throw abortError();
      const buf = await fh.readFile();
      return { text: new TextDecoder('utf-8').decode(buf), bytes: buf.length };
    } finally {
      await fh.close();
    }
  }

  /** The file's lines, read 64 KiB at a time as they are consumed; the file is closed when the caller stops. */
  async *readLines(p: ConfinedPath, opts: { maxLineChars: number; signal: AbortSignal }): AsyncGenerator<string> {
    const { fh } = await this.openRegular(p);
    try {
      yield* splitStream(fh, opts.maxLineChars, opts.signal);
    } finally {
      await fh.close();
    }
  }

  async stat(p: ConfinedPath): Promise<FileStat | undefined> {
    try {
      const st = await fs.promises.stat(p.absolute);
      return { type: st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other', size: st.size, mtimeMs: st.mtimeMs };
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined;
      throw new ToolError(`${p.display} cannot be read (${errno(e) ?? String(e)})`);
    }
  }

  async list(p: ConfinedPath, signal: AbortSignal): Promise<DirEntry[]> {
    let dirents: fs.Dirent[];
    try {
      dirents = await fs.promises.readdir(p.absolute, { withFileTypes: true });
    } catch (e) {
      throw new ToolError(`${p.display} cannot be listed (${errno(e) ?? String(e)})`);
    }
    const out: DirEntry[] = [];
    for (const d of dirents) {
      if (signal.aborted) throw abortError();
      if (d.isDirectory()) out.push({ name: d.name, type: 'directory' });
      else if (d.isFile()) out.push({ name: d.name, type: 'file' });
      else if (d.isSymbolicLink()) {
        const abs = path.join(p.absolute, d.name);
        let real: string;
        try {
          real = await fs.promises.realpath(abs);
        } catch {
          out.push({ name: d.name, type: 'other', note: 'broken symlink' });
          continue;
        }
        if (!this.rootOf(real)) {
          out.push({ name: d.name, type: 'other', note: 'symlink to a place outside the workspace; cannot be used' });
          continue;
        }
        const st = await fs.promises.stat(real).catch(() => undefined);
        out.push({ name: d.name, type: st?.isDirectory() ? 'directory' : st?.isFile() ? 'file' : 'other', note: 'symlink' });
      } else {
        out.push({ name: d.name, type: 'other' });
      }
    }
    return out;
  }

  async findFiles(q: { glob: string; maxResults: number; signal: AbortSignal }): Promise<{ files: string[]; truncated: boolean }> {
    const re = globToRegExp(q.glob);
    const files: string[] = [];
    let truncated = false;
    const excludes = this.confinement.excludeSet();
    for (const root of this.roots) {
      const rules = this.confinement.rulesFor(root);
      const walk = async (dirAbs: string, dirRel: string): Promise<void> => {
        if (truncated) return;
        if (q.signal.aborted) throw abortError();
        let entries: fs.Dirent[];
        try {
          entries = await fs.promises.readdir(dirAbs, { withFileTypes: true });
        } catch {
          return; // unreadable folder: nothing from it
        }
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of entries) {
          if (truncated) return;
          if (e.name === '.git') continue;
          const rel = dirRel === '' ? e.name : `${dirRel}/${e.name}`;
          const abs = path.join(dirAbs, e.name);
          if (e.isDirectory()) {
            if (rules.matchEntry(rel, true) || excludes.matchSelf(rel)) continue;
            await walk(abs, rel);
            continue;
          }
          let isFile = e.isFile();
          if (e.isSymbolicLink()) {
            // A symlinked file counts only when it points inside; symlinked folders are never entered.
            const real = await fs.promises.realpath(abs).catch(() => undefined);
            const st = real && this.rootOf(real) ? await fs.promises.stat(real).catch(() => undefined) : undefined;
            isFile = st?.isFile() ?? false;
          }
          if (!isFile || !re.test(rel) || rules.matchEntry(rel, false) || excludes.matchSelf(rel)) continue;
          if (files.length >= q.maxResults) {
            truncated = true;
            return;
          }
          files.push(abs);
        }
      };
      await walk(root.path, '');
      if (truncated) break;
    }
    return { files, truncated };
  }

  async searchText(q: { query: string; isRegex: boolean; include?: string; maxResults: number; signal: AbortSignal }): Promise<RipgrepResult> {
    return runRipgrep({
      ...(this.opts.rgPath ? { rgPath: this.opts.rgPath } : {}),
      roots: this.roots.map((r) => r.path),
      query: q.query,
      isRegex: q.isRegex,
      ...(q.include ? { include: q.include } : {}),
      excludeGlobs: this.excludes,
      maxResults: q.maxResults,
      keep: this.searchable,
      signal: q.signal,
    });
  }

  /** Not ignored, excluded or inside .git (what an include glob given to rg could bring back). */
  readonly searchable = (abs: string): boolean => {
    const root = this.rootOf(abs);
    if (!root) return false;
    const kind = this.confinement.sensitivity({ root, relative: path.relative(root.path, abs).split(path.sep).join('/') })?.kind;
    return kind !== 'ignored' && kind !== 'excluded' && kind !== 'git';
  };

  async diagnostics(_p: ConfinedPath | undefined): Promise<DiagnosticInfo[]> {
    throw new ToolError(notAvailable('get_diagnostics', this.hostName));
  }

  async selection(): Promise<SelectionInfo | undefined> {
    throw new ToolError(notAvailable('get_selection', this.hostName));
  }

  async openEditors(): Promise<OpenEditorInfo[]> {
    throw new ToolError(notAvailable('get_open_editors', this.hostName));
  }

  async symbols(_q: { path?: ConfinedPath; query?: string }): Promise<SymbolInfo[]> {
    throw new ToolError(notAvailable('get_symbols', this.hostName));
  }

  async applyEdit(e: { path: ConfinedPath; original: string | undefined; proposed: string }): Promise<void> {
    const p = e.path;
    let current: string | undefined;
    let mode: number | undefined;
    try {
      const st = await fs.promises.lstat(p.absolute);
      if (!st.isFile()) throw new ToolError(`${p.display} is no longer a regular file; the edit was not applied`);
      mode = st.mode & 0o7777;
      current = await fs.promises.readFile(p.absolute, 'utf8');
    } catch (err) {
      if (err instanceof ToolError) throw err;
      if (errno(err) !== 'ENOENT') throw new ToolError(`${p.display} cannot be read (${errno(err) ?? String(err)}); the edit was not applied`);
    }
    if (current !== e.original) {
      throw new ToolError(`${p.display} changed while the edit waited for approval; the edit was not applied — read the file again and propose a new edit`);
    }
    const dir = path.dirname(p.absolute);
    await fs.promises.mkdir(dir, { recursive: true });
    // The folder really is inside (created folders are; an existing one was checked by the confinement).
    const realDir = await fs.promises.realpath(dir);
    if (!this.rootOf(realDir)) throw new ToolError(`${p.display} leads outside the workspace; the edit was not applied`);
    const tmp = path.join(realDir, `.${path.basename(p.absolute)}.kimi-${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fs.promises.writeFile(tmp, e.proposed, { flag: 'wx', ...(mode !== undefined ? { mode } : {}) });
      await fs.promises.rename(tmp, path.join(realDir, path.basename(p.absolute)));
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw new ToolError(`${p.display} could not be written (${errno(err) ?? String(err)})`);
    } finally {
      forgetLargeFiles();
    }
  }

  runCommand(c: { command: string; cwd: ConfinedPath; timeoutMs: number; maxOutputChars: number; signal: AbortSignal }): Promise<CommandResult> {
    if (c.signal.aborted) return Promise.reject(abortError());
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(this.opts.env ?? process.env)) if (!SECRET_ENV.test(k)) env[k] = v;
    const win = process.platform === 'win32';
    const child = win
      ? spawn(c.command, { cwd: c.cwd.absolute, env, shell: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true })
      : spawn('/bin/sh', ['-c', c.command], { cwd: c.cwd.absolute, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const started = performance.now();
    const headMax = Math.floor(c.maxOutputChars / 4);
    const tailMax = c.maxOutputChars - headMax;
    let head = '';
    let tail = '';
    let dropped = 0;
    const take = (s: string) => {
      if (head.length < headMax) {
        const n = Math.min(headMax - head.length, s.length);
        head += s.slice(0, n);
        s = s.slice(n);
      }
      if (!s) return;
      tail += s;
      if (tail.length > tailMax * 2) {
        dropped += tail.length - tailMax;
        tail = tail.slice(tail.length - tailMax);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = () => {
      const sig = (s: NodeJS.Signals) => {
        try {
          if (!win && child.pid) process.kill(-child.pid, s);
          else child.kill(s);
        } catch {
          /* already gone */
        }
      };
      sig('SIGTERM');
      killTimer ??= setTimeout(() => sig('SIGKILL'), 2000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, c.timeoutMs);
    const onAbort = () => {
      aborted = true;
      kill();
    };
    c.signal.addEventListener('abort', onAbort, { once: true });
    return new Promise<CommandResult>((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        c.signal.removeEventListener('abort', onAbort);
        reject(new ToolError(`the command could not be started (${e.code ?? e.message})`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        c.signal.removeEventListener('abort', onAbort);
        forgetLargeFiles(); // the command may have written files: search_text looks for large ones afresh
        if (aborted) {
          reject(abortError());
          return;
        }
        if (tail.length > tailMax) {
          dropped += tail.length - tailMax;
          tail = tail.slice(tail.length - tailMax);
        }
        const output = dropped ? `${head}\n… [${dropped.toLocaleString('en-US')} characters left out] …\n${tail}` : head + tail;
        resolve({ exitCode: code, signal, output, droppedChars: dropped, timedOut, durationMs: performance.now() - started });
      });
    });
  }

  async requestApproval(req: ApprovalRequest, signal: AbortSignal, call?: ApprovalCall): Promise<ApprovalDecision> {
    if (this.opts.approve) return this.opts.approve(req, signal, call);
    if (this.opts.yes) return 'accept';
    switch (req.kind) {
      case 'sensitiveRead':
        throw new ToolError(`reading ${req.path.display} needs the user's approval because ${req.reason}; the kimi-vllm CLI reads such files only with --yes`);
      case 'edit':
        throw new ToolError(`propose_edit changes files, which the kimi-vllm CLI allows only with --yes; describe the change in your answer instead`);
      case 'command':
        throw new ToolError(`run_command runs commands, which the kimi-vllm CLI allows only with --yes; tell the user the command to run instead`);
    }
  }
}
