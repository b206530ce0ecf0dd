// Kimi-K2.5 on vLLM: the memory arithmetic behind the numbers in the log, computed the way vLLM V1 does it so that
// "Available KV cache memory", "GPU KV cache size", "Maximum concurrency" and the KV-cache ValueError agree.
//   requested   = gpu_memory_utilization × total          (vllm/v1/worker/utils.py request_memory)
//   KV memory   = requested − weights − activation peak − non-torch memory   (gpu_worker.determine_available_memory)
//   page        = block_size × (kv_lora_rank + rope dim) × dtype bytes × layers on this GPU   (MLA keeps one latent
//                 vector per token and layer, replicated on every TP rank)
//   KV tokens   = ⌊KV memory / page⌋ × block_size                       (kv_cache_utils.get_kv_cache_configs)
//   estimated max model len = largest L with ⌈L / block_size⌉ pages fitting (kv_cache_utils.estimate_max_model_len)

export const KIMI = {
  architecture: 'KimiK25ForConditionalGeneration',
  /** max_position_embeddings of the text model. */
  nativeMaxLen: 262144,
  numLayers: 61,
  /** MLA latent (512) + decoupled RoPE key (64) per token and layer. */
  mlaWidth: 576,
  shards: 64,
  /** 72.41 GiB per GPU at TP8 (the INT4 checkpoint plus the vision tower and BF16 parts). */
  weightsGiBTotal: 72.41 * 8,
  quantization: 'compressed-tensors',
  /** FlashMLA on Hopper uses 64-token blocks. */
  defaultBlockSize: 64,
};

const GiB = 1024 ** 3;

/** Memory vLLM needs besides weights and KV cache at TP8: activation peak of the profile run + NCCL/CUDA context. */
export const ACTIVATION_PEAK_GIB = 2.95;
export const NON_TORCH_GIB = 1.62;
/** CUDA context + NCCL buffers a worker holds right after init_device. */
export const CONTEXT_GIB = 0.61;

export interface KvPlan {
  blockSize: number;
  bytesPerBlock: number;
  /** Available KV cache memory in bytes (may be ≤ 0). */
  kvBytes: number;
  numBlocks: number;
  /** GPU KV cache size in tokens. */
  tokens: number;
}

export interface MemoryInputs {
  totalGiB: number;
  utilization: number;
  tp: number;
  pp: number;
  /** Expert-parallel size (default tp). */
  ep?: number;
  kvCacheDtype: string;
  blockSize: number | null;
  /** --kv-cache-memory-bytes */
  kvCacheMemoryBytes: number | null;
  /** KIMI_FAKE_VLLM_KV_GIB */
  kvGiBOverride: number | null;
  fail: string | null;
}

/** Non-expert weights (attention, dense layer, shared experts, embeddings, vision tower): split by tensor/pipeline
 *  parallel like everything else, but replicated on every data-parallel rank under expert parallel (the same 32 GiB
 *  src/core/cluster/sizing.ts assumes). */
export const NON_EXPERT_GIB = 32;

/** Weights on one GPU. `ep`: the expert-parallel size (tp × dp with --enable-expert-parallel, else tp): the routed
 *  experts are split over ep × pp GPUs, the rest over tp × pp. */
export function weightsPerGpuGiB(tp: number, pp: number, ep: number = tp): number {
  const split = Math.max(1, tp * pp);
  return NON_EXPERT_GIB / split + (KIMI.weightsGiBTotal - NON_EXPERT_GIB) / Math.max(1, ep * pp);
}

export function requestedGiB(totalGiB: number, utilization: number): number {
  return totalGiB * utilization;
}

export function bytesPerBlock(pp: number, kvCacheDtype: string, blockSize: number): number {
  const dtypeBytes = kvCacheDtype.startsWith('fp8') ? 1 : 2;
  const layers = Math.ceil(KIMI.numLayers / Math.max(1, pp));
  return blockSize * KIMI.mlaWidth * dtypeBytes * layers;
}

export function planKv(m: MemoryInputs): KvPlan {
  const blockSize = m.blockSize ?? KIMI.defaultBlockSize;
  const page = bytesPerBlock(m.pp, m.kvCacheDtype, blockSize);
  let kvBytes: number;
  if (m.fail === 'kv-cache') {
    // Room for 60 % of the native context: the default 262144 does not fit, --max-model-len at or below the
    // estimate does.
    const blocks = Math.floor((0.6 * KIMI.nativeMaxLen) / blockSize);
    kvBytes = blocks * page + Math.floor(page / 2);
  } else if (m.fail === 'no-cache-blocks') {
    kvBytes = -0.53 * GiB;
  } else if (m.kvGiBOverride !== null) {
    kvBytes = m.kvGiBOverride * GiB;
  } else if (m.kvCacheMemoryBytes !== null) {
    kvBytes = m.kvCacheMemoryBytes;
  } else {
    const free = requestedGiB(m.totalGiB, m.utilization) - weightsPerGpuGiB(m.tp, m.pp, m.ep ?? m.tp) - ACTIVATION_PEAK_GIB - NON_TORCH_GIB;
    kvBytes = free * GiB;
  }
  const numBlocks = kvBytes > 0 ? Math.floor(kvBytes / page) : 0;
  return { blockSize, bytesPerBlock: page, kvBytes, numBlocks, tokens: numBlocks * blockSize };
}

/** Bytes one request of `maxLen` tokens needs (⌈maxLen / block⌉ pages). */
export function neededBytes(plan: KvPlan, maxLen: number): number {
  return Math.ceil(maxLen / plan.blockSize) * plan.bytesPerBlock;
}

/** vLLM's estimate_max_model_len: the longest context whose pages fit. */
export function estimateMaxModelLen(plan: KvPlan): number {
  return Math.floor(plan.kvBytes / plan.bytesPerBlock) * plan.blockSize;
}

export const toGiB = (bytes: number) => bytes / GiB;
