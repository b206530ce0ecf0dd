// Deterministic, realistic model output for the markdown renderer's tests and benchmark: the thinking and the answer
// of a long coding-assistant turn (prose with inline code, bold and links, bullet and numbered lists, nested lists,
// GFM tables, blockquotes, headings and many fenced code blocks in several languages).
// A token is counted as 4 characters (the usual rule of thumb for English and code with BPE tokenizers).
import { seededRandom } from './seededRandom';

export const CHARS_PER_TOKEN = 4;

const WORDS = (
  'the server request response stream token cache model layer tensor batch queue worker thread buffer config value ' +
  'function module parser handler option default error retry timeout limit memory context window prompt answer ' +
  'reasoning parallel pipeline shard device kernel scheduler latency throughput client endpoint health check ' +
  'we should first then because however so this that it is are can will may must when while after before each ' +
  'every only also into from with without over under between simple safe fast slow large small new old same'
).split(' ');
const IDENTS = ['maxModelLen', 'tensorParallelSize', 'streamChat', 'HistoryStore', 'baseUrl', 'kv_cache_dtype', 'gpu_memory_utilization', 'served_model_name', 'AbortController', 'readline', 'asyncio', 'tokio::spawn', 'vllm serve', '--max-num-seqs', 'CUDA_VISIBLE_DEVICES'];

