// The GPU pre-flight check against real nvidia-smi captures (test/fixtures/nvidia-smi, a 2×H200 host idle and
// busy) and the fake nvidia-smi (8 GPUs idle / busy / H100 / 2 GPUs, and GPUs held by a running fake vLLM).
import * as assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  NVIDIA_SMI_QUERY,
  NvidiaSmiParseError,
  formatGiB,
  interpretNvidiaSmiFailure,
  parseComputeApps,
  parseGpuQuery,
  preflight,
  type Gpu,
  type GpuProcess,
} from '../../../src/core/server/gpuProbe';
import { repoRoot } from '../../support/paths';
import { FAKE_BIN_DIR, freePort } from '../../emulator/vllm/spawnFake';
import { makeModelDir, startParsed, type ParsedRun } from './fakeRun';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'nvidia-smi');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
/** The field list the fixture CSVs were captured with (docs/vllm-kimi-protocol.md §7). */
const FIXTURE_FIELDS = 'index,name,uuid,pci.bus_id,driver_version,memory.total,memory.used,memory.free,utilization.gpu,utilization.memory,temperature.gpu,power.draw,power.limit,clocks.sm'.split(',');
const UUID0 = 'GPU-d814c0a1-34c5-1ff7-63ef-fa7ebbb3dc16';
const UUID1 = 'GPU-63b011ae-cac3-6133-f9f3-db00caa2472e';
const KIMI = '8× NVIDIA H100 80GB HBM3 = 637 GiB: Kimi-K2.5 needs about 714 GB — use 8×H200 or two hosts';

interface Smi { code: number | string | null; stdout: string; stderr: string }

/** Run an nvidia-smi (the fake by default) with only the given KIMI_FAKE_* settings. */
function smi(args: readonly string[], env: Record<string, string> = {}, exe = path.join(FAKE_BIN_DIR, 'nvidia-smi')): Promise<Smi> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KIMI_FAKE_')) clean[k] = v;
  return new Promise((resolve) => {
    execFile(exe, [...args], { env: { ...clean, ...env }, timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException).code ?? null) : 0;
      resolve({ code: typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : code, stdout, stderr });
    });
  });
}

async function probe(env: Record<string, string>): Promise<{ gpus: Gpu[]; processes: GpuProcess[] }> {
  const g = await smi(NVIDIA_SMI_QUERY.gpus, env);
  const p = await smi(NVIDIA_SMI_QUERY.processes, env);
  assert.equal(g.code, 0, g.stdout + g.stderr);
  assert.equal(p.code, 0, p.stdout + p.stderr);
  return { gpus: parseGpuQuery(g.stdout), processes: parseComputeApps(p.stdout) };
}

