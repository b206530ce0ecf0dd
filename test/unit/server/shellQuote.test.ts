import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalShell } from '../../../src/core/server/ssh';
import { ShellQuoteError, envAssignment, exportLine, join, quote, quotePath } from '../../../src/core/server/shellQuote';
import { hostile, sentinels, tempDir } from './kit';

/** Runs `printf '%s\0' <words>` in a real /bin/sh and returns the words it received. */
async function roundTrip(words: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const r = await new LocalShell({ env }).exec(`printf '%s\\0' ${words}`, { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
  const parts = r.stdout.split('\0');
  assert.equal(parts.pop(), '');
  return parts;
}

describe('shellQuote', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = tempDir('quote');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('leaves plain words bare and single-quotes everything else', () => {
    assert.equal(quote('kimi_k2'), 'kimi_k2');
    assert.equal(quote('--max-model-len'), '--max-model-len');
    assert.equal(quote('/models/Kimi-K2.5'), '/models/Kimi-K2.5');
    assert.equal(quote(''), "''");
    assert.equal(quote('a b'), "'a b'");
    assert.equal(quote("it's"), "'it'\\''s'");
    assert.equal(quote('A=B'), "'A=B'", '= is quoted: a bare A=B first word would be an assignment');
    assert.equal(quote('~/x'), "'~/x'", 'quote() never expands a tilde');
    assert.throws(() => quote('a\0b'), ShellQuoteError);
  });

  it('every byte 1..127 and non-ASCII text survive a real sh unchanged', async () => {
    const all = Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1)).join('');
    const words = [all, "'", "''", '\\', '"', '$(echo no)', '`echo no`', '\n', ' ', '-n', '-e', 'ü 模型 ✓ 🙂', '', '*', '~', '~/x', '$HOME', '!'];
    assert.deepEqual(await roundTrip(join(words)), words);
  });

  it('hostile values never execute in a real sh', async () => {
    const sent = path.join(dir, 'sentinels');
    fs.mkdirSync(sent);
    const words = Array.from({ length: 5 }, (_, i) => hostile(sent, `w${i}`));
    assert.deepEqual(await roundTrip(join(words)), words);
    assert.deepEqual(sentinels(sent), []);
  });

  it('quotePath expands a leading ~ to the home of the shell that runs it, and nothing else', async () => {
    const home = path.join(dir, 'home with space');
    const env = { ...process.env, HOME: home };
    assert.equal(quotePath('~'), '"$HOME"');
    assert.equal(quotePath('~/models/a b'), `"$HOME"/'models/a b'`);
    assert.equal(quotePath('/abs/~/x'), "'/abs/~/x'");
    const input = ['~', '~/', '~/models/moonshotai/Kimi-K2.5', "~/it's $(no)", '~user/x', 'a~/b', '/abs'];
    const got = await roundTrip(input.map(quotePath).join(' '), env);
    assert.deepEqual(got, [home, `${home}/`, `${home}/models/moonshotai/Kimi-K2.5`, `${home}/it's $(no)`, '~user/x', 'a~/b', '/abs']);
    assert.deepEqual(await roundTrip(join(['~/a', 'b'], { expandTilde: true }), env), [`${home}/a`, 'b']);
  });

  it('renders environment assignments, refusing names a shell cannot take', async () => {
    assert.equal(envAssignment('VLLM_USE_MODELSCOPE', 'true'), 'VLLM_USE_MODELSCOPE=true');
    assert.throws(() => envAssignment('A B', 'x'), ShellQuoteError);
    assert.throws(() => envAssignment('1A', 'x'), ShellQuoteError);
    assert.throws(() => envAssignment('A;touch x', 'x'), ShellQuoteError);
    assert.equal(exportLine({}), '');
    const sent = path.join(dir, 'env-sentinels');
    fs.mkdirSync(sent);
    const value = hostile(sent, 'env');
    const r = await new LocalShell().exec(`${exportLine({ KV_A: value, KV_B: '' })}\nprintf '%s\\0' "$KV_A" "$KV_B"`);
    assert.deepEqual(r.stdout.split('\0').slice(0, 2), [value, '']);
    assert.deepEqual(sentinels(sent), []);
  });
});
