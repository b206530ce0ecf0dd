// Confinement: every path and glob the model sends is checked here before any port sees it.
//
// A path is accepted only when, after following every symlink (realpath), it lies inside one of the workspace
// roots. Refused with a clear error, before touching the file system: NUL and other control characters, `\`
// (Windows separators), percent-encoded `.`/`/`/`\`/`%`/NUL (`%2e%2e%2f`, double-encoded `%252e`), look-alike
// Unicode dots and slashes (fullwidth `．／＼`, one/two-dot leaders, division/fraction slashes …), `..` segments,
// `~`, URLs, drive letters and UNC paths, absolute paths outside the roots. Refused after resolution: symlinks that
// lead outside, dangling symlinks (writing through one would create a file wherever it points).
//
// Reading also needs the user's approval (WorkspacePort.requestApproval) for files that look like secrets
// (.env*, *.pem, *.key, id_rsa*, credentials, .npmrc, …), files inside .git/, files ignored by .gitignore and
// files matched by the host's exclude list (VS Code's files.exclude).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GlobSet } from './glob';
import { IgnoreRules } from './ignore';
import { ToolError, type ConfinedPath, type WorkspaceRoot } from './types';

const MAX_PATH_CHARS = 4096;

/** Characters that normalise (NFKC) to, or are commonly used to spoof, `.`, `/` or `\`. */
const LOOKALIKES = /[\u2024\u2025\u2026\uFE52\uFF0E\u2215\u2044\u29F8\uFF0F\u2216\u29F5\u29F9\uFE68\uFF3C]/u;
/** A percent-encoded byte (`%2e`, `%2F`, `%25` …): paths arrive as plain text, so any encoding is refused. */
const ENCODED = /%[0-9a-f]{2}/i;
const SEPARATORS = /[./\\]/g;

function countSeparators(s: string): number {
  return s.match(SEPARATORS)?.length ?? 0;
}

/** The first character whose NFKC form contains `.`, `/` or `\`. */
function lookalikeOf(s: string): string {
  for (const ch of s) if (countSeparators(ch.normalize('NFKC')) !== countSeparators(ch)) return ch;
  return s;
}

