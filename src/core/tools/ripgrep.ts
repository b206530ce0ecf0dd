// search_text through ripgrep (`rg --json`): what the CLI's NodeWorkspace uses, and what a VS Code adapter can use
// with the rg binary VS Code ships. ripgrep respects .gitignore (also outside a git repository here), skips binary
// files, never follows symlinks, and is stopped as soon as maxResults + 1 matches have arrived (the + 1 tells
// whether the result was capped). A missing rg is a clear error, never a silent fallback.
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { ToolError, type TextMatch } from './types';

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

export function ripgrepArgs(q: Omit<RipgrepQuery, 'signal' | 'rgPath'>): string[] {
  const args = [
    '--json', '--no-config', '--hidden', '--no-require-git', '--no-messages', '--smart-case', '--max-filesize', q.maxFileSize ?? '2M',
  ];
  if (q.sorted ?? true) args.push('--sort', 'path');
  if (!q.isRegex) args.push('--fixed-strings');
  // Later globs take precedence in rg: the include first, the exclusions after it.
  if (q.include) args.push('--glob', q.include);
  for (const g of [...(q.excludeGlobs ?? []), ...SECRET_GLOBS]) args.push('--glob', `!${g}`);
  args.push('--regexp', q.query, '--', ...q.roots);
  return args;
}

export async function runRipgrep(q: RipgrepQuery): Promise<{ matches: TextMatch[]; truncated: boolean }> {
  const rg = q.rgPath ?? 'rg';
  const child = spawn(rg, ripgrepArgs(q), { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  const matches: TextMatch[] = [];
  let truncated = false;
  let stderr = '';
  let spawnError: NodeJS.ErrnoException | undefined;
  const onAbort = () => child.kill('SIGKILL');
  q.signal.addEventListener('abort', onAbort, { once: true });
  child.on('error', (e: NodeJS.ErrnoException) => {
    spawnError = e;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const closed = new Promise<{ code: number | null }>((resolve) => child.on('close', (code) => resolve({ code })));
  const lines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
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
      if (matches.length >= q.maxResults) {
        truncated = true;
        child.kill('SIGTERM');
        continue;
      }
      matches.push({ path: p, line: lineNo, text: (m.data?.lines?.text ?? '').replace(/\r?\n$/, '') });
    }
  } finally {
    q.signal.removeEventListener('abort', onAbort);
  }
  const { code } = await closed;
  if (spawnError) {
    if (spawnError.code === 'ENOENT') {
      throw new ToolError(`search_text needs ripgrep (\`${rg}\`), which is not installed or not on PATH; install it (apt-get install ripgrep, brew install ripgrep, winget install BurntSushi.ripgrep.MSVC) and try again`);
    }
    throw new ToolError(`search_text could not start ripgrep (${spawnError.code ?? spawnError.message})`);
  }
  if (q.signal.aborted) throw Object.assign(new Error('search stopped'), { name: 'AbortError' });
  // 0: matches, 1: none, 2: an error (with --no-messages only fatal ones are printed, e.g. a bad regex).
  if (code === 2 && !truncated && matches.length === 0 && stderr.trim() !== '') {
    const msg = stderr.trim().split('\n').slice(0, 6).join('\n');
    if (/regex parse error|error parsing regex/i.test(msg)) {
      throw new ToolError(`the query is not a valid regular expression: ${msg}; expected a Rust/ripgrep regex, or isRegex false for plain text`);
    }
    throw new ToolError(`ripgrep failed: ${msg}`);
  }
  return { matches, truncated };
}
