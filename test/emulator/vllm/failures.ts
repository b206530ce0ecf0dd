// The tracebacks a failing `vllm serve` (0.15, V1 engine, mp executor) prints, process by process:
//   Worker_TPn   ERROR … [multiproc_executor.py] WorkerProc failed to start. + traceback   (logger.exception, stdout)
//   EngineCore   ERROR … [core.py] EngineCore failed to start. + traceback                  (logger.exception, stdout)
//                Process EngineCore_DP0: + traceback                                          (multiprocessing, stderr)
//   APIServer    Traceback … RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}
// Frames and line numbers are modelled on real 0.15-era reports; they are there so that output looks and parses like
// the real thing, not to be exact to the line.
import type { Output, Proc } from './logfmt';
import { PYLIB, SITE, apiServerEntryFrames, renderTraceback, vllmFile, type Frame } from './traceback';
import { pyStr } from './pyrepr';

export const ENGINE_INIT_FAILED = 'RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}';

// ---------------------------------------------------------------------------------------------------------------
// API server (the `vllm serve` process itself)

const RUN_SERVER_SETUP: Frame = {
  file: vllmFile('entrypoints/openai/api_server.py'),
  line: 1398,
  func: 'run_server',
  code: 'listen_address, sock = setup_server(args)',
  under: 'setup_server(args)',
};

const RUN_SERVER_WORKER: Frame[] = [
  {
    file: vllmFile('entrypoints/openai/api_server.py'),
    line: 1399,
    func: 'run_server',
    code: 'await run_server_worker(listen_address, sock, args, **uvicorn_kwargs)',
  },
  { file: vllmFile('entrypoints/openai/api_server.py'), line: 1417, func: 'run_server_worker', code: 'async with build_async_engine_client(' },
  { file: `${PYLIB}/contextlib.py`, line: 210, func: '__aenter__', code: 'return await anext(self.gen)', under: 'await anext(self.gen)' },
  {
    file: vllmFile('entrypoints/openai/api_server.py'),
    line: 172,
    func: 'build_async_engine_client',
    code: 'async with build_async_engine_client_from_engine_args(',
  },
  { file: `${PYLIB}/contextlib.py`, line: 210, func: '__aenter__', code: 'return await anext(self.gen)', under: 'await anext(self.gen)' },
];

const CREATE_ENGINE_CONFIG: Frame[] = [
  {
    file: vllmFile('entrypoints/openai/api_server.py'),
    line: 198,
    func: 'build_async_engine_client_from_engine_args',
    code: 'vllm_config = engine_args.create_engine_config(usage_context=usage_context)',
    under: 'engine_args.create_engine_config(usage_context=usage_context)',
  },
];

const PYDANTIC_INIT: Frame = {
  file: `${SITE}/pydantic/_internal/_dataclasses.py`,
  line: 121,
  func: '__init__',
  code: 's.__pydantic_validator__.validate_python(ArgsKwargs(args, kwargs), self_instance=s)',
};

export function apiServerTraceback(out: Output, api: Proc, tail: Frame[], exception: string): void {
  out.stderr(api, renderTraceback([...apiServerEntryFrames(), ...tail], exception));
}

/** `--enable-auto-tool-choice` without `--tool-call-parser`: raised by validate() before any logging is set up. */
export function autoToolChoiceWithoutParser(out: Output): void {
  const frames: Frame[] = [
    { file: '/usr/local/bin/vllm', line: 10, func: '<module>', code: 'sys.exit(main())', under: 'main()' },
    { file: vllmFile('entrypoints/cli/main.py'), line: 71, func: 'main', code: 'cmds[args.subparser].validate(args)' },
    { file: vllmFile('entrypoints/cli/serve.py'), line: 88, func: 'validate', code: 'validate_parsed_serve_args(args)' },
    {
      file: vllmFile('entrypoints/openai/cli_args.py'),
      line: 312,
      func: 'validate_parsed_serve_args',
      code: 'raise TypeError("Error: --enable-auto-tool-choice requires --tool-call-parser")',
    },
  ];
  out.stderr(null, renderTraceback(frames, 'TypeError: Error: --enable-auto-tool-choice requires --tool-call-parser'));
}

