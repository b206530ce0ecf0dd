// GPU "claims": how a fake process (the fake vLLM) tells the fake nvidia-smi that it occupies GPUs.
//
// A claim is a JSON file `<dir>/claims/<anything>.json`:
//   {"owner": 4242, "gpus": [{"index": 0, "pid": 4243, "processName": "VLLM::Worker_TP0", "usedMiB": 130000}]}
// It counts only while its `owner` pid is alive, so a crashed or killed server frees "its" GPU memory exactly
// like the real driver does when a process dies. Files live on disk (not in memory) because nvidia-smi runs as
// a separate process — possibly over SSH on a test host — and must see the claims of whoever wrote them.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ClaimedGpu {
  /** nvidia-smi index of the GPU. Claims naming a GPU the fake host does not have are ignored. */
  index: number;
  /** The pid shown in the process list (a worker pid; may differ from the claim's owner). */
  pid: number;
  /** Shown as "Process name" / process_name, e.g. `VLLM::Worker_TP0` or `python3`. */
  processName: string;
  usedMiB: number;
  /** Optional GPU utilisation in percent while this process computes. Default 0: a loaded model that serves
   *  no request shows 0 % on a real GPU. */
  utilizationGpu?: number;
}

export interface GpuClaim {
  /** Whose life the claim is tied to (process.kill(owner, 0) must succeed for it to count). */
  owner: number;
  gpus: ClaimedGpu[];
}

/** `$KIMI_FAKE_GPU_DIR`, default `/tmp/kimi-fake-gpus`. */
export function defaultGpuDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KIMI_FAKE_GPU_DIR || '/tmp/kimi-fake-gpus';
}

function claimsDir(dir: string): string {
  return path.join(dir, 'claims');
}

let sequence = 0;

/** Writes a claim and returns its file path. The write is atomic (temp file + rename), so a concurrent
 *  nvidia-smi never reads half a file. Several claims may share an owner (two servers in one test process). */
export function writeClaim(dir: string, claim: GpuClaim): string {
  const cdir = claimsDir(dir);
  fs.mkdirSync(cdir, { recursive: true });
  const name = `${claim.owner}-${Date.now()}-${process.pid}-${sequence++}.json`;
  const file = path.join(cdir, name);
  const tmp = path.join(cdir, `.${name}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(claim));
  fs.renameSync(tmp, file);
  return file;
}

/** Removes every claim of `owner` (the fake vLLM calls this on a clean shutdown). */
export function removeClaim(dir: string, owner: number): void {
  for (const { file, claim } of readAll(dir)) {
    if (claim?.owner === owner) fs.rmSync(file, { force: true });
  }
}

/** Claims whose owner is alive, oldest file name first. Dead owners' files are deleted on the way (best effort:
 *  another reader may race us to it). Malformed files are skipped, not fatal — a writer may be mid-rename. */
export function readLiveClaims(dir: string): GpuClaim[] {
  const live: GpuClaim[] = [];
  for (const { file, claim } of readAll(dir)) {
    if (!claim) continue;
    if (isAlive(claim.owner)) live.push(claim);
    else fs.rmSync(file, { force: true });
  }
  return live;
}

function readAll(dir: string): { file: string; claim: GpuClaim | undefined }[] {
  let names: string[];
  try {
    names = fs.readdirSync(claimsDir(dir));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .sort()
    .map((n) => {
      const file = path.join(claimsDir(dir), n);
      return { file, claim: parseClaim(file) };
    });
}

function parseClaim(file: string): GpuClaim | undefined {
  try {
    const raw: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!raw || typeof raw !== 'object') return undefined;
    const { owner, gpus } = raw as { owner?: unknown; gpus?: unknown };
    if (!Number.isInteger(owner) || !Array.isArray(gpus)) return undefined;
    const parsed: ClaimedGpu[] = [];
    for (const g of gpus as unknown[]) {
      if (!g || typeof g !== 'object') return undefined;
      const { index, pid, processName, usedMiB, utilizationGpu } = g as Record<string, unknown>;
      if (!Number.isInteger(index) || !Number.isInteger(pid) || typeof processName !== 'string' || typeof usedMiB !== 'number') {
        return undefined;
      }
      const entry: ClaimedGpu = { index: index as number, pid: pid as number, processName, usedMiB: Math.round(usedMiB) };
      if (typeof utilizationGpu === 'number') entry.utilizationGpu = utilizationGpu;
      parsed.push(entry);
    }
    return { owner: owner as number, gpus: parsed };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to someone else — alive all the same.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** A killed process that nobody reaped yet still answers kill(pid, 0), but the driver has freed its GPU memory
 *  (where no init reaps orphans — containers — such zombies linger). */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
