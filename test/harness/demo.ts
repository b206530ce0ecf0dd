// `npm run demo`: the fake `vllm serve` (the project's emulator behind vLLM's real startup log) and a VS Code
// (code-server) with the extension loaded and pointed at it. Prints the URL to open; Ctrl+C stops everything.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { FakeVllm } from '../emulator/vllm/spawnFake';
import { buildPayloadUrl } from './browser';
import { createTempWorkspace, freePort, REPO_ROOT, removeTempWorkspace, startCodeServer } from './codeServer';

/** The preferred port when it is free, else any free port (all on 127.0.0.1). */
async function portPreferring(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const s = net.createServer().once('error', () => resolve(false)).listen(preferred, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

async function main(): Promise<void> {
  const demoDir = path.join(REPO_ROOT, '.demo');
  fs.mkdirSync(demoDir, { recursive: true });
  const vllmPort = await portPreferring(8000);
  const logFile = path.join(demoDir, 'vllm.log');
  const log = fs.createWriteStream(logFile);

  console.log(`Starting the fake "vllm serve" of Kimi-K2.5 on 127.0.0.1:${vllmPort} (log: ${path.relative(process.cwd(), logFile)}) …`);
  const modelDir = path.join(demoDir, 'models', 'Kimi-K2.5'); // the fake needs the directory, not 595 GB of weights
  fs.mkdirSync(modelDir, { recursive: true });
  const vllm = new FakeVllm(
    ['serve', modelDir, '--host', '127.0.0.1', '--port', String(vllmPort), '-tp', '8', '--mm-encoder-tp-mode', 'data',
      '--trust-remote-code', '--tool-call-parser', 'kimi_k2', '--reasoning-parser', 'kimi_k2', '--enable-auto-tool-choice',
      '--served-model-name', 'Kimi-K2.5'],
    { env: { KIMI_FAKE_VLLM_SHARD_MS: '150', KIMI_FAKE_VLLM_PHASE_MS: '400', KIMI_FAKE_VLLM_TPS: '60', KIMI_FAKE_VLLM_TTFT_MS: '300', KIMI_FAKE_GPU_DIR: path.join(demoDir, 'gpus') } },
  );
  vllm.child.stdout?.pipe(log); // stdout and stderr arrive merged, in order

  const workspace = createTempWorkspace();
  console.log('Starting VS Code (code-server) with the extension …');
  const server = await startCodeServer({
    workspace,
    extensionDevelopmentPath: REPO_ROOT,
    settings: { 'kimi.endpoint.baseUrl': `http://127.0.0.1:${vllmPort}/v1`, 'kimi.status.pollSeconds': 2 },
  });
  const url = buildPayloadUrl(server, { folder: workspace, extensionDevelopmentPath: REPO_ROOT });

  console.log(`
Open this URL in a browser on this machine (or forward port ${server.port} first):

  ${url}

The status bar shows "Kimi: starting…" while the fake server loads its 64 shards, then "Kimi: ready · Kimi-K2.5".
Also try: the Kimi icon in the activity bar, and "Kimi:" in the command palette (F1).
The vLLM emulator alone: npm run emulator -- --port 8000.   Press Ctrl+C to stop.`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping …');
    await server.stop();
    vllm.signal('SIGINT'); // vLLM's clean shutdown, then make sure no worker is left
    await vllm.exit(15_000).catch(() => undefined);
    await vllm.dispose();
    removeTempWorkspace(workspace);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  vllm.exited.then((e) => {
    if (!stopping) console.error(`The fake vllm exited (${e.code ?? e.signal}); see ${logFile}`);
  });
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
