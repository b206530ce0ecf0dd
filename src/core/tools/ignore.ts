// .gitignore semantics for one workspace root: `<root>/.git/info/exclude`, `<root>/.gitignore` and every nested
// `.gitignore` below the root (each relative to its own folder; deeper files win, the last matching line of a file
// wins, `!` re-includes, a trailing `/` matches folders only, a pattern with a `/` before its end is anchored to its
// folder, one without matches at any depth). A path inside an ignored folder is ignored whatever later rules say
// (git cannot re-include it either). .gitignore files above the root are not read.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { globToRegExpSource } from './glob';

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  re: RegExp;
  /** The line as written, for messages. */
  source: string;
}

interface RuleFile {
  /** The folder the file applies to, relative to the root ('' = the root). */
  base: string;
  /** Where the rules came from, relative to the root (`.gitignore`, `src/.gitignore`, `.git/info/exclude`). */
  file: string;
  rules: Rule[];
}

export function parseGitignore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split('\n')) {
    line = line.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    // Trailing spaces are dropped unless escaped.
    line = line.replace(/(?<!\\)\s+$/, '');
    if (line === '') continue;
    const source = line;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) {
      line = line.slice(1);
    }
    let dirOnly = false;
    if (line.endsWith('/')) {
      dirOnly = true;
      line = line.replace(/\/+$/, '');
    }
    if (line === '') continue;
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    const glob = anchored ? line : `**/${line}`;
    try {
      rules.push({ negate, dirOnly, re: new RegExp(`^${globToRegExpSource(glob)}$`), source });
    } catch {
      /* a pattern git would not understand either: skipped */
    }
  }
  return rules;
}

export interface IgnoreMatch {
  /** The rule file (relative to the root) and the line that matched. */
  file: string;
  rule: string;
}

export class IgnoreRules {
  private readonly files = new Map<string, RuleFile | null>();
  private readonly extra: RuleFile | null;

  constructor(private readonly root: string) {
    this.extra = this.load('', path.join(root, '.git', 'info', 'exclude'), '.git/info/exclude');
  }

  private load(base: string, abs: string, file: string): RuleFile | null {
    let text: string;
    try {
      // Only rule files that really are inside the root (a symlinked folder pointing elsewhere brings none).
      const real = fs.realpathSync(abs);
      if (!real.startsWith(this.root + path.sep)) return null;
      text = fs.readFileSync(real, 'utf8');
    } catch {
      return null;
    }
    const rules = parseGitignore(text);
    return rules.length ? { base, file, rules } : null;
  }

  /** The rule files that apply inside folder `dir` (relative), outermost first. */
  private chain(dir: string): RuleFile[] {
    const out: RuleFile[] = [];
    if (this.extra) out.push(this.extra);
    const parts = dir === '' ? [] : dir.split('/');
    for (let k = 0; k <= parts.length; k++) {
      const base = parts.slice(0, k).join('/');
      let f = this.files.get(base);
      if (f === undefined) {
        const file = base === '' ? '.gitignore' : `${base}/.gitignore`;
        f = this.load(base, path.join(this.root, ...parts.slice(0, k), '.gitignore'), file);
        this.files.set(base, f);
      }
      if (f) out.push(f);
    }
    return out;
  }

  /** Is the entry `rel` (relative to the root) ignored by itself, given that its folder is not? */
  matchEntry(rel: string, isDir: boolean): IgnoreMatch | undefined {
    const slash = rel.lastIndexOf('/');
    const dir = slash < 0 ? '' : rel.slice(0, slash);
    let hit: { rule: Rule; file: string } | undefined;
    for (const f of this.chain(dir)) {
      const sub = f.base === '' ? rel : rel.slice(f.base.length + 1);
      for (const r of f.rules) {
        if (r.dirOnly && !isDir) continue;
        if (r.re.test(sub)) hit = r.negate ? undefined : { rule: r, file: f.file };
      }
    }
    return hit ? { file: hit.file, rule: hit.rule.source } : undefined;
  }

  /** Is `rel` ignored, by itself or through one of its folders? */
  match(rel: string, isDir: boolean): IgnoreMatch | undefined {
    if (rel === '') return undefined;
    const parts = rel.split('/');
    for (let k = 1; k < parts.length; k++) {
      const m = this.matchEntry(parts.slice(0, k).join('/'), true);
      if (m) return m;
    }
    return this.matchEntry(rel, isDir);
  }
}