/** KeyError from validate_api_server_args (tool call parser only checked with --enable-auto-tool-choice). */
export function invalidParser(out: Output, api: Proc, kind: 'tool call' | 'reasoning', name: string, valid: string[]): void {
  const message = `invalid ${kind} parser: ${name} (chose from { ${valid.join(',')} })`;
  apiServerTraceback(
    out,
    api,
    [
      RUN_SERVER_SETUP,
      { file: vllmFile('entrypoints/openai/api_server.py'), line: 1357, func: 'setup_server', code: 'validate_api_server_args(args)' },
      { file: vllmFile('entrypoints/openai/api_server.py'), line: kind === 'tool call' ? 1327 : 1335, func: 'validate_api_server_args', code: 'raise KeyError(' },
    ],
    `KeyError: ${pyStr(message)}`,
  );
}

export function addressInUse(out: Output, api: Proc): void {
  apiServerTraceback(
    out,
    api,
    [
      RUN_SERVER_SETUP,
      {
        file: vllmFile('entrypoints/openai/api_server.py'),
        line: 1377,
        func: 'setup_server',
        code: 'sock = create_server_socket(sock_addr)',
        under: 'create_server_socket(sock_addr)',
      },
      { file: vllmFile('entrypoints/openai/api_server.py'), line: 1340, func: 'create_server_socket', code: 'sock.bind(addr)' },
    ],
    'OSError: [Errno 98] Address already in use',
  );
}

/** A config dataclass rejected its arguments: pydantic wraps the ValueError in a ValidationError. */
export function configValidationError(out: Output, api: Proc, configClass: 'ModelConfig' | 'ParallelConfig', message: string, inputPreview: string): void {
  const creator: Frame[] =
    configClass === 'ModelConfig'
      ? [
          { file: vllmFile('engine/arg_utils.py'), line: 1346, func: 'create_engine_config', code: 'model_config = self.create_model_config()', under: 'self.create_model_config()' },
          { file: vllmFile('engine/arg_utils.py'), line: 1197, func: 'create_model_config', code: 'return ModelConfig(', under: 'ModelConfig(' },
        ]
      : [{ file: vllmFile('engine/arg_utils.py'), line: 1480, func: 'create_engine_config', code: 'parallel_config = ParallelConfig(', under: 'ParallelConfig(' }];
  apiServerTraceback(
    out,
    api,
    [...RUN_SERVER_WORKER, ...CREATE_ENGINE_CONFIG, ...creator, PYDANTIC_INIT],
    `pydantic_core._pydantic_core.ValidationError: 1 validation error for ${configClass}\n` +
      `  Value error, ${message} [type=value_error, input_value=ArgsKwargs((), {${inputPreview}}), input_type=ArgsKwargs]\n` +
      '    For further information visit https://errors.pydantic.dev/2.12/v/value_error',
  );
}

/** No CUDA device at all (no nvidia-smi / driver): DeviceConfig cannot pick a platform. */
export function noDevice(out: Output, api: Proc): void {
  apiServerTraceback(
    out,
    api,
    [
      ...RUN_SERVER_WORKER,
      ...CREATE_ENGINE_CONFIG,
      { file: vllmFile('engine/arg_utils.py'), line: 1334, func: 'create_engine_config', code: 'device_config = DeviceConfig(' },
      { file: `${SITE}/pydantic/_internal/_dataclasses.py`, line: 121, func: '__init__', code: 's.__pydantic_validator__.validate_python(ArgsKwargs(args, kwargs), self_instance=s)' },
      { file: vllmFile('config/device.py'), line: 58, func: '__post_init__', code: 'raise RuntimeError(' },
    ],
    'RuntimeError: Failed to infer device type, please set the environment variable `VLLM_LOGGING_LEVEL=DEBUG` to turn on verbose logging to help debug the issue.',
  );
}