class Writer {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = seededRandom(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  words(n: number): string {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const x = this.r();
      if (x < 0.05) out.push(`\`${this.pick(IDENTS)}\``);
      else if (x < 0.07) out.push(`**${this.pick(WORDS)} ${this.pick(WORDS)}**`);
      else if (x < 0.085) out.push(`*${this.pick(WORDS)}*`);
      else if (x < 0.09) out.push(`[${this.pick(WORDS)} docs](https://docs.example.com/${this.pick(WORDS)}/${this.int(1, 99)})`);
      else out.push(this.pick(WORDS));
    }
    return out.join(' ');
  }
  sentence(): string {
    const s = this.words(this.int(6, 18));
    return `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}${this.pick(['.', '.', '.', ':', '?'])}`;
  }
  paragraph(): string {
    const n = this.int(2, 5);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.sentence());
    return out.join(' ');
  }
  list(ordered: boolean): string {
    const n = this.int(3, 7);
    const lines: string[] = [];
    for (let i = 1; i <= n; i++) {
      lines.push(`${ordered ? `${i}.` : '-'} ${this.words(this.int(4, 14))}`);
      if (this.chance(0.2)) for (let j = 0; j < this.int(1, 3); j++) lines.push(`${ordered ? '   ' : '  '}- ${this.words(this.int(3, 9))}`);
    }
    return lines.join('\n');
  }
  table(): string {
    const cols = this.int(2, 5);
    const rows = this.int(3, 12);
    const head = Array.from({ length: cols }, () => this.pick(WORDS));
    const align = Array.from({ length: cols }, () => this.pick(['---', ':---', ':---:', '---:']));
    const lines = [`| ${head.join(' | ')} |`, `|${align.join('|')}|`];
    for (let i = 0; i < rows; i++) {
      lines.push(`| ${Array.from({ length: cols }, () => (this.chance(0.2) ? `\`${this.int(1, 4096)}\`` : this.words(this.int(1, 4)))).join(' | ')} |`);
    }
    return lines.join('\n');
  }
  code(): string {
    const lang = this.pick(['ts', 'python', 'bash', 'json', 'rust', 'go', 'sql', 'yaml', 'diff', 'typescript', 'js', 'cpp']);
    const n = this.int(4, 40);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(this.codeLine(lang, i));
    return `\`\`\`${lang}\n${lines.join('\n')}\n\`\`\``;
  }
  private codeLine(lang: string, i: number): string {
    const id = `${this.pick(WORDS)}${this.pick(['Count', 'Size', 'Url', 'Id', 'Len', 'Value'])}`;
    const n = this.int(0, 9999);
    const ind = ' '.repeat(this.int(0, 2) * 2);
    switch (lang) {
      case 'ts':
      case 'typescript':
      case 'js':
        return this.pick([
          `${ind}const ${id} = await client.${this.pick(WORDS)}(${n}); // ${this.words(3)}`,
          `${ind}if (${id} > ${n}) throw new Error(\`${this.words(3)}: \${${id}}\`);`,
          `${ind}export function ${id}(x: number, opts: { retries?: number } = {}): Promise<string> {`,
          `${ind}for (const item of items.filter((x) => x.${this.pick(WORDS)} !== undefined)) total += item.size;`,
          `${ind}}`,
        ]);
      case 'python':
        return this.pick([
          `${ind}def ${id}(self, value: int = ${n}) -> dict[str, int]:`,
          `${ind}    return {"${this.pick(WORDS)}": value * ${n}}  # ${this.words(3)}`,
          `${ind}async with session.post(url, json={"model": "${this.pick(WORDS)}"}) as resp:`,
          `${ind}${id} = [x for x in range(${n}) if x % ${this.int(2, 7)} == 0]`,
        ]);
      case 'bash':
        return this.pick([
          `vllm serve /models/kimi --tensor-parallel-size 8 --max-model-len ${n} --port 8000`,
          `export ${id.toUpperCase()}=${n}  # ${this.words(3)}`,
          `curl -s http://127.0.0.1:8000/v1/models | jq '.data[0].id'`,
          `for f in logs/*.log; do grep -c "${this.pick(WORDS)}" "$f"; done`,
        ]);
      case 'json':
        return i === 0 ? '{' : `  "${id}": ${this.pick([String(n), `"${this.pick(WORDS)}"`, 'true', 'null'])},`;
      case 'rust':
        return this.pick([
          `${ind}let ${id.toLowerCase()} = tokio::spawn(async move { worker(${n}).await });`,
          `${ind}fn ${id.toLowerCase()}(x: &str) -> Result<usize, Error> { Ok(x.len() + ${n}) }`,
          `${ind}match value { Some(v) if v > ${n} => v, _ => 0 }`,
        ]);
      case 'go':
        return this.pick([`${ind}if err := ${id}(ctx, ${n}); err != nil { return fmt.Errorf("${this.pick(WORDS)}: %w", err) }`, `${ind}func ${id}(ctx context.Context, n int) error {`, `${ind}}`]);
      case 'sql':
        return this.pick([`SELECT ${this.pick(WORDS)}, count(*) FROM requests WHERE latency_ms > ${n} GROUP BY 1;`, `CREATE INDEX idx_${this.pick(WORDS)} ON turns (${this.pick(WORDS)});`]);
      case 'yaml':
        return `${ind}${this.pick(WORDS)}: ${this.pick([String(n), this.pick(WORDS), 'true'])}`;
      case 'diff':
        return `${this.pick(['+', '-', ' '])} ${this.words(this.int(2, 6))}`;
      default:
        return `${ind}int ${id.toLowerCase()} = compute(${n}); // ${this.words(3)}`;
    }
  }
  block(): string {
    const x = this.r();
    if (x < 0.38) return this.paragraph();
    if (x < 0.5) return this.list(false);
    if (x < 0.58) return this.list(true);
    if (x < 0.66) return this.table();
    if (x < 0.9) return this.code();
    if (x < 0.95) return `> ${this.paragraph()}`;
    return `### ${this.words(this.int(2, 5))}`;
  }
}

/** A long answer of about `tokens` tokens (4 characters each). */
export function generateAnswer(tokens: number, seed = 1): string {
  const w = new Writer(seed);
  const target = tokens * CHARS_PER_TOKEN;
  const parts: string[] = [];
  let len = 0;
  let section = 0;
  while (len < target) {
    const part = len === 0 || w.chance(0.1) ? `## ${++section}. ${w.words(w.int(2, 6))}` : w.block();
    parts.push(part);
    len += part.length + 2;
  }
  return `${parts.join('\n\n')}\n`.slice(0, target);
}

/** Thinking text: mostly prose, some lists and short snippets. */
export function generateThinking(tokens: number, seed = 2): string {
  const w = new Writer(seed);
  const target = tokens * CHARS_PER_TOKEN;
  const parts: string[] = [];
  let len = 0;
  while (len < target) {
    const x = w.int(0, 9);
    const part = x < 7 ? w.paragraph() : x < 9 ? w.list(false) : `\`\`\`bash\n${w.words(5)}\n\`\`\``;
    parts.push(part);
    len += part.length + 2;
  }
  return `${parts.join('\n\n')}\n`.slice(0, target);
}