describe('gpuProbe: real nvidia-smi captures (2×H200)', () => {
  const idle: Gpu[] = [
    { index: 0, name: 'NVIDIA H200', uuid: UUID0, totalMiB: 143771, usedMiB: 0, freeMiB: 143156, utilizationPct: 0 },
    { index: 1, name: 'NVIDIA H200', uuid: UUID1, totalMiB: 143771, usedMiB: 0, freeMiB: 143156, utilizationPct: 0 },
  ];

  it('the argv is the documented query', () => {
    assert.deepEqual(NVIDIA_SMI_QUERY, {
      gpus: ['--query-gpu=index,name,uuid,memory.total,memory.used,memory.free,utilization.gpu', '--format=csv,noheader,nounits'],
      processes: ['--query-compute-apps=pid,process_name,used_memory,gpu_uuid', '--format=csv,noheader,nounits'],
    });
  });

  it('parses the noheader,nounits captures given their field list, and the header+units capture by its header', () => {
    assert.deepEqual(parseGpuQuery(fixture('query-idle-nounits.csv'), FIXTURE_FIELDS), idle);
    assert.deepEqual(parseGpuQuery(fixture('query-idle.csv')), idle);
    assert.deepEqual(parseGpuQuery(fixture('query-busy-nounits.csv'), FIXTURE_FIELDS), [
      { index: 0, name: 'NVIDIA H200', uuid: UUID0, totalMiB: 143771, usedMiB: 39159, freeMiB: 103998, utilizationPct: 100 },
      { index: 1, name: 'NVIDIA H200', uuid: UUID1, totalMiB: 143771, usedMiB: 38675, freeMiB: 104482, utilizationPct: 0 },
    ]);
    assert.deepEqual(parseComputeApps(fixture('compute-apps-busy.csv')), [
      { pid: 568, name: 'python3', usedMiB: 39150, gpuUuid: UUID0 },
      { pid: 568, name: 'python3', usedMiB: 38666, gpuUuid: UUID1 },
    ]);
  });

  it('busy capture, -tp 2: refused, with the numbers and the process holding the memory', () => {
    const r = preflight({
      gpus: parseGpuQuery(fixture('query-busy-nounits.csv'), FIXTURE_FIELDS),
      processes: parseComputeApps(fixture('compute-apps-busy.csv')),
      tensorParallelSize: 2,
      gpuMemoryUtilization: 0.9,
    });
    assert.deepEqual(r, {
      ok: false,
      reason:
        'GPU 0 has 101.6 GiB free of 140.4 GiB; vLLM needs 126.4 GiB (gpu-memory-utilization 0.9). Held by: pid 568 python3 (38.2 GiB). ' +
        'GPU 1 is short of memory too.',
      summary: '2× NVIDIA H200, 140.4 GiB each, all in use (least free: GPU 0, 101.6 GiB)',
      warnings: ['2× NVIDIA H200 = 281 GiB: Kimi-K2.5 needs about 714 GB — use 8×H200 or two hosts'],
    });
  });

  it('the free-memory rule is vLLM\'s: free < utilization × total refuses, equal passes', () => {
    const gpus = parseGpuQuery(fixture('query-busy-nounits.csv'), FIXTURE_FIELDS);
    const processes = parseComputeApps(fixture('compute-apps-busy.csv'));
    assert.equal(preflight({ gpus, processes, tensorParallelSize: 2, gpuMemoryUtilization: 0.72 }).ok, true); // 101.1 GiB ≤ 101.6
    assert.equal(preflight({ gpus, processes, tensorParallelSize: 2, gpuMemoryUtilization: 0.73 }).ok, false); // 102.5 GiB > 101.6
    const exact = [{ ...gpus[0], totalMiB: 1000, freeMiB: 500 }];
    assert.equal(preflight({ gpus: exact, processes: [], tensorParallelSize: 1, gpuMemoryUtilization: 0.5, modelGiB: 0.1 }).ok, true);
  });

  it('idle capture: -tp 2 passes with a size warning, -tp 8 is refused for lack of GPUs', () => {
    const gpus = parseGpuQuery(fixture('query-idle.csv'));
    assert.deepEqual(preflight({ gpus, processes: [], tensorParallelSize: 2, gpuMemoryUtilization: 0.9 }), {
      ok: true,
      summary: '2× NVIDIA H200, 140.4 GiB each, all free',
      warnings: ['2× NVIDIA H200 = 281 GiB: Kimi-K2.5 needs about 714 GB — use 8×H200 or two hosts'],
    });
    const r = preflight({ gpus, processes: [], tensorParallelSize: 8, gpuMemoryUtilization: 0.9 });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'This host has 2 GPUs (NVIDIA H200); the profile asks for 8 (tensor-parallel-size)');
  });

  it('the other captures are not query output: rejected with the offending line named', () => {
    for (const name of ['table-busy.txt', 'table-idle.txt', 'list-idle.txt', 'busy.txt', 'topo-idle.txt']) {
      assert.throws(() => parseGpuQuery(fixture(name)), (e: unknown) => e instanceof NvidiaSmiParseError && /line \d+ is not a GPU row|should be a number|no valid GPU index/.test(e.message), name);
    }
  });
});

