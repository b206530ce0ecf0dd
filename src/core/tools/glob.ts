// Globs → regular expressions, shared by find_files, the exclude lists and .gitignore rules (ignore.ts).
// Syntax: `*` (any characters but `/`), `**` as a whole path segment (any number of segments, none included),
// `?` (one character but `/`), `[abc]` / `[a-z]` / `[!abc]`, `{a,b}` (nestable), `\x` (a literal x — only .gitignore
// files use it; globs from the model may not contain a backslash at all, see confinement.ts).

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** The regular-expression source (unanchored) for a glob matched against a whole `/`-separated relative path. */
export function globToRegExpSource(glob: string): string {
  let re = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\' && i + 1 < glob.length) {
      re += escapeRe(glob[++i]!);
      continue;
    }
    if (c === '*') {
      let j = i;
      while (glob[j + 1] === '*') j++;
      const double = j > i;
      const atStart = i === 0 || glob[i - 1] === '/';
      const atEnd = j + 1 === glob.length || glob[j + 1] === '/';
      if (double && atStart && atEnd) {
        if (j + 1 === glob.length) {
          re += '.*'; // `a/**`: everything below a; `**` alone: everything
        } else {
          re += '(?:[^/]*/)*'; // `**/`: zero or more whole directories
          j++; // the `/` is part of it
        }
      } else {
        re += '[^/]*';
      }
      i = j;
      continue;
    }
    if (c === '?') {
      re += '[^/]';
      continue;
    }
    if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close > 0) {
        let body = glob.slice(i + 1, close);
        let negate = false;
        if (body.startsWith('!') || body.startsWith('^')) {
          negate = true;
          body = body.slice(1);
        }
        const cls = body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]').replace(/\[/g, '\\[');
        re += negate ? `(?!/)[^${cls}]` : `[${cls}]`;
        i = close;
        continue;
      }
      re += '\\[';
      continue;
    }
    if (c === '{') {
      braces++;
      re += '(?:';
      continue;
    }
    if (c === '}' && braces > 0) {
      braces--;
      re += ')';
      continue;
    }
    if (c === ',' && braces > 0) {
      re += '|';
      continue;
    }
    re += escapeRe(c);
  }
  while (braces-- > 0) re += ')';
  return re;
}

/** A matcher for whole relative paths (`src/a/b.ts`). */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${globToRegExpSource(glob)}$`);
}

/** Does any of `globs` match `rel`, or one of its parent directories (VS Code's files.exclude semantics: an
 *  excluded folder excludes everything in it)? */
export class GlobSet {
  private readonly entries: { glob: string; re: RegExp }[];

  constructor(globs: readonly string[]) {
    this.entries = globs.filter((g) => g.trim() !== '')
      .map((glob) => ({ glob, re: globToRegExp(glob.replace(/^\.\//, '').replace(/\/+$/, '')) }));
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** The glob matching `rel` itself (not its parents), if any. */
  matchSelf(rel: string): string | undefined {
    return this.entries.find((e) => e.re.test(rel))?.glob;
  }

  /** The glob matching `rel` or one of its parents, if any. */
  match(rel: string): string | undefined {
    const parts = rel.split('/');
    for (let k = 1; k <= parts.length; k++) {
      const hit = this.matchSelf(parts.slice(0, k).join('/'));
      if (hit) return hit;
    }
    return undefined;
  }
}
