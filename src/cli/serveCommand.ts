// `kimi-vllm serve start|stop|status|logs` over the same ServerManager as the extension.
//
// start exits 0 once the server answers and leaves it running DETACHED on its host (setsid/nohup, pid and log in
// ~/.kimi-vllm/<profile> there): later status/stop/logs invocations, and the extension, find it by the profile
// name. For an SSH host the tunnel this process opened to confirm readiness closes when it exits; start and
// status print the `ssh -N -L …` command that makes the server reachable here at http://127.0.0.1:PORT/v1 (the
// extension opens its own tunnel).
import type { ServerProfile } from '../core/config/serverProfile';
import type { LifecycleState } from '../core/server/lifecycleTypes';
import { ClusterManager } from '../core/cluster/clusterManager';
import { unreachableCount } from '../core/cluster/clusterProfile';
import type { ClusterNodeStatus, StopReport } from '../core/server/lifecycleTypes';
import type { ServerManager } from '../core/server/serverManager';
import { parseArgs, UsageError } from './args';
import { managerFor, PROFILE_FLAGS, resolveProfile, tunnelHint } from './profiles';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Ctrl+C (logs --follow ends; start stops waiting, the server keeps loading). */
  signal?: AbortSignal;
}

export const SERVE_USAGE =
  'kimi-vllm serve start|stop|status|logs [--profile NAME] [--config FILE] [--host local|SSH-DEST] [--model PATH-OR-ID] [--port N] [--tp N] [--max-model-len N] [--json] [--follow] [--lines N] [--node HOST|N]';