/** The API server's view when the engine core process reported a failed start. */
export function engineInitFailed(out: Output, api: Proc): void {
  apiServerTraceback(
    out,
    api,
    [
      ...RUN_SERVER_WORKER,
      {
        file: vllmFile('entrypoints/openai/api_server.py'),
        line: 225,
        func: 'build_async_engine_client_from_engine_args',
        code: 'async_llm = AsyncLLM.from_vllm_config(',
        under: 'AsyncLLM.from_vllm_config(',
      },
      { file: vllmFile('v1/engine/async_llm.py'), line: 223, func: 'from_vllm_config', code: 'return cls(', under: 'cls(' },
      { file: vllmFile('v1/engine/async_llm.py'), line: 134, func: '__init__', code: 'self.engine_core = EngineCoreClient.make_async_mp_client(', under: 'EngineCoreClient.make_async_mp_client(' },
      { file: vllmFile('v1/engine/core_client.py'), line: 102, func: 'make_async_mp_client', code: 'return AsyncMPClient(*client_args)', under: 'AsyncMPClient(*client_args)' },
      { file: vllmFile('v1/engine/core_client.py'), line: 769, func: '__init__', code: 'super().__init__(' },
      { file: vllmFile('v1/engine/core_client.py'), line: 448, func: '__init__', code: 'with launch_core_engines(vllm_config, executor_class, log_stats) as (' },
      { file: `${PYLIB}/contextlib.py`, line: 144, func: '__exit__', code: 'next(self.gen)' },
      { file: vllmFile('v1/engine/utils.py'), line: 732, func: 'launch_core_engines', code: 'wait_for_engine_startup(' },
      { file: vllmFile('v1/engine/utils.py'), line: 785, func: 'wait_for_engine_startup', code: 'raise RuntimeError(' },
    ],
    ENGINE_INIT_FAILED,
  );
}

/** Ctrl-C / SIGTERM while the engine is still starting (uvicorn's handlers are not installed yet). */
export function interruptedDuringStartup(out: Output, api: Proc, signal: 'SIGINT' | 'SIGTERM'): void {
  const tail: Frame[] = [
    ...RUN_SERVER_WORKER,
    { file: vllmFile('entrypoints/openai/api_server.py'), line: 225, func: 'build_async_engine_client_from_engine_args', code: 'async_llm = AsyncLLM.from_vllm_config(' },
    { file: vllmFile('v1/engine/async_llm.py'), line: 223, func: 'from_vllm_config', code: 'return cls(' },
    { file: vllmFile('v1/engine/async_llm.py'), line: 134, func: '__init__', code: 'self.engine_core = EngineCoreClient.make_async_mp_client(' },
    { file: vllmFile('v1/engine/core_client.py'), line: 448, func: '__init__', code: 'with launch_core_engines(vllm_config, executor_class, log_stats) as (' },
    { file: `${PYLIB}/contextlib.py`, line: 144, func: '__exit__', code: 'next(self.gen)' },
    { file: vllmFile('v1/engine/utils.py'), line: 732, func: 'launch_core_engines', code: 'wait_for_engine_startup(' },
    { file: vllmFile('v1/engine/utils.py'), line: 770, func: 'wait_for_engine_startup', code: 'events = poller.poll(STARTUP_POLL_PERIOD_MS)' },
    { file: `${SITE}/zmq/sugar/poll.py`, line: 106, func: 'poll', code: 'return zmq_poll(self.sockets, timeout=timeout)' },
    { file: 'zmq/backend/cython/_zmq.py', line: 1691, func: 'zmq.backend.cython._zmq.zmq_poll' },
  ];
  if (signal === 'SIGTERM') {
    tail.push({ file: vllmFile('entrypoints/openai/api_server.py'), line: 1391, func: '_interrupt_init', code: 'raise KeyboardInterrupt("terminated")' });
  }
  apiServerTraceback(out, api, tail, signal === 'SIGTERM' ? 'KeyboardInterrupt: terminated' : 'KeyboardInterrupt');
}

// ---------------------------------------------------------------------------------------------------------------
// Engine core process

const ENGINE_BOOT: Frame[] = [
  { file: vllmFile('v1/engine/core.py'), line: 857, func: 'run_engine_core', code: 'engine_core = EngineCoreProc(*args, **kwargs)', under: 'EngineCoreProc(*args, **kwargs)' },
  { file: vllmFile('v1/engine/core.py'), line: 637, func: '__init__', code: 'super().__init__(' },
];

