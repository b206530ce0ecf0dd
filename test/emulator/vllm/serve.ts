// `vllm serve`: the startup a real vLLM 0.15 API server goes through, with its log lines, in order:
//   banner → non-default args → parser validation → port bound (early, like vLLM) → engine config (device, model,
//   max len, parallel config) → EngineCore + workers → free-memory check → weights (tqdm, 64 shards) →
//   torch.compile → KV cache sizing → CUDA graphs → API server routes → uvicorn startup → `Application startup complete.`
// Failures stop the sequence where vLLM would fail, print vLLM's traceback(s) and exit 1; SIGINT/SIGTERM during
// startup abort like Python's KeyboardInterrupt, while serving they shut down cleanly with uvicorn's lines, exit 0.
import type { ChildProcess } from 'node:child_process';
import { seededRandom } from '../../support/seededRandom';
import type { ActorInfo } from '../ray/protocol';
import { startEmulator, type EmulatorServerHandle } from '../server';
import { REASONING_PARSERS, TOOL_CALL_PARSERS } from './argspec';
import { nonDefaultArgs, type ParsedServe } from './args';
import { serveConfig, type ServeConfig } from './config';
import * as fail from './failures';
import { queryGpus, mibToGiB, type GpuInfo } from './gpus';
import type { Output, Proc } from './logfmt';
import { CONTEXT_GIB, KIMI, estimateMaxModelLen, neededBytes, planKv, requestedGiB, toGiB, weightsPerGpuGiB, type KvPlan } from './memory';
import { resolveModel, tooLongMessage, trustRemoteCodeMessage } from './model';
import { Ema, barLine, completedLine } from './progress';
import { pyFixed, pyFloat, pyRepr, pyRound, pyStr, pyThousands } from './pyrepr';
import type { Settings } from './settings';
import { DpHandshakeServer, DpWorkerLink } from './dpHandshake';
import { driverIp, rayLogLine, RayDriver, specsRepr } from './rayDriver';
import { newWording } from './version';
import { ProcessGroup, type ChildProc } from './workers';

class Interrupted extends Error {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(signal);
  }
}

/** A failure already printed: unwind and exit with this code. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const ROUTES: [string, string][] = [
  ['/openapi.json', 'HEAD, GET'],
  ['/docs', 'HEAD, GET'],
  ['/docs/oauth2-redirect', 'HEAD, GET'],
  ['/redoc', 'HEAD, GET'],
  ['/scale_elastic_ep', 'POST'],
  ['/is_scaling_elastic_ep', 'POST'],
  ['/tokenize', 'POST'],
  ['/detokenize', 'POST'],
  ['/inference/v1/generate', 'POST'],
  ['/pause', 'POST'],
  ['/resume', 'POST'],
  ['/is_paused', 'GET'],
  ['/metrics', 'GET'],
  ['/health', 'GET'],
  ['/load', 'GET'],
  ['/v1/models', 'GET'],
  ['/version', 'GET'],
  ['/v1/responses', 'POST'],
  ['/v1/responses/{response_id}', 'GET'],
  ['/v1/responses/{response_id}/cancel', 'POST'],
  ['/v1/messages', 'POST'],
  ['/v1/chat/completions', 'POST'],
  ['/v1/completions', 'POST'],
  ['/ping', 'GET'],
  ['/ping', 'POST'],
  ['/invocations', 'POST'],
];

interface Worker extends Proc {
  /** `VLLM::Worker_TP0`, or `ray::RayWorkerWrapper` for a Ray actor. */
  title: string;
  /** Physical GPU index on its node. */
  gpu: number | null;
  localRank: number;
  gpuInfo: GpuInfo | null;
  /** A local worker process (mp executor). */
  child?: ChildProcess;
  /** A Ray actor (ray executor), on this node or another. */
  actorId?: string;
}

export class ServeRun {
  private state: 'starting' | 'serving' | 'stopping' = 'starting';
  private readonly api: Proc = { name: 'APIServer', pid: process.pid };
  private readonly group: ProcessGroup;
  private emulator: EmulatorServerHandle | undefined;
  private interrupted: Interrupted | null = null;
  private readonly wakers = new Set<() => void>();
  private readonly cfg: ServeConfig;
  private readonly random: () => number;
  private engines: ChildProc[] = [];
  private workers: Worker[] = [];
  private shutdownDone: Promise<void> | undefined;
  /** A failure detected outside the startup sequence (a Ray node or a remote DP engine died), already printed. */
  private fatal: Exit | null = null;
  private ray: RayDriver | undefined;
  private dpServer: DpHandshakeServer | undefined;
  private dpLink: DpWorkerLink | undefined;

  constructor(
    private readonly parsed: ParsedServe,
    private readonly settings: Settings,
    private readonly out: Output,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.cfg = serveConfig(parsed.values);
    this.group = new ProcessGroup(settings.ignoreSignals);
    // Deterministic jitter: two runs with the same seed print the same numbers.
    this.random = seededRandom(this.cfg.seed ^ 0x9e3779b9);
  }

  // ------------------------------------------------------------------------------------------------------------
  // plumbing

  private installSignals(): void {
    const handler = (sig: 'SIGINT' | 'SIGTERM') => () => {
      if (this.settings.ignoreSignals) return;
      if (this.state === 'starting') {
        this.interrupted ??= new Interrupted(sig);
        for (const w of [...this.wakers]) w();
      } else if (this.state === 'serving') {
        void this.shutdown(0);
      }
    };
    process.on('SIGINT', handler('SIGINT'));
    process.on('SIGTERM', handler('SIGTERM'));
    // A crash of the fake itself must not leave workers behind (a SIGKILL of the server does, on purpose).
    process.on('exit', () => this.group.killNow());
  }

