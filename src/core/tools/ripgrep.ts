// search_text through ripgrep (`rg --json`): what the CLI's NodeWorkspace uses, and what a VS Code adapter can use
// with the rg binary VS Code ships. ripgrep respects .gitignore (also outside a git repository here), skips binary
// files, never follows symlinks, and is stopped as soon as maxResults + 1 matches have arrived (the + 1 tells
// whether the result was capped). A missing rg is a clear error, never a silent fallback. Files over 2 MB are not
// searched; a result that is not capped names the ones the search skipped (`tooLarge`): the files an include names,
// listed and stat'ed afresh, or the root's large files, found by two `rg --files` listings (without and with the limit)
// and reused for a few seconds.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { settleOnAbort } from '../util/abort';
import { globToRegExp } from './glob';
import { ToolError, type SkippedFile, type TextMatch } from './types';

export interface RipgrepQuery {
  /** The rg executable. Default 'rg' (on PATH). */
  rgPath?: string;
  /** Absolute folders to search. */
  roots: readonly string[];
  query: string;
  isRegex: boolean;
  /** A normalised glob (confinement.ts) restricting the files searched. */
  include?: string;
  /** Globs never searched (the exclude list, secret-looking names); each is passed as `--glob !G`. */
  excludeGlobs?: readonly string[];
  maxResults: number;
  /** Files larger than this are skipped. Default '2M'. */
  maxFileSize?: string;
  /** Results in path order (deterministic; rg then searches on one thread). Default true. */
  sorted?: boolean;
  /** Drops files (absolute paths) before they count: rg's `--glob` overrides .gitignore, so an include such as
   *  "*.log" would bring ignored files back — the ports pass their ignore/exclude check here. */
  keep?: (absolute: string) => boolean;
  signal: AbortSignal;
}

/** Secret-looking names, as ripgrep globs (the families of confinement.ts's secretReason; every match is re-checked
 *  there, which also catches bare `credentials` / `secrets` files — left out here so that folders of that name are
 *  still searched). */
export const SECRET_GLOBS: readonly string[] = [
  '.env', '.env.*', '.envrc', '*.pem', '*.key', '*.p12', '*.pfx', '*.jks', '*.keystore', '*.ppk', '*.kdbx', '*.tfvars',
  'id_rsa*', 'id_dsa*', 'id_ecdsa*', 'id_ed25519*', 'credentials.*', '*.credentials', '.npmrc', '.yarnrc.yml',
  '.pypirc', '.netrc', '_netrc', '.pgpass', '.git-credentials', '.htpasswd', '.dockercfg', '.s3cfg', '.boto',
  'secret.*', 'secrets.*', '*.secret', '*.secrets', 'service-account*.json', 'service_account*.json', 'serviceaccount*.json',
  '.ssh', '.gnupg', '.aws', '.kube', '.docker', '.git',
];

/** search_text leaves out files larger than this (rg --max-filesize) unless a query says otherwise. */
export const SEARCH_MAX_FILE_BYTES = 2 * 1024 * 1024;

/** The files a search looks at: the include, then the exclusions (later globs take precedence in rg). */
function searchGlobArgs(q: Pick<RipgrepQuery, 'include' | 'excludeGlobs'>): string[] {
  const args: string[] = [];
  if (q.include) args.push('--glob', q.include);
  for (const g of [...(q.excludeGlobs ?? []), ...SECRET_GLOBS]) args.push('--glob', `!${g}`);
  return args;
}

export function ripgrepArgs(q: Omit<RipgrepQuery, 'signal' | 'rgPath'>): string[] {
  const args = [
    '--json', '--no-config', '--hidden', '--no-require-git', '--no-messages', '--smart-case', '--max-filesize', q.maxFileSize ?? String(SEARCH_MAX_FILE_BYTES),
  ];
  if (q.sorted ?? true) args.push('--sort', 'path');
  if (!q.isRegex) args.push('--fixed-strings');
  args.push(...searchGlobArgs(q));
  args.push('--regexp', q.query, '--', ...q.roots);
  return args;
}

export interface RipgrepResult {
  matches: TextMatch[];
  truncated: boolean;
  /** Files the search would have looked at but skipped for their size (over maxFileSize), in path order. Looked for
   *  only when the result is not truncated (a capped result has matches enough); absent when there are none. */
  tooLarge?: SkippedFile[];
}

