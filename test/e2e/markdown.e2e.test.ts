// The webview's streaming markdown renderer (src/webview/markdown) in real Chromium, under the webview's CSP:
// GFM rendering, the code block shape the chat UI relies on, incremental growth (final blocks untouched, an open
// fence growing in place), and the same DOM as a one-shot render whatever the chunking.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openMarkdownPage, type MarkdownPage } from '../harness/markdownPage';
import { generateAnswer, generateThinking } from '../support/markdownDoc';
import type { CodeSnapshot, MarkdownTestGlobal, Snapshot, StreamOptions } from '../support/markdownTestApi';
import { repoRoot } from '../support/paths';
import { XSS_PAYLOADS } from '../support/xssCorpus';

/** What test/browser/markdownTestPage.mts puts on window (used inside page.evaluate callbacks). */
type G = MarkdownTestGlobal;

const SAMPLE = `# Deploying Kimi-K2.5

You need **8 GPUs** and the *kimi_k2* parsers; see the [vLLM docs](https://docs.vllm.ai/en/latest/) or mail
<ops@example.com>. Inline \`code\` and ~~struck~~ text.

## Steps

1. Download the weights
2. Start the server:
   \`\`\`bash
   vllm serve moonshotai/Kimi-K2.5 -tp 8
   \`\`\`
3. Check \`/health\`

- [x] tensor parallel
- [ ] expert parallel
  - nested item

| flag | value | note |
|:-----|:-----:|-----:|
| \`-tp\` | 8 | GPUs |
| \`--max-model-len\` | 262144 | tokens |

> A quote with a [link](https://example.com/q "title").

\`\`\`ts
export function add(a: number, b: number): number {
  return a + b; // sum
}
\`\`\`

\`\`\`
no language here
\`\`\`

\`\`\`unknownlang
plain <b>text</b>
\`\`\`

---

Setext heading
==============

![diagram](https://example.com/d.png "Diagram")
`;

/** Shapes the segmenter has to get right: every one must stream to the same DOM as its one-shot render. */
const EDGE_CASES = [
  'no trailing newline',
  '# heading without newline',
  '```ts\nconst unclosed = true;',
  '```ts\nclosed at the very end\n```',
  'para\n```\ncode right after a paragraph\n```\nand text right after the fence',
  '````md\n```ts\ninner fence\n```\n````\nafter',
  '~~~\ntilde fence\n~~~~\n',
  '  ```\n  indented fence\n  ```\n',
  '- a\n\n- b loose\n\n  continued\n\nnot in the list',
  '1. one\n   ```py\n   x = 1\n\n   y = 2\n   ```\n2. two\n\n3. three',
  'Title\n---\n\nTitle 2\n===',
  '> quote\nlazy continuation\n\n> second quote',
  '| a | b |\n|---|---|\n| 1 | 2 |\ntext after table\n\n| c |\n|---|\n| 3 |',
  '[ref]: https://example.com/ref\n\nUses [the ref][ref] and [later][later].\n\n[later]: https://example.com/later\n\n[again][later]',
  'Line one\r\nLine two\r\n\r\n```js\r\nlet crlf = 1;\r\n```\r\n',
  'Emoji 🎉 split across chunks 👩‍💻 and CJK 中文\n\n```\n🎉\n```',
  '#not a heading\n#\n# \n###### six\n####### seven',
  '<details>\n<summary>More</summary>\n\nhidden **text**\n\n</details>',
  '\n\n\nleading blank lines\n\n\n',
  '```\n```\n```\n',
  'text\n\n    indented code\n\n    more\n\nend',
  '* star list\n+ plus list\n- dash list',
  'a  \nhard break and a\\\nbackslash break',
  '```python\ndef f():\n    return 1\n```\n\n```\n',
];