describe('gpuProbe: parsing tolerance and garbage', () => {
  it('[N/A], [Not Supported], blank lines and CRLF are fine', () => {
    const csv = '\r\n0, NVIDIA H200, GPU-a, 143771, [N/A], 143156, [Not Supported]\r\n\r\n1, NVIDIA H200, [N/A], [N/A], [N/A], [N/A], [N/A]\r\n';
    assert.deepEqual(parseGpuQuery(csv), [
      { index: 0, name: 'NVIDIA H200', uuid: 'GPU-a', totalMiB: 143771, usedMiB: null, freeMiB: 143156, utilizationPct: null },
      { index: 1, name: 'NVIDIA H200', uuid: '', totalMiB: null, usedMiB: null, freeMiB: null, utilizationPct: null },
    ]);
    const r = preflight({ gpus: parseGpuQuery(csv), processes: [], tensorParallelSize: 2, gpuMemoryUtilization: 0.9 });
    assert.equal(r.ok, true);
    assert.deepEqual(r.warnings, ['GPU 1 does not report its memory, so it could not be checked']);
  });

  it('garbage throws NvidiaSmiParseError with a clear message', () => {
    const cases: [string, RegExp][] = [
      ['No devices were found\n', /line 1 is not a GPU row .*"No devices were found"/],
      ['Field "foo" is not a valid field to query.\n\n', /line 1 is not a GPU row/],
      ['0, NVIDIA H200, GPU-a, lots, 0, 1, 0\n', /"lots" where memory\.total should be a number/],
      ['x, NVIDIA H200, GPU-a, 1, 0, 1, 0\n', /"x" where the GPU index should be a number/],
      ['0, NVIDIA H200, GPU-a, 1, 0\n', /expected 7 comma-separated fields/],
      ['\u0000\u0001garbage,,,,,,\n', /where the GPU index should be a number/],
    ];
    for (const [csv, re] of cases) assert.throws(() => parseGpuQuery(csv), (e: unknown) => e instanceof NvidiaSmiParseError && re.test(e.message), csv);
    assert.throws(() => parseComputeApps('pid, process_name\nabc, python3\n'), /the pid should be a number/);
    assert.throws(() => parseGpuQuery('index, name\n0, H200\n'), /no memory\.total column/);
  });

  it('compute apps: none at all, "No running processes found", [N/A] memory, a process name with commas', () => {
    assert.deepEqual(parseComputeApps(''), []);
    assert.deepEqual(parseComputeApps('No running processes found\n'), []);
    assert.deepEqual(parseComputeApps('12, python3 -c a,b, [N/A], GPU-a\r\n'), [{ pid: 12, name: 'python3 -c a, b', usedMiB: null, gpuUuid: 'GPU-a' }]);
  });

  it('formatGiB: one decimal of MiB / 1024', () => {
    assert.equal(formatGiB(143771), '140.4');
    assert.equal(formatGiB(0.9 * 143771), '126.4');
    assert.equal(formatGiB(39150), '38.2');
  });

  it('nonsense profile numbers are refused, not crashed on', () => {
    const gpus = parseGpuQuery(fixture('query-idle.csv'));
    for (const [tp, util] of [[0, 0.9], [1.5, 0.9], [2, 0], [2, 1.5], [2, Number.NaN]]) {
      const r = preflight({ gpus, processes: [], tensorParallelSize: tp, gpuMemoryUtilization: util });
      assert.equal(r.ok, false, `${tp} ${util}`);
    }
    const none = preflight({ gpus: [], processes: [], tensorParallelSize: 8, gpuMemoryUtilization: 0.9 });
    assert.deepEqual(none, { ok: false, reason: 'This host has no GPUs that nvidia-smi can see; the profile asks for 8 (tensor-parallel-size)', summary: 'no GPUs', warnings: [] });
  });
});

