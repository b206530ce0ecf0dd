// The `vllm serve` options the fake knows, in the order vLLM registers them (that order is the key order of the
// `non-default args: {...}` log line). Names, kinds, defaults and choices follow vLLM 0.15:
//   vllm/entrypoints/openai/cli_args.py (make_arg_parser, FrontendArgs) and vllm/engine/arg_utils.py (EngineArgs,
//   grouped by config class: ModelConfig, LoadConfig, StructuredOutputsConfig, ParallelConfig, CacheConfig,
//   MultiModalConfig, LoRAConfig, ObservabilityConfig, SchedulerConfig, VllmConfig).
// Boolean config fields use argparse.BooleanOptionalAction (`--x` / `--no-x`); `--headless` is a plain store_true.
import { PyFloat, type PyValue } from './pyrepr';

export type Kind =
  | 'str'
  | 'int'
  | 'float'
  /** vllm.utils.argparse_utils.human_readable_int: `25.6k` = 25600, `1K` = 1024. */
  | 'hint'
  /** human_readable_int_or_auto: also `-1` / `auto`. */
  | 'hint_auto'
  | 'bool'
  | 'store_true'
  /** json.loads */
  | 'json'
  /** nargs="+" of str */
  | 'list'
  /** action="append" of str */
  | 'append';

export interface ArgSpec {
  dest: string;
  kind: Kind;
  default: PyValue;
  /** Short aliases registered before the long flag (`-tp`), as vLLM's `extra_flags`. */
  short?: string[];
  choices?: string[];
  group: string;
}

function spec(group: string, dest: string, kind: Kind, def: PyValue = null, extra: Partial<ArgSpec> = {}): ArgSpec {
  return { group, dest, kind, default: def, ...extra };
}

const f = (v: number) => new PyFloat(v);

/** Real tool-call parser names registered by vLLM 0.15 (vllm/entrypoints/openai/tool_parsers/__init__.py). */
export const TOOL_CALL_PARSERS = [
  'deepseek_v3',
  'deepseek_v31',
  'deepseek_v32',
  'ernie45',
  'glm45',
  'glm47',
  'granite-20b-fc',
  'granite',
  'hermes',
  'hunyuan_a13b',
  'internlm',
  'jamba',
  'kimi_k2',
  'llama3_json',
  'llama4_json',
  'llama4_pythonic',
  'longcat',
  'minimax_m2',
  'minimax',
  'mistral',
  'olmo3',
  'openai',
  'phi4_mini_json',
  'pythonic',
  'qwen3_coder',
  'qwen3_xml',
  'seed_oss',
  'step3',
  'xlam',
  'gigachat3',
  'functiongemma',
];

/** Real reasoning parser names registered by vLLM 0.15 (vllm/reasoning/__init__.py). */
export const REASONING_PARSERS = [
  'deepseek_r1',
  'deepseek_v3',
  'ernie45',
  'glm45',
  'openai_gptoss',
  'granite',
  'holo2',
  'hunyuan_a13b',
  'kimi_k2',
  'minimax_m2',
  'minimax_m2_append_think',
  'mistral',
  'olmo3',
  'qwen3',
  'seed_oss',
  'step3',
];

/** The model vLLM serves when none is given (vllm/config/model.py). */
export const DEFAULT_MODEL = 'Qwen/Qwen3-0.6B';