describe('markdown renderer in Chromium (webview CSP)', function () {
  let p: MarkdownPage;

  before(async function () {
    this.timeout(120_000);
    p = await openMarkdownPage({ entry: 'test/browser/markdownTestPage.mts' });
  });

  after(async function () {
    this.timeout(30_000);
    await p?.close();
  });

  afterEach(async function () {
    await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.clear());
  });

  /** Nothing left the page, nothing ran, the CSP saw nothing to block. */
  async function assertPageClean(): Promise<void> {
    const state = await p.pageState();
    assert.deepEqual(state.violations, [], 'CSP violations');
    assert.deepEqual(state.xss, [], 'sentinel calls');
    assert.deepEqual(p.blockedRequests, [], 'requests that left the page');
    assert.deepEqual(p.pageErrors, [], 'page errors');
    assert.deepEqual(p.consoleErrors, [], 'console errors');
  }

  it('renders GFM: headings, emphasis, inline code, links, lists, task lists, tables, blockquotes, rules', async function () {
    this.timeout(60_000);
    const r = await p.page.evaluate((t) => (globalThis as unknown as G).kimiMd.oneShot(t, true), SAMPLE);
    assert.deepEqual(r.problems, []);
    assert.equal(await p.page.locator('#app > .markdown > .md-chunk').count(), 1, 'a short message is one chunk');
    const app = p.page.locator('#app > .markdown > .md-chunk');
    assert.deepEqual(await app.locator('> h1').allTextContents(), ['Deploying Kimi-K2.5', 'Setext heading']);
    assert.deepEqual(await app.locator('> h2').allTextContents(), ['Steps']);
    assert.equal(await app.locator('strong').first().textContent(), '8 GPUs');
    assert.equal(await app.locator('em').first().textContent(), 'kimi_k2');
    assert.equal(await app.locator('del').textContent(), 'struck');
    assert.equal(await app.locator('p > code').first().textContent(), 'code');
    // lists: ordered with a nested fence, task list, nested bullet
    assert.equal(await app.locator('> ol > li').count(), 3);
    assert.equal(await app.locator('> ol > li .code-block[data-lang="bash"] code').textContent(), 'vllm serve moonshotai/Kimi-K2.5 -tp 8');
    const tasks = await app.locator('> ul').first().locator('> li').allTextContents();
    assert.ok(tasks[0]?.startsWith('\u2611'), `checked task shown as ☑: ${tasks[0]}`);
    assert.ok(tasks[1]?.startsWith('\u2610'), `open task shown as ☐: ${tasks[1]}`);
    assert.equal(await app.locator('> ul li > ul > li').textContent(), 'nested item');
    // table with alignment
    const table = app.locator('> table');
    assert.deepEqual(await table.locator('thead th').allTextContents(), ['flag', 'value', 'note']);
    assert.equal(await table.locator('tbody tr').count(), 2);
    assert.deepEqual(await table.locator('thead th').evaluateAll((ths) => ths.map((th) => th.getAttribute('align'))), ['left', 'center', 'right']);
    // blockquote, rule
    assert.equal(await app.locator('> blockquote a').getAttribute('title'), 'title');
    assert.equal(await app.locator('> hr').count(), 1);
    await assertPageClean();
  });

  it('keeps http/https/mailto links (with rel="noopener noreferrer"), turns images into links, loads nothing', async function () {
    this.timeout(60_000);
    const text = [
      '[docs](https://docs.vllm.ai/) [plain](http://example.com/a?b=1#c) [mail](mailto:a@example.com) <https://auto.example.com/x>',
      '[rel](relative/path.md) [anchor](#top) [ftp](ftp://example.com/f) [js](javascript:alert(1)) [file](file:///etc/passwd)',
      '![an image](https://example.com/i.png) ![data](data:image/png;base64,iVBORw0KGgo=)',
      'www.example.org is linked too',
    ].join('\n\n');
    await p.page.evaluate((t) => (globalThis as unknown as G).kimiMd.oneShot(t, true), text);
    const links = await p.page.locator('#app a').evaluateAll((as) => as.map((a) => ({ text: a.textContent, href: a.getAttribute('href'), rel: a.getAttribute('rel') })));
    const byText = new Map(links.map((l) => [l.text, l]));
    const kept: [string, string][] = [
      ['docs', 'https://docs.vllm.ai/'],
      ['plain', 'http://example.com/a?b=1#c'],
      ['mail', 'mailto:a@example.com'],
      ['https://auto.example.com/x', 'https://auto.example.com/x'],
      ['an image', 'https://example.com/i.png'],
      ['www.example.org', 'http://www.example.org/'],
    ];
    for (const [t, href] of kept) {
      assert.deepEqual(byText.get(t), { text: t, href, rel: 'noopener noreferrer' }, t);
    }
    for (const t of ['rel', 'anchor', 'ftp', 'js', 'file', 'data']) {
      assert.deepEqual(byText.get(t), { text: t, href: null, rel: null }, `${t} keeps its text but loses its href`);
    }
    assert.equal(await p.page.locator('#app img').count(), 0);
    await assertPageClean();
  });

  it('shows raw HTML as text, keeping only bare formatting tags', async function () {
    this.timeout(60_000);
    const text = '| a | b |\n|---|---|\n| one<br>two | <kbd>Ctrl</kbd>+<kbd>C</kbd> |\n\nH<sub>2</sub>O and <span class="x">span</span> and <b onclick="x()">b</b>';
    const r = await p.page.evaluate((t) => (globalThis as unknown as G).kimiMd.oneShot(t, true), text);
    assert.deepEqual(r.problems, []);
    assert.equal(await p.page.locator('#app td br').count(), 1);
    assert.equal(await p.page.locator('#app kbd').count(), 2);
    assert.equal(await p.page.locator('#app sub').textContent(), '2');
    const para = await p.page.locator('#app p').last().textContent();
    // the closing </b> is a bare tag, so it is kept (and, unmatched, dropped by the parser)
    assert.equal(para, 'H2O and <span class="x">span</span> and <b onclick="x()">b');
    await assertPageClean();
  });

  it('renders code blocks as the design doc says: div.code-block[data-lang] > div.code-actions > buttons; pre > code.hljs.language-X', async function () {
    this.timeout(60_000);
    await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.start());
    const s = await p.page.evaluate((t) => (globalThis as unknown as G).kimiMd.step(t), SAMPLE);
    assert.ok(s.frames >= 1);
    const f = await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.finishSession());
    const ts = f.codes.find((c) => c.lang === 'ts');
    assert.ok(ts, 'the ts block');
    assert.equal(ts.structure, 'div.code-actions>button,button pre>code');
    assert.deepEqual(ts.buttons, ['copy', 'insert']);
    assert.equal(ts.codeClass, 'hljs language-ts');
    assert.ok(ts.spans >= 5, `highlighted: ${ts.spans} spans`);
    assert.equal(ts.text, 'export function add(a: number, b: number): number {\n  return a + b; // sum\n}');
    const none = f.codes.find((c) => c.text === 'no language here');
    assert.deepEqual({ lang: none?.lang, cls: none?.codeClass, spans: none?.spans }, { lang: '', cls: 'hljs', spans: 0 });
    const unknown = f.codes.find((c) => c.lang === 'unknownlang');
    assert.deepEqual({ cls: unknown?.codeClass, spans: unknown?.spans, text: unknown?.text }, { cls: 'hljs language-unknownlang', spans: 0, text: 'plain <b>text</b>' });
    assert.equal(f.codes.length, 4);
    for (const c of f.codes) assert.deepEqual(c.buttons, ['copy', 'insert']);
    const labels = await p.page.locator('#app .code-actions').first().locator('button').allTextContents();
    assert.deepEqual(labels, ['Copy', 'Insert at Cursor']);
    assert.equal(f.html, f.oneShot);
    await assertPageClean();
  });

  it('streams an open code fence by appending to the same <code>; finished blocks are never re-rendered; highlights when the fence closes', async function () {
    this.timeout(60_000);
    const step = (t: string, runFrame = true): Promise<Snapshot> => p.page.evaluate(([x, f]) => (globalThis as unknown as G).kimiMd.step(x, f), [t, runFrame] as const);
    await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.start());

    const s1 = await step('## Plan\n\nFirst a paragraph.\n\n```python\ndef handler(event):\n');
    assert.deepEqual(s1.problems, []);
    assert.deepEqual(s1.children.map((c) => c.tag), ['h2', 'p', 'div']);
    const [h2, para] = s1.children;
    assert.equal(s1.codes.length, 1);
    const open = s1.codes[0] as CodeSnapshot;
    assert.equal(open.lang, 'python');
    assert.equal(open.codeClass, 'hljs language-python');
    assert.deepEqual(open.buttons, ['copy', 'insert'], 'buttons while streaming');
    assert.equal(open.text, 'def handler(event):\n', 'the code so far is shown');
    assert.equal(open.spans, 0, 'not highlighted while open');

    const s2 = await step('    return {"ok": True}\nx = [1,');
    assert.equal(s2.codes[0]?.id, open.id, 'the same <code> element grows');
    assert.equal(s2.codes[0]?.text, 'def handler(event):\n    return {"ok": True}\nx = [1,', 'complete lines and the partial one');
    assert.deepEqual(s2.children.slice(0, 2), [h2, para], 'final blocks are untouched');

    const s3 = await step(' 2]\n``');
    assert.equal(s3.codes[0]?.id, open.id);
    assert.equal(s3.codes[0]?.text, 'def handler(event):\n    return {"ok": True}\nx = [1, 2]\n``');

    const s4 = await step('`\n\nAfter the code.');
    assert.deepEqual(s4.children.map((c) => c.tag), ['h2', 'p', 'div', 'p']);
    assert.deepEqual(s4.children.slice(0, 2), [h2, para], 'final blocks are untouched');
    const closed = s4.codes[0] as CodeSnapshot;
    assert.equal(closed.text, 'def handler(event):\n    return {"ok": True}\nx = [1, 2]');
    assert.ok(closed.spans > 0, 'highlighted once the fence closed');
    const codeBlock = s4.children[2];

    const s5 = await step(' More text.\n\n- a list');
    assert.deepEqual(s5.children.slice(0, 3), [h2, para, codeBlock], 'the closed code block is final too');
    assert.equal(s5.codes[0]?.id, closed.id);

    const nothing = await step(' item', false);
    assert.equal(nothing.frames, 0);
    assert.ok(!nothing.html.includes('a list item'), 'nothing renders before the frame');

    const f = await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.finishSession());
    assert.equal(f.text, '## Plan\n\nFirst a paragraph.\n\n```python\ndef handler(event):\n    return {"ok": True}\nx = [1, 2]\n```\n\nAfter the code. More text.\n\n- a list item');
    assert.ok(f.html.includes('<li>a list item</li>'), 'finish() renders synchronously');
    assert.deepEqual(f.children.slice(0, 3), [h2, para, codeBlock]);
    assert.equal(f.html, f.oneShot, 'the same DOM as renderMarkdown()');
    assert.equal(f.appendAfterFinish, 'StreamingMarkdown: append() after finish()');
    await assertPageClean();
  });

  it('finish() highlights a fence that never closed', async function () {
    this.timeout(60_000);
    await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.start());
    const s = await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.step('Code:\n\n```ts\nconst x: number = 1;\nlet y = "s"'));
    assert.equal(s.codes[0]?.spans, 0);
    assert.equal(s.codes[0]?.text, 'const x: number = 1;\nlet y = "s"');
    const f = await p.page.evaluate(() => (globalThis as unknown as G).kimiMd.finishSession());
    assert.ok((f.codes[0]?.spans ?? 0) >= 3, 'highlighted by finish()');
    assert.equal(f.codes[0]?.text, 'const x: number = 1;\nlet y = "s"');
    assert.equal(f.html, f.oneShot);
  });

  it('asks for at most one frame per animation frame however many deltas arrive', async function () {
    this.timeout(60_000);
    const chunks = Array.from({ length: 200 }, (_, i) => `word${i} `);
    const r = await p.page.evaluate((c) => (globalThis as unknown as G).kimiMd.schedulerCalls(c), chunks);
    assert.deepEqual({ first: r.first, second: r.second }, { first: 1, second: 1 });
    assert.equal(r.html, r.oneShot);
  });

  describe('streaming equals the one-shot render for random chunkings', function () {
    const corpus = XSS_PAYLOADS.map((x) => x.text).join('\n\n');
    const docs: { name: string; text: string; runs: { maxChunk: number; frameChance: number; scheduler: 'manual' | 'raf' }[] }[] = [
      { name: 'the GFM sample', text: SAMPLE, runs: grid([1, 3, 16, 80, 1000], [0.05, 0.5, 1]) },
      ...EDGE_CASES.map((text, i) => ({ name: `edge case ${i + 1}: ${JSON.stringify(text.slice(0, 40))}`, text, runs: grid([1, 2, 5, 13], [0.3, 1]) })),
      { name: 'the XSS corpus in one message', text: corpus, runs: grid([1, 7, 64, 500], [0.1, 1]) },
      { name: 'a generated answer (12,000 tokens)', text: generateAnswer(12_000, 7), runs: grid([24, 96, 700], [0.2, 1]) },
      { name: 'generated thinking (3,000 tokens)', text: generateThinking(3_000, 8), runs: grid([5, 96], [0.5]) },
    ];

    function grid(maxChunks: number[], chances: number[]): { maxChunk: number; frameChance: number; scheduler: 'manual' | 'raf' }[] {
      const out: { maxChunk: number; frameChance: number; scheduler: 'manual' | 'raf' }[] = [];
      for (const maxChunk of maxChunks) for (const frameChance of chances) out.push({ maxChunk, frameChance, scheduler: 'manual' });
      out.push({ maxChunk: maxChunks[maxChunks.length - 1] as number, frameChance: 0, scheduler: 'raf' });
      return out;
    }

    for (const doc of docs) {
      it(doc.name, async function () {
        this.timeout(180_000);
        const expected = await p.page.evaluate((t) => (globalThis as unknown as G).kimiMd.oneShot(t), doc.text);
        assert.deepEqual(expected.problems, []);
        let seed = 1000;
        for (const run of doc.runs) {
          for (let k = 0; k < 3; k++) {
            seed++;
            const opts: StreamOptions = { seed, maxChunk: run.maxChunk, scheduler: run.scheduler, frameChance: run.frameChance, audit: doc.text.length < 20_000 };
            const got = await p.page.evaluate(([t, o]) => (globalThis as unknown as G).kimiMd.stream(t, o), [doc.text, opts] as const);
            assert.deepEqual(got.problems, [], `audit (seed ${seed})`);
            if (got.html !== expected.html) {
              const at = [...got.html].findIndex((ch, i) => ch !== expected.html[i]);
              assert.fail(`seed ${seed}, chunks up to ${run.maxChunk} (${got.chunks} chunks, ${got.frames} frames): streamed DOM differs at ${at}:\n  streamed: ${JSON.stringify(got.html.slice(Math.max(0, at - 80), at + 80))}\n  one-shot: ${JSON.stringify(expected.html.slice(Math.max(0, at - 80), at + 80))}`);
            }
          }
        }
        await assertPageClean();
      });
    }
  });

  it('media/markdown.css applies under the CSP (screenshot in test-results/)', async function () {
    this.timeout(60_000);
    await p.page.evaluate((t) => (globalThis as unknown as G).kimiMd.oneShot(t, true), SAMPLE);
    const position = await p.page.locator('#app .code-actions').first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { position: string } }).getComputedStyle(el).position);
    assert.equal(position, 'absolute');
    const dir = path.join(repoRoot, 'test-results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'markdown-render.png');
    await p.page.locator('#app').screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 10_000);
    await assertPageClean();
  });
});
