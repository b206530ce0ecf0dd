// The one repository the fake hub knows: moonshotai/Kimi-K2.5 — 64 weight shards named with a six-digit total
// (`model-00001-of-000064.safetensors`) plus 14 other files, 78 in all.
//
// Shard sizes: 64 shards totalling 595 GiB (what `du -sh` prints as 595G), most between 9.30G and 9.60G as
// tqdm shows them (binary units), shard 9 at 9.79G like the progress line on the protocol sheet, and a smaller
// first and last shard. Text files that a fake vLLM or a user might open (config.json, the chat template, …) get
// real content; large files get deterministic filler bytes and are written scaled down (see diskSize).
import { createHash } from 'node:crypto';

export const REPO_ID = 'moonshotai/Kimi-K2.5';
export const REVISION = 'master';
/** Seconds since epoch of the revision, written to `.mv` like the real cache does. */
export const REVISION_CREATED_AT = 1769500800;

/** Files up to this size are written at full size with real content; bigger ones are scaled. */
export const FULL_SIZE_LIMIT = 64 * 1024;

export interface RepoFile {
  /** Path inside the repository, '/'-separated. */
  path: string;
  /** Real size in bytes (what progress bars and the hub report). */
  size: number;
  /** Full content for small files; undefined → deterministic filler. */
  content?: Buffer;
}

const GiB = 1024 ** 3;
const SHARDS = 64;
const TOTAL_SHARD_BYTES = 595 * GiB;

function unit(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) / 0x100000000;
}

export function shardName(i: number): string {
  return `model-${String(i).padStart(5, '0')}-of-${String(SHARDS).padStart(6, '0')}.safetensors`;
}

function shardSizes(): number[] {
  const sizes: number[] = [];
  for (let i = 2; i < SHARDS; i++) {
    sizes[i] = i === 9 ? Math.round(9.79 * GiB) : Math.round((9.3 + 0.3 * unit(`shard:${i}`)) * GiB);
  }
  const middle = sizes.reduce((a, b) => a + (b ?? 0), 0);
  const rest = TOTAL_SHARD_BYTES - middle;
  sizes[1] = Math.round(rest * 0.58);
  sizes[SHARDS] = rest - sizes[1]!;
  return sizes;
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);

const CONFIG = {
  architectures: ['KimiK25ForConditionalGeneration'],
  auto_map: {
    AutoConfig: 'configuration_kimi_k25.KimiK25Config',
    AutoModel: 'modeling_kimi_k25.KimiK25ForConditionalGeneration',
    AutoModelForCausalLM: 'modeling_kimi_k25.KimiK25ForConditionalGeneration',
    AutoProcessor: 'kimi_k25_processor.KimiK25Processor',
  },
  model_type: 'kimi_k25',
  media_placeholder_token_id: 163605,
  text_config: {
    model_type: 'kimi_k2',
    hidden_size: 7168,
    intermediate_size: 18432,
    moe_intermediate_size: 2048,
    num_hidden_layers: 61,
    first_k_dense_replace: 1,
    num_attention_heads: 64,
    num_key_value_heads: 64,
    n_routed_experts: 384,
    n_shared_experts: 1,
    num_experts_per_tok: 8,
    kv_lora_rank: 512,
    q_lora_rank: 1536,
    qk_nope_head_dim: 128,
    qk_rope_head_dim: 64,
    v_head_dim: 128,
    vocab_size: 163840,
    max_position_embeddings: 262144,
    bos_token_id: 163584,
    eos_token_id: 163586,
    torch_dtype: 'bfloat16',
    quantization_config: { quant_method: 'compressed-tensors', format: 'pack-quantized', bits: 4 },
  },
  vision_config: { model_type: 'moonvit', hidden_size: 1152, num_hidden_layers: 27, patch_size: 14 },
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
};