export const SPECS: ArgSpec[] = [
  // make_arg_parser(): positional first, then the serve-only options.
  spec('positional arguments', 'model_tag', 'str'),
  spec('options', 'headless', 'store_true', false),
  spec('options', 'api_server_count', 'int', null, { short: ['-asc'] }),
  spec('options', 'config', 'str'),
  // FrontendArgs
  spec('Frontend', 'host', 'str'),
  spec('Frontend', 'port', 'int', 8000),
  spec('Frontend', 'uds', 'str'),
  spec('Frontend', 'uvicorn_log_level', 'str', 'info', { choices: ['critical', 'error', 'warning', 'info', 'debug', 'trace'] }),
  spec('Frontend', 'disable_uvicorn_access_log', 'bool', false),
  spec('Frontend', 'disable_access_log_for_endpoints', 'str'),
  spec('Frontend', 'allow_credentials', 'bool', false),
  spec('Frontend', 'allowed_origins', 'json', ['*']),
  spec('Frontend', 'allowed_methods', 'json', ['*']),
  spec('Frontend', 'allowed_headers', 'json', ['*']),
  spec('Frontend', 'api_key', 'list'),
  spec('Frontend', 'lora_modules', 'list'),
  spec('Frontend', 'chat_template', 'str'),
  spec('Frontend', 'chat_template_content_format', 'str', 'auto', { choices: ['auto', 'string', 'openai'] }),
  spec('Frontend', 'trust_request_chat_template', 'bool', false),
  spec('Frontend', 'default_chat_template_kwargs', 'json'),
  spec('Frontend', 'response_role', 'str', 'assistant'),
  spec('Frontend', 'ssl_keyfile', 'str'),
  spec('Frontend', 'ssl_certfile', 'str'),
  spec('Frontend', 'ssl_ca_certs', 'str'),
  spec('Frontend', 'enable_ssl_refresh', 'bool', false),
  spec('Frontend', 'ssl_cert_reqs', 'int', 0),
  spec('Frontend', 'root_path', 'str'),
  spec('Frontend', 'middleware', 'append', []),
  spec('Frontend', 'return_tokens_as_token_ids', 'bool', false),
  spec('Frontend', 'disable_frontend_multiprocessing', 'bool', false),
  spec('Frontend', 'enable_request_id_headers', 'bool', false),
  spec('Frontend', 'enable_auto_tool_choice', 'bool', false),
  spec('Frontend', 'exclude_tools_when_tool_choice_none', 'bool', false),
  spec('Frontend', 'tool_call_parser', 'str'),
  spec('Frontend', 'tool_parser_plugin', 'str', ''),
  spec('Frontend', 'tool_server', 'str'),
  spec('Frontend', 'log_config_file', 'str'),
  spec('Frontend', 'max_log_len', 'int'),
  spec('Frontend', 'disable_fastapi_docs', 'bool', false),
  spec('Frontend', 'enable_prompt_tokens_details', 'bool', false),
  spec('Frontend', 'enable_server_load_tracking', 'bool', false),
  spec('Frontend', 'enable_force_include_usage', 'bool', false),
  spec('Frontend', 'enable_tokenizer_info_endpoint', 'bool', false),
  spec('Frontend', 'enable_log_outputs', 'bool', false),
  spec('Frontend', 'h11_max_incomplete_event_size', 'int', 4194304),
  spec('Frontend', 'h11_max_header_count', 'int', 256),
  spec('Frontend', 'log_error_stack', 'bool', false),
  // ModelConfig
  spec('ModelConfig', 'model', 'str', DEFAULT_MODEL),
  spec('ModelConfig', 'runner', 'str', 'auto', { choices: ['auto', 'draft', 'generate', 'pooling'] }),
  spec('ModelConfig', 'convert', 'str', 'auto', { choices: ['auto', 'classify', 'embed', 'none', 'reward'] }),
  spec('ModelConfig', 'tokenizer', 'str'),
  spec('ModelConfig', 'tokenizer_mode', 'str', 'auto', { choices: ['auto', 'custom', 'mistral', 'slow'] }),
  spec('ModelConfig', 'trust_remote_code', 'bool', false),
  spec('ModelConfig', 'dtype', 'str', 'auto', { choices: ['auto', 'bfloat16', 'float', 'float16', 'float32', 'half'] }),
  spec('ModelConfig', 'seed', 'int', 0),
  spec('ModelConfig', 'hf_config_path', 'str'),
  spec('ModelConfig', 'allowed_local_media_path', 'str', ''),
  spec('ModelConfig', 'allowed_media_domains', 'list'),
  spec('ModelConfig', 'revision', 'str'),
  spec('ModelConfig', 'code_revision', 'str'),
  spec('ModelConfig', 'tokenizer_revision', 'str'),
  spec('ModelConfig', 'max_model_len', 'hint_auto'),
  spec('ModelConfig', 'quantization', 'str', null, { short: ['-q'] }),
  spec('ModelConfig', 'enforce_eager', 'bool', false),
  spec('ModelConfig', 'max_logprobs', 'int', 20),
  spec('ModelConfig', 'logprobs_mode', 'str', 'raw_logprobs', {
    choices: ['processed_logits', 'processed_logprobs', 'raw_logits', 'raw_logprobs'],
  }),
  spec('ModelConfig', 'disable_sliding_window', 'bool', false),
  spec('ModelConfig', 'disable_cascade_attn', 'bool', false),
  spec('ModelConfig', 'skip_tokenizer_init', 'bool', false),
  spec('ModelConfig', 'enable_prompt_embeds', 'bool', false),
  spec('ModelConfig', 'served_model_name', 'list'),
  spec('ModelConfig', 'config_format', 'str', 'auto'),
  spec('ModelConfig', 'hf_token', 'str'),
  spec('ModelConfig', 'hf_overrides', 'json', {}),
  spec('ModelConfig', 'pooler_config', 'json'),
  spec('ModelConfig', 'generation_config', 'str', 'auto'),
  spec('ModelConfig', 'override_generation_config', 'json', {}),
  spec('ModelConfig', 'enable_sleep_mode', 'bool', false),
  spec('ModelConfig', 'model_impl', 'str', 'auto', { choices: ['auto', 'terratorch', 'transformers', 'vllm'] }),
  spec('ModelConfig', 'override_attention_dtype', 'str'),
  spec('ModelConfig', 'logits_processors', 'list'),
  spec('ModelConfig', 'io_processor_plugin', 'str'),
  // LoadConfig
  spec('LoadConfig', 'load_format', 'str', 'auto'),
  spec('LoadConfig', 'download_dir', 'str'),
  spec('LoadConfig', 'safetensors_load_strategy', 'str', 'lazy'),
  spec('LoadConfig', 'model_loader_extra_config', 'json', {}),
  spec('LoadConfig', 'ignore_patterns', 'list', ['original/**/*']),
  spec('LoadConfig', 'use_tqdm_on_load', 'bool', true),
  spec('LoadConfig', 'pt_load_map_location', 'str', 'cpu'),
  // StructuredOutputsConfig
  spec('StructuredOutputsConfig', 'reasoning_parser', 'str', ''),
  spec('StructuredOutputsConfig', 'reasoning_parser_plugin', 'str', ''),
  // ParallelConfig
  spec('ParallelConfig', 'distributed_executor_backend', 'str', null, {
    choices: ['ray', 'mp', 'uni', 'external_launcher'],
  }),
  spec('ParallelConfig', 'pipeline_parallel_size', 'int', 1, { short: ['-pp'] }),
  spec('ParallelConfig', 'master_addr', 'str', '127.0.0.1'),
  spec('ParallelConfig', 'master_port', 'int', 29501),
  spec('ParallelConfig', 'nnodes', 'int', 1, { short: ['-n'] }),
  spec('ParallelConfig', 'node_rank', 'int', 0, { short: ['-r'] }),
  spec('ParallelConfig', 'tensor_parallel_size', 'int', 1, { short: ['-tp'] }),
  spec('ParallelConfig', 'decode_context_parallel_size', 'int', 1, { short: ['-dcp'] }),
  spec('ParallelConfig', 'data_parallel_size', 'int', 1, { short: ['-dp'] }),
  spec('ParallelConfig', 'data_parallel_rank', 'int', null, { short: ['-dpn'] }),
  spec('ParallelConfig', 'data_parallel_start_rank', 'int', null, { short: ['-dpr'] }),
  spec('ParallelConfig', 'data_parallel_size_local', 'int', null, { short: ['-dpl'] }),
  spec('ParallelConfig', 'data_parallel_address', 'str', null, { short: ['-dpa'] }),
  spec('ParallelConfig', 'data_parallel_rpc_port', 'int', null, { short: ['-dpp'] }),
  spec('ParallelConfig', 'data_parallel_backend', 'str', 'mp', { short: ['-dpb'] }),
  spec('ParallelConfig', 'data_parallel_hybrid_lb', 'bool', false),
  spec('ParallelConfig', 'data_parallel_external_lb', 'bool', false),
  spec('ParallelConfig', 'enable_expert_parallel', 'bool', false),
  spec('ParallelConfig', 'all2all_backend', 'str'),
  spec('ParallelConfig', 'enable_dbo', 'bool', false),
  spec('ParallelConfig', 'enable_eplb', 'bool', false),
  spec('ParallelConfig', 'eplb_config', 'json'),
  spec('ParallelConfig', 'expert_placement_strategy', 'str', 'linear', { choices: ['linear', 'round_robin'] }),
  spec('ParallelConfig', 'max_parallel_loading_workers', 'int'),
  spec('ParallelConfig', 'ray_workers_use_nsight', 'bool', false),
  spec('ParallelConfig', 'disable_custom_all_reduce', 'bool', false),
  spec('ParallelConfig', 'worker_cls', 'str', 'auto'),
  spec('ParallelConfig', 'worker_extension_cls', 'str', ''),
  // CacheConfig
  spec('CacheConfig', 'block_size', 'int', null, { choices: ['1', '8', '16', '32', '64', '128', '256'] }),
  spec('CacheConfig', 'gpu_memory_utilization', 'float', f(0.9)),
  spec('CacheConfig', 'kv_cache_memory_bytes', 'hint'),
  spec('CacheConfig', 'swap_space', 'float', f(4)),
  spec('CacheConfig', 'kv_cache_dtype', 'str', 'auto', {
    choices: ['auto', 'bfloat16', 'fp8', 'fp8_ds_mla', 'fp8_e4m3', 'fp8_e5m2', 'fp8_inc'],
  }),
  spec('CacheConfig', 'num_gpu_blocks_override', 'int'),
  spec('CacheConfig', 'enable_prefix_caching', 'bool'),
  spec('CacheConfig', 'prefix_caching_hash_algo', 'str', 'sha256', { choices: ['sha256', 'sha256_cbor', 'xxhash', 'xxhash_cbor'] }),
  spec('CacheConfig', 'cpu_offload_gb', 'float', f(0)),
  spec('CacheConfig', 'calculate_kv_scales', 'bool', false),
  spec('CacheConfig', 'kv_sharing_fast_prefill', 'bool', false),
  spec('CacheConfig', 'mamba_cache_dtype', 'str', 'auto'),
  spec('CacheConfig', 'kv_offloading_size', 'float'),
  // MultiModalConfig
  spec('MultiModalConfig', 'limit_mm_per_prompt', 'json', {}),
  spec('MultiModalConfig', 'enable_mm_embeds', 'bool', false),
  spec('MultiModalConfig', 'media_io_kwargs', 'json', {}),
  spec('MultiModalConfig', 'mm_processor_kwargs', 'json'),
  spec('MultiModalConfig', 'mm_processor_cache_gb', 'float', f(4)),
  spec('MultiModalConfig', 'mm_processor_cache_type', 'str', 'lru', { choices: ['lru', 'shm'] }),
  spec('MultiModalConfig', 'mm_encoder_tp_mode', 'str', 'weights', { choices: ['data', 'weights'] }),
  spec('MultiModalConfig', 'mm_encoder_attn_backend', 'str'),
  spec('MultiModalConfig', 'interleave_mm_strings', 'bool', false),
  spec('MultiModalConfig', 'skip_mm_profiling', 'bool', false),
  spec('MultiModalConfig', 'video_pruning_rate', 'float'),
  spec('MultiModalConfig', 'language_model_only', 'bool', false),
  // LoRAConfig
  spec('LoRAConfig', 'enable_lora', 'bool'),
  spec('LoRAConfig', 'max_loras', 'int', 1),
  spec('LoRAConfig', 'max_lora_rank', 'int', 16),
  spec('LoRAConfig', 'lora_dtype', 'str', 'auto'),
  spec('LoRAConfig', 'max_cpu_loras', 'int'),
  spec('LoRAConfig', 'fully_sharded_loras', 'bool', false),
  spec('LoRAConfig', 'default_mm_loras', 'json'),
  // ObservabilityConfig
  spec('ObservabilityConfig', 'show_hidden_metrics_for_version', 'str'),
  spec('ObservabilityConfig', 'otlp_traces_endpoint', 'str'),
  spec('ObservabilityConfig', 'collect_detailed_traces', 'list'),
  // SchedulerConfig
  spec('SchedulerConfig', 'max_num_batched_tokens', 'hint'),
  spec('SchedulerConfig', 'max_num_seqs', 'int'),
  spec('SchedulerConfig', 'max_num_partial_prefills', 'int', 1),
  spec('SchedulerConfig', 'max_long_partial_prefills', 'int', 1),
  spec('SchedulerConfig', 'long_prefill_token_threshold', 'int', 0),
  spec('SchedulerConfig', 'scheduling_policy', 'str', 'fcfs', { choices: ['fcfs', 'priority'] }),
  spec('SchedulerConfig', 'enable_chunked_prefill', 'bool'),
  spec('SchedulerConfig', 'disable_chunked_mm_input', 'bool', false),
  spec('SchedulerConfig', 'scheduler_cls', 'str'),
  spec('SchedulerConfig', 'disable_hybrid_kv_cache_manager', 'bool', false),
  spec('SchedulerConfig', 'async_scheduling', 'bool'),
  // VllmConfig
  spec('VllmConfig', 'speculative_config', 'json'),
  spec('VllmConfig', 'kv_transfer_config', 'json'),
  spec('VllmConfig', 'kv_events_config', 'json'),
  spec('VllmConfig', 'ec_transfer_config', 'json'),
  spec('VllmConfig', 'compilation_config', 'json', {}, { short: ['-O'] }),
  spec('VllmConfig', 'additional_config', 'json', {}),
  spec('VllmConfig', 'structured_outputs_config', 'json'),
  // AsyncEngineArgs
  spec('options', 'disable_log_stats', 'store_true', false),
  spec('options', 'enable_log_requests', 'bool', false),
  spec('options', 'disable_log_requests', 'bool', true),
];

export function longFlag(s: ArgSpec): string {
  return `--${s.dest.replace(/_/g, '-')}`;
}

/** argparse's name for an action in error messages: its option strings joined with '/'. */
export function actionName(s: ArgSpec): string {
  if (s.dest === 'model_tag') return 'model_tag';
  const names = [...(s.short ?? []), longFlag(s)];
  if (s.kind === 'bool') names.push(`--no-${s.dest.replace(/_/g, '-')}`);
  return names.join('/');
}