export const EXECUTOR_INIT_FRAMES: Frame[] = [
  ...ENGINE_BOOT,
  { file: vllmFile('v1/engine/core.py'), line: 102, func: '__init__', code: 'self.model_executor = executor_class(vllm_config)', under: 'executor_class(vllm_config)' },
  { file: vllmFile('v1/executor/abstract.py'), line: 101, func: '__init__', code: 'self._init_executor()' },
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 172, func: '_init_executor', code: 'self.workers = WorkerProc.wait_for_ready(unready_workers)', under: 'WorkerProc.wait_for_ready(unready_workers)' },
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 660, func: 'wait_for_ready', code: 'raise e from None' },
];
export const WORKER_PROC_FAILED =
  'Exception: WorkerProc initialization failed due to an exception in a background process. See stack trace for root cause.';

const KV_INIT: Frame[] = [
  ...ENGINE_BOOT,
  {
    file: vllmFile('v1/engine/core.py'),
    line: 109,
    func: '__init__',
    code: 'num_gpu_blocks, num_cpu_blocks, kv_cache_config = self._initialize_kv_caches(',
    under: 'self._initialize_kv_caches(',
  },
];

export const KV_CHECK_FRAMES: Frame[] = [
  ...KV_INIT,
  { file: vllmFile('v1/engine/core.py'), line: 217, func: '_initialize_kv_caches', code: 'kv_cache_configs = get_kv_cache_configs(', under: 'get_kv_cache_configs(' },
  { file: vllmFile('v1/core/kv_cache_utils.py'), line: 1233, func: 'get_kv_cache_configs', code: 'check_enough_kv_cache_memory(' },
  { file: vllmFile('v1/core/kv_cache_utils.py'), line: 701, func: 'check_enough_kv_cache_memory', code: 'raise ValueError(' },
];

export const PROFILE_RPC_FRAMES: Frame[] = [
  ...KV_INIT,
  {
    file: vllmFile('v1/engine/core.py'),
    line: 190,
    func: '_initialize_kv_caches',
    code: 'available_gpu_memory = self.model_executor.determine_available_memory()',
    under: 'self.model_executor.determine_available_memory()',
  },
  { file: vllmFile('v1/executor/abstract.py'), line: 136, func: 'determine_available_memory', code: 'return self.collective_rpc("determine_available_memory")', under: 'self.collective_rpc("determine_available_memory")' },
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 361, func: 'collective_rpc', code: 'return aggregate(get_response())', under: 'get_response()' },
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 344, func: 'get_response', code: 'raise RuntimeError(' },
];

/** logger.exception in run_engine_core, then multiprocessing's own report of the dead process. */
export function engineCoreFailed(out: Output, engine: Proc, frames: Frame[], exception: string): void {
  const tb = renderTraceback(frames, exception);
  out.log(engine, 'ERROR', 'core.py:866', ['EngineCore failed to start.', ...tb].join('\n'));
  const bootstrap: Frame[] = [
    { file: `${PYLIB}/multiprocessing/process.py`, line: 314, func: '_bootstrap', code: 'self.run()' },
    { file: `${PYLIB}/multiprocessing/process.py`, line: 108, func: 'run', code: 'self._target(*self._args, **self._kwargs)' },
    { file: vllmFile('v1/engine/core.py'), line: 870, func: 'run_engine_core', code: 'raise e' },
  ];
  out.stderr(engine, [`Process ${engine.name}:`, ...renderTraceback([...bootstrap, ...frames], exception)]);
}

// ---------------------------------------------------------------------------------------------------------------
// Worker processes

const WORKER_MAIN: Frame = {
  file: vllmFile('v1/executor/multiproc_executor.py'),
  line: 714,
  func: 'worker_main',
  code: 'worker = WorkerProc(*args, **kwargs)',
  under: 'WorkerProc(*args, **kwargs)',
};

export const FREE_MEMORY_FRAMES: Frame[] = [
  WORKER_MAIN,
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 548, func: '__init__', code: 'self.worker.init_device()' },
  { file: vllmFile('v1/worker/worker_base.py'), line: 326, func: 'init_device', code: 'self.worker.init_device()  # type: ignore', under: 'self.worker.init_device()' },
  { file: vllmFile('v1/worker/gpu_worker.py'), line: 235, func: 'init_device', code: 'self.requested_memory = request_memory(self.init_snapshot, self.cache_config)', under: 'request_memory(self.init_snapshot, self.cache_config)' },
  { file: vllmFile('v1/worker/utils.py'), line: 260, func: 'request_memory', code: 'raise ValueError(' },
];

