// The server lifecycle over SSH inside a real VS Code extension host: a real OpenSSH server in its own network
// namespace (test/support/sshHost.ts) is the "GPU host", with the fake vllm/nvidia-smi/modelscope on its PATH. The
// profile reaches the extension through the user settings (kimi.servers) like any other, and names the ssh config
// file the test wrote (sshConfigFile: Host alias, key, port) — the extension's own ssh client does the rest.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DownloadState, LifecycleState } from '../../src/core/server/lifecycleTypes';
import { profileSlug, stateDirFor } from '../../src/core/server/remoteScripts';
import type { KimiApi } from '../../src/extension';
import { statusBarModel } from '../../src/vscode/server/presentation';
import { startSshHost, type SshHost } from '../support/sshHost';
import { api, cfg, freePort } from './extensionKit';

const repoRoot = process.env.KIMI_REPO_ROOT ?? path.resolve(__dirname, '../../..');
const fakeBin = path.join(repoRoot, 'test', 'emulator', 'bin');

/** Exists and is not a zombie (the host shares this machine's process table; only its network is separate). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The status bar's text for the extension's current state (what the StatusBar item renders). */
function statusBarText(a: KimiApi): string {
  return statusBarModel({ managed: a.server.state, download: a.server.download, endpoint: a.services.status.current, externalEndpoint: false }).text.replace(/^\$\([\w~-]+\) /, '');
}

