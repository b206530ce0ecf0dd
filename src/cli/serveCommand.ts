import type { ServerProfile } from '../core/config/serverProfile';
import { NVIDIA_SMI_QUERY, parseComputeApps, parseGpuQuery, summarizeGpus } from '../core/server/gpuProbe';
import type { LifecycleState } from '../core/server/lifecycleTypes';
import { shellCommand } from '../core/server/vllmCommand';
import { parseArgs, UsageError } from './args';
import { managerFor, PROFILE_FLAGS, resolveProfile, runnerFor } from './profiles';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** `kimi-vllm serve start|stop|status|logs …` */
export async function runServe(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { flags, positionals } = parseArgs(rest, { ...PROFILE_FLAGS, follow: { value: false }, lines: { value: true } });
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const profile = resolveProfile(flags);
  const json = flags.json === true;
  const apiKey = io.env.KIMI_API_KEY || undefined;
  const m = managerFor(profile);
  try {
    switch (sub) {
      case 'start': {
        if (!json) m.onState((s) => s.kind === 'starting' && io.stderr.write(`${progressLine(s)}\n`));
        const s = await m.start(apiKey ? { apiKey } : {});
        if (json) io.stdout.write(`${JSON.stringify(statusJson(s))}\n`);
        if (s.kind === 'failed') {
          io.stderr.write(`kimi-vllm: ${s.diagnosis.title}: ${s.diagnosis.explanation}\n`);
          return 1;
        }
        if (!json && s.kind === 'ready') {
          io.stdout.write(`ready: ${s.modelId} (pid ${s.pid})${s.gpus ? ` on ${s.gpus}` : ''}\n`);
          io.stdout.write(profile.host === 'local' ? `${s.baseUrl}\n` : `on ${profile.host} at ${profile.bindHost}:${profile.port}; reach it with: ssh -N -L ${profile.port}:${profile.bindHost}:${profile.port} ${profile.host}\n`);
        }
        return s.kind === 'ready' ? 0 : 1;
      }
      case 'status': {
        const s = await m.inspect(apiKey ? { apiKey } : {});
        if (json) io.stdout.write(`${JSON.stringify(statusJson(s))}\n`);
        else io.stdout.write(`${humanStatus(s)}\n`);
        return s.kind === 'failed' && s.diagnosis.code === 'engineInitFailed' && !('pid' in s) ? 1 : 0;
      }
      case 'stop': {
        const r = await m.stop();
        if (json) io.stdout.write(`${JSON.stringify(r)}\n`);
        else if (r.result === 'not-running' || r.result === 'stale') io.stdout.write(`no server of "${profile.name}" is running\n`);
        else io.stdout.write(`stopped "${profile.name}" (SIG${r.result}); port ${r.portClosed ? 'closed' : 'STILL OPEN'}; GPU memory ${Object.keys(r.gpuMemoryHeld).length ? `still held: ${JSON.stringify(r.gpuMemoryHeld)}` : 'freed'}\n`);
        return r.result === 'survived' || !r.portClosed ? 1 : 0;
      }
      case 'logs': {
        const n = typeof flags.lines === 'string' ? Number(flags.lines) : 200;
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--lines must be a positive whole number, got ${JSON.stringify(flags.lines)}`);
        for (const line of await m.logTail(n)) io.stdout.write(`${line}\n`);
        if (flags.follow) {
          m.onLog((line) => io.stdout.write(`${line}\n`));
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            void m.reattach(apiKey ? { apiKey } : {});
          });
        }
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown serve command "${sub}" (start, stop, status, logs)` : 'serve needs a command: start, stop, status or logs');
    }
  } finally {
    await m.dispose(); // closes tunnels and SSH masters; never stops the server
  }
}

/** `kimi-vllm gpus [--profile …] [--json]` */
export async function runGpus(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, PROFILE_FLAGS);
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const profile: ServerProfile = resolveProfile(flags);
  const runner = runnerFor(profile);
  try {
    const q = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.gpus]), { timeoutMs: 30_000 });
    if (q.code !== 0) {
      io.stderr.write(`kimi-vllm: nvidia-smi failed on ${profile.host}: ${(q.stdout + q.stderr).trim().split('\n').at(-1) ?? ''}\n`);
      return 1;
    }
    const apps = await runner.exec(shellCommand(profile, ['nvidia-smi', ...NVIDIA_SMI_QUERY.processes]), { timeoutMs: 30_000 });
    const gpus = parseGpuQuery(q.stdout);
    const processes = apps.code === 0 ? parseComputeApps(apps.stdout) : [];
    if (flags.json) io.stdout.write(`${JSON.stringify({ host: profile.host, gpus, processes })}\n`);
    else {
      io.stdout.write(`${profile.host}: ${summarizeGpus(gpus, processes)}\n`);
      for (const g of gpus) io.stdout.write(`  GPU ${g.index}  ${g.name}  ${((g.usedMiB ?? 0) / 1024).toFixed(1)} / ${((g.totalMiB ?? 0) / 1024).toFixed(1)} GiB used\n`);
    }
    return 0;
  } finally {
    await runner.close?.();
  }
}

export function statusJson(s: LifecycleState): Record<string, unknown> {
  const state = s.kind === 'ready' ? 'ready' : s.kind === 'failed' ? 'failed' : s.kind === 'stopped' ? 'stopped' : 'starting';
  return {
    state,
    profile: s.profile,
    baseUrl: s.kind === 'ready' ? s.baseUrl : '',
    pid: 'pid' in s && s.pid ? s.pid : null,
    phase: s.kind === 'starting' ? s.phase : s.kind,
    model: s.kind === 'ready' ? s.modelId : '',
    maxModelLen: s.kind === 'ready' && s.maxModelLen ? s.maxModelLen : null,
    ...(s.kind === 'failed' ? { diagnosis: { code: s.diagnosis.code, title: s.diagnosis.title, explanation: s.diagnosis.explanation } } : {}),
  };
}

function progressLine(s: Extract<LifecycleState, { kind: 'starting' }>): string {
  return `starting: ${s.phase}${s.progress ? ` ${s.progress.done}/${s.progress.total}` : ''}`;
}

function humanStatus(s: LifecycleState): string {
  switch (s.kind) {
    case 'ready':
      return `ready: ${s.modelId} at ${s.baseUrl} (pid ${s.pid})`;
    case 'starting':
      return `starting: ${s.phase} (pid ${s.pid ?? '?'})`;
    case 'failed':
      return `failed: ${s.diagnosis.title} — ${s.diagnosis.explanation}`;
    default:
      return `${s.kind}: "${s.profile}"`;
  }
}
