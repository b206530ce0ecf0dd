// `kimi-vllm chat` against the emulator: in-process (runChat with fake io) and as a real process
// (`node out/src/cli/chatCommand.js …`, the module's own runner) in each vLLM-version mode, text and --json.
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import * as path from 'node:path';
import { runChat } from '../../../src/cli/chatCommand';
import { repoRoot } from '../../support/paths';
import { runNode, Sink, spawnEmulator, withEmulator, type Json } from './helpers';

const CLI = path.join(repoRoot, 'out/src/cli/chatCommand.js');

/** A port nothing listens on. */
async function deadUrl(): Promise<string> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

async function chat(argv: string[], opts: { tty?: boolean; env?: Record<string, string> } = {}) {
  const stdout = new Sink(opts.tty);
  const stderr = new Sink();
  const code = await runChat(argv, { stdout, stderr, env: opts.env ?? {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('kimi-vllm chat (in-process)', () => {
  it('plain output: "Thinking:" then "Answer:", no ANSI when stdout is not a TTY; default model from /v1/models', async () => {
    await withEmulator({ servedModelName: 'kimi-k2.5' }, async (h, baseUrl) => {
      const r = await chat(['--base-url', baseUrl, 'Write a python function for fibonacci']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Thinking:\nThe user wants code: .*\n\nAnswer:\nHere is a python implementation:\n\n```python\ndef fibonacci/s);
      assert.ok(r.stdout.endsWith('\n'));
      assert.ok(!r.stdout.includes('\x1b['));
      assert.equal(r.stderr, '');
      const body = h.requests.find((x) => x.path === '/v1/chat/completions')!.body as Json;
      assert.equal(body.model, 'kimi-k2.5');
      assert.equal(body.temperature, 1);
      assert.equal(body.top_p, 0.95);
    });
  });

  it('on a TTY the thinking is dimmed (ANSI 2m … 22m); NO_COLOR turns it off', async () => {
    await withEmulator({}, async (_h, baseUrl) => {
      const r = await chat(['--base-url', baseUrl, 'hello'], { tty: true });
      assert.match(r.stdout, /^\x1b\[2mThinking:\n[^\x1b]+\x1b\[22m\n\nAnswer:\nHello!/);
      const plain = await chat(['--base-url', baseUrl, 'hello'], { tty: true, env: { NO_COLOR: '1' } });
      assert.ok(!plain.stdout.includes('\x1b['));
    });
  });

  it('--instant sends chat_template_kwargs {thinking:false} at 0.6 and prints just the answer', async () => {
    await withEmulator({}, async (h, baseUrl) => {
      const r = await chat(['--base-url', baseUrl, '--instant', 'hello']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Hello!/);
      const body = h.requests.at(-1)!.body as Json;
      assert.deepEqual(body.chat_template_kwargs, { thinking: false });
      assert.equal(body.temperature, 0.6);
    });
  });

  it('--json prints one object: reasoning, content, toolCalls, finishReason, usage', async () => {
    await withEmulator({ vllmVersion: '0.16.0' }, async (_h, baseUrl) => {
      const r = await chat(['--base-url', baseUrl, '--model', '/models/Kimi-K2.5', '--json', 'hello']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').length, 1);
      const o = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(o), ['reasoning', 'content', 'toolCalls', 'finishReason', 'usage']);
      assert.match(o.reasoning, /greet/i);
      assert.match(o.content, /^Hello!/);
      assert.deepEqual(o.toolCalls, []);
      assert.equal(o.finishReason, 'stop');
      assert.deepEqual(Object.keys(o.usage), ['prompt_tokens', 'completion_tokens', 'total_tokens']);
    });
  });

  it('API key from --api-key or KIMI_API_KEY; a missing key fails with the server\'s message', async () => {
    await withEmulator({ apiKey: 'k1' }, async (h, baseUrl) => {
      assert.equal((await chat(['--base-url', baseUrl, '--api-key', 'k1', 'hello'])).code, 0);
      assert.equal((await chat(['--base-url', baseUrl, 'hello'], { env: { KIMI_API_KEY: 'k1' } })).code, 0);
      assert.equal(h.requests.at(-1)!.headers.authorization, 'Bearer k1');
      const bad = await chat(['--base-url', baseUrl, 'hello']);
      assert.equal(bad.code, 1);
      assert.equal(bad.stdout, '');
      assert.match(bad.stderr, /^kimi-vllm: The server needs an API key \(HTTP 401\).*The server said: Unauthorized/);
    });
  });

  it('failures exit 1 with the server\'s message on stderr: no server, context too long, mid-stream error', async () => {
    const dead = await deadUrl();
    const none = await chat(['--base-url', dead, 'hello']);
    assert.equal(none.code, 1);
    assert.equal(none.stderr.split('\n')[0], `kimi-vllm: No server is running at ${dead} (connection refused). Start the server, or check the base URL.`);
    const blocked = await chat(['--base-url', 'http://127.0.0.1:6000/v1', 'hello']);
    assert.match(blocked.stderr, /Port 6000 is one that web clients refuse to connect to/);
    await withEmulator({ maxModelLen: 300 }, async (_h, baseUrl) => {
      const r = await chat(['--base-url', baseUrl, 'word '.repeat(400)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not sent: .* the server's context is 300 tokens \(max_model_len\)/);
      // with an explicit --model and a server that still answers 400 (the pre-check passes, the server counts more)
      const s = await chat(['--base-url', baseUrl, '--model', '/models/Kimi-K2.5', 'x '.repeat(300)]);
      assert.equal(s.code, 1);
      assert.match(s.stderr, /max_model_len 300 tokens.*The server said: This model's maximum context length is 300 tokens/);
    });
    await withEmulator({ script: [{ thinking: 'hmm', answer: 'partial answer here', error: { when: 'midStream', afterChars: 8, message: 'Engine exploded.' } }] }, async (_h, baseUrl) => {
      const r = await chat(['--base-url', baseUrl, 'x']);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^Thinking:\nhmm\n\nAnswer:\n/);
      assert.match(r.stderr, /error while answering: Engine exploded\./);
    });
  });

  it('--workspace with a folder that does not exist is a usage error (exit 2, nothing sent); tool calling itself is tested in test/unit/tools', async () => {
    await withEmulator({}, async (h, baseUrl) => {
      const r = await chat(['--base-url', baseUrl, '--workspace', '/nonexistent/kimi-workspace', 'list files']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--workspace: the workspace folder \/nonexistent\/kimi-workspace does not exist/);
      assert.equal(h.requests.length, 0);
    });
  });

  it('usage errors exit 2: no prompt, two prompts, unknown flag, bad URL', async () => {
    for (const argv of [[], ['a', 'b'], ['--bogus', 'x'], ['--base-url', 'ftp://x', 'hi'], ['--model']]) {
      const r = await chat(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /^kimi-vllm: /);
      assert.match(r.stderr, /Usage: kimi-vllm chat/);
    }
  });
});

describe('kimi-vllm chat (a real process per vLLM mode)', function () {
  this.timeout(60_000);
  const modes: [string, string[]][] = [
    ['0.10.0', ['--vllm-version', '0.10.0']],
    ['0.11.0', ['--vllm-version', '0.11.0']],
    ['0.15.1', ['--vllm-version', '0.15.1']],
    ['0.16.0', ['--vllm-version', '0.16.0']],
    ['0.16.0, no reasoning parser', ['--vllm-version', '0.16.0', '--no-reasoning-parser']],
  ];
  for (const [label, args] of modes) {
    it(`vLLM ${label}: text and --json`, async () => {
      const { child, baseUrl } = await spawnEmulator(args);
      try {
        const text = await runNode(CLI, ['--base-url', baseUrl, 'Compare Go and Rust for a CLI tool']);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^Thinking:\nThe user wants to compare Go and Rust.*\n\nAnswer:\nHere is how \*\*Go\*\* and \*\*Rust\*\* compare:\n\n\| Aspect/s);
        assert.ok(!text.stdout.includes('</think>'));
        const json = await runNode(CLI, ['--base-url', baseUrl, '--json', 'Compare Go and Rust for a CLI tool']);
        assert.equal(json.code, 0, json.stderr);
        const o = JSON.parse(json.stdout);
        assert.match(o.reasoning, /^The user wants to compare Go and Rust/);
        assert.match(o.content, /^Here is how \*\*Go\*\*/);
        assert.equal(o.finishReason, 'stop');
        assert.ok(o.usage.completion_tokens > 0);
        const inst = await runNode(CLI, ['--base-url', baseUrl, '--instant', '--json', 'hello']);
        const oi = JSON.parse(inst.stdout);
        assert.equal(oi.reasoning, '');
        assert.match(oi.content, /^Hello!/);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }

  it('a real process: no server → exit 1 and the reason on stderr; Ctrl+C → partial output, exit 130', async () => {
    const none = await runNode(CLI, ['--base-url', await deadUrl(), 'hello']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /connection refused/);
    const { child, baseUrl } = await spawnEmulator(['--tokens-per-second', '100']);
    try {
      const { spawn } = await import('node:child_process');
      const proc = spawn(process.execPath, [CLI, '--base-url', baseUrl, 'long-answer:2000 go'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stderr.on('data', (d: Buffer) => (err += d));
      await new Promise<void>((resolve) => proc.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('Answer:\n') && out.length > out.indexOf('Answer:\n') + 40) resolve();
      }));
      proc.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
      assert.equal(code, 130);
      assert.match(out, /Answer:\n\S+/);
      assert.match(err, /stopped/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
