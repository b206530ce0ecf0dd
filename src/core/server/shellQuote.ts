// POSIX sh quoting for everything the extension sends to a shell, locally or over SSH.
//
// Rule of the module: every value that comes from a profile is turned into exactly one shell word that the shell
// cannot interpret — single quotes, where nothing is special except the closing quote, which is written as '\''.
// The one deliberate exception is a leading `~` in a path (quotePath): it becomes "$HOME", so `~/models` means the
// home directory of the user on the TARGET host, as it would if the user typed it there. Nothing else is expanded.

/** Words made only of these characters mean the same to sh quoted or not, so they are left bare for readable logs.
 *  Not included: `=` (a bare `A=B` first word is an assignment), `~` (tilde expansion), and everything else. */
const BARE_SAFE = /^[A-Za-z0-9_@%+:,./-]+$/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class ShellQuoteError extends Error {
  override readonly name = 'ShellQuoteError';
}

function assertNoNul(value: string): void {
  // A NUL byte cannot be part of an argv entry or an environment value: the kernel would silently cut it there.
  if (value.includes('\0')) throw new ShellQuoteError('a value contains a NUL byte, which no command line can carry');
}

/** One shell word that sh reads back as exactly `arg` (no expansion of any kind). */
export function quote(arg: string): string {
  assertNoNul(arg);
  if (BARE_SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Like quote(), but a leading `~` or `~/` expands to the target's home directory: `~/x y` → `"$HOME"/'x y'`.
 *  `~user/…` is NOT expanded (it would need a passwd lookup and a name we would have to trust); it stays literal. */
export function quotePath(path: string): string {
  assertNoNul(path);
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) {
    const rest = path.slice(2);
    return rest === '' ? '"$HOME"/' : `"$HOME"/${quote(rest)}`;
  }
  return quote(path);
}

export interface JoinOptions {
  /** Render argv items that start with `~/` (or are `~`) with quotePath, so the target shell expands them. */
  expandTilde?: boolean;
}

/** A command line that sh splits back into exactly `argv`. */
export function join(argv: readonly string[], opts: JoinOptions = {}): string {
  return argv.map((a) => (opts.expandTilde ? quotePath(a) : quote(a))).join(' ');
}

/** Whether `name` can be an environment variable name in sh (`export NAME=…`). */
export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** `NAME='value'` — the name is validated (it cannot be quoted), the value is a single literal word. */
export function envAssignment(name: string, value: string): string {
  if (!isEnvName(name)) throw new ShellQuoteError(`"${name}" is not a valid environment variable name`);
  return `${name}=${quote(value)}`;
}

/** `export A='1' B='2'` for a POSIX shell, or '' when there is nothing to export. Exported (not prefixed to one
 *  command) so that every process the script starts — an activation script, conda, vllm — inherits them. */
export function exportLine(env: Readonly<Record<string, string>>): string {
  const names = Object.keys(env);
  if (names.length === 0) return '';
  return `export ${names.map((n) => envAssignment(n, env[n]!)).join(' ')}`;
}
