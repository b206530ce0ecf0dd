import { z } from 'zod';

// A server profile: where `vllm serve` runs and with which options. Defaults reproduce the official
// Kimi-K2.5 command (docs/vllm-kimi-protocol.md §4) plus --enable-auto-tool-choice, bound to 127.0.0.1.

/** Characters that would let a value escape its argument when it reaches a remote shell. Values are always
 *  quoted when commands are built; this refuses them early with a clear message where they can only be a mistake. */
const SHELL_META = /[\s'"`$;&|<>\\!*?(){}\[\]#~\x00-\x1f]/;

const sshDestination = z
  .string()
  .min(1, 'must not be empty')
  .max(255)
  .refine((v) => v === 'local' || (!v.startsWith('-') && !SHELL_META.test(v.replace(/\[[0-9a-fA-F:]+\]/g, ''))), {
    message: 'must be "local", an alias from ~/.ssh/config, or user@host[:port] (no spaces, quotes or shell characters, not starting with "-")',
  });

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');

export const vllmEnvironmentSchema = z
  .strictObject({
    venv: z.string().max(4096).default('').describe('Path of a Python virtual environment whose bin/ holds vllm (activated before running).'),
    conda: z.string().max(256).default('').describe('Name of a conda environment holding vllm (`conda run -n NAME`).'),
    commandPrefix: z.string().max(4096).default('').describe('A command prefix placed before `vllm`/`modelscope`, e.g. `env PATH=/opt/vllm/bin:$PATH`.'),
  })
  .describe('How `vllm` and `modelscope` get on PATH on the host. Leave all empty when they already are.');

export const serverProfileSchema = z
  .strictObject({
    name: z.string().min(1, 'must not be empty').max(64).describe('A name shown in pickers and the status bar.'),
    host: sshDestination.default('local').describe('`local` for this machine, or an SSH destination: an alias from ~/.ssh/config or user@host[:port].'),
    model: z.string().min(1).max(256).default('moonshotai/Kimi-K2.5').describe('The ModelScope model id.'),
    modelDir: z.string().max(4096).default('').describe('The model directory on the host passed to `vllm serve`; empty = <downloadDir>/<model id>.'),
    downloadDir: z.string().max(4096).default('~/models').describe('Where "Kimi: Download Model" puts the weights on the host (~595 GB).'),
    environment: vllmEnvironmentSchema.default({ venv: '', conda: '', commandPrefix: '' }),
    port: z.number().int().min(1).max(65535).default(8000).describe('The port vLLM listens on (on the host).'),
    bindHost: z.string().min(1).max(255).default('127.0.0.1').describe('The address vLLM binds to. Keep 127.0.0.1 unless other machines must reach it.'),
    tensorParallelSize: z.number().int().min(1).max(64).default(8).describe('`-tp`: GPUs the model is split across.'),
    maxModelLen: z.number().int().min(0).max(1048576).default(0).describe('`--max-model-len`; 0 = the model\'s own (262144).'),
    gpuMemoryUtilization: z.number().min(0.05).max(1).default(0.9).describe('`--gpu-memory-utilization`: fraction of each GPU vLLM may use.'),
    servedModelName: z.string().max(256).default('').describe('`--served-model-name`; empty = the model path.'),
    mmEncoderTpMode: z.enum(['data', 'weights']).default('data').describe('`--mm-encoder-tp-mode` for the vision encoder.'),
    toolCallParser: z.string().max(64).default('kimi_k2').describe('`--tool-call-parser`; empty disables tool-call parsing.'),
    reasoningParser: z.string().max(64).default('kimi_k2').describe('`--reasoning-parser`; empty leaves thinking inside the answer text.'),
    enableAutoToolChoice: z.boolean().default(true).describe('`--enable-auto-tool-choice` (needed for tool calling).'),
    trustRemoteCode: z.boolean().default(true).describe('`--trust-remote-code` (Kimi-K2.5 ships custom model code).'),
    extraArgs: z.array(z.string().max(4096)).max(200).default([]).describe('More `vllm serve` arguments, one per item.'),
    env: z.record(envVarName, z.string().max(32768)).default({}).describe('Environment variables for `vllm serve` (e.g. VLLM_USE_MODELSCOPE).'),
  })
  .describe('A place where `vllm serve` runs.');

export type ServerProfile = z.output<typeof serverProfileSchema>;

/** The profile used when the user has defined none: this machine, the official command. */
export function defaultProfile(): ServerProfile {
  return serverProfileSchema.parse({ name: 'This machine' });
}
