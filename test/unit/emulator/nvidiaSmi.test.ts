// The fake nvidia-smi, run as a real process through test/emulator/bin/nvidia-smi, against the real captures in
// test/fixtures/nvidia-smi (a 2×H200 host, driver 580.159.04).
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLiveClaims, removeClaim, writeClaim } from '../../emulator/nvidiaSmi/claims';
import { repoRoot } from '../../support/paths';
import { runTool, type ToolResult } from './spawnTool';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'nvidia-smi');
const fixture = (name: string) => fs.readFileSync(path.join(fixtures, name), 'utf8');
const ALL_FIELDS = 'index,name,uuid,pci.bus_id,driver_version,memory.total,memory.used,memory.free,utilization.gpu,' +
  'utilization.memory,temperature.gpu,power.draw,power.limit,clocks.sm';
const APPS = '--query-compute-apps=pid,process_name,used_memory,gpu_uuid';

describe('fake nvidia-smi', () => {
  let gpuDir: string;
  const smi = (args: string[], env: Record<string, string> = {}): Promise<ToolResult> =>
    runTool('nvidia-smi', args, { env: { KIMI_FAKE_GPU_DIR: gpuDir, ...env } });
  const ok = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
    const r = await smi(args, env);
    assert.equal(r.code, 0, `exit status of nvidia-smi ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, '');
    return r.stdout;
  };
  /** Everything but the first (date) line. */
  const afterDate = (text: string) => text.slice(text.indexOf('\n') + 1);

  beforeEach(() => {
    gpuDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-fake-gpus-'));
  });
  afterEach(() => {
    fs.rmSync(gpuDir, { recursive: true, force: true });
  });

  describe('reproduces the real 2×H200 captures', () => {
    const two = { KIMI_FAKE_GPUS: '2' };

    it('plain nvidia-smi, idle: byte for byte except the date line', async () => {
      const out = await ok([], two);
      const expected = fixture('table-idle.txt');
      assert.equal(afterDate(out), afterDate(expected));
      // The date line has the captured shape: asctime plus seven trailing spaces.
      assert.match(out.slice(0, out.indexOf('\n')), /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} {7}$/);
    });

    it('plain nvidia-smi, busy: byte for byte except the date line', async () => {
      assert.equal(afterDate(await ok([], { ...two, KIMI_FAKE_GPU_STATE: 'busy' })), afterDate(fixture('table-busy.txt')));
    });

    it('-L and topo -m', async () => {
      assert.equal(await ok(['-L'], two), fixture('list-idle.txt'));
      assert.equal(await ok(['--list-gpus'], two), fixture('list-idle.txt'));
      assert.equal(await ok(['topo', '-m'], two), fixture('topo-idle.txt'));
    });

    it('--query-gpu with csv and csv,noheader,nounits, idle and busy', async () => {
      assert.equal(await ok([`--query-gpu=${ALL_FIELDS}`, '--format=csv'], two), fixture('query-idle.csv'));
      assert.equal(await ok([`--query-gpu=${ALL_FIELDS}`, '--format=csv,noheader,nounits'], two), fixture('query-idle-nounits.csv'));
      assert.equal(await ok([`--query-gpu=${ALL_FIELDS}`, '--format=csv,noheader,nounits'], { ...two, KIMI_FAKE_GPU_STATE: 'busy' }),
        fixture('query-busy-nounits.csv'));
    });

    it('--query-compute-apps: the busy capture; only a header (or nothing) when idle', async () => {
      assert.equal(await ok([APPS, '--format=csv'], { ...two, KIMI_FAKE_GPU_STATE: 'busy' }), fixture('compute-apps-busy.csv'));
      assert.equal(await ok([APPS, '--format=csv'], two), 'pid, process_name, used_gpu_memory [MiB], gpu_uuid\n');
      assert.equal(await ok([APPS, '--format=csv,noheader'], two), '');
    });
  });

  describe('queries', () => {
    it('takes any subset of fields in any order, with aliases and the real header names and units', async () => {
      const env = { KIMI_FAKE_GPUS: '2' };
      assert.equal(await ok(['--query-gpu=clocks.sm,memory.total,index', '--format=csv'], env),
        'clocks.current.sm [MHz], memory.total [MiB], index\n405 MHz, 143771 MiB, 0\n345 MHz, 143771 MiB, 1\n');
      assert.equal(await ok(['--query-gpu=clocks.current.sm,power.draw,utilization.gpu', '--format=csv,nounits'], env),
        'clocks.current.sm [MHz], power.draw [W], utilization.gpu [%]\n405, 120.20, 0\n345, 103.44, 0\n');
      assert.equal(await ok(['--query-gpu', 'gpu_name,temperature.gpu,memory.free', '--format', 'csv,noheader'], env),
        'NVIDIA H200, 39, 143156 MiB\nNVIDIA H200, 40, 143156 MiB\n');
      assert.equal(await ok(['--query-gpu=count,fan.speed', '--format=csv,noheader'], env), '2, [N/A]\n2, [N/A]\n');
      assert.equal(await ok(['-i', '1', '--query-gpu=index,uuid', '--format=csv,noheader'], env),
        '1, GPU-63b011ae-cac3-6133-f9f3-db00caa2472e\n');
      assert.equal(await ok(['--id=GPU-d814c0a1-34c5-1ff7-63ef-fa7ebbb3dc16', '-L'], env),
        'GPU 0: NVIDIA H200 (UUID: GPU-d814c0a1-34c5-1ff7-63ef-fa7ebbb3dc16)\n');
    });

    it('scales to 8 GPUs by default: distinct UUIDs, consecutive bus ids, NV18 everywhere', async () => {
      const list = (await ok(['-L'])).trimEnd().split('\n');
      assert.equal(list.length, 8);
      assert.equal(list[0], 'GPU 0: NVIDIA H200 (UUID: GPU-d814c0a1-34c5-1ff7-63ef-fa7ebbb3dc16)');
      const uuids = list.map((l) => /\(UUID: (GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)$/.exec(l)?.[1]);
      assert.equal(new Set(uuids).size, 8);
      const rows = (await ok([`--query-gpu=${ALL_FIELDS}`, '--format=csv,noheader,nounits'])).trimEnd().split('\n').map((l) => l.split(', '));
      assert.deepEqual(rows.map((r) => r[3]), ['06', '07', '08', '09', '0A', '0B', '0C', '0D'].map((d) => `00000000:00:${d}.0`));
      assert.deepEqual(rows.map((r) => r[0]), ['0', '1', '2', '3', '4', '5', '6', '7']);
      assert.deepEqual(rows.map((r) => r[2]), uuids);
      for (const r of rows) {
        assert.equal(r[5], '143771');
        assert.ok(Number(r[10]) >= 30 && Number(r[10]) <= 50, `plausible idle temperature ${r[10]}`);
        assert.ok(Number(r[11]) > 80 && Number(r[11]) < 160, `plausible idle power ${r[11]}`);
      }
      const table = await ok([]);
      assert.equal(table.match(/^\| +\d+ +NVIDIA H200 +On +\| +00000000:00:[0-9A-F]{2}\.0 Off \|/gm)?.length, 8);
      assert.ok(table.split('\n').every((l) => l.length === 0 || l.length === 91 || /^\w{3} \w{3} /.test(l)));
      const topo = (await ok(['topo', '-m'])).split('\n');
      assert.equal(topo[0], `\t\x1b[4m${[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `GPU${i}`).join('\t')}\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m`);
      for (let i = 0; i < 8; i++) {
        const cells = topo[i + 1]!.split('\t');
        assert.equal(cells[0], `GPU${i}`);
        assert.deepEqual(cells.slice(1, 9), [0, 1, 2, 3, 4, 5, 6, 7].map((j) => (i === j ? ' X ' : 'NV18')));
      }
    });

    it('emulates H100 and A100 hosts', async () => {
      assert.equal(await ok(['--query-gpu=name,memory.total,power.limit', '--format=csv,noheader'], { KIMI_FAKE_GPUS: '1', KIMI_FAKE_GPU_MODEL: 'NVIDIA H100 80GB HBM3' }),
        'NVIDIA H100 80GB HBM3, 81559 MiB, 700.00 W\n');
      assert.equal(await ok(['--query-gpu=name,memory.total,power.limit', '--format=csv,noheader'], { KIMI_FAKE_GPUS: '1', KIMI_FAKE_GPU_MODEL: 'NVIDIA A100-SXM4-80GB' }),
        'NVIDIA A100-SXM4-80GB, 81920 MiB, 400.00 W\n');
      assert.match(await ok([], { KIMI_FAKE_GPUS: '1', KIMI_FAKE_GPU_MODEL: 'NVIDIA A100-SXM4-80GB' }),
        /\|   0  NVIDIA A100-SXM4-80GB          On  \|.*\n\| N\/A +\d+C +P0 +\d+W \/  400W \|        0MiB \/ 81920MiB \|/);
    });

    it('busy state on 8 GPUs: python3 (pid 568) holds ~39 GB on every GPU', async () => {
      const env = { KIMI_FAKE_GPU_STATE: 'busy' };
      const apps = (await ok([APPS, '--format=csv,noheader,nounits'], env)).trimEnd().split('\n').map((l) => l.split(', '));
      assert.equal(apps.length, 8);
      for (const [pid, name, mib] of apps) {
        assert.equal(pid, '568');
        assert.equal(name, 'python3');
        assert.ok(Math.abs(Number(mib) - 39000) < 1000, `~39 GB, got ${mib} MiB`);
      }
      const util = (await ok(['--query-gpu=utilization.gpu', '--format=csv,noheader,nounits'], env)).trimEnd().split('\n');
      assert.deepEqual(util, ['100', '0', '100', '0', '100', '0', '100', '0']);
    });
  });

  describe('live claims', () => {
    let owner: ChildProcess | undefined;

    const startOwner = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); process.stdout.write("up\\n")'], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('error', reject);
      });
      return child;
    };
    const stop = async (child: ChildProcess): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    };
    afterEach(async () => {
      if (owner) await stop(owner);
      owner = undefined;
    });

    it('appear in memory.used, the process list and the table while the owner lives, and vanish when it dies', async () => {
      owner = await startOwner();
      const file = writeClaim(gpuDir, {
        owner: owner.pid!,
        gpus: [
          { index: 0, pid: 4321, processName: 'VLLM::Worker_TP0', usedMiB: 130000 },
          { index: 1, pid: 4322, processName: 'VLLM::Worker_TP1', usedMiB: 129000 },
        ],
      });
      const env = { KIMI_FAKE_GPUS: '2' };
      // Used memory = the processes plus the driver's 9 MiB per-context overhead, as in the busy capture.
      assert.equal(await ok(['--query-gpu=memory.used,memory.free', '--format=csv,noheader,nounits'], env), '130009, 13148\n129009, 14148\n');
      assert.equal(await ok([APPS, '--format=csv,noheader'], env),
        '4321, VLLM::Worker_TP0, 130000 MiB, GPU-d814c0a1-34c5-1ff7-63ef-fa7ebbb3dc16\n' +
        '4322, VLLM::Worker_TP1, 129000 MiB, GPU-63b011ae-cac3-6133-f9f3-db00caa2472e\n');
      const table = await ok([], env);
      assert.match(table, /\|  130009MiB \/ 143771MiB \|/);
      assert.match(table, /\|    0   N\/A  N\/A            4321      C   VLLM::Worker_TP0 +130000MiB \|\n/);
      assert.equal(readLiveClaims(gpuDir).length, 1);

      await stop(owner);
      assert.equal(await ok(['--query-gpu=memory.used', '--format=csv,noheader,nounits'], env), '0\n0\n');
      assert.equal(await ok([APPS, '--format=csv,noheader'], env), '');
      assert.match(await ok([], env), /No running processes found/);
      assert.equal(fs.existsSync(file), false, 'the dead owner\'s claim was deleted');
    });

    it('add to the busy state and can report utilisation', async () => {
      owner = await startOwner();
      writeClaim(gpuDir, { owner: owner.pid!, gpus: [{ index: 1, pid: 777, processName: 'VLLM::Worker_TP1', usedMiB: 50000, utilizationGpu: 87 }] });
      const env = { KIMI_FAKE_GPUS: '2', KIMI_FAKE_GPU_STATE: 'busy' };
      assert.equal(await ok(['--query-gpu=index,memory.used,utilization.gpu', '--format=csv,noheader,nounits'], env), '0, 39159, 100\n1, 88675, 87\n');
      assert.equal((await ok([APPS, '--format=csv,noheader,nounits'], env)).trimEnd().split('\n').length, 3);
    });

    it('helper API: removeClaim drops only that owner, readLiveClaims skips dead owners and junk', async () => {
      owner = await startOwner();
      writeClaim(gpuDir, { owner: owner.pid!, gpus: [{ index: 0, pid: 1, processName: 'a', usedMiB: 1 }] });
      writeClaim(gpuDir, { owner: process.pid, gpus: [{ index: 1, pid: 2, processName: 'b', usedMiB: 2 }] });
      fs.writeFileSync(path.join(gpuDir, 'claims', 'junk.json'), '{"owner": "nope"');
      assert.deepEqual(readLiveClaims(gpuDir).map((c) => c.owner).sort(), [owner.pid!, process.pid].sort());
      removeClaim(gpuDir, process.pid);
      assert.deepEqual(readLiveClaims(gpuDir).map((c) => c.owner), [owner.pid!]);
      await stop(owner);
      assert.deepEqual(readLiveClaims(gpuDir), []);
      assert.deepEqual(readLiveClaims(path.join(gpuDir, 'does-not-exist')), []);
    });
  });

  describe('errors, with the real texts and exit statuses', () => {
    it('unknown field → exit 2', async () => {
      const r = await smi(['--query-gpu=index,cuda_version', '--format=csv']);
      assert.deepEqual([r.code, r.stdout, r.stderr], [2, 'Field "cuda_version" is not a valid field to query.\n\n', '']);
      const apps = await smi(['--query-compute-apps=pid,bogus', '--format=csv']);
      assert.deepEqual([apps.code, apps.stdout], [2, 'Field "bogus" is not a valid field to query.\n\n']);
    });

    it('unknown option, missing --format or a bad format → exit 2', async () => {
      const invalid = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n";
      for (const args of [['--bogus'], ['--query-gpu=index'], ['--query-gpu=index', '--format=json'], ['topo'], ['-L', '--query-gpu=index', '--format=csv']]) {
        const r = await smi(args);
        assert.deepEqual([r.code, r.stdout], [2, invalid], args.join(' '));
      }
    });

    it('driver not loaded → exit 9; no GPUs or an unknown -i → exit 6', async () => {
      const failed = await smi([], { KIMI_FAKE_NVIDIA_SMI: 'fail' });
      assert.deepEqual([failed.code, failed.stdout], [9,
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n"]);
      const q = await smi([`--query-gpu=${ALL_FIELDS}`, '--format=csv'], { KIMI_FAKE_NVIDIA_SMI: 'fail' });
      assert.equal(q.code, 9);
      for (const [args, env] of [[['-L'], { KIMI_FAKE_GPUS: '0' }], [[], { KIMI_FAKE_GPUS: '0' }], [['-i', '9', '-L'], {}]] as const) {
        const r = await smi([...args], env);
        assert.deepEqual([r.code, r.stdout], [6, 'No devices were found\n']);
      }
    });

    it('a mistyped KIMI_FAKE_* setting fails loudly instead of pretending', async () => {
      const r = await smi(['-L'], { KIMI_FAKE_GPU_MODEL: 'NVIDIA B300' });
      assert.equal(r.code, 255);
      assert.match(r.stderr, /KIMI_FAKE_GPU_MODEL "NVIDIA B300" is not one of/);
    });
  });
});