function describeChar(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Checks shared by paths and globs. `what` names the argument in messages (`path`, `glob`, `cwd` …). */
function checkText(input: string, what: string): void {
  if (input.length > MAX_PATH_CHARS) throw new ToolError(`${what} is ${input.length} characters long; expected at most ${MAX_PATH_CHARS}`);
  if (input.includes('\0')) throw new ToolError(`${what} contains a NUL byte; expected a plain relative path such as "src/index.ts"`);
  // eslint-disable-next-line no-control-regex
  const ctl = /[\u0001-\u001f\u007f]/.exec(input);
  if (ctl) throw new ToolError(`${what} contains the control character ${describeChar(ctl[0])}; expected a plain relative path such as "src/index.ts"`);
  if (input.includes('\\')) {
    throw new ToolError(`${what} ${JSON.stringify(input)} contains a backslash; expected "/" as the separator, relative to the workspace root (e.g. "src/index.ts")`);
  }
  if (ENCODED.test(input)) {
    throw new ToolError(`${what} ${JSON.stringify(input)} contains a percent-encoded character; expected the plain, unencoded path (e.g. "src/my file.ts")`);
  }
  const look = LOOKALIKES.exec(input) ?? (countSeparators(input.normalize('NFKC')) !== countSeparators(input) ? [lookalikeOf(input)] : null);
  if (look) {
    throw new ToolError(`${what} ${JSON.stringify(input)} contains ${describeChar(look[0])}, a look-alike of "." or "/"; expected plain ASCII "." and "/" in paths`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    throw new ToolError(`${what} ${JSON.stringify(input)} is a URL; expected a path relative to the workspace root (e.g. "src/index.ts")`);
  }
  if (/^[a-z]:/i.test(input)) throw new ToolError(`${what} ${JSON.stringify(input)} is a Windows drive path; expected a path relative to the workspace root`);
  if (input.startsWith('//')) throw new ToolError(`${what} ${JSON.stringify(input)} is a network (UNC) path; expected a path relative to the workspace root`);
  if (input === '~' || input.startsWith('~/')) {
    throw new ToolError(`${what} ${JSON.stringify(input)} starts with "~"; home-directory paths are not available — expected a path relative to the workspace root`);
  }
}

function segmentsOf(rel: string, what: string, input: string): string[] {
  const segs = rel.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.includes('..')) {
    throw new ToolError(`${what} ${JSON.stringify(input)} contains "..": paths may not climb out of the workspace; expected a path relative to the workspace root (e.g. "src/index.ts")`);
  }
  return segs;
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

// ----- secret-looking files -----

const SECRET_NAMES: [RegExp, string][] = [
  [/^\.env(?:\..*)?$/i, 'environment files (.env*) usually hold credentials'],
  [/^\.envrc$/i, '.envrc files usually hold credentials'],
  [/\.(?:pem|key|p12|pfx|jks|keystore|ppk|kdbx|tfvars)$/i, 'key, certificate-store and secret-variable files hold private keys or passwords'],
  [/^id_(?:rsa|dsa|ecdsa|ed25519)/i, 'SSH private key'],
  [/^(?:credentials|credentials\.(?:json|ya?ml|xml|ini|txt|csv))$/i, 'credentials file'],
  [/\.credentials$/i, 'credentials file'],
  [/^\.(?:npmrc|yarnrc\.yml|pypirc|netrc|pgpass|git-credentials|htpasswd|dockercfg|s3cfg|boto)$/i, 'this file usually holds access tokens or passwords'],
  [/^_netrc$/i, 'this file usually holds passwords'],
  [/^secrets?(?:\..*)?$/i, 'secrets file'],
  [/\.secrets?$/i, 'secrets file'],
  [/^service[-_]?account.*\.json$/i, 'cloud service-account key'],
];

const SECRET_DIRS: [RegExp, string][] = [
  [/^\.ssh$/i, 'inside .ssh (SSH keys)'],
  [/^\.gnupg$/i, 'inside .gnupg (private keys)'],
  [/^\.aws$/i, 'inside .aws (cloud credentials)'],
  [/^\.kube$/i, 'inside .kube (cluster credentials)'],
  [/^\.docker$/i, 'inside .docker (registry credentials)'],
];

/** Why a path looks like a secret (undefined: it does not). `rel` is relative, `/`-separated. */
export function secretReason(rel: string): string | undefined {
  const parts = rel.split('/');
  const name = parts[parts.length - 1] ?? '';
  for (const [re, why] of SECRET_NAMES) if (re.test(name)) return `it looks like a secret (${why})`;
  for (const dir of parts.slice(0, -1)) for (const [re, why] of SECRET_DIRS) if (re.test(dir)) return `it looks like a secret (${why})`;
  return undefined;
}

export interface Sensitivity {
  kind: 'secret' | 'git' | 'ignored' | 'excluded';
  reason: string;
}

export interface ConfinementOptions {
  /** Globs (relative to each root) of files that need approval to read, e.g. VS Code's files.exclude. */
  excludes?: readonly string[];
}

/** Real root paths, de-duplicated names (the folder's base name, numbered when two collide). */
export function workspaceRoots(paths: readonly string[]): WorkspaceRoot[] {
  const roots: WorkspaceRoot[] = [];
  for (const p of paths) {
    const real = fs.realpathSync(path.resolve(p));
    if (roots.some((r) => r.path === real)) continue;
    let name = path.basename(real) || real;
    for (let n = 2; roots.some((r) => r.name === name); n++) name = `${path.basename(real)}-${n}`;
    roots.push({ name, path: real });
  }
  return roots;
}

export class Confinement {
  readonly roots: readonly WorkspaceRoot[];
  private readonly excludes: GlobSet;
  private readonly ignores = new Map<string, IgnoreRules>();
  /** The roots as given and as real paths (an absolute path from the model may use either spelling). */
  private readonly spellings: { root: WorkspaceRoot; prefix: string }[] = [];

  constructor(roots: readonly WorkspaceRoot[], opts: ConfinementOptions = {}) {
    if (!roots.length) throw new Error('Confinement needs at least one workspace root');
    this.roots = roots.map((r) => {
      let real = r.path;
      try {
        real = fs.realpathSync(r.path);
      } catch {
        /* a root that vanished: nothing in it will resolve */
      }
      const root = { name: r.name, path: real };
      this.spellings.push({ root, prefix: real });
      if (path.resolve(r.path) !== real) this.spellings.push({ root, prefix: path.resolve(r.path) });
      return root;
    });
    this.excludes = new GlobSet(opts.excludes ?? []);
  }

  private display(root: WorkspaceRoot, rel: string): string {
    const shown = rel === '' ? '.' : rel;
    return this.roots.length > 1 ? (rel === '' ? root.name : `${root.name}/${rel}`) : shown;
  }

  /** Resolve a path from the model. Throws ToolError (never touching the file system for malformed input or
   *  lexically-outside paths). A path that does not exist resolves (exists: false) when its nearest existing
   *  ancestor is inside and no remaining component is a (dangling) symlink. */
  async resolve(input: unknown, what = 'path'): Promise<ConfinedPath> {
    if (typeof input !== 'string') throw new ToolError(`${what} must be a string; expected a path relative to the workspace root`);
    const raw = input.trim();
    if (raw === '') throw new ToolError(`${what} is empty; expected a path relative to the workspace root (use "." for the root)`);
    checkText(raw, what);

    let root: WorkspaceRoot | undefined;
    let segs: string[];
    if (raw.startsWith('/')) {
      const norm = path.posix.normalize(raw);
      segmentsOf(raw, what, raw); // `..` refused even when it would stay inside
      const hit = this.spellings
        .filter((s) => isInside(s.prefix, norm))
        .sort((a, b) => b.prefix.length - a.prefix.length)[0];
      if (!hit) {
        throw new ToolError(`${what} ${JSON.stringify(raw)} is outside the workspace; expected a path inside ${this.rootList()} (relative paths are easiest, e.g. "src/index.ts")`);
      }
      root = hit.root;
      segs = segmentsOf(path.relative(hit.prefix, norm).split(path.sep).join('/'), what, raw);
    } else {
      segs = segmentsOf(raw, what, raw);
      if (this.roots.length > 1 && segs.length && this.roots.some((r) => r.name === segs[0])) {
        root = this.roots.find((r) => r.name === segs[0]);
        segs = segs.slice(1);
      }
      root ??= this.roots[0]!;
    }

    const lexical = path.join(root.path, ...segs);
    let real: string;
    let exists = true;
    try {
      real = await fs.promises.realpath(lexical);
    } catch (e) {
      if (errno(e) === 'ELOOP') throw new ToolError(`${what} ${JSON.stringify(raw)} is a symlink loop`);
      if (errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR') throw new ToolError(`${what} ${JSON.stringify(raw)} cannot be resolved (${errno(e) ?? String(e)})`);
      // Not there (yet): the nearest existing ancestor must be inside, and nothing below it may be a symlink.
      exists = false;
      let k = segs.length;
      let base: string | undefined;
      while (k > 0) {
        const probe = path.join(root.path, ...segs.slice(0, k));
        const shown = JSON.stringify(segs.slice(0, k).join('/'));
        let st: fs.Stats;
        try {
          st = await fs.promises.lstat(probe);
        } catch (err) {
          if (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR') throw new ToolError(`${what} ${JSON.stringify(raw)} cannot be resolved (${errno(err) ?? String(err)})`);
          k--;
          continue;
        }
        try {
          base = await fs.promises.realpath(probe);
        } catch {
          // The entry exists but cannot be followed: a dangling symlink. Writing through it would create a file
          // wherever it points.
          throw new ToolError(`${what} ${JSON.stringify(raw)} goes through ${shown}, a symlink whose target does not exist; expected a real file or folder inside the workspace`);
        }
        if (k < segs.length && !(st.isDirectory() || (st.isSymbolicLink() && (await fs.promises.stat(probe)).isDirectory()))) {
          throw new ToolError(`${what} ${JSON.stringify(raw)}: ${shown} is a file, not a folder; expected a path through folders`);
        }
        break;
      }
      base ??= root.path;
      real = path.join(base, ...segs.slice(k));
    }
    const owner = this.roots.find((r) => isInside(r.path, real));
    if (!owner) {
      throw new ToolError(`${what} ${JSON.stringify(raw)} leads outside the workspace through a symlink; only files inside ${this.rootList()} can be used`);
    }
    const rel = path.relative(owner.path, real).split(path.sep).join('/');
    return { root: owner, absolute: real, relative: rel, display: this.display(owner, rel), exists };
  }

  /** A path a port reported (a search hit, a file found): the ConfinedPath when it really is inside, else undefined. */
  async contain(absolute: string): Promise<ConfinedPath | undefined> {
    let real: string;
    try {
      real = await fs.promises.realpath(absolute);
    } catch {
      return undefined;
    }
    const owner = this.roots.find((r) => isInside(r.path, real));
    if (!owner) return undefined;
    const rel = path.relative(owner.path, real).split(path.sep).join('/');
    return { root: owner, absolute: real, relative: rel, display: this.display(owner, rel), exists: true };
  }

  /** The display form of an absolute path known to be inside (no file-system access), else undefined. */
  displayOf(absolute: string): string | undefined {
    const owner = this.roots.find((r) => isInside(r.path, absolute));
    if (!owner) return undefined;
    return this.display(owner, path.relative(owner.path, absolute).split(path.sep).join('/'));
  }

  /** Check a glob from the model and normalise it: relative, `/`-separated, no `./`; a glob without `/` matches
   *  at any depth (`*.ts` → `**\/*.ts`). Throws ToolError. */
  normalizeGlob(input: unknown, what = 'glob'): string {
    if (typeof input !== 'string') throw new ToolError(`${what} must be a string; expected a glob such as "src/**/*.ts"`);
    const raw = input.trim();
    if (raw === '') throw new ToolError(`${what} is empty; expected a glob such as "src/**/*.ts" or "*.md"`);
    checkText(raw, what);
    if (raw.startsWith('/')) {
      throw new ToolError(`${what} ${JSON.stringify(raw)} is absolute; expected a glob relative to the workspace root, such as "src/**/*.ts"`);
    }
    if (raw.split('/').includes('..') || /(^|[/{,])\.\.([/},]|$)/.test(raw)) {
      throw new ToolError(`${what} ${JSON.stringify(raw)} contains "..": globs may not climb out of the workspace; expected a glob relative to the workspace root`);
    }
    let g = raw.replace(/^(?:\.\/)+/, '');
    if (g === '' || g === '.') g = '**';
    return g.includes('/') || g.startsWith('**') ? g : `**/${g}`;
  }

  private ignoreRules(root: WorkspaceRoot): IgnoreRules {
    let r = this.ignores.get(root.path);
    if (!r) this.ignores.set(root.path, (r = new IgnoreRules(root.path)));
    return r;
  }

  /** Whether reading `p` needs the user's approval, and why. */
  sensitivity(p: Pick<ConfinedPath, 'root' | 'relative'>, isDir = false): Sensitivity | undefined {
    const rel = p.relative;
    if (rel === '') return undefined;
    const secret = secretReason(rel);
    if (secret) return { kind: 'secret', reason: secret };
    if (rel.split('/').includes('.git')) return { kind: 'git', reason: "it is inside .git (the repository's internals, which can hold credentials)" };
    const ig = this.ignoreRules(p.root).match(rel, isDir);
    if (ig) return { kind: 'ignored', reason: `it is ignored by ${ig.file} (rule "${ig.rule}")` };
    const ex = this.excludes.match(rel);
    if (ex) return { kind: 'excluded', reason: `it is excluded by the workspace's exclude setting ("${ex}")` };
    return undefined;
  }

  /** Ignore rules of a root (for ports walking the tree). */
  rulesFor(root: WorkspaceRoot): IgnoreRules {
    return this.ignoreRules(root);
  }

  excludeSet(): GlobSet {
    return this.excludes;
  }

  private rootList(): string {
    return this.roots.map((r) => r.path).join(', ');
  }
}