describe('gpuProbe: the fake nvidia-smi', function () {
  this.timeout(30_000);
  let gpuDir: string;
  beforeEach(() => (gpuDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-gpuprobe-'))));
  afterEach(() => fs.rmSync(gpuDir, { recursive: true, force: true }));

  it('8 idle H200s: ok, "8× NVIDIA H200, 140.4 GiB each, all free"', async () => {
    const { gpus, processes } = await probe({ KIMI_FAKE_GPU_DIR: gpuDir });
    assert.equal(gpus.length, 8);
    assert.deepEqual(processes, []);
    assert.deepEqual(preflight({ gpus, processes, tensorParallelSize: 8, gpuMemoryUtilization: 0.9 }), {
      ok: true,
      summary: '8× NVIDIA H200, 140.4 GiB each, all free',
      warnings: [],
    });
  });

  it('8 busy H200s: refused at GPU 0 with its holder; the others listed', async () => {
    const { gpus, processes } = await probe({ KIMI_FAKE_GPU_DIR: gpuDir, KIMI_FAKE_GPU_STATE: 'busy' });
    assert.equal(processes.length, 8);
    const least = gpus.reduce((a, g) => (g.freeMiB! < a.freeMiB! ? g : a));
    assert.deepEqual(preflight({ gpus, processes, tensorParallelSize: 8, gpuMemoryUtilization: 0.9 }), {
      ok: false,
      reason:
        'GPU 0 has 101.6 GiB free of 140.4 GiB; vLLM needs 126.4 GiB (gpu-memory-utilization 0.9). Held by: pid 568 python3 (38.2 GiB). ' +
        'GPUs 1, 2, 3, 4, 5, 6, 7 are short of memory too.',
      summary: `8× NVIDIA H200, 140.4 GiB each, all in use (least free: GPU ${least.index}, ${formatGiB(least.freeMiB!)} GiB)`,
      warnings: [],
    });
  });

  it('8×H100 80GB: passes the free-memory check but warns that Kimi-K2.5 does not fit', async () => {
    const { gpus, processes } = await probe({ KIMI_FAKE_GPU_DIR: gpuDir, KIMI_FAKE_GPU_MODEL: 'NVIDIA H100 80GB HBM3' });
    assert.deepEqual(preflight({ gpus, processes, tensorParallelSize: 8, gpuMemoryUtilization: 0.9 }), {
      ok: true,
      summary: '8× NVIDIA H100 80GB HBM3, 79.6 GiB each, all free',
      warnings: [KIMI],
    });
  });

  it('2 GPUs, -tp 8: refused', async () => {
    const { gpus, processes } = await probe({ KIMI_FAKE_GPU_DIR: gpuDir, KIMI_FAKE_GPUS: '2' });
    const r = preflight({ gpus, processes, tensorParallelSize: 8, gpuMemoryUtilization: 0.9 });
    assert.deepEqual(r, {
      ok: false,
      reason: 'This host has 2 GPUs (NVIDIA H200); the profile asks for 8 (tensor-parallel-size)',
      summary: '2× NVIDIA H200, 140.4 GiB each, all free',
      warnings: [],
    });
  });

  describe('while a fake vLLM holds the GPUs', () => {
    let run: ParsedRun | undefined;
    let root: string | undefined;
    afterEach(async () => {
      await run?.fake.dispose();
      run = undefined;
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it('a second server is refused and told which worker holds the memory; after the first stops, it passes', async () => {
      let model: string;
      ({ root, model } = makeModelDir());
      run = startParsed(['serve', model, '-tp', '8', '--trust-remote-code', '--host', '127.0.0.1', '--port', String(await freePort())]);
      await run.fake.waitFor(/INFO:\s+Application startup complete\.$/);
      const env = { KIMI_FAKE_GPU_DIR: run.fake.gpuDir };
      const { gpus, processes } = await probe(env);
      const worker0 = Number(/\(Worker_TP0 pid=(\d+)\)/.exec(run.fake.lines.join('\n'))![1]);
      const held = processes.find((p) => p.gpuUuid === gpus[0].uuid)!;
      assert.deepEqual({ pid: held.pid, name: held.name }, { pid: worker0, name: 'VLLM::Worker_TP0' });
      const r = preflight({ gpus, processes, tensorParallelSize: 8, gpuMemoryUtilization: 0.9 });
      assert.equal(
        !r.ok && r.reason,
        `GPU 0 has ${formatGiB(gpus[0].freeMiB!)} GiB free of 140.4 GiB; vLLM needs 126.4 GiB (gpu-memory-utilization 0.9). ` +
          `Held by: pid ${worker0} VLLM::Worker_TP0 (${formatGiB(held.usedMiB!)} GiB). GPUs 1, 2, 3, 4, 5, 6, 7 are short of memory too.`,
      );
      run.fake.signal('SIGINT');
      assert.equal((await run.finish()).code, 0);
      const after = await probe(env);
      assert.equal(preflight({ ...after, tensorParallelSize: 8, gpuMemoryUtilization: 0.9 }).ok, true);
    });
  });

  describe('interpretNvidiaSmiFailure', () => {
    it('driver not reachable: exit 9, the message on stdout', async () => {
      const r = await smi(NVIDIA_SMI_QUERY.gpus, { KIMI_FAKE_GPU_DIR: gpuDir, KIMI_FAKE_NVIDIA_SMI: 'fail' });
      assert.equal(r.code, 9);
      assert.match(r.stdout, /couldn't communicate with the NVIDIA driver/);
      assert.equal(interpretNvidiaSmiFailure(r.code, r.stdout + r.stderr).kind, 'driverFailure');
      // Only the message, no status (e.g. over a shell that lost it):
      assert.equal(interpretNvidiaSmiFailure(null, r.stdout).kind, 'driverFailure');
    });

    it('no devices: exit 6', async () => {
      const r = await smi(NVIDIA_SMI_QUERY.gpus, { KIMI_FAKE_GPU_DIR: gpuDir, KIMI_FAKE_GPUS: '0' });
      assert.equal(r.code, 6);
      const f = interpretNvidiaSmiFailure(r.code, r.stdout + r.stderr);
      assert.equal(f.kind, 'noDevices');
      assert.equal(f.title, 'No NVIDIA GPUs found');
    });

    it('not installed: ENOENT from spawning it, and the shell\'s 127 "not found"', async () => {
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-empty-path-'));
      try {
        const direct = await smi(NVIDIA_SMI_QUERY.gpus, { PATH: empty }, 'nvidia-smi');
        assert.equal(direct.code, 'ENOENT');
        assert.equal(interpretNvidiaSmiFailure(direct.code, direct.stderr).kind, 'notInstalled');
        const viaShell = await new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn('/bin/sh', ['-c', 'nvidia-smi --query-gpu=index --format=csv'], { env: { PATH: empty }, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (out += d));
          child.on('close', (code) => resolve({ code, out }));
        });
        assert.equal(viaShell.code, 127);
        const f = interpretNvidiaSmiFailure(viaShell.code, viaShell.out);
        assert.equal(f.kind, 'notInstalled');
        assert.equal(interpretNvidiaSmiFailure(1, 'bash: nvidia-smi: command not found').kind, 'notInstalled');
        assert.match(f.explanation, /driver is not installed/);
      } finally {
        fs.rmSync(empty, { recursive: true, force: true });
      }
    });

    it('driver/library mismatch and anything else', () => {
      assert.equal(interpretNvidiaSmiFailure(18, 'Failed to initialize NVML: Driver/library version mismatch').kind, 'driverFailure');
      const other = interpretNvidiaSmiFailure(255, '\nUnable to determine the device handle for GPU0000:00:06.0: Unknown Error\n');
      assert.deepEqual(other, {
        kind: 'failed',
        title: 'nvidia-smi failed',
        explanation: 'nvidia-smi ended with status 255: Unable to determine the device handle for GPU0000:00:06.0: Unknown Error',
      });
    });
  });
});