const CHAT_TEMPLATE = `{#- Kimi-K2.5 chat template (abridged for the project's fake hub) -#}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}<|im_system|>system<|im_middle|>{{ message['content'] }}<|im_end|>
{%- elif message['role'] == 'user' -%}<|im_user|>user<|im_middle|>{{ message['content'] }}<|im_end|>
{%- elif message['role'] == 'assistant' -%}<|im_assistant|>assistant<|im_middle|>{{ message['content'] }}<|im_end|>
{%- elif message['role'] == 'tool' -%}<|im_system|>tool<|im_middle|>{{ message['content'] }}<|im_end|>
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}<|im_assistant|>assistant<|im_middle|>{%- if thinking is defined and not thinking -%}<think></think>{%- else -%}<think>{%- endif -%}{%- endif -%}
`;

/** Text of a given size whose lines say what it is (padding files that only need a plausible size). */
function placeholder(path: string, size: number, comment: string): Buffer {
  const line = `${comment} ${path}: placeholder content written by the project's fake modelscope hub.\n`;
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
}

function buildFiles(): RepoFile[] {
  const small = (path: string, content: Buffer): RepoFile => ({ path, size: content.length, content });
  const padded = (path: string, size: number, comment: string): RepoFile => small(path, placeholder(path, size, comment));
  const files: RepoFile[] = [
    padded('LICENSE', 1067, '#'),
    padded('README.md', 24615, '<!--'),
    small('chat_template.jinja', Buffer.from(CHAT_TEMPLATE)),
    small('config.json', json(CONFIG)),
    small('configuration.json', Buffer.from('{"framework":"pytorch","task":"image-text-to-text","allow_remote":true}')),
    padded('configuration_kimi_k25.py', 5183, '#'),
    padded('docs/deploy_guidance.md', 6354, '<!--'),
    small('generation_config.json', json({ max_length: 262144, eos_token_id: 163586 })),
    padded('kimi_k25_processor.py', 8911, '#'),
    { path: 'model.safetensors.index.json', size: 8914329 },
    padded('modeling_kimi_k25.py', 48736, '#'),
    { path: 'tiktoken.model', size: 2795286 },
    padded('tokenization_kimi.py', 11642, '#'),
    small('tokenizer_config.json', json({
      tokenizer_class: 'TikTokenTokenizer',
      auto_map: { AutoTokenizer: ['tokenization_kimi.TikTokenTokenizer', null] },
      bos_token: '[BOS]', eos_token: '[EOS]', pad_token: '[PAD]', unk_token: '[UNK]',
      model_max_length: 262144,
      chat_template: CHAT_TEMPLATE,
    })),
  ];
  const sizes = shardSizes();
  for (let i = 1; i <= SHARDS; i++) files.push({ path: shardName(i), size: sizes[i]! });
  // The hub lists paths in byte order.
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export const KIMI_K25_FILES: readonly RepoFile[] = buildFiles();

/** Bytes on disk for a file at the given scale: small files in full, others size/scale rounded up (≥ 1). */
export function diskSize(file: RepoFile, scale: number): number {
  if (file.content || file.size <= FULL_SIZE_LIMIT) return file.size;
  return Math.max(1, Math.ceil(file.size / scale));
}

/** Disk bytes that correspond to `real` downloaded bytes. */
export function diskBytesFor(file: RepoFile, scale: number, real: number): number {
  const disk = diskSize(file, scale);
  if (real >= file.size) return disk;
  return Math.floor((real * disk) / file.size);
}

/** Real bytes that a partial file of `disk` bytes stands for (the inverse used on resume). */
export function realBytesFor(file: RepoFile, scale: number, disk: number): number {
  const full = diskSize(file, scale);
  if (disk >= full) return file.size;
  return Math.ceil((disk * file.size) / full);
}

/** Bytes [start, end) of the file on disk (the same at every scale). Filler is a keyed byte pattern so a resumed file
 *  that skipped or repeated a range is detectable. */
export function contentSlice(file: RepoFile, start: number, end: number): Buffer {
  if (file.content) return file.content.subarray(start, end);
  const seed = createHash('sha256').update(file.path).digest();
  const out = Buffer.alloc(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) {
    const pos = start + i;
    out[i] = (seed[pos % 32]! ^ (pos * 131) ^ (pos >>> 8)) & 0xff;
  }
  return out;
}

/** The full expected content of a file at this scale. */
export function expectedContent(file: RepoFile, scale: number): Buffer {
  return contentSlice(file, 0, diskSize(file, scale));
}
