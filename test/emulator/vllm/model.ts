// Where the model comes from. vLLM accepts a local directory or a hub id; with VLLM_USE_MODELSCOPE=true
// (vllm/envs.py lower-cases the value) hub ids are fetched from ModelScope instead of Hugging Face.
// The fake has no weights: an existing local path is accepted as is, an `org/name` id is taken as already cached.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type ModelSource =
  | { ok: true; kind: 'local'; path: string }
  | { ok: true; kind: 'hub'; path: string; modelscope: boolean; notice: string | null }
  | { ok: false; message: string };

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** vllm/transformers_utils/config.py: the ValueError when neither a hub repo nor a local config is found. */
export function invalidRepoMessage(model: string): string {
  return (
    `Invalid repository ID or local directory specified: '${model}'.\n` +
    'Please verify the following requirements:\n' +
    '1. Provide a valid Hugging Face repository ID.\n' +
    '2. Specify a local directory that contains a recognized configuration file.\n' +
    "   - For Hugging Face models: ensure the presence of a 'config.json'.\n" +
    "   - For Mistral models: ensure the presence of a 'params.json'.\n"
  );
}

export function resolveModel(model: string, downloadDir: string | null, env: NodeJS.ProcessEnv): ModelSource {
  if (model && fs.existsSync(model)) return { ok: true, kind: 'local', path: model };
  if (HUB_ID.test(model) && !model.startsWith('.')) {
    const modelscope = (env.VLLM_USE_MODELSCOPE ?? 'False').toLowerCase() === 'true';
    if (!modelscope) return { ok: true, kind: 'hub', path: model, modelscope: false, notice: null };
    // ModelScope's cache layout: <cache>/models/<org>/<name with '.' → '___'>.
    const cache = downloadDir ?? env.MODELSCOPE_CACHE ?? path.join(os.homedir(), '.cache', 'modelscope', 'hub');
    const [org, name] = model.split('/');
    const local = path.join(cache, 'models', org, name.replace(/\./g, '___'));
    return {
      ok: true,
      kind: 'hub',
      path: local,
      modelscope: true,
      notice: `Downloading Model from https://www.modelscope.cn to directory: ${local}`,
    };
  }
  return { ok: false, message: invalidRepoMessage(model) };
}

/** transformers' refusal to run a repo's custom code without trust_remote_code (Kimi-K2.5 ships its own config and
 *  modeling code, so it always needs the flag). */
export function trustRemoteCodeMessage(model: string, kind: 'local' | 'hub'): string {
  const where = kind === 'local' ? `${model} ` : `https://hf.co/${model}`;
  return (
    `The repository ${model} contains custom code which must be executed to correctly load the model. ` +
    `You can inspect the repository content at ${where}.\n` +
    'Please pass the argument `trust_remote_code=True` to allow custom code to be run.'
  );
}

/** ModelConfig's check of --max-model-len against the model's own limit. */
export function tooLongMessage(requested: number, derived: number): string {
  return (
    `User-specified max_model_len (${requested}) is greater than the derived max_model_len ` +
    `(max_position_embeddings=${derived} or model_max_length=None in model's config.json). ` +
    'To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. ' +
    'VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. If the model uses relative position encoding ' +
    '(RoPE), positions exceeding derived_max_model_len lead to nan. If the model uses absolute position encoding, ' +
    'positions exceeding derived_max_model_len will cause a CUDA array out-of-bounds error.'
  );
}