export const SET_DEVICE_FRAMES: Frame[] = [
  WORKER_MAIN,
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 548, func: '__init__', code: 'self.worker.init_device()' },
  { file: vllmFile('v1/worker/worker_base.py'), line: 326, func: 'init_device', code: 'self.worker.init_device()  # type: ignore', under: 'self.worker.init_device()' },
  { file: vllmFile('v1/worker/gpu_worker.py'), line: 212, func: 'init_device', code: 'torch.cuda.set_device(self.device)' },
  { file: `${SITE}/torch/cuda/__init__.py`, line: 567, func: 'set_device', code: 'torch._C._cuda_setDevice(device)' },
];

export const LOAD_WEIGHTS_FRAMES: Frame[] = [
  WORKER_MAIN,
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 555, func: '__init__', code: 'self.worker.load_model()' },
  { file: vllmFile('v1/worker/gpu_worker.py'), line: 273, func: 'load_model', code: 'self.model_runner.load_model(eep_scale_up=eep_scale_up)' },
  { file: vllmFile('v1/worker/gpu_model_runner.py'), line: 3460, func: 'load_model', code: 'self.model = model_loader.load_model(', under: 'model_loader.load_model(' },
  { file: vllmFile('model_executor/model_loader/base_loader.py'), line: 56, func: 'load_model', code: 'self.load_weights(model, model_config)' },
  { file: vllmFile('model_executor/model_loader/default_loader.py'), line: 305, func: 'load_weights', code: 'loaded_weights = model.load_weights(self.get_all_weights(model_config, model))', under: 'model.load_weights(self.get_all_weights(model_config, model))' },
  { file: vllmFile('model_executor/models/kimi_k25.py'), line: 612, func: 'load_weights', code: 'return loader.load_weights(weights, mapper=self.hf_to_vllm_mapper)', under: 'loader.load_weights(weights, mapper=self.hf_to_vllm_mapper)' },
  { file: vllmFile('model_executor/models/utils.py'), line: 335, func: 'load_weights', code: 'autoloaded_weights = set(self._load_module("", self.module, weights))', under: 'set(self._load_module("", self.module, weights))' },
  { file: vllmFile('model_executor/models/utils.py'), line: 288, func: '_load_module', code: 'yield from self._load_module(' },
  { file: vllmFile('model_executor/models/utils.py'), line: 261, func: '_load_module', code: 'loaded_params = module_load_weights(weights)', under: 'module_load_weights(weights)' },
  { file: vllmFile('model_executor/models/deepseek_v2.py'), line: 1580, func: 'load_weights', code: 'success = weight_loader(', under: 'weight_loader(' },
  { file: vllmFile('model_executor/layers/fused_moe/layer.py'), line: 1402, func: 'weight_loader', code: 'expert_data.copy_(loaded_weight)' },
];

export const COMPILE_FRAMES: Frame[] = [
  { file: vllmFile('v1/executor/multiproc_executor.py'), line: 811, func: 'worker_busy_loop', code: 'output = func(*args, **kwargs)', under: 'func(*args, **kwargs)' },
  { file: vllmFile('v1/worker/gpu_worker.py'), line: 329, func: 'determine_available_memory', code: 'self.model_runner.profile_run()' },
  { file: vllmFile('v1/worker/gpu_model_runner.py'), line: 4212, func: 'profile_run', code: 'hidden_states, last_hidden_states = self._dummy_run(', under: 'self._dummy_run(' },
  { file: `${SITE}/triton/runtime/build.py`, line: 32, func: '_build', code: 'raise RuntimeError("Failed to find C compiler. Please specify via CC environment variable or set triton.knobs.build.impl.")' },
];
export const NO_C_COMPILER = 'RuntimeError: Failed to find C compiler. Please specify via CC environment variable or set triton.knobs.build.impl.';

export function workerFailed(out: Output, worker: Proc, atStartup: boolean, frames: Frame[], exception: string): void {
  const tb = renderTraceback(frames, exception);
  out.log(worker, 'ERROR', atStartup ? 'multiproc_executor.py:743' : 'multiproc_executor.py:822', [atStartup ? 'WorkerProc failed to start.' : 'WorkerProc hit an exception.', ...tb].join('\n'));
}