describe('server lifecycle over SSH in the extension (real sshd in a network namespace)', function () {
  this.timeout(180_000);
  let host: SshHost;
  let tmp: string;
  let seq = 0;
  const used: string[] = [];

  before(async () => {
    host = await startSshHost({ name: 'vscode', binDirs: [fakeBin] });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-int-ssh-'));
    fs.mkdirSync(path.join(host.home, 'models', 'Kimi-K2.5'), { recursive: true });
  });

  afterEach(async () => {
    const a = await api();
    if (a.server.state.kind !== 'stopped' && a.server.state.kind !== 'failed') await a.server.stop().catch(() => undefined);
    await cfg().update('servers', undefined, vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', undefined, vscode.ConfigurationTarget.Global);
    await waitFor(() => a.server.runningProfile.name === 'This machine', 'the default profile again');
  });

  after(async () => {
    await host?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    for (const name of used) for (const dir of [stateDirFor(name), `${stateDirFor(name)}-download`]) fs.rmSync(dir.replace(/^~/, os.homedir()), { recursive: true, force: true });
  });

  /** An SSH profile in kimi.servers (user settings), made active; resolves once the extension follows it. */
  async function useSshProfile(extra: Record<string, unknown> = {}, fakeEnv: Record<string, string> = {}): Promise<string> {
    const name = `ssh-${process.pid}-${++seq}`;
    used.push(name);
    const gpus = path.join(tmp, `gpus-${seq}`);
    fs.mkdirSync(gpus);
    const profile = {
      name,
      host: host.alias,
      sshConfigFile: host.configFile,
      port: await freePort(),
      modelDir: '~/models/Kimi-K2.5',
      servedModelName: 'Kimi-K2.5',
      env: { KIMI_FAKE_GPUS: '8', KIMI_FAKE_GPU_DIR: gpus, KIMI_FAKE_VLLM_SHARD_MS: '2', KIMI_FAKE_VLLM_PHASE_MS: '5', ...fakeEnv },
      ...extra,
    };
    await cfg().update('servers', [profile], vscode.ConfigurationTarget.Global);
    await cfg().update('activeServer', name, vscode.ConfigurationTarget.Global);
    const a = await api();
    await waitFor(() => a.server.runningProfile.name === name && a.server.runningProfile.host === profile.host, `the service to follow profile ${name}`);
    return name;
  }

  it('Kimi: Start Server → ready through the tunnel (status bar, status check, /v1/models, a chat) → Kimi: Stop Server → the server on the host is gone', async () => {
    const a = await api();
    const name = await useSshProfile();
    const remotePort = a.server.runningProfile.port;
    const seen: string[] = [];
    const sub = a.server.onDidChange((s) => seen.push(s.kind === 'starting' ? `starting:${s.phase}` : s.kind));
    const result = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
    sub.dispose();
    assert.ok(result.kind === 'ready', JSON.stringify(result).slice(0, 600));
    assert.equal(result.profile, name);
    assert.equal(result.host, host.alias);
    assert.equal(result.modelId, 'Kimi-K2.5');
    assert.match(result.gpus ?? '', /^8× NVIDIA H200/);
    for (const p of ['preflight', 'starting:loadingWeights', 'ready']) assert.ok(seen.includes(p), `${p} in ${seen.join(' ')}`);

    // What the chat uses: the local end of the tunnel, reachable here; the server itself only inside the host.
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/v1$/.exec(result.baseUrl);
    assert.ok(m, result.baseUrl);
    assert.equal(a.server.currentBaseUrl(), result.baseUrl);
    if (host.mode === 'netns' && Number(m[1]) !== remotePort) {
      await assert.rejects(fetch(`http://127.0.0.1:${remotePort}/v1/models`, { signal: AbortSignal.timeout(3000) }), 'the server port is not open on this machine');
    }
    const models = await fetch(`${result.baseUrl}/models`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(models.status, 200);
    const body = (await models.json()) as { data: { id: string; max_model_len?: number }[] };
    assert.equal(body.data[0]?.id, 'Kimi-K2.5');
    const chat = await fetch(`${result.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'Kimi-K2.5', messages: [{ role: 'user', content: 'hello' }], max_tokens: 64, chat_template_kwargs: { thinking: false } }),
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(chat.status, 200);
    assert.ok(((await chat.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content);

    assert.ok(a.server.terminal.lineCount > 20, `the server terminal shows the log streamed from the host (${a.server.terminal.lineCount} lines)`);
    const view = await a.services.status.check();
    assert.equal(view.state, 'ready', JSON.stringify(view));
    assert.equal(view.baseUrl, result.baseUrl);
    assert.match(statusBarText(a), /^Kimi: ready · Kimi-K2\.5 · 8× H200$/);

    const pid = result.pid;
    assert.ok(alive(pid), 'the server runs on the host');
    const pidFile = path.join(host.home, '.kimi-vllm', profileSlug(name), 'server.pid');
    assert.ok(fs.existsSync(pidFile), 'its pid file is in the per-profile state dir on the host');

    const stopped = (await vscode.commands.executeCommand('kimi.stopServer')) as LifecycleState;
    assert.equal(stopped.kind, 'stopped');
    await waitFor(() => !alive(pid), 'the server process to be gone on the host', 5000);
    assert.ok(!fs.existsSync(pidFile), 'the pid file is gone');
    await assert.rejects(fetch(`${result.baseUrl}/models`, { signal: AbortSignal.timeout(3000) }), 'the tunnel is closed');
    assert.equal(a.server.currentBaseUrl(), a.services.config.settings['endpoint.baseUrl']);
    assert.equal(statusBarText(a), 'Kimi: stopped');
  });

  it('Kimi: Download Model onto the SSH host: the progress notification and the status bar show bytes and files until done; Cancel stops it', async () => {
    const a = await api();
    await useSshProfile({ modelDir: '', downloadDir: '~/dl' }, { KIMI_FAKE_MODELSCOPE_BYTES_PER_SEC: '20000000000' });
    const w = vscode.window as unknown as Record<string, unknown>;
    const original = { showQuickPick: w.showQuickPick, showInputBox: w.showInputBox, withProgress: w.withProgress, showInformationMessage: w.showInformationMessage };
    let globs = 'model-0000[1-3]-* *.json';
    let token = new vscode.CancellationTokenSource();
    let progress: string[] = [];
    const bar: string[] = [];
    const messages: string[] = [];
    // A person's answers: "Only files matching…" and the patterns; the notification recorded, its Cancel at hand.
    w.showQuickPick = (items: { scope?: string }[]) => Promise.resolve(items.find((i) => i.scope === 'include'));
    w.showInputBox = () => Promise.resolve(globs);
    w.withProgress = (_o: unknown, task: (p: { report(v: { message?: string }): void }, t: vscode.CancellationToken) => unknown) =>
      task({ report: (v) => v.message && progress.push(v.message) }, token.token);
    w.showInformationMessage = (msg: string) => {
      messages.push(msg);
      return Promise.resolve(undefined);
    };
    const sub = a.server.onDidChangeDownload(() => bar.push(statusBarText(a)));
    try {
      const end = (await vscode.commands.executeCommand('kimi.downloadModel')) as DownloadState;
      assert.equal(end.kind, 'done', JSON.stringify(end));
      assert.ok(progress.some((p) => /^Checking ModelScope and the disk space on gpu-test-/.test(p)), JSON.stringify(progress.slice(0, 3)));
      assert.ok(progress.some((p) => /^[\d.]+ [kMG]?B of [\d.]+ GB · \d\/8 files/.test(p)), JSON.stringify(progress.slice(-3)));
      assert.ok(bar.some((t) => /^Kimi: downloading \d+%$/.test(t)), JSON.stringify(bar.slice(-3)));
      assert.ok(messages.some((m) => /is downloaded into ~\/dl\/moonshotai\/Kimi-K2\.5 on gpu-test-/.test(m)), JSON.stringify(messages));
      const dir = path.join(host.home, 'dl', 'moonshotai', 'Kimi-K2.5');
      assert.ok(fs.existsSync(path.join(dir, 'model-00003-of-000064.safetensors')) && fs.existsSync(path.join(dir, 'config.json')), 'the files are on the host');

      // Again with other shards, and Cancel pressed once bytes move: it stops on the host, the partial files stay.
      globs = 'model-0000[4-6]-*';
      token = new vscode.CancellationTokenSource();
      progress = [];
      const cancelOnBytes = a.server.onDidChangeDownload((d) => d.kind === 'downloading' && d.bytes.done > 0 && token.cancel());
      const cancelled = (await vscode.commands.executeCommand('kimi.downloadModel')) as DownloadState;
      cancelOnBytes.dispose();
      assert.equal(cancelled.kind, 'cancelled', JSON.stringify(cancelled));
      assert.ok(messages.some((m) => /the download was cancelled\. The files already on disk stay/.test(m)), JSON.stringify(messages));
      const temp = path.join(dir, '._____temp');
      assert.ok(fs.existsSync(temp) && fs.readdirSync(temp).length > 0, 'partial files kept on the host for a resume');
      assert.ok(!fs.existsSync(path.join(host.home, '.kimi-vllm', `${profileSlug(a.server.runningProfile.name)}-download`, 'server.pid')), 'no download left recorded as running');
      assert.equal(statusBarText(a), 'Kimi: stopped');
    } finally {
      sub.dispose();
      Object.assign(w, original);
    }
  });

  it('an unknown host and a refused key fail within seconds with a clear error, never a prompt', async () => {
    const a = await api();
    const errors: string[] = [];
    const original = vscode.window.showErrorMessage;
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = (m: string) => {
      errors.push(m);
      return Promise.resolve(undefined);
    };
    try {
      await useSshProfile({ host: 'no-such-host.invalid' });
      let t = Date.now();
      const unknown = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
      assert.ok(unknown.kind === 'failed', JSON.stringify(unknown).slice(0, 400));
      assert.ok(Date.now() - t < 15_000, `took ${Date.now() - t} ms`);
      assert.match(unknown.diagnosis.title, /Cannot reach no-such-host\.invalid over SSH/);
      assert.match(unknown.diagnosis.explanation, /does not resolve|Could not resolve|Cannot find host/);

      const key = path.join(tmp, 'other_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const config = path.join(tmp, 'refused_ssh_config');
      fs.writeFileSync(config, fs.readFileSync(host.configFile, 'utf8').replace(/IdentityFile .*/, `IdentityFile ${key}`));
      await useSshProfile({ sshConfigFile: config });
      t = Date.now();
      const refused = (await vscode.commands.executeCommand('kimi.startServer')) as LifecycleState;
      assert.ok(refused.kind === 'failed', JSON.stringify(refused).slice(0, 400));
      assert.ok(Date.now() - t < 15_000, `took ${Date.now() - t} ms`);
      assert.match(refused.diagnosis.explanation, /refused the login.*BatchMode/s);
      await waitFor(() => errors.some((e) => /refused the login/.test(e)), 'the refused key shown as an error notification');
      assert.ok(errors.some((e) => /^Kimi: Cannot reach no-such-host\.invalid over SSH\./.test(e)), JSON.stringify(errors));
      assert.match(statusBarText(a), /^Kimi: failed: Cannot reach gpu-test-/);
    } finally {
      (vscode.window as { showErrorMessage: unknown }).showErrorMessage = original;
    }
  });
});