/** rg matches `--glob` patterns against the paths it prints, so a glob with a folder in it ("src/**") only works when
 *  rg runs inside the root and searches "." — one rg per root, in order, sharing the result budget. */
export async function runRipgrep(q: RipgrepQuery): Promise<RipgrepResult> {
  const matches: TextMatch[] = [];
  const tooLarge: SkippedFile[] = [];
  for (const root of q.roots) {
    const left = q.maxResults - matches.length;
    const r = await runRipgrepIn(root, { ...q, maxResults: left });
    matches.push(...r.matches);
    if (r.truncated) return { matches, truncated: true };
    tooLarge.push(...(r.tooLarge ?? []));
  }
  return { matches, truncated: false, ...(tooLarge.length ? { tooLarge } : {}) };
}

interface RgRun {
  child: ReturnType<typeof spawn>;
  lines: AsyncIterable<string>;
  /** Resolves with the exit code once rg has exited; throws the ToolError for a spawn failure or a fatal rg error. */
  finish(found: number, truncated: boolean, what: string): Promise<void>;
}

function startRg(rg: string, args: string[], cwd: string, signal: AbortSignal): RgRun {
  const child = spawn(rg, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  let stderr = '';
  let spawnError: NodeJS.ErrnoException | undefined;
  const onAbort = () => child.kill('SIGKILL');
  signal.addEventListener('abort', onAbort, { once: true });
  child.on('error', (e: NodeJS.ErrnoException) => {
    spawnError = e;
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const lines = readline.createInterface({ input: child.stdout!, crlfDelay: Infinity });
  return {
    child,
    lines,
    async finish(found, truncated, what) {
      const code = await closed;
      signal.removeEventListener('abort', onAbort);
      if (spawnError) {
        if (spawnError.code === 'ENOENT') {
          throw new ToolError(`${what} needs ripgrep (\`${rg}\`), which is not installed or not on PATH; install it (apt-get install ripgrep, brew install ripgrep, winget install BurntSushi.ripgrep.MSVC) and try again`);
        }
        throw new ToolError(`${what} could not start ripgrep (${spawnError.code ?? spawnError.message})`);
      }
      if (signal.aborted) throw Object.assign(new Error('search stopped'), { name: 'AbortError' });
      // 0: matches, 1: none, 2: an error (with --no-messages only fatal ones are printed, e.g. a bad regex).
      if (code === 2 && !truncated && found === 0 && stderr.trim() !== '') {
        const msg = stderr.trim().split('\n').slice(0, 6).join('\n');
        if (/regex parse error|error parsing regex/i.test(msg)) {
          throw new ToolError(`the query is not a valid regular expression: ${msg}; expected a Rust/ripgrep regex, or isRegex false for plain text`);
        }
        throw new ToolError(`ripgrep failed: ${msg}`);
      }
    },
  };
}

/** A path rg printed (relative to the root it ran in, maybe with a leading "./") as an absolute path. */
function absoluteIn(root: string, printed: string): string {
  return path.isAbsolute(printed) ? printed : path.join(root, printed.replace(/^\.[\\/]/, ''));
}

/** rg's size syntax (`2M`, `512K`, `2097152`) in bytes. */
function sizeInBytes(size: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(size.trim());
  if (!m) return SEARCH_MAX_FILE_BYTES;
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!.toUpperCase()]!;
}

/** `rg --files` of a root with the search's ignore rules and exclusions — with its include or without (the whole
 *  root), with or without the size limit — as the paths it prints; undefined when it does not finish. */
function listForSizes(rg: string, root: string, q: RipgrepQuery, opts: { include: boolean; withLimit: boolean }): Promise<string[] | undefined> {
  const args = ['--files', '--no-config', '--hidden', '--no-require-git', '--no-messages'];
  if (opts.withLimit) args.push('--max-filesize', q.maxFileSize ?? String(SEARCH_MAX_FILE_BYTES));
  args.push(...searchGlobArgs({ ...(opts.include && q.include ? { include: q.include } : {}), ...(q.excludeGlobs ? { excludeGlobs: q.excludeGlobs } : {}) }), '--', '.');
  return new Promise((resolve) => {
    // Not stopped with the search that asked: other searches of the root share the result.
    const child = spawn(rg, args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', () => resolve(undefined));
    // 0: files listed, 1: none.
    child.on('close', (code) => resolve(code === 0 || code === 1 ? Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l !== '') : undefined));
  });
}

/** How long a root's list of files over the size limit is reused by searches without an include: a model searches
 *  in bursts (several calls in a turn), and finding those files costs a walk of the whole root with a stat of every
 *  file, up to half again the time of a search that reads every file. Every use re-checks the listed files' sizes; a
 *  command or an edit of the model's forgets the list (forgetLargeFiles); a file that grew past the limit otherwise,
 *  within this time, is missed. */
export const SIZE_INDEX_TTL_MS = 10_000;
const sizeIndexes = new Map<string, { at: number; files: Promise<string[] | undefined> }>();

/** Forget every root's remembered large files (the workspace was changed: a command ran, an edit was applied). */
export function forgetLargeFiles(): void {
  sizeIndexes.clear();
}

/** The files of a root over the size limit (absolute paths): the difference between rg's listings without and with
 *  the limit (run side by side), reused for SIZE_INDEX_TTL_MS. */
function largeFilesOf(rg: string, root: string, q: RipgrepQuery): Promise<string[] | undefined> {
  const key = JSON.stringify([rg, root, q.maxFileSize ?? '', q.excludeGlobs ?? []]);
  const now = Date.now();
  const hit = sizeIndexes.get(key);
  if (hit && now - hit.at < SIZE_INDEX_TTL_MS) return hit.files;
  const files = Promise.all([listForSizes(rg, root, q, { include: false, withLimit: false }), listForSizes(rg, root, q, { include: false, withLimit: true })])
    .then(([all, small]) => {
      if (!all || !small) return undefined;
      if (all.length === small.length) return [];
      const kept = new Set(small);
      return all.filter((f) => !kept.has(f)).map((f) => absoluteIn(root, f)).sort();
    });
  sizeIndexes.set(key, { at: now, files });
  void files.then((f) => {
    if (!f && sizeIndexes.get(key)?.files === files) sizeIndexes.delete(key);
  });
  return files;
}

/** An include that matches at most this many files is checked afresh (each file stat'ed), not from the remembered list. */
const FRESH_INCLUDE_FILES = 2_000;

/** The candidates for "skipped for size" of one search (absolute paths, to be filtered and stat'ed): with an include
 *  that names few files (the usual "search this file"), every file it names, listed now; otherwise the root's
 *  remembered large files. */
async function sizeCandidates(rg: string, root: string, q: RipgrepQuery): Promise<string[] | undefined> {
  if (q.include) {
    const named = await listForSizes(rg, root, q, { include: true, withLimit: false });
    if (named && named.length <= FRESH_INCLUDE_FILES) return named.map((f) => absoluteIn(root, f));
  }
  return largeFilesOf(rg, root, q);
}

/** The files the search skipped for their size: the candidates that the include matches and `keep` keeps, over the
 *  limit now. */
async function skippedForSize(root: string, q: RipgrepQuery, candidates: Promise<string[] | undefined>): Promise<SkippedFile[]> {
  const files = await settleOnAbort(candidates, q.signal, () => {
    throw Object.assign(new Error('search stopped'), { name: 'AbortError' });
  });
  if (!files?.length) return [];
  const include = q.include ? globToRegExp(q.include) : undefined;
  const limit = sizeInBytes(q.maxFileSize ?? String(SEARCH_MAX_FILE_BYTES));
  const out: SkippedFile[] = [];
  for (const abs of files) {
    if (include && !include.test(path.relative(root, abs).split(path.sep).join('/'))) continue;
    // Synchronous: up to FRESH_INCLUDE_FILES stats of a few microseconds each, not a thread-pool round trip each.
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(abs, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!st?.isFile() || st.size <= limit) continue;
    if (q.keep && !q.keep(abs)) continue;
    out.push({ path: abs, bytes: st.size });
  }
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

async function runRipgrepIn(root: string, q: RipgrepQuery): Promise<RipgrepResult> {
  const rg = q.rgPath ?? 'rg';
  const run = startRg(rg, ripgrepArgs({ ...q, roots: ['.'] }), root, q.signal);
  const matches: TextMatch[] = [];
  let truncated = false;
  for await (const line of run.lines) {
    if (truncated) continue;
    if (!line.startsWith('{"type":"match"')) continue;
    let m: { data?: { path?: { text?: string }; line_number?: number; lines?: { text?: string } } };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue;
    }
    const p = m.data?.path?.text;
    const lineNo = m.data?.line_number;
    if (typeof p !== 'string' || typeof lineNo !== 'number') continue; // non-UTF-8 file names are left out
    const abs = absoluteIn(root, p);
    if (q.keep && !q.keep(abs)) continue;
    if (matches.length >= q.maxResults) {
      truncated = true;
      run.child.kill('SIGTERM');
      continue;
    }
    matches.push({ path: abs, line: lineNo, text: (m.data?.lines?.text ?? '').replace(/\r?\n$/, '') });
  }
  await run.finish(matches.length, truncated, 'search_text');
  if (truncated) return { matches, truncated };
  // Only now: a capped search does no more work, and a search that reads every file does not share the cores.
  const tooLarge = await skippedForSize(root, q, sizeCandidates(rg, root, q));
  return { matches, truncated, ...(tooLarge.length ? { tooLarge } : {}) };
}

export interface RipgrepFilesQuery {
  rgPath?: string;
  roots: readonly string[];
  /** A normalised glob (confinement.ts): the files to list. */
  glob: string;
  /** Globs never listed (the exclude list). */
  excludeGlobs?: readonly string[];
  maxResults: number;
  /** As RipgrepQuery.keep (the glob overrides .gitignore in rg). */
  keep?: (absolute: string) => boolean;
  signal: AbortSignal;
}

/** The files matching a glob (`rg --files`): .gitignore respected (also outside a git repository; files the glob
 *  names explicitly are dropped by `keep`), hidden files included, .git never entered, symlinks not followed; in path
 *  order, one root after the other. Absolute paths; `truncated` when more than maxResults matched. */
export async function listFilesWithRipgrep(q: RipgrepFilesQuery): Promise<{ files: string[]; truncated: boolean }> {
  const rg = q.rgPath ?? 'rg';
  const args = ['--files', '--no-config', '--hidden', '--no-require-git', '--no-messages', '--sort', 'path', '--glob', q.glob];
  for (const g of [...(q.excludeGlobs ?? []), '.git']) args.push('--glob', `!${g}`);
  args.push('--', '.');
  const files: string[] = [];
  for (const root of q.roots) {
    const run = startRg(rg, args, root, q.signal);
    let truncated = false;
    for await (const line of run.lines) {
      if (truncated || line === '') continue;
      const abs = absoluteIn(root, line);
      if (q.keep && !q.keep(abs)) continue;
      if (files.length >= q.maxResults) {
        truncated = true;
        run.child.kill('SIGTERM');
        continue;
      }
      files.push(abs);
    }
    await run.finish(files.length, truncated, 'find_files');
    if (truncated) return { files, truncated: true };
  }
  return { files, truncated: false };
}

/** Where a VS Code installation keeps its ripgrep, given `vscode.env.appRoot`: `@vscode/ripgrep/bin/rg` (VS Code
 *  desktop and older servers) or `@vscode/ripgrep-universal/bin/<platform>-<arch>/rg` (newer ones, e.g. code-server
 *  4.139), each under node_modules and node_modules.asar.unpacked (packaged Electron builds). */
export function bundledRipgrepCandidates(appRoot: string, platform: string = process.platform, arch: string = process.arch): string[] {
  const exe = platform === 'win32' ? 'rg.exe' : 'rg';
  const out: string[] = [];
  for (const modules of ['node_modules', 'node_modules.asar.unpacked']) {
    out.push(path.join(appRoot, modules, '@vscode', 'ripgrep', 'bin', exe));
    out.push(path.join(appRoot, modules, '@vscode', 'ripgrep-universal', 'bin', `${platform}-${arch}`, exe));
  }
  return out;
}

/** The first bundled rg that exists and can be run, else undefined (the caller falls back to `rg` on PATH). */
export function findBundledRipgrep(appRoot: string, canRun: (file: string) => boolean = isExecutableFile): string | undefined {
  return bundledRipgrepCandidates(appRoot).find((f) => canRun(f));
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, process.platform === 'win32' ? fs.constants.F_OK : fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