  /** Wait `ms`, unless a signal interrupts the startup. */
  private sleep(ms: number): Promise<void> {
    if (this.interrupted ?? this.fatal) return Promise.reject(this.interrupted ?? this.fatal);
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        reject(this.interrupted ?? this.fatal);
      };
      const timer = setTimeout(() => {
        this.wakers.delete(wake);
        resolve();
      }, ms);
      this.wakers.add(wake);
    });
  }

  private phase(n = 1): Promise<void> {
    return this.sleep(this.settings.phaseMs * n);
  }

  private jitter(base: number, spread = 0.08): number {
    return base * (1 - spread + 2 * spread * this.random());
  }

  private info(proc: Proc, file: string, msg: string): void {
    this.out.info(proc, file, msg);
  }

  /** Print nothing more, release everything, exit. */
  private async exit(code: number): Promise<never> {
    await this.cleanup();
    process.exit(code);
  }

  private async cleanup(): Promise<void> {
    try {
      await this.emulator?.close();
    } catch {
      /* closing a half-started server */
    }
    // The driver's connection ending is how Ray learns to kill its actors (and free their GPUs) on every node.
    this.ray?.close();
    this.dpServer?.close();
    this.dpLink?.close();
    await this.group.stop();
  }

  /** Ends the startup (or the serving) with a failure that was printed already. */
  private die(): void {
    if (this.state === 'serving') {
      this.emulator?.markDead();
      this.out.log(this.api, 'ERROR', 'async_llm.py:480', 'AsyncLLM output_handler failed.\nvllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.');
      setTimeout(() => void this.shutdown(0), this.settings.phaseMs * 4).unref();
      return;
    }
    this.fatal ??= new Exit(1);
    for (const w of [...this.wakers]) w();
  }

  private claim(w: Worker, usedMiB: number): void {
    if (w.actorId) this.ray?.claim(w.actorId, usedMiB);
    else if (w.child) this.group.claim(w as ChildProc, usedMiB);
  }

  // ------------------------------------------------------------------------------------------------------------
  // run

  async run(): Promise<never> {
    this.installSignals();
    try {
      await this.startup();
      this.state = 'serving';
      // Serving: stay alive until a signal (handled in installSignals) or an engine death.
      return await new Promise<never>(() => {});
    } catch (e) {
      if (e instanceof Interrupted) return this.abortStartup(e.signal);
      if (e instanceof Exit) return this.exit(e.code);
      this.out.stderr(this.api, [`Traceback (most recent call last):`, `RuntimeError: fake vllm internal error: ${String((e as Error)?.stack ?? e)}`]);
      return this.exit(1);
    }
  }

  /** KeyboardInterrupt while starting: Python unwinds, the engine processes are shut down, and the process ends by
   *  re-raising SIGINT (CPython's exit for an unhandled KeyboardInterrupt), so the parent sees signal SIGINT. */
  private async abortStartup(signal: 'SIGINT' | 'SIGTERM'): Promise<never> {
    this.state = 'stopping';
    fail.interruptedDuringStartup(this.out, this.api, signal);
    await this.cleanup();
    process.removeAllListeners('SIGINT');
    process.kill(process.pid, 'SIGINT');
    await new Promise((r) => setTimeout(r, 1000).unref());
    process.exit(130);
  }

  /** Clean shutdown from the serving state: vLLM's serve_http cancels uvicorn, then the engine is shut down. */
  private shutdown(code: number): Promise<void> {
    this.shutdownDone ??= (async () => {
      this.state = 'stopping';
      if (this.cfg.headless) {
        this.dpLink?.close();
        await this.group.stop();
        this.info(this.api, 'serve.py:290', 'Shutting down.');
        process.exit(code);
      }
      this.info(this.api, 'launcher.py:110', 'Shutting down FastAPI HTTP server.');
      this.out.uvicorn(this.api, 'Shutting down');
      const closing = this.emulator?.close();
      this.out.uvicorn(this.api, 'Waiting for application shutdown.');
      this.out.uvicorn(this.api, 'Application shutdown complete.');
      await closing;
      this.ray?.close();
      this.dpServer?.close();
      await this.group.stop();
      process.exit(code);
    })();
    return this.shutdownDone;
  }

  // ------------------------------------------------------------------------------------------------------------

  private async startup(): Promise<void> {
    const { cfg, out, api } = this;

    for (const w of this.parsed.warnings) out.warning(null, w.file, w.message);

    // validate_parsed_serve_args (before logging is decorated)
    if (cfg.enableAutoToolChoice && !cfg.toolCallParser) {
      fail.autoToolChoiceWithoutParser(out);
      throw new Exit(1);
    }

    if (cfg.headless) return this.headless();

    // setup_server: banner, non-default args, parser validation, then the socket.
    this.banner();
    await this.phase();
    if (cfg.enableAutoToolChoice && cfg.toolCallParser && !TOOL_CALL_PARSERS.includes(cfg.toolCallParser)) {
      fail.invalidParser(out, api, 'tool call', cfg.toolCallParser, TOOL_CALL_PARSERS);
      throw new Exit(1);
    }
    if (cfg.reasoningParser && !REASONING_PARSERS.includes(cfg.reasoningParser)) {
      fail.invalidParser(out, api, 'reasoning', cfg.reasoningParser, REASONING_PARSERS);
      throw new Exit(1);
    }
    await this.bind();

    // create_engine_config
    const probe = await queryGpus(this.env);
    if (!probe.ok || probe.gpus.length === 0) {
      fail.noDevice(out, api);
      throw new Exit(1);
    }
    const gpus = probe.gpus;
    const source = resolveModel(cfg.model, cfg.downloadDir, this.env);
    if (!source.ok) {
      fail.configValidationError(out, api, 'ModelConfig', source.message, `'model': ${pyStr(cfg.model)}, 'runner': 'auto', ...`);
      throw new Exit(1);
    }
    if (source.kind === 'hub' && source.notice) out.raw(api, 'stderr', source.notice + '\n');
    if (!cfg.trustRemoteCode) {
      fail.configValidationError(
        out,
        api,
        'ModelConfig',
        trustRemoteCodeMessage(cfg.model, source.kind),
        `'model': ${pyStr(cfg.model)}, 'runner': 'auto', ...`,
      );
      throw new Exit(1);
    }
    await this.phase();
    this.info(api, 'model.py:547', `Resolved architecture: ${KIMI.architecture}`);
    const allowLong = ['1', 'true'].includes((this.env.VLLM_ALLOW_LONG_MAX_MODEL_LEN ?? '').toLowerCase());
    if (cfg.maxModelLen !== null && cfg.maxModelLen > KIMI.nativeMaxLen && !allowLong) {
      fail.configValidationError(out, api, 'ModelConfig', tooLongMessage(cfg.maxModelLen, KIMI.nativeMaxLen), `'model': ${pyStr(cfg.model)}, ...`);
      throw new Exit(1);
    }
    const auto = cfg.maxModelLen === -1;
    let maxLen = cfg.maxModelLen === null || auto ? KIMI.nativeMaxLen : cfg.maxModelLen;
    if (!auto) this.info(api, 'model.py:1510', `Using max model len ${maxLen}`);

    const worldSize = cfg.tp * cfg.pp;
    const dpLocal = cfg.dpLocal ?? cfg.dp;
    const needed = worldSize * dpLocal;
    const backend = cfg.distributedExecutorBackend;
    if (backend === null && needed > 1 && gpus.length < needed) {
      fail.configValidationError(
        out,
        api,
        'ParallelConfig',
        `World size (${needed}) is larger than the number of available GPUs (${gpus.length}) in this node. If this is ` +
          "intentional and you are using:\n- ray, set '--distributed-executor-backend ray'.\n- multiprocessing, set '--nnodes' appropriately.",
        `'pipeline_parallel_size': ${cfg.pp}, 'tensor_parallel_size': ${cfg.tp}, ...`,
      );
      throw new Exit(1);
    }
    const batched = cfg.maxNumBatchedTokens ?? 8192;
    this.info(api, 'scheduler.py:226', `Chunked prefill is enabled with max_num_batched_tokens=${batched}.`);
    await this.phase();

    // Multi-node data parallel: the other nodes' engines handshake with this one.
    const dpLocalHere = cfg.dpLocal ?? cfg.dp;
    const remoteRanks = cfg.dp > dpLocalHere ? Array.from({ length: cfg.dp - dpLocalHere }, (_, i) => (cfg.dpStartRank ?? 0) + dpLocalHere + i) : [];
    if (remoteRanks.length > 0) await this.listenForRemoteEngines();

    // The engine core process and its workers.
    const plans = await this.startEngines(maxLen, gpus, source.path);
    if (remoteRanks.length > 0) await this.waitForRemoteEngines(remoteRanks);
    // KV cache sizing happened in startEngines; `auto` takes the longest context that fits.
    if (auto) {
      maxLen = Math.min(KIMI.nativeMaxLen, estimateMaxModelLen(plans));
      this.info(api, 'model.py:1510', `Using max model len ${maxLen}`);
    }
    void maxLen;
    await this.apiServerUp(plans);
  }

  /** The handshake address of the head (--data-parallel-address:--data-parallel-rpc-port). */
  private async listenForRemoteEngines(): Promise<void> {
    const { cfg, out, api } = this;
    const host = cfg.dpAddress ?? '127.0.0.1';
    const port = cfg.dpRpcPort ?? 13345;
    try {
      this.dpServer = await DpHandshakeServer.listen(host, port);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? 'Address already in use' : code === 'EADDRNOTAVAIL' ? 'Cannot assign requested address' : String((e as Error).message);
      fail.apiServerTraceback(out, api, [], `zmq.error.ZMQError: ${why} (addr='tcp://${host.includes(':') ? `[${host}]` : host}:${port}')`);
      throw new Exit(1);
    }
    this.dpServer.onLost((l) => {
      // While serving, a remote engine that goes away takes the engine down; during startup vLLM just keeps waiting.
      if (this.state !== 'serving') return;
      this.out.log(this.engines[0] ?? this.api, 'ERROR', 'core_client.py:566', `Engine core proc EngineCore_DP${l.ranks[0]} on ${l.ip} died unexpectedly, shutting down client.`);
      this.die();
    });
  }

  private async waitForRemoteEngines(ranks: number[]): Promise<void> {
    const { env, out, api } = this;
    const timeoutS = Number(env.VLLM_ENGINE_READY_TIMEOUT_S) > 0 ? Number(env.VLLM_ENGINE_READY_TIMEOUT_S) : 600;
    const debug = (env.VLLM_LOGGING_LEVEL ?? '').toUpperCase() === 'DEBUG';
    const r = await this.dpServer!.waitReady(ranks, timeoutS * 1000, () => this.interrupted !== null || this.fatal !== null, () => {
      if (!debug) return;
      const p = this.dpServer!.pending(ranks);
      if (p.connect) out.log(api, 'DEBUG', 'utils.py:1004', `Waiting for 0 local, ${p.connect} remote core engine proc(s) to connect.`);
      if (p.start) out.log(api, 'DEBUG', 'utils.py:1010', `Waiting for 0 local, ${p.start} remote core engine proc(s) to start.`);
    });
    if (r === 'interrupted') throw this.interrupted ?? this.fatal;
    if (r === 'timeout') {
      fail.apiServerTraceback(out, api, [],
        `TimeoutError: Timed out waiting for engine core processes to start. This is often caused by slow weight loading for large models. Waited ${timeoutS}s (configured by VLLM_ENGINE_READY_TIMEOUT_S). To increase the timeout, set the environment variable: VLLM_ENGINE_READY_TIMEOUT_S=<seconds>`);
      throw new Exit(1);
    }
  }

  private banner(): void {
    const { out, api, cfg, settings } = this;
    const logo =
      '\n' +
      '       █     █     █▄   ▄█\n' +
      ` ▄▄ ▄█ █     █     █ ▀▄▀ █  version ${settings.version}\n` +
      `  █▄█▀ █     █     █     █  model   ${cfg.model}\n` +
      '   ▀▀  ▀▀▀▀▀ ▀▀▀▀▀ ▀     ▀\n';
    const file = newWording(settings.version) ? 'api_utils.py:339' : 'utils.py:253';
    out.info(api, file, logo);
    out.info(api, newWording(settings.version) ? 'api_utils.py:273' : 'utils.py:261', `non-default args: ${pyRepr(nonDefaultArgs(cfg.values))}`);
  }

  /** Bind the port before the engine loads (vLLM does, to avoid races with Ray): connections are refused until the
   *  server is ready. */
  private async bind(): Promise<void> {
    const { cfg, settings } = this;
    const keys = cfg.apiKeys ?? (this.env.VLLM_API_KEY ? [this.env.VLLM_API_KEY] : null);
    try {
      this.emulator = await startEmulator({
        host: cfg.host ?? '0.0.0.0',
        port: cfg.port,
        vllmVersion: settings.version,
        reasoningParser: cfg.reasoningParser !== '',
        toolCallParser: cfg.toolCallParser !== null,
        enableAutoToolChoice: cfg.enableAutoToolChoice,
        model: cfg.model,
        servedModelName: cfg.servedModelNames?.[0] ?? cfg.model,
        maxModelLen: cfg.maxModelLen !== null && cfg.maxModelLen > 0 ? cfg.maxModelLen : KIMI.nativeMaxLen,
        apiKey: keys?.[0],
        ttftMs: settings.ttftMs,
        tokensPerSecond: settings.tokensPerSecond,
        script: settings.script,
        startLoading: true,
        statsIntervalMs: settings.statsIntervalMs,
        log: (line) => this.emulatorLog(line),
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') {
        fail.addressInUse(this.out, this.api);
        throw new Exit(1);
      }
      if (code === 'EADDRNOTAVAIL') {
        fail.apiServerTraceback(this.out, this.api, [], 'OSError: [Errno 99] Cannot assign requested address');
        throw new Exit(1);
      }
      throw e;
    }
  }

  /** Lines from the HTTP emulator: uvicorn's access log (stdout), its errors (stderr), vLLM's stats logger. */
  private emulatorLog(line: string): void {
    if (line.startsWith('Engine ')) {
      if (!this.cfg.disableLogStats) this.info(this.api, 'loggers.py:236', line);
    } else if (line.startsWith('INFO:')) {
      if (!this.cfg.disableUvicornAccessLog) this.out.raw(this.api, 'stdout', line + '\n');
    } else {
      this.out.raw(this.api, 'stderr', line + '\n');
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // engine

  private workerName(dpRank: number, ppRank: number, tpRank: number): string {
    const { cfg } = this;
    const parts: string[] = [];
    if (cfg.dp > 1) parts.push(`DP${dpRank}`);
    if (cfg.pp > 1) parts.push(`PP${ppRank}`);
    if (cfg.tp > 1) parts.push(`TP${tpRank}`);
    if (cfg.enableExpertParallel) parts.push(`EP${ppRank * cfg.tp + tpRank}`);
    return parts.length ? `Worker_${parts.join('_')}` : 'Worker';
  }

  private engineConfigLine(modelPath: string, maxLen: number): string {
    const { cfg } = this;
    const served = cfg.servedModelNames?.[0] ?? cfg.model;
    return (
      `Initializing a V1 LLM engine (v${this.settings.version}) with config: model=${pyStr(modelPath)}, speculative_config=None, ` +
      `tokenizer=${pyStr(modelPath)}, skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, tokenizer_revision=None, ` +
      `trust_remote_code=${cfg.trustRemoteCode ? 'True' : 'False'}, dtype=torch.bfloat16, max_seq_len=${maxLen}, ` +
      `download_dir=${cfg.downloadDir === null ? 'None' : pyStr(cfg.downloadDir)}, load_format=auto, ` +
      `tensor_parallel_size=${cfg.tp}, pipeline_parallel_size=${cfg.pp}, data_parallel_size=${cfg.dp}, ` +
      `disable_custom_all_reduce=False, quantization=${KIMI.quantization}, enforce_eager=${cfg.enforceEager ? 'True' : 'False'}, ` +
      `kv_cache_dtype=${cfg.kvCacheDtype}, device_config=cuda, structured_outputs_config=StructuredOutputsConfig(backend='auto', ` +
      `disable_fallback=False, disable_any_whitespace=False, disable_additional_properties=False, ` +
      `reasoning_parser=${pyStr(cfg.reasoningParser)}, reasoning_parser_plugin='', enable_in_reasoning=False), ` +
      'observability_config=ObservabilityConfig(show_hidden_metrics_for_version=None, otlp_traces_endpoint=None, ' +
      'collect_detailed_traces=None, kv_cache_metrics=False, kv_cache_metrics_sample=0.01), ' +
      `seed=${cfg.seed}, served_model_name=${served}, enable_prefix_caching=${cfg.enablePrefixCaching ? 'True' : 'False'}, ` +
      'enable_chunked_prefill=True, pooler_config=None, ' +
      `compilation_config={'level': None, 'mode': ${cfg.enforceEager ? 0 : 3}, 'debug_dump_path': None, 'cache_dir': '', ` +
      "'backend': 'inductor', 'custom_ops': ['none'], 'splitting_ops': ['vllm::unified_attention', " +
      "'vllm::unified_attention_with_output', 'vllm::unified_mla_attention', 'vllm::sparse_attn_indexer'], " +
      `'use_inductor_graph_partition': False, 'cudagraph_mode': ${cfg.enforceEager ? "<CUDAGraphMode.NONE: 0>" : '<CUDAGraphMode.FULL_AND_PIECEWISE: (2, 1)>'}, ` +
      `'max_cudagraph_capture_size': 512, 'local_cache_dir': None}`
    );
  }

  /** EngineCore + workers up to "init engine … took": returns the KV plan of rank 0. */
  private async startEngines(maxLen: number, gpus: GpuInfo[], modelPath: string): Promise<KvPlan> {
    const { cfg, out, settings } = this;
    const worldSize = cfg.tp * cfg.pp;
    const dpLocal = cfg.dpLocal ?? cfg.dp;
    const startRank = cfg.dpStartRank ?? 0;

    for (let d = 0; d < dpLocal; d++) {
      const name = `EngineCore_DP${startRank + d}`;
      this.engines.push(await this.group.start(name, 'VLLM::EngineCore', null));
    }
    const engine = this.engines[0];
    for (const e of this.engines) this.info(e, 'core.py:93', this.engineConfigLine(modelPath, maxLen));
    if (worldSize > 1) {
      out.warning(engine, 'multiproc_executor.py:869', 'Reducing Torch parallelism from 96 threads to 1 to avoid unnecessary CPU contention. Set OMP_NUM_THREADS in the external environment to tune this value as needed.');
    }
    await this.phase();

    if (cfg.distributedExecutorBackend === 'ray') {
      // Ray: one actor per GPU of the placement group, on whichever nodes Ray packs them; they hold the memory.
      if (!(await this.rayWorkers(engine, gpus))) return this.engineFailed();
    } else {
      // Spawn the workers. Local rank r uses visible GPU r.
      for (let d = 0; d < dpLocal; d++) {
        for (let p = 0; p < cfg.pp; p++) {
          for (let t = 0; t < cfg.tp; t++) {
            const localRank = d * worldSize + p * cfg.tp + t;
            const gpuInfo = gpus[localRank] ?? null;
            const name = this.workerName(startRank + d, p, t);
            const child = await this.group.start(name, `VLLM::${name}`, gpuInfo?.index ?? null);
            this.workers.push({ ...child, localRank, gpuInfo });
          }
        }
      }
    }
    const rank0 = this.workers[0];
    const noDevice = this.workers.filter((w) => !w.gpuInfo);
    if (noDevice.length > 0) {
      for (const w of noDevice) {
        fail.workerFailed(out, w, true, fail.SET_DEVICE_FRAMES,
          'torch.AcceleratorError: CUDA error: invalid device ordinal\n' +
            'CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.\n' +
            'For debugging consider passing CUDA_LAUNCH_BLOCKING=1\n' +
            'Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n');
      }
      fail.engineCoreFailed(out, engine, fail.EXECUTOR_INIT_FRAMES, fail.WORKER_PROC_FAILED);
      return this.engineFailed();
    }

    // init_device: NCCL, then the free-memory snapshot against gpu_memory_utilization × total.
    for (const w of this.workers) this.claim(w, CONTEXT_GIB * 1024);
    this.info(rank0, 'pynccl.py:111', 'vLLM is using nccl==2.27.5');
    for (const w of this.workers) {
      this.info(w, 'parallel_state.py:1411', `rank ${w.localRank} in world size ${worldSize} is assigned as DP rank ${Math.floor(w.localRank / worldSize)}, PP rank ${Math.floor((w.localRank % worldSize) / cfg.tp)}, TP rank ${w.localRank % cfg.tp}, EP rank ${w.localRank % worldSize}`);
    }
    await this.phase();
    const snapshot = await queryGpus(this.env);
    const fresh = snapshot.ok ? snapshot.gpus : gpus;
    const util = cfg.gpuMemoryUtilization;
    const lowOnMemory = this.workers.filter((w) => {
      // vLLM snapshots free memory after its own CUDA context and NCCL are up; our context claims are already
      // written, so nvidia-smi's number is that snapshot.
      // (A Ray actor on another node reported its GPU when it started; this node's nvidia-smi cannot see it.)
      const g = (w.ip === undefined ? fresh.find((x) => x.index === w.gpuInfo!.index) : undefined) ?? w.gpuInfo!;
      w.gpuInfo = g;
      return g.freeMiB < util * g.totalMiB;
    });
    if (lowOnMemory.length > 0) {
      for (const w of lowOnMemory) {
        const g = w.gpuInfo!;
        const free = mibToGiB(g.freeMiB);
        const total = mibToGiB(g.totalMiB);
        const req = requestedGiB(total, util);
        const msg = newWording(settings.version)
          ? `Free memory on device cuda:${w.localRank} (${pyFixed(free, 2)}/${pyFixed(total, 2)} GiB) on startup is less than desired GPU memory utilization (${pyFloat(util)}, ${pyFixed(req, 2)} GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.`
          : `Free memory on device (${pyRound(free, 2)}/${pyRound(total, 2)} GiB) on startup is less than desired GPU memory utilization (${pyFloat(util)}, ${pyRound(req, 2)} GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.`;
        fail.workerFailed(out, w, true, fail.FREE_MEMORY_FRAMES, `ValueError: ${msg}`);
      }
      fail.engineCoreFailed(out, engine, fail.EXECUTOR_INIT_FRAMES, fail.WORKER_PROC_FAILED);
      return this.engineFailed();
    }

    // Weights.
    const totalGiB = mibToGiB(rank0.gpuInfo!.totalMiB);
    const weights = weightsPerGpuGiB(cfg.tp, cfg.pp, cfg.enableExpertParallel ? cfg.dp * cfg.tp : cfg.tp);
    this.info(rank0, 'gpu_model_runner.py:3334', `Starting to load model ${modelPath}...`);
    if (cfg.mmEncoderTpMode === 'data' && cfg.tp > 1) {
      this.info(rank0, 'kimi_k25.py:418', 'Using data parallel for the vision encoder (mm_encoder_tp_mode=data).');
    }
    this.info(rank0, 'cuda.py:351', "Using FLASHMLA attention backend out of potential backends: ['FLASHMLA', 'FLASH_ATTN_MLA', 'FLASHINFER_MLA', 'TRITON_MLA']");
    await this.phase();
    const oomAt = settings.fail === 'oom' ? Math.ceil(KIMI.shards * 0.6) : this.naturalOomShard(totalGiB, weights);
    const loadSecs = await this.loadShards(rank0, weights, oomAt, totalGiB);
    for (const w of this.workers) {
      const weightSecs = loadSecs + this.jitter(0.4, 0.5);
      this.info(w, 'default_loader.py:314', `Loading weights took ${pyFixed(weightSecs, 2)} seconds`);
    }
    for (const w of this.workers) {
      const modelSecs = loadSecs + this.jitter(2.6, 0.2);
      this.info(w, 'gpu_model_runner.py:3416', `Model loading took ${pyFixed(weights, 2)} GiB memory and ${pyFixed(modelSecs, 2)} seconds`);
      this.claim(w, (CONTEXT_GIB + weights) * 1024);
    }
    await this.phase();

    // torch.compile and the profile run.
    let compileSecs = 0;
    if (!cfg.enforceEager) {
      const dynamo = this.jitter(14.5);
      const graph = this.jitter(41.9);
      compileSecs = dynamo + graph;
      this.info(rank0, 'backends.py:631', "Using cache directory: /root/.cache/vllm/torch_compile_cache/5f3c9a1e2b/rank_0_0/backbone for vLLM's torch.compile");
      this.info(rank0, 'backends.py:647', `Dynamo bytecode transform time: ${pyFixed(dynamo, 2)} s`);
      await this.phase();
      this.info(rank0, 'backends.py:261', `Cache the graph of compile range (1, ${cfg.maxNumBatchedTokens ?? 8192}) for later use`);
      this.info(rank0, 'backends.py:278', `Compiling a graph for compile range (1, ${cfg.maxNumBatchedTokens ?? 8192}) takes ${pyFixed(graph, 2)} s`);
      this.info(rank0, 'monitor.py:34', `torch.compile takes ${pyFixed(compileSecs, 2)} s in total`);
      await this.phase();
    }
    if (settings.fail === 'engine-init') {
      for (const w of this.workers) fail.workerFailed(out, w, false, fail.COMPILE_FRAMES, fail.NO_C_COMPILER);
      fail.engineCoreFailed(
        out,
        engine,
        fail.PROFILE_RPC_FRAMES,
        "RuntimeError: Worker failed with error 'Failed to find C compiler. Please specify via CC environment variable or set triton.knobs.build.impl.', please check the stack trace above for the root cause",
      );
      return this.engineFailed();
    }
    const profileSecs = this.jitter(3.2);
    this.info(rank0, 'gpu_model_runner.py:4057', `Encoder cache will be initialized with a budget of ${cfg.maxNumBatchedTokens ?? 8192} tokens, and profiled with 1 image items of the maximum feature size.`);
    await this.phase();

    // KV cache.
    const plan = planKv({
      totalGiB,
      utilization: util,
      tp: cfg.tp,
      pp: cfg.pp,
      ep: cfg.enableExpertParallel ? cfg.dp * cfg.tp : cfg.tp,
      kvCacheDtype: cfg.kvCacheDtype,
      blockSize: cfg.blockSize,
      kvCacheMemoryBytes: cfg.kvCacheMemoryBytes,
      kvGiBOverride: settings.kvGiB,
      fail: settings.fail,
    });
    for (const w of this.workers) this.info(w, 'gpu_worker.py:359', `Available KV cache memory: ${pyFixed(toGiB(plan.kvBytes), 2)} GiB`);
    const models = newWording(settings.version) ? "model's" : "models's";
    if (plan.kvBytes <= 0) {
      fail.engineCoreFailed(out, engine, fail.KV_CHECK_FRAMES.map((f) => (f.func === 'check_enough_kv_cache_memory' ? { ...f, line: 686 } : f)),
        'ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.' +
          (newWording(settings.version) ? ' See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.' : ''));
      return this.engineFailed();
    }
    const checkLen = maxLen === -1 ? KIMI.nativeMaxLen : maxLen;
    if (cfg.maxModelLen !== -1 && neededBytes(plan, checkLen) > plan.kvBytes) {
      const estimate = estimateMaxModelLen(plan);
      const estimateMsg = estimate > 0 ? `Based on the available memory, the estimated maximum model length is ${estimate}. ` : '';
      fail.engineCoreFailed(
        out,
        engine,
        fail.KV_CHECK_FRAMES,
        `ValueError: To serve at least one request with the ${models} max seq len (${checkLen}), ` +
          `(${pyFixed(toGiB(neededBytes(plan, checkLen)), 2)} GiB KV cache is needed, which is larger than the available KV cache memory ` +
          `(${pyFixed(toGiB(plan.kvBytes), 2)} GiB). ${estimateMsg}Try increasing \`gpu_memory_utilization\` or decreasing \`max_model_len\` when initializing the engine.` +
          (newWording(settings.version) ? ' See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.' : ''),
      );
      return this.engineFailed();
    }
    const effectiveLen = cfg.maxModelLen === -1 ? Math.min(KIMI.nativeMaxLen, estimateMaxModelLen(plan)) : checkLen;
    for (const e of this.engines) {
      this.info(e, 'kv_cache_utils.py:1291', `GPU KV cache size: ${pyThousands(plan.tokens)} tokens`);
      this.info(e, 'kv_cache_utils.py:1296', `Maximum concurrency for ${pyThousands(effectiveLen)} tokens per request: ${pyFixed(plan.tokens / effectiveLen, 2)}x`);
    }
    for (const w of this.workers) this.claim(w, util * w.gpuInfo!.totalMiB);
    await this.phase();

    // CUDA graphs.
    let graphSecs = 0;
    if (!cfg.enforceEager) {
      graphSecs += await this.captureBar(rank0, 'Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)', 51);
      graphSecs += await this.captureBar(rank0, 'Capturing CUDA graphs (decode, FULL)', 35);
      this.info(rank0, 'gpu_model_runner.py:4244', `Graph capturing finished in ${Math.round(graphSecs)} secs, took 1.21 GiB`);
    }
    const initSecs = compileSecs + profileSecs + graphSecs + this.jitter(4.1);
    for (const e of this.engines) this.info(e, 'core.py:259', `init engine (profile, create kv cache, warmup model) took ${pyFixed(initSecs, 2)} seconds`);
    await this.phase();
    this.watchEngine();
    return plan;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Ray (--distributed-executor-backend ray)

  private rayLog(proc: Proc, level: 'INFO' | 'WARNING', where: string, message: string): void {
    this.out.raw(proc, 'stderr', `${rayLogLine(level, where, message)}\n`);
  }

  /** ray.init, the placement group, the actors. false: a failure was printed. */
  private async rayWorkers(engine: ChildProc, localGpus: GpuInfo[]): Promise<boolean> {
    const { cfg, out, env } = this;
    const world = cfg.tp * cfg.pp;
    const ip = driverIp(env);
    const rayFrames = [
      ...fail.EXECUTOR_INIT_FRAMES.slice(0, 4),
      { file: '/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/ray_executor.py', line: 97, func: '_init_executor', code: 'initialize_ray_cluster(self.parallel_config)' },
      { file: '/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/ray_utils.py', line: 418, func: 'initialize_ray_cluster', code: '_wait_until_pg_ready(current_placement_group)' },
    ];
    if (world > localGpus.length) {
      out.warning(engine, 'ray_utils.py:331', `Tensor parallel size (${world}) exceeds available GPUs (${localGpus.length}). This may result in Ray placement group allocation failures. Consider reducing tensor_parallel_size to ${localGpus.length} or less, or ensure your Ray cluster has ${world} GPUs available.`);
    }
    const address = RayDriver.discover(env);
    let driver: RayDriver | null = null;
    if (address) {
      this.rayLog(engine, 'INFO', 'worker.py:1636', `Connecting to existing Ray cluster at address: ${address}...`);
      driver = await RayDriver.connect(address);
      if (!driver) {
        fail.engineCoreFailed(out, engine, rayFrames.slice(0, 5), `ConnectionError: Failed to connect to GCS at address ${address} within 5 seconds.`);
        return false;
      }
      this.rayLog(engine, 'INFO', 'worker.py:1812', 'Connected to Ray cluster. View the dashboard at 127.0.0.1:8265 ');
    } else {
      this.rayLog(engine, 'INFO', 'worker.py:1951', 'Started a local Ray instance.');
    }
    this.info(engine, 'ray_utils.py:364', 'No current placement group found. Creating a new placement group.');
    const clusterGpus = driver ? (await driver.view()).nodes.filter((n) => n.alive).reduce((n, x) => n + x.gpus.length, 0) : localGpus.length;
    if (world > clusterGpus) {
      out.warning(engine, 'ray_utils.py:377', 'The number of required GPUs exceeds the total number of available GPUs in the placement group.');
    }
    const specs = specsRepr(world, ip);
    const timeoutS = Number(env.KIMI_FAKE_VLLM_PG_TIMEOUT_S) > 0 ? Number(env.KIMI_FAKE_VLLM_PG_TIMEOUT_S) : 1800;
    const started = Date.now();
    const tryPlace = async () => (driver ? driver.placementGroup(world, ip) : world <= localGpus.length ? [] : null);
    let placements = await tryPlace();
    let interval = 10;
    while (!placements && Date.now() - started < timeoutS * 1000) {
      const until = Math.min(started + timeoutS * 1000, Date.now() + interval * 1000);
      while (!placements && Date.now() < until) {
        await this.sleep(Math.min(250, Math.max(1, until - Date.now())));
        placements = await tryPlace();
      }
      if (placements) break;
      interval *= 2;
      this.info(engine, 'ray_utils.py:246',
        `Waiting for creating a placement group of specs for ${Math.floor((Date.now() - started) / 1000)} seconds. specs=${specs}. Check \`ray status\` and \`ray list nodes\` to see if you have enough resources, and make sure the IP addresses used by ray cluster are the same as VLLM_HOST_IP environment variable specified in each node if you are running on a multi-node.`);
    }
    if (!placements) {
      fail.engineCoreFailed(out, engine, [...rayFrames, { file: '/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/ray_utils.py', line: 278, func: '_wait_until_pg_ready', code: 'raise ValueError(' }],
        `ValueError: Cannot provide a placement group requiring ${world} GPUs (placement_group_specs=${specs}) within ${timeoutS} seconds.\n` +
          'Tensor parallel size may exceed available GPUs in your cluster. Check resources with `ray status` and `ray list nodes`.\n' +
          'If running on K8s with limited GPUs, consider reducing --tensor-parallel-size to match available GPU resources.');
      return false;
    }
    if (!driver) {
      // A local instance: the actors are processes on this node.
      for (let r = 0; r < world; r++) {
        const gpuInfo = localGpus[r] ?? null;
        const child = await this.group.start('RayWorkerWrapper', 'ray::RayWorkerWrapper', gpuInfo?.index ?? null);
        this.workers.push({ ...child, localRank: r, gpuInfo });
      }
      return true;
    }
    this.ray = driver;
    driver.onEvent((e) => this.onRayEvent(engine, e.kind === 'node-died' ? e.actors[0] : e.actor, e.kind === 'node-died' ? e.nodeId : null));
    const actors = await driver.actors(placements);
    if (typeof actors === 'string') {
      fail.engineCoreFailed(out, engine, rayFrames.slice(0, 5), `ray.exceptions.RaySystemError: System error: ${actors}`);
      return false;
    }
    const nodeIds = [...new Set(actors.map((a) => a.nodeId))];
    const ips = [...new Set([...actors.map((a) => a.hostIp), ip])];
    if (nodeIds.length !== ips.length) {
      fail.engineCoreFailed(out, engine, rayFrames.slice(0, 5),
        `RuntimeError: Every node should have a unique IP address. Got ${nodeIds.length} nodes with node ids [${nodeIds.map((n) => `'${n}'`).join(', ')}] and ${ips.length} unique IP addresses {${ips.map((x) => `'${x}'`).join(', ')}}. ` +
          'Please check your network configuration. If you set `VLLM_HOST_IP` environment variable, make sure it is unique for each node.');
      return false;
    }
    actors.forEach((a, r) => {
      this.workers.push({
        name: 'RayWorkerWrapper',
        title: 'ray::RayWorkerWrapper',
        pid: a.pid,
        ...(a.ip !== ip ? { ip: a.ip } : {}),
        gpu: a.gpuIndex,
        localRank: r,
        gpuInfo: { index: a.gpu.index, totalMiB: a.gpu.totalMiB, freeMiB: a.gpu.freeMiB },
        actorId: a.actorId,
      });
    });
    return true;
  }

  /** A Ray actor died (its node with it, or alone): vLLM's engine cannot go on. */
  private onRayEvent(engine: ChildProc, actor: ActorInfo | undefined, deadNode: string | null): void {
    if (this.state === 'stopping' || this.fatal) return;
    const lines = [
      'ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.',
      '\tclass_name: RayWorkerWrapper',
      `\tactor_id: ${actor?.actorId ?? '?'}`,
      `\tpid: ${actor?.pid ?? '?'}`,
      `\tip: ${actor?.ip ?? '?'}`,
      deadNode ? `The actor is dead because its node has died. Node Id: ${deadNode}` : 'The actor is dead because its worker process has died.',
    ].join('\n');
    if (this.state === 'serving') {
      this.out.log(engine, 'ERROR', 'core.py:905', `EngineCore encountered a fatal error.\n${lines}`);
    } else {
      fail.engineCoreFailed(this.out, engine, [
        ...fail.EXECUTOR_INIT_FRAMES.slice(0, 4),
        { file: '/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/ray_executor.py', line: 403, func: '_run_workers', code: 'ray_worker_outputs = ray.get(ray_worker_outputs)' },
        { file: '/usr/local/lib/python3.12/dist-packages/ray/_private/worker.py', line: 2961, func: 'get', code: 'values, debugger_breakpoint = worker.get_objects(object_refs, timeout=timeout)' },
      ], lines);
      fail.engineInitFailed(this.out, this.api);
    }
    this.die();
  }

  /** Weights that do not fit the GPU run out of memory partway through the shards. */
  private naturalOomShard(totalGiB: number, weights: number): number | null {
    const room = totalGiB - CONTEXT_GIB;
    if (weights <= room) return null;
    return Math.max(1, Math.floor((room / weights) * KIMI.shards));
  }

  /** The tqdm shard bar of rank 0 (stderr). Returns the simulated load time in seconds. */
  private async loadShards(rank0: Worker, weights: number, oomAt: number | null, totalGiB: number): Promise<number> {
    const { out, settings } = this;
    const desc = 'Loading safetensors checkpoint shards';
    const total = KIMI.shards;
    const emit = (text: string) => out.raw(rank0, 'stderr', `\r${text}\n`);
    emit(completedLine(desc, 0, total, 0, null));
    const ema = new Ema();
    let elapsed = 0;
    let rate: number | null = null;
    const started = Date.now();
    for (let n = 1; n <= total; n++) {
      const before = Date.now();
      await this.sleep(settings.shardMs);
      const dt = settings.realTimes ? (Date.now() - before) / 1000 : this.jitter(6.44, 0.12);
      elapsed = settings.realTimes ? (Date.now() - started) / 1000 : elapsed + dt;
      if (oomAt !== null && n === oomAt) {
        this.oom(rank0, weights, n, totalGiB);
        return this.engineFailed();
      }
      rate = ema.update(dt);
      emit(completedLine(desc, n, total, elapsed, rate));
      if (n % 8 === 0) for (const w of this.workers) this.claim(w, (CONTEXT_GIB + (weights * n) / total) * 1024);
    }
    emit(completedLine(desc, total, total, elapsed, elapsed / total));
    out.raw(rank0, 'stderr', '\n');
    return elapsed;
  }

  private oom(rank0: Worker, weights: number, shard: number, totalGiB: number): void {
    const { out } = this;
    const free = 0.94;
    const inUse = totalGiB - free - 0.2;
    const allocated = Math.min(inUse - 1.01, CONTEXT_GIB + (weights * shard) / KIMI.shards + 8);
    const message =
      `torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.75 GiB. GPU ${rank0.localRank} has a total capacity of ${pyFixed(totalGiB, 2)} GiB ` +
      `of which ${pyFixed(free, 2)} GiB is free. Including non-PyTorch memory, this process has ${pyFixed(inUse, 2)} GiB memory in use. ` +
      `Of the allocated memory ${pyFixed(allocated, 2)} GiB is allocated by PyTorch, and 1.01 GiB is reserved by PyTorch but unallocated. ` +
      'If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  ' +
      'See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)';
    fail.workerFailed(out, rank0, true, fail.LOAD_WEIGHTS_FRAMES, message);
    fail.engineCoreFailed(out, this.engines[0], fail.EXECUTOR_INIT_FRAMES, fail.WORKER_PROC_FAILED);
  }

  /** A default tqdm bar refreshed in place with "\r". Returns simulated seconds. */
  private async captureBar(rank0: Worker, desc: string, total: number): Promise<number> {
    const perIt = this.jitter(0.12, 0.2);
    let text = '\r' + barLine(desc, 0, total, 0, null);
    const steps = [Math.ceil(total / 4), Math.ceil(total / 2), Math.ceil((3 * total) / 4), total];
    for (const n of steps) {
      await this.phase(0.25);
      text += '\r' + barLine(desc, n, total, n * perIt, perIt);
    }
    this.out.raw(rank0, 'stderr', text + '\n');
    return total * perIt;
  }

  /** Tear the engine down after a printed engine failure and let the API server report it. */
  private engineFailed(): never {
    fail.engineInitFailed(this.out, this.api);
    throw new Exit(1);
  }

  /** While serving, a worker or engine process that dies takes the engine down (EngineDeadError → /health 503),
   *  and vLLM then stops the API server. */
  private watchEngine(): void {
    for (const p of [...this.engines, ...this.workers]) {
      p.child?.once('exit', () => {
        if (this.state !== 'serving') return;
        const engine = this.engines[0];
        this.out.log(engine, 'ERROR', 'multiproc_executor.py:154', `Worker proc ${p.title} died unexpectedly, shutting down executor.`);
        this.emulator?.markDead();
        this.out.log(this.api, 'ERROR', 'async_llm.py:480', 'AsyncLLM output_handler failed.\nvllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.');
        setTimeout(() => void this.shutdown(0), this.settings.phaseMs * 4).unref();
      });
    }
  }

  // ------------------------------------------------------------------------------------------------------------

  private async apiServerUp(plan: KvPlan): Promise<void> {
    const { api, cfg, out, settings } = this;
    this.info(api, 'loggers.py:208', `Engine 000: vllm cache_config_info with initialization after num_gpu_blocks is: ${plan.numBlocks}`);
    this.info(api, 'api_server.py:1639', "Supported_tasks: ['generate']");
    out.warning(api, 'model.py:1681', "Default sampling parameters have been overridden by the model's Hugging Face generation config recommended from the model creator. If this is not intended, please relaunch vLLM instance with `--generation-config vllm`.");
    this.info(api, 'serving_responses.py:120', "Using default chat sampling params from model: {'temperature': 1.0, 'top_p': 0.95}");
    this.info(api, 'serving_chat.py:137', "Using default chat sampling params from model: {'temperature': 1.0, 'top_p': 0.95}");
    if (cfg.enableAutoToolChoice) {
      this.info(api, 'serving_chat.py:160', '"auto" tool choice has been enabled, please note that while the parallel_tool_calls client option is preset for compatibility reasons, it will be ignored.');
    }
    await this.phase();
    const host = cfg.host ?? '';
    const hostPart = host.includes(':') ? `[${host}]` : host || '0.0.0.0';
    const address = `http://${hostPart}:${this.emulator!.port}`;
    if (newWording(settings.version)) this.info(api, 'api_server.py:573', `Starting vLLM server on ${address}`);
    else this.info(api, 'api_server.py:1971', `Starting vLLM API server 0 on ${address}`);
    this.info(api, 'launcher.py:38', 'Available routes are:');
    for (const [route, methods] of ROUTES) this.info(api, 'launcher.py:46', `Route: ${route}, Methods: ${methods}`);
    out.uvicorn(api, `Started server process [${process.pid}]`);
    out.uvicorn(api, 'Waiting for application startup.');
    await this.phase(0.2);
    // The ready marker and the first 200 on /health go together.
    this.emulator!.markReady();
    out.uvicorn(api, 'Application startup complete.');
  }

  /** `--headless` (multi-node data parallel, secondary node): engines only, no API server. */
  private async headless(): Promise<void> {
    const { cfg } = this;
    const probe = await queryGpus(this.env);
    if (!probe.ok || probe.gpus.length === 0) {
      fail.noDevice(this.out, this.api);
      throw new Exit(1);
    }
    const dpLocal = cfg.dpLocal ?? cfg.dp;
    const address = cfg.dpAddress ?? '127.0.0.1';
    const port = cfg.dpRpcPort ?? 13345;
    this.info(this.api, 'serve.py:245', `Launching ${dpLocal} data parallel engine(s) in headless mode, with head node address tcp://${address.includes(':') ? `[${address}]` : address}:${port}.`);
    const start = cfg.dpStartRank ?? 0;
    const ranks = Array.from({ length: dpLocal }, (_, i) => start + i);
    // The engines handshake with the head first (waiting quietly for it), then load the model, then say READY.
    this.dpLink = (await DpWorkerLink.connect(address, port, ranks, driverIp(this.env), () => this.interrupted !== null)) ?? undefined;
    if (!this.dpLink) throw this.interrupted ?? new Exit(1);
    const source = resolveModel(cfg.model, cfg.downloadDir, this.env);
    const maxLen = cfg.maxModelLen !== null && cfg.maxModelLen > 0 ? cfg.maxModelLen : KIMI.nativeMaxLen;
    await this.startEngines(maxLen, probe.gpus, source.ok ? source.path : cfg.model);
    for (const r of ranks) this.dpLink.ready(r);
  }
}

export function runServe(parsed: ParsedServe, settings: Settings, out: Output, env: NodeJS.ProcessEnv): Promise<never> {
  return new ServeRun(parsed, settings, out, env).run();
}