/** `kimi-vllm serve start|stop|status|logs …` */
export async function runServe(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'start' && sub !== 'stop' && sub !== 'status' && sub !== 'logs') {
    throw new UsageError(sub ? `unknown serve command "${sub}" (start, stop, status, logs)` : 'serve needs a command: start, stop, status or logs');
  }
  const { flags, positionals } = parseArgs(rest, { ...PROFILE_FLAGS, follow: { value: false }, lines: { value: true }, node: { value: true } });
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if ((flags.follow || flags.lines !== undefined || flags.node !== undefined) && sub !== 'logs') throw new UsageError('--follow, --lines and --node belong to "serve logs"');
  const profile = resolveProfile(flags, io.env);
  const json = flags.json === true;
  const apiKey = io.env.KIMI_API_KEY || undefined;
  const m = managerFor(profile, io.env);
  if (typeof flags.node === 'string' && !(m instanceof ClusterManager)) throw new UsageError(`--node: the profile "${profile.name}" is not a cluster (it has no cluster.workers)`);
  try {
    switch (sub) {
      case 'start':
        return await start(m, profile, json, apiKey, io);
      case 'status': {
        const s = await m.inspect(apiKey ? { apiKey } : {});
        const nodes = m instanceof ClusterManager ? m.nodes : undefined;
        if (json) io.stdout.write(`${JSON.stringify({ ...statusJson(s, profile), ...(nodes ? { nodes: nodesJson(nodes) } : {}) })}\n`);
        else io.stdout.write(`${humanStatus(s, profile)}\n${nodes ? humanNodes(nodes) : ''}`);
        // 0: the question was answered (whatever the state); 1: the host could not be asked.
        return s.kind === 'failed' && s.pid === undefined && /over SSH|could not be managed|local command failed/.test(s.diagnosis.title) ? 1 : 0;
      }
      case 'stop': {
        const r = await m.stop();
        if (json) io.stdout.write(`${JSON.stringify(r)}\n`);
        else io.stdout.write(`${r.message ?? r.result}\n`);
        return r.result === 'survived' || !r.portClosed || leftBehind(r) ? 1 : 0;
      }
      case 'logs': {
        const n = typeof flags.lines === 'string' ? Number(flags.lines) : 200;
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--lines must be a positive whole number, got ${JSON.stringify(flags.lines)}`);
        if (m instanceof ClusterManager && typeof flags.node === 'string') {
          let node: number;
          try {
            node = m.nodeIndex(flags.node);
          } catch (e) {
            throw new UsageError(`--node: ${e instanceof Error ? e.message : String(e)}`);
          }
          if (!flags.follow) for (const line of await m.nodeLogTail(node, n)) io.stdout.write(`${line}\n`);
          else await m.followNodeLog(node, (line) => io.stdout.write(`${line}\n`), { backlog: n, ...(io.signal ? { signal: io.signal } : {}) });
          return 0;
        }
        if (!flags.follow) {
          for (const line of await m.logTail(n)) io.stdout.write(`${line}\n`);
          return 0;
        }
        // Until the server exits or Ctrl+C.
        await m.followLog((line) => io.stdout.write(`${line}\n`), { backlog: n, ...(io.signal ? { signal: io.signal } : {}) });
        return 0;
      }
    }
  } finally {
    await m.dispose(); // closes tunnels and the SSH master; never stops the server
  }
}

async function start(m: ServerManager | ClusterManager, profile: ServerProfile, json: boolean, apiKey: string | undefined, io: Io): Promise<number> {
  let last = '';
  const tty = io.stderr.isTTY === true;
  m.onState((s) => {
    if (json) return;
    const line = progressLine(s);
    if (!line || line === last) return;
    last = line;
    // On a terminal one line refreshes in place; in a log one line per change.
    io.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  });
  const s = await m.start({ ...(apiKey ? { apiKey } : {}), ...(io.signal ? { signal: io.signal } : {}) });
  if (tty && !json) io.stderr.write('\n');
  const nodes = m instanceof ClusterManager ? m.nodes : undefined;
  if (json) io.stdout.write(`${JSON.stringify({ ...statusJson(s, profile), ...(nodes ? { nodes: nodesJson(nodes) } : {}) })}\n`);
  if (s.kind === 'failed') {
    io.stderr.write(`kimi-vllm: ${oneLine(`${s.diagnosis.title}: ${s.diagnosis.explanation}${s.diagnosis.fix ? ` Fix: ${s.diagnosis.fix.label}.` : ''}`)}\n`);
    return 1;
  }
  if (nodes && !json && s.kind === 'ready') io.stdout.write(humanNodes(nodes));
  if (s.kind !== 'ready') {
    io.stderr.write(`kimi-vllm: not ready (${s.kind}${s.kind === 'starting' ? `: ${s.phase}` : ''}); the server keeps starting on ${profile.host} — see "kimi-vllm serve status".\n`);
    return 1;
  }
  if (!json) {
    io.stdout.write(`ready: ${s.modelId} (pid ${s.pid})${s.gpus ? ` on ${s.gpus}` : ''}\n`);
    const hint = tunnelHint(profile);
    if (!hint) io.stdout.write(`${s.baseUrl}\n`);
    else {
      io.stdout.write(`on ${profile.host} at ${profile.bindHost}:${profile.port}; reach it from here with:\n  ${hint.command}\n`);
      io.stdout.write(`then use ${hint.baseUrl} (the VS Code extension opens its own tunnel)\n`);
    }
  }
  return 0;
}

/** The documented `serve status --json` shape (+ `tunnel` for an SSH host, `diagnosis` when failed). */
export function statusJson(s: LifecycleState, profile?: ServerProfile): Record<string, unknown> {
  const state = s.kind === 'ready' ? 'ready' : s.kind === 'failed' ? 'failed' : s.kind === 'stopped' ? 'stopped' : 'starting';
  const hint = profile ? tunnelHint(profile) : undefined;
  // For an SSH host the URL that works here once the printed tunnel runs (ours closed when this process ended).
  const baseUrl = s.kind === 'ready' ? (hint ? hint.baseUrl : s.baseUrl) : '';
  return {
    state,
    profile: s.profile,
    baseUrl,
    pid: 'pid' in s && s.pid ? s.pid : null,
    phase: s.kind === 'starting' ? s.phase : s.kind === 'preflight' || s.kind === 'stopping' ? s.kind : state,
    model: s.kind === 'ready' ? s.modelId : '',
    maxModelLen: s.kind === 'ready' && s.maxModelLen ? s.maxModelLen : null,
    ...(hint && s.kind === 'ready' ? { tunnel: hint.command } : {}),
    ...(s.kind === 'failed' ? { diagnosis: { code: s.diagnosis.code, title: s.diagnosis.title, explanation: s.diagnosis.explanation, ...(s.diagnosis.fix ? { fix: s.diagnosis.fix } : {}) } } : {}),
  };
}

/** The `nodes` array of `serve status --json` for a cluster profile. */
export function nodesJson(nodes: readonly ClusterNodeStatus[]): Record<string, unknown>[] {
  return nodes.map((n) => ({
    host: n.host,
    role: n.role,
    ip: n.ip ?? null,
    state: n.state,
    gpus: n.gpus ?? null,
    pids: n.pids ?? {},
    detail: n.detail ?? null,
    lastLine: n.lastLine ?? null,
  }));
}

function humanNodes(nodes: readonly ClusterNodeStatus[]): string {
  return nodes
    .map((n) => `  ${n.role === 'head' ? 'head  ' : 'worker'} ${n.host === 'local' ? 'this machine' : n.host}${n.ip ? ` (${n.ip})` : ''}: ${n.state}${n.detail ? ` — ${n.detail}` : ''}${n.gpus ? `\n    GPUs: ${n.gpus}` : ''}${n.lastLine ? `\n    last: ${n.lastLine}` : ''}\n`)
    .join('');
}

function leftBehind(r: StopReport): boolean {
  return (r.nodes ?? []).some((n) => n.leftovers.length > 0 || Object.keys(n.gpuMemoryHeld).length > 0 || n.error !== undefined);
}

function progressLine(s: LifecycleState): string | undefined {
  switch (s.kind) {
    case 'preflight':
      return s.detail;
    case 'starting':
      return `starting: ${s.phase}${s.progress ? ` ${s.progress.done}/${s.progress.total}` : ''}${s.reconnecting ? ` (reconnecting to ${s.host}: ${s.reconnecting.reason})` : ''}`;
    default:
      return undefined;
  }
}

function humanStatus(s: LifecycleState, profile: ServerProfile): string {
  const hint = tunnelHint(profile);
  switch (s.kind) {
    case 'ready': {
      const line = hint
        ? `ready: ${s.modelId} on ${profile.host} (pid ${s.pid}), listening on ${profile.bindHost}:${profile.port} there.\n  reach it with: ${hint.command}   then ${hint.baseUrl}`
        : `ready: ${s.modelId} at ${s.baseUrl} (pid ${s.pid})${s.maxModelLen ? `, max_model_len ${s.maxModelLen}` : ''}`;
      // A cluster serving while some nodes cannot be asked over SSH (each one's reason is in the node list below).
      const down = s.unreachableNodes ?? [];
      return down.length ? `${line}\n  serving with ${unreachableCount(down.length)}: ${down.map((n) => n.label).join(', ')}` : line;
    }
    case 'starting':
      return `starting: ${s.phase}${s.progress ? ` ${s.progress.done}/${s.progress.total}` : ''} (pid ${s.pid ?? '?'}) on ${profile.host}`;
    case 'failed':
      return `failed: ${oneLine(`${s.diagnosis.title} — ${s.diagnosis.explanation}`)}`;
    default:
      return `${s.kind}: no server of "${s.profile}" is running on ${profile.host === 'local' ? 'this machine' : profile.host}`;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
