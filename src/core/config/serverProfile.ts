import * as z from 'zod/mini';
import { clusterSchema, duplicateHosts } from '../cluster/clusterSchema';
import { described } from './zodMini';

// A server profile: where `vllm serve` runs and with which options. Defaults reproduce the official
// Kimi-K2.5 command (docs/vllm-kimi-protocol.md §4) plus --enable-auto-tool-choice, bound to 127.0.0.1.

/** Characters that would let a value escape its argument when it reaches a remote shell. Values are always
 *  quoted when commands are built; this refuses them early with a clear message where they can only be a mistake. */
const SHELL_META = /[\s'"`$;&|<>\\!*?(){}\[\]#~\x00-\x1f]/;

const str = (max: number) => z.string().check(z.maxLength(max));
const nonEmpty = (max: number) => z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(max));
const int = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

const sshDestination = nonEmpty(255).check(
  z.refine((v) => v === 'local' || (!v.startsWith('-') && !SHELL_META.test(v.replace(/\[[0-9a-fA-F:]+\]/g, ''))), {
    message: 'must be "local", an alias from ~/.ssh/config, or user@host[:port] (no spaces, quotes or shell characters, not starting with "-")',
  }),
);

const envVarName = z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name'));

export const vllmEnvironmentSchema = described(
  z.strictObject({
    venv: described(z._default(str(4096), ''), 'Path of a Python virtual environment whose bin/ holds vllm (activated before running).'),
    conda: described(z._default(str(256), ''), 'Name of a conda environment holding vllm (`conda run -n NAME`).'),
    commandPrefix: described(z._default(str(4096), ''), 'A command prefix placed before `vllm`/`modelscope`, e.g. `env PATH=/opt/vllm/bin:$PATH`.'),
  }),
  'How `vllm` and `modelscope` get on PATH on the host. Leave all empty when they already are.',
);

export const serverProfileSchema = described(
  z.strictObject({
    name: described(nonEmpty(64), 'A name shown in pickers and the status bar.'),
    host: described(z._default(sshDestination, 'local'), '`local` for this machine, or an SSH destination: an alias from ~/.ssh/config or user@host[:port].'),
    sshConfigFile: described(
      z._default(str(4096).check(z.refine((v) => !/[\n\r\0]/.test(v), 'must be one line')), ''),
      'SSH hosts: an ssh config file on this machine to use instead of ~/.ssh/config (`ssh -F`; `~/` is your home). Empty = ~/.ssh/config.',
    ),
    model: described(z._default(nonEmpty(256), 'moonshotai/Kimi-K2.5'), 'The ModelScope model id.'),
    modelDir: described(z._default(str(4096), ''), 'The model directory on the host passed to `vllm serve`; empty = <downloadDir>/<model id>.'),
    downloadDir: described(z._default(str(4096), '~/models'), 'Where "Kimi: Download Model" puts the weights on the host (~595 GB).'),
    environment: z._default(vllmEnvironmentSchema, { venv: '', conda: '', commandPrefix: '' }),
    port: described(z._default(int(1, 65535), 8000), 'The port vLLM listens on (on the host).'),
    bindHost: described(z._default(nonEmpty(255), '127.0.0.1'), 'The address vLLM binds to. Keep 127.0.0.1 unless other machines must reach it.'),
    tensorParallelSize: described(z._default(int(1, 64), 8), '`-tp`: GPUs the model is split across.'),
    maxModelLen: described(z._default(int(0, 1048576), 0), "`--max-model-len`; 0 = the model's own (262144)."),
    gpuMemoryUtilization: described(z._default(z.number().check(z.gte(0.05), z.lte(1)), 0.9), '`--gpu-memory-utilization`: fraction of each GPU vLLM may use.'),
    servedModelName: described(z._default(str(256), ''), '`--served-model-name`; empty = the model path.'),
    mmEncoderTpMode: described(z._default(z.enum(['data', 'weights']), 'data'), '`--mm-encoder-tp-mode` for the vision encoder.'),
    toolCallParser: described(z._default(str(64), 'kimi_k2'), '`--tool-call-parser`; empty disables tool-call parsing.'),
    reasoningParser: described(z._default(str(64), 'kimi_k2'), '`--reasoning-parser`; empty leaves thinking inside the answer text.'),
    enableAutoToolChoice: described(z._default(z.boolean(), true), '`--enable-auto-tool-choice` (needed for tool calling).'),
    trustRemoteCode: described(z._default(z.boolean(), true), '`--trust-remote-code` (Kimi-K2.5 ships custom model code).'),
    extraArgs: described(z._default(z.array(str(4096)).check(z.maxLength(200)), []), 'More `vllm serve` arguments, one per item.'),
    env: described(z._default(z.record(envVarName, str(32768)), {}), 'Environment variables for `vllm serve` (e.g. VLLM_USE_MODELSCOPE).'),
    cluster: z.optional(clusterSchema),
  }).check(
    z.superRefine((p, ctx) => {
      if (!p.cluster) return;
      for (const d of duplicateHosts(p.host, p.cluster.workers)) {
        ctx.addIssue({ code: 'custom', path: ['cluster', 'workers', d.index], message: `${JSON.stringify(d.host)} is already a node of this cluster (the head or another worker)` });
      }
    }),
  ),
  'A place where `vllm serve` runs: one host, or a head host with workers (`cluster`).',
);

export type ServerProfile = z.output<typeof serverProfileSchema>;

/** The profile used when the user has defined none: this machine, the official command. */
export function defaultProfile(): ServerProfile {
  return z.parse(serverProfileSchema, { name: 'This machine' });
}
