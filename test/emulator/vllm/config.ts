// A typed view of the parsed `vllm serve` options: what the rest of the fake needs to know.
import { PyFloat, type PyValue } from './pyrepr';

export interface ServeConfig {
  values: Map<string, PyValue>;
  model: string;
  host: string | null;
  port: number;
  apiKeys: string[] | null;
  servedModelNames: string[] | null;
  /** null: not given (the model's own 262144); -1: `auto`. */
  maxModelLen: number | null;
  gpuMemoryUtilization: number;
  tp: number;
  pp: number;
  dp: number;
  dpLocal: number | null;
  dpStartRank: number | null;
  dpAddress: string | null;
  dpRpcPort: number | null;
  distributedExecutorBackend: string | null;
  toolCallParser: string | null;
  reasoningParser: string;
  enableAutoToolChoice: boolean;
  trustRemoteCode: boolean;
  enableExpertParallel: boolean;
  headless: boolean;
  apiServerCount: number | null;
  enforceEager: boolean;
  enablePrefixCaching: boolean;
  maxNumSeqs: number | null;
  maxNumBatchedTokens: number | null;
  seed: number;
  kvCacheDtype: string;
  blockSize: number | null;
  kvCacheMemoryBytes: number | null;
  downloadDir: string | null;
  chatTemplate: string | null;
  disableUvicornAccessLog: boolean;
  disableLogStats: boolean;
  enableLogRequests: boolean;
  enableLogOutputs: boolean;
  languageModelOnly: boolean;
  mmEncoderTpMode: string;
}

function str(v: PyValue | undefined): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: PyValue | undefined): number | null {
  if (v instanceof PyFloat) return v.value;
  return typeof v === 'number' ? v : null;
}

function bool(v: PyValue | undefined): boolean {
  return v === true;
}

function strList(v: PyValue | undefined): string[] | null {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null;
}

export function serveConfig(values: Map<string, PyValue>): ServeConfig {
  const g = (k: string) => values.get(k);
  return {
    values,
    model: str(g('model')) ?? '',
    host: str(g('host')),
    port: num(g('port')) ?? 8000,
    apiKeys: strList(g('api_key')),
    servedModelNames: strList(g('served_model_name')),
    maxModelLen: num(g('max_model_len')),
    gpuMemoryUtilization: num(g('gpu_memory_utilization')) ?? 0.9,
    tp: num(g('tensor_parallel_size')) ?? 1,
    pp: num(g('pipeline_parallel_size')) ?? 1,
    dp: num(g('data_parallel_size')) ?? 1,
    dpLocal: num(g('data_parallel_size_local')),
    dpStartRank: num(g('data_parallel_start_rank')),
    dpAddress: str(g('data_parallel_address')),
    dpRpcPort: num(g('data_parallel_rpc_port')),
    distributedExecutorBackend: str(g('distributed_executor_backend')),
    toolCallParser: str(g('tool_call_parser')),
    reasoningParser: str(g('reasoning_parser')) ?? '',
    enableAutoToolChoice: bool(g('enable_auto_tool_choice')),
    trustRemoteCode: bool(g('trust_remote_code')),
    enableExpertParallel: bool(g('enable_expert_parallel')),
    headless: bool(g('headless')),
    apiServerCount: num(g('api_server_count')),
    enforceEager: bool(g('enforce_eager')),
    // vLLM V1 turns prefix caching on unless told otherwise.
    enablePrefixCaching: g('enable_prefix_caching') !== false,
    maxNumSeqs: num(g('max_num_seqs')),
    maxNumBatchedTokens: num(g('max_num_batched_tokens')),
    seed: num(g('seed')) ?? 0,
    kvCacheDtype: str(g('kv_cache_dtype')) ?? 'auto',
    blockSize: num(g('block_size')),
    kvCacheMemoryBytes: num(g('kv_cache_memory_bytes')),
    downloadDir: str(g('download_dir')),
    chatTemplate: str(g('chat_template')),
    disableUvicornAccessLog: bool(g('disable_uvicorn_access_log')),
    disableLogStats: bool(g('disable_log_stats')),
    enableLogRequests: bool(g('enable_log_requests')),
    enableLogOutputs: bool(g('enable_log_outputs')),
    languageModelOnly: bool(g('language_model_only')),
    mmEncoderTpMode: str(g('mm_encoder_tp_mode')) ?? 'weights',
  };
}
