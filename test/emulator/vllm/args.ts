// `vllm serve` argument parsing, argparse-compatible where users can tell the difference:
//  - FlexibleArgumentParser's rewrites: `--max_model_len` == `--max-model-len` (only the part before the first '.'
//    is rewritten), `--model X` moved to the positional slot with a warning, `--config file.yaml`, dotted JSON
//    options (`--compilation-config.pass_config.fuse_allreduce_rms true`), `-O3`;
//  - argparse: `--flag value` / `--flag=value`, `-tp 8` / `-tp=8` / `-tp8`, unique-prefix abbreviations, last one
//    wins, BooleanOptionalAction (`--x` / `--no-x`), type errors and invalid choices reported by the `vllm serve`
//    sub-parser, unknown options reported by the top-level `vllm` parser as `unrecognized arguments`.
import * as fs from 'node:fs';
import { ArgSpec, SPECS, actionName, longFlag } from './argspec';
import { PyFloat, type PyValue, pyRepr, pyStr } from './pyrepr';

export const SERVE_USAGE = 'usage: vllm serve [model_tag] [options]';
export const TOP_USAGE = 'usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...';
export const SUBCOMMANDS = ['chat', 'complete', 'serve', 'bench', 'collect-env', 'run-batch'];

/** An argparse exit: message already formatted (usage line + `prog: error: …`), exit status 2. */
export class ArgparseExit extends Error {
  constructor(readonly stderr: string[], readonly code = 2) {
    super(stderr.join('\n'));
  }
}

export function serveError(message: string): ArgparseExit {
  return new ArgparseExit([SERVE_USAGE, `vllm serve: error: ${message}`]);
}

export function topError(message: string): ArgparseExit {
  return new ArgparseExit([TOP_USAGE, `vllm: error: ${message}`]);
}

export interface ParsedServe {
  values: Map<string, PyValue>;
  /** `--help` was seen (argparse prints help as soon as it meets the option). */
  help: string | null;
  /** Logger warnings FlexibleArgumentParser emits while rewriting (before the API server decorates its output). */
  warnings: { file: string; message: string }[];
}

const BY_DEST = new Map(SPECS.map((s) => [s.dest, s]));

/** Every option string → its spec (`--no-x` maps to the bool spec). */
const OPTION_STRINGS: Map<string, ArgSpec> = (() => {
  const m = new Map<string, ArgSpec>();
  for (const s of SPECS) {
    if (s.dest === 'model_tag') continue;
    m.set(longFlag(s), s);
    if (s.kind === 'bool') m.set(`--no-${s.dest.replace(/_/g, '-')}`, s);
    for (const sh of s.short ?? []) m.set(sh, s);
  }
  return m;
})();

// ---------------------------------------------------------------------------------------------------------------
// Value conversion (argparse `type=` callables)

/** Python `int(str)`: optional sign, digits with single underscores, surrounding whitespace. */
function pyInt(text: string): number | null {
  const t = text.trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(t)) return null;
  return Number(t.replace(/_/g, ''));
}

function pyFloatParse(text: string): number | null {
  const t = text.trim().toLowerCase().replace(/_/g, '');
  if (/^[+-]?(inf|infinity)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(t)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) return null;
  return Number(t);
}

/** vllm.utils.argparse_utils.human_readable_int: lowercase k/m/g/t are decimal, uppercase K/M/G/T binary. */
export function humanReadableInt(text: string): number {
  const value = text.trim();
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT])$/.exec(value);
  if (m) {
    const [, num, suffix] = m;
    const decimal: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
    const binary: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
    if (suffix in decimal) return Math.trunc(Number(num) * decimal[suffix]);
    if (num.includes('.')) {
      throw new TypeArgError(
        `Decimals are not allowed with binary suffixes like ${suffix}. Did you mean to use ${num}${suffix.toLowerCase()} instead?`,
      );
    }
    return Number(num) * binary[suffix];
  }
  const n = pyInt(value);
  if (n === null) throw new ValueArgError();
  return n;
}

/** argparse.ArgumentTypeError: its message replaces argparse's generic one. */
class TypeArgError extends Error {}
/** ValueError/TypeError from a type callable: argparse says `invalid <type name> value: '…'`. */
class ValueArgError extends Error {}

