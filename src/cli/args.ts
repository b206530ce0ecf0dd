// A small, strict argv parser for kimi-vllm: known flags only, clear errors naming the bad flag.

export interface FlagSpec {
  /** true: the flag takes a value (`--flag V` or `--flag=V`). */
  value: boolean;
  /** The flag may be given several times; every value is collected in `lists` (flags holds the last). */
  repeat?: boolean;
}

export class UsageError extends Error {}

export function parseArgs(
  argv: string[],
  spec: Record<string, FlagSpec>,
): { flags: Record<string, string | true>; positionals: string[]; lists: Record<string, string[]> } {
  const flags: Record<string, string | true> = {};
  const lists: Record<string, string[]> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq >= 0 ? eq : undefined);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (!s.value) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new UsageError(`--${name} needs a value`);
    flags[name] = v;
    if (s.repeat) (lists[name] ??= []).push(v);
  }
  return { flags, positionals, lists };
}
