// `kimi-vllm chat` with no --base-url, --model or --api-key: the documented defaults, seen from the server.
// Port 8000 on this machine may belong to someone else, so the emulator and the real CLI process run together in a
// fresh user + network namespace (`unshare -rn`, its own loopback), where http://127.0.0.1:8000 is ours.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';

const CLI = path.join(repoRoot, 'out/src/cli/chatCommand.js');
const SERVER = path.join(repoRoot, 'out/test/emulator/server.js');

interface NsResult {
  code: number | null;
  stdout: string;
  stderr: string;
  requests: { method: string; path: string; authorization?: string; body: unknown }[];
}

/** Starts the emulator on 127.0.0.1:8000 inside a new namespace, runs the CLI there with `args` and `env`. */
function runInNamespace(emulator: Record<string, unknown>, args: string[], env: Record<string, string>): Promise<NsResult> {
  const program = `
    const { spawn } = require('node:child_process');
    const { startEmulator } = require(${JSON.stringify(SERVER)});
    (async () => {
      const h = await startEmulator({ ...${JSON.stringify(emulator)}, host: '127.0.0.1', port: 8000 });
      const child = spawn(process.execPath, [${JSON.stringify(CLI)}, ...${JSON.stringify(args)}], { env: { PATH: process.env.PATH, ...${JSON.stringify(env)} } });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise((r) => child.on('close', r));
      const requests = h.requests.map((r) => ({ method: r.method, path: r.path, authorization: r.headers.authorization, body: r.body }));
      await h.close();
      process.stdout.write(JSON.stringify({ code, stdout, stderr, requests }));
    })().catch((e) => { console.error(e); process.exit(3); });`;
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" -e "$1"', process.execPath, program], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the namespace run failed (exit ${code}): ${err}${out}`));
      try {
        resolve(JSON.parse(out) as NsResult);
      } catch {
        reject(new Error(`no result from the namespace run: ${err}${out}`));
      }
    });
  });
}

describe('kimi-vllm chat defaults (a real process, in its own network namespace)', function () {
  this.timeout(60_000);

  it('no --base-url → http://127.0.0.1:8000/v1; no --model → the first id of /v1/models; the key from KIMI_API_KEY', async () => {
    const r = await runInNamespace({ servedModelName: 'kimi-k2.5-default-check', apiKey: 'sk-from-env' }, ['--json', 'hello'], { KIMI_API_KEY: 'sk-from-env' });
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout) as { content: string; finishReason: string };
    assert.match(o.content, /^Hello!/);
    assert.equal(o.finishReason, 'stop');
    assert.deepEqual(r.requests.map((q) => `${q.method} ${q.path}`), ['GET /v1/models', 'POST /v1/chat/completions']);
    assert.equal((r.requests[1]!.body as { model: string }).model, 'kimi-k2.5-default-check');
    for (const q of r.requests) assert.equal(q.authorization, 'Bearer sk-from-env');
  });

  it('--api-key wins over KIMI_API_KEY; a wrong key: exit 1 with the server\'s message on stderr', async () => {
    const ok = await runInNamespace({ apiKey: 'right' }, ['--api-key', 'right', 'hello'], { KIMI_API_KEY: 'wrong' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(ok.requests.every((q) => q.authorization === 'Bearer right'));
    const bad = await runInNamespace({ apiKey: 'right' }, ['hello'], { KIMI_API_KEY: 'wrong' });
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /Unauthorized/, 'the server\'s own words');
    assert.match(bad.stderr, /API key/i, 'and what to do about it');
  });
});