function typeName(s: ArgSpec): string {
  switch (s.kind) {
    case 'int':
      return 'int';
    case 'float':
      return 'float';
    case 'hint':
      return 'human_readable_int';
    case 'hint_auto':
      return 'human_readable_int_or_auto';
    case 'json':
      return 'loads';
    default:
      return 'str';
  }
}

/** JSON text → Python value (json.loads keeps 1.0 a float; JS cannot tell, so only non-integers become floats). */
function jsonToPy(v: unknown): PyValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? v : new PyFloat(v);
  if (Array.isArray(v)) return v.map(jsonToPy);
  const out: { [k: string]: PyValue } = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = jsonToPy(val);
  return out;
}

function convert(s: ArgSpec, text: string): PyValue {
  try {
    let value: PyValue;
    switch (s.kind) {
      case 'int': {
        const n = pyInt(text);
        if (n === null) throw new ValueArgError();
        value = n;
        break;
      }
      case 'float': {
        const n = pyFloatParse(text);
        if (n === null) throw new ValueArgError();
        value = new PyFloat(n);
        break;
      }
      case 'hint':
        value = humanReadableInt(text);
        break;
      case 'hint_auto':
        value = text.trim() === '-1' || text.trim().toLowerCase() === 'auto' ? -1 : humanReadableInt(text);
        break;
      case 'json':
        try {
          value = jsonToPy(JSON.parse(text));
        } catch {
          throw new ValueArgError();
        }
        break;
      default:
        value = text;
    }
    if (s.choices) {
      const asText = value instanceof PyFloat ? String(value.value) : String(value);
      if (!s.choices.includes(asText)) {
        const shown = s.kind === 'int' ? s.choices.join(', ') : s.choices.map((c) => pyStr(c)).join(', ');
        throw serveError(`argument ${actionName(s)}: invalid choice: ${pyRepr(value)} (choose from ${shown})`);
      }
    }
    return value;
  } catch (e) {
    if (e instanceof TypeArgError) throw serveError(`argument ${actionName(s)}: ${e.message}`);
    if (e instanceof ValueArgError) throw serveError(`argument ${actionName(s)}: invalid ${typeName(s)} value: ${pyStr(text)}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// FlexibleArgumentParser pre-processing

/** `--max_model_len=1` → `--max-model-len=1`; only the key up to the first '.' is rewritten. */
function normalizeDashes(arg: string): string {
  if (!arg.startsWith('--')) return arg;
  const eq = arg.indexOf('=');
  const key = eq >= 0 ? arg.slice(0, eq) : arg;
  const rest = eq >= 0 ? arg.slice(eq) : '';
  const dot = key.indexOf('.');
  const head = dot >= 0 ? key.slice(0, dot) : key;
  const tail = dot >= 0 ? key.slice(dot) : '';
  return '--' + head.slice(2).replace(/_/g, '-') + tail + rest;
}

/** A minimal reader for `--config` YAML files: flat `key: value` lines, like the ones in deploy guides. */
function configArgs(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ArgparseExit([`FileNotFoundError: [Errno 2] No such file or directory: ${pyStr(file)}`], 1);
  }
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trimEnd();
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    const m = /^\s*([A-Za-z0-9_.-]+)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1];
    let value = m[2].trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    const flag = normalizeDashes(`--${key}`);
    const s = OPTION_STRINGS.get(flag.split('.')[0]);
    if (/^(true|false)$/i.test(value) && (s?.kind === 'bool' || s?.kind === 'store_true')) {
      if (value.toLowerCase() === 'true') out.push(flag);
      else if (s.kind === 'bool') out.push(`--no-${flag.slice(2)}`);
      continue;
    }
    out.push(flag, value);
  }
  return out;
}

function pyJsonLoadsOrString(text: string): PyValue {
  try {
    return jsonToPy(JSON.parse(text));
  } catch {
    return text;
  }
}

function setNested(target: { [k: string]: PyValue }, keys: string[], value: PyValue): void {
  let cur = target;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next) || next instanceof PyFloat) cur[k] = {};
    cur = cur[k] as { [k: string]: PyValue };
  }
  cur[keys[keys.length - 1]] = value;
}

// ---------------------------------------------------------------------------------------------------------------

/** Resolve an option string, allowing unique prefixes of long options like argparse's allow_abbrev. */
function lookupOption(opt: string): ArgSpec | undefined {
  const exact = OPTION_STRINGS.get(opt);
  if (exact) return exact;
  if (!opt.startsWith('--') || opt.length < 3) return undefined;
  const matches = [...OPTION_STRINGS.keys()].filter((k) => k.startsWith('--') && k.startsWith(opt));
  if (matches.length === 1) return OPTION_STRINGS.get(matches[0]);
  if (matches.length > 1) throw serveError(`ambiguous option: ${opt} could match ${matches.join(', ')}`);
  return undefined;
}

/** argparse treats `-x…` as an option unless it looks like a negative number. */
function looksLikeOption(tok: string): boolean {
  return tok.startsWith('-') && tok !== '-' && !/^-\d+$|^-\d*\.\d+$/.test(tok);
}

/** Parse the arguments after `vllm serve`. Throws ArgparseExit for argparse errors. */
export function parseServeArgs(argv: string[]): ParsedServe {
  const warnings: ParsedServe['warnings'] = [];
  let args = [...argv];

  // FlexibleArgumentParser.parse_args: `--model X` becomes the positional model_tag.
  const modelIdx = args.findIndex((a) => /^--model(=.+|$)/.test(a));
  if (modelIdx >= 0) {
    warnings.push({
      file: 'argparse_utils.py:235',
      message:
        'With `vllm serve`, you should provide the model as a positional argument or in a config file instead of via ' +
        'the `--model` option. The `--model` option will be removed in a future version.',
    });
    let tag: string;
    let restStart: number;
    if (args[modelIdx] === '--model') {
      if (modelIdx + 1 >= args.length || args[modelIdx + 1].startsWith('-')) {
        throw topError('argument --model: expected one argument');
      }
      tag = args[modelIdx + 1];
      restStart = modelIdx + 2;
    } else {
      tag = args[modelIdx].slice('--model='.length);
      restStart = modelIdx + 1;
    }
    args = [tag, ...args.slice(0, modelIdx), ...args.slice(restStart)];
  }

  // `--config file.yaml`: the file's options go first so the command line overrides them.
  const cfgIdx = args.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (cfgIdx >= 0) {
    const file = args[cfgIdx] === '--config' ? args[cfgIdx + 1] : args[cfgIdx].slice('--config='.length);
    if (file === undefined) throw serveError('argument --config: expected one argument');
    const rest = args.filter((_, i) => i !== cfgIdx && !(args[cfgIdx] === '--config' && i === cfgIdx + 1));
    const positional = rest[0] !== undefined && !looksLikeOption(rest[0]) ? [rest.shift() as string] : [];
    const fromFile = configArgs(file);
    const modelPos = fromFile.indexOf('--model');
    if (modelPos >= 0) {
      if (positional.length === 0) positional.push(fromFile[modelPos + 1]);
      fromFile.splice(modelPos, 2);
    }
    args = [...positional, ...fromFile, ...rest, `--config=${file}`];
  }

  // Underscores → dashes; -O3 → compilation config; dotted JSON options folded into one value.
  const tokens: string[] = [];
  const dotted = new Map<string, { [k: string]: PyValue }>();
  for (let i = 0; i < args.length; i++) {
    let a = normalizeDashes(args[i]);
    if (/^-O./.test(a) && !a.startsWith('-O=')) a = `-O=${a.slice(2)}`;
    const key = a.split('=')[0];
    const [base, ...keys] = key.split('.');
    const dottedSpec = a.startsWith('--') && keys.length > 0 ? OPTION_STRINGS.get(base) : undefined;
    if (dottedSpec?.kind === 'json') {
      const s = dottedSpec;
      let valueText: string;
      if (a.includes('=')) valueText = a.slice(a.indexOf('=') + 1);
      else {
        valueText = args[i + 1] ?? '';
        i++;
      }
      const obj = dotted.get(s.dest) ?? {};
      setNested(obj, keys, pyJsonLoadsOrString(valueText));
      dotted.set(s.dest, obj);
      continue;
    }
    tokens.push(a);
  }

  const values = new Map<string, PyValue>();
  for (const s of SPECS) values.set(s.dest, cloneDefault(s.default));
  const positionals: string[] = [];
  const unrecognized: string[] = [];
  let help: string | null = null;

  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok === '--') {
      positionals.push(...tokens.slice(i + 1));
      break;
    }
    if (tok === '-h' || tok === '--help' || tok.startsWith('--help=')) {
      help = tok.startsWith('--help=') ? tok.slice('--help='.length) : '';
      break;
    }
    if (!looksLikeOption(tok)) {
      positionals.push(tok);
      continue;
    }
    // Split `--opt=value` / `-tp=8` / `-tp8`.
    let opt = tok;
    let explicit: string | null = null;
    const eq = tok.indexOf('=');
    if (eq > 0) {
      opt = tok.slice(0, eq);
      explicit = tok.slice(eq + 1);
    }
    let s = lookupOption(opt);
    if (!s && !tok.startsWith('--') && explicit === null) {
      // argparse also accepts a single-dash option glued to its value: -tp8
      for (const [name, candidate] of OPTION_STRINGS) {
        if (!name.startsWith('--') && tok.startsWith(name) && tok.length > name.length) {
          s = candidate;
          opt = name;
          explicit = tok.slice(name.length);
          break;
        }
      }
    }
    if (!s) {
      unrecognized.push(tok);
      continue;
    }
    const negated = s.kind === 'bool' && opt.startsWith('--no-');
    if (s.kind === 'bool' || s.kind === 'store_true') {
      if (explicit !== null) throw serveError(`argument ${actionName(s)}: ignored explicit argument ${pyStr(explicit)}`);
      values.set(s.dest, !negated);
      continue;
    }
    if (s.kind === 'list') {
      const items: string[] = [];
      if (explicit !== null) items.push(explicit);
      else {
        while (i + 1 < tokens.length && !looksLikeOption(tokens[i + 1])) items.push(tokens[++i]);
      }
      if (items.length === 0) throw serveError(`argument ${actionName(s)}: expected at least one argument`);
      values.set(s.dest, items);
      continue;
    }
    let text: string;
    if (explicit !== null) text = explicit;
    else {
      if (i + 1 >= tokens.length || looksLikeOption(tokens[i + 1])) {
        throw serveError(`argument ${actionName(s)}: expected one argument`);
      }
      text = tokens[++i];
    }
    if (s.kind === 'append') {
      const prev = values.get(s.dest);
      values.set(s.dest, [...(Array.isArray(prev) ? prev : []), text]);
      continue;
    }
    values.set(s.dest, convert(s, text));
  }

  if (help !== null) return { values, help, warnings };

  for (const [dest, obj] of dotted) {
    const prev = values.get(dest);
    const merged =
      prev && typeof prev === 'object' && !Array.isArray(prev) && !(prev instanceof PyFloat) ? { ...prev, ...obj } : obj;
    values.set(dest, merged);
  }

  if (positionals.length > 0) values.set('model_tag', positionals[0]);
  unrecognized.push(...positionals.slice(1));
  if (unrecognized.length > 0) throw topError(`unrecognized arguments: ${unrecognized.join(' ')}`);

  // ServeSubcommand.cmd: the positional wins over --model.
  const tag = values.get('model_tag');
  if (typeof tag === 'string') values.set('model', tag);
  return { values, help: null, warnings };
}

function cloneDefault(v: PyValue): PyValue {
  if (Array.isArray(v)) return [...v];
  if (v && typeof v === 'object' && !(v instanceof PyFloat)) return { ...v };
  return v;
}

function sameValue(a: PyValue, b: PyValue): boolean {
  return pyRepr(a) === pyRepr(b);
}

/** vllm get_non_default_args: every option whose value differs from the parser default, in registration order. */
export function nonDefaultArgs(values: Map<string, PyValue>): { [k: string]: PyValue } {
  const out: { [k: string]: PyValue } = {};
  for (const s of SPECS) {
    const v = values.get(s.dest) ?? null;
    if (!sameValue(v, s.default)) out[s.dest] = v;
  }
  return out;
}

export function specFor(dest: string): ArgSpec | undefined {
  return BY_DEST.get(dest);
}
