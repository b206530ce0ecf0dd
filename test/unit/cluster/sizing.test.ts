// Sizing help: the smallest layout that fits the GPUs found, explained with numbers; a refusal with numbers when
// nothing fits. GPU memory figures are what nvidia-smi reports (memory.total, MiB).
import { strict as assert } from 'node:assert';
import { checkLayout, proposeLayouts, type HostGpus } from '../../../src/core/cluster/sizing';

const H200 = { name: 'NVIDIA H200', totalMiB: 143771 };
const H100 = { name: 'NVIDIA H100 80GB HBM3', totalMiB: 81559 };
const A100 = { name: 'NVIDIA A100-SXM4-80GB', totalMiB: 81920 };
const A100_40 = { name: 'NVIDIA A100-SXM4-40GB', totalMiB: 40960 };

const host = (name: string, gpu: { name: string; totalMiB: number }, n = 8): HostGpus => ({ host: name, gpus: Array.from({ length: n }, () => ({ ...gpu })) });

describe('cluster sizing', () => {
  it('8× H200: one host, TP8, no cluster', () => {
    const r = proposeLayouts([host('gpu-a', H200)]);
    assert.equal(r.fits, true);
    assert.equal(r.proposals.length, 1);
    const p = r.proposals[0]!;
    assert.equal(p.kind, 'tp');
    assert.equal(p.tensorParallel, 8);
    assert.deepEqual(p.hosts, ['gpu-a']);
    assert.ok(p.kvGiBPerGpu > 40, `lots of KV room (${p.kvGiBPerGpu})`);
    assert.match(r.summary, /^Recommended: TP8 on gpu-a\. One host is enough/);
  });

  it('8× H100 alone: refused with the numbers', () => {
    const r = proposeLayouts([host('h100-a', H100)]);
    assert.equal(r.fits, false);
    assert.deepEqual(r.proposals, []);
    assert.match(r.summary, /does not fit on these GPUs: h100-a \(8× NVIDIA H100 80GB HBM3\) give 573\.\d GiB usable at gpu-memory-utilization 0\.9/);
    assert.match(r.summary, /needs 554 GiB of weights plus ~6 GiB per GPU/);
    assert.match(r.summary, /Add a host/);
  });

  it('2× 8 H100: TP8 × PP2 over Ray, or DP16 + expert parallel', () => {
    const r = proposeLayouts([host('h100-a', H100), host('h100-b', H100)]);
    assert.equal(r.fits, true);
    assert.deepEqual(r.proposals.map((p) => p.kind), ['tp-pp-ray', 'dp-ep']);
    const [pp, dp] = r.proposals as [typeof r.proposals[0], typeof r.proposals[0]];
    assert.equal(pp.tensorParallel, 8);
    assert.equal(pp.pipelineParallel, 2);
    assert.deepEqual(pp.hosts, ['h100-a', 'h100-b'], 'the first host listed is the head');
    assert.equal(dp.dataParallel, 16);
    assert.equal(dp.expertParallel, true);
    assert.ok(dp.kvGiBPerGpu > 0 && dp.kvGiBPerGpu < pp.kvGiBPerGpu);
    assert.match(r.summary, /Recommended: TP8 × PP2 over Ray on h100-a, h100-b\..*Alternative: DP16 \+ expert parallel on h100-a, h100-b\./s);
  });

  it('4× 8 A100 80GB: two hosts are enough, the others are spare', () => {
    const r = proposeLayouts(['a', 'b', 'c', 'd'].map((n) => host(`a100-${n}`, A100)));
    assert.equal(r.fits, true);
    const best = r.proposals[0]!;
    assert.equal(best.kind, 'tp-pp-ray');
    assert.equal(best.hosts.length, 2);
    assert.equal(best.pipelineParallel, 2);
    assert.match(r.summary, /2 more hosts could run further copies for more throughput, but are not needed/);
  });

  it('mixed hosts: the bigger host alone when it fits', () => {
    const r = proposeLayouts([host('small', A100_40), host('big', H200)]);
    assert.equal(r.proposals[0]!.kind, 'tp');
    assert.deepEqual(r.proposals[0]!.hosts, ['big']);
  });

  it('4× 8 A100 40GB: TP8 × PP3 (554/24 + 6 = 29 GiB of 36 per GPU); DP+EP cannot replicate 32 GiB there', () => {
    const r = proposeLayouts(['a', 'b', 'c', 'd'].map((n) => host(n, A100_40)));
    assert.equal(r.fits, true);
    assert.equal(r.proposals[0]!.pipelineParallel, 3);
    assert.deepEqual(r.proposals[0]!.hosts, ['a', 'b', 'c']);
    assert.ok(!r.proposals.some((p) => p.kind === 'dp-ep'));
    assert.equal(proposeLayouts(['a', 'b'].map((n) => host(n, A100_40))).fits, false, 'two of them are not enough');
  });

  it('hosts without GPUs or memory readings are left out and named', () => {
    const r = proposeLayouts([{ host: 'cpu-box', gpus: [] }, host('gpu-a', H200), { host: 'na', gpus: [{ name: 'X', totalMiB: null }] }]);
    assert.equal(r.fits, true);
    assert.match(r.summary, /Left out \(no GPUs or unknown memory\): cpu-box, na\./);
    assert.match(proposeLayouts([{ host: 'cpu-box', gpus: [] }]).summary, /No host reported usable GPUs/);
  });

  it('a lower gpu-memory-utilization can make a layout not fit', () => {
    assert.equal(proposeLayouts([host('gpu-a', H200)], { gpuMemoryUtilization: 0.5 }).fits, false);
  });

  it('uses the largest tensor-parallel size that divides the 64 heads', () => {
    assert.equal(proposeLayouts([host('six', H200, 6)]).fits, false, '6 GPUs → TP4, and 4× H200 cannot hold the model');
    const r = proposeLayouts([host('six-a', H200, 6), host('six-b', H200, 6)]);
    assert.equal(r.proposals[0]!.tensorParallel, 4, '6 GPUs per host → TP4 (6 does not divide 64)');
    assert.equal(r.proposals[0]!.pipelineParallel, 2);
  });

  describe('checking a given layout (a cluster profile\'s)', () => {
    it('2× 8 H100: TP8 × PP2 over Ray and DP16 + EP both fit, with the KV room per GPU', () => {
      const hosts = [host('a', H100), host('b', H100)];
      const ray = checkLayout(hosts, { kind: 'tp-pp-ray', tensorParallel: 8, gpusPerNode: 8 });
      assert.equal(ray.fits, true);
      assert.match(ray.explanation, /^TP8 × PP2 over Ray on a \(8× NVIDIA H100 80GB HBM3\), b \(8× NVIDIA H100 80GB HBM3\): 554 GiB of weights split over 16 GPUs is 34\.6 GiB each/);
      const dp = checkLayout(hosts, { kind: 'dp-ep', tensorParallel: 1, gpusPerNode: 8 });
      assert.equal(dp.fits, true);
      assert.ok(dp.kvGiBPerGpu < ray.kvGiBPerGpu);
    });

    it('2× 8 A100 40GB: refused with the numbers, and what would fit (a third host)', () => {
      const r = checkLayout([host('a', A100_40), host('b', A100_40)], { kind: 'tp-pp-ray', tensorParallel: 8, gpusPerNode: 8 });
      assert.equal(r.fits, false);
      assert.match(r.explanation, /TP8 × PP2 over Ray does not fit on a .*: 554 GiB of weights split over 16 GPUs is 34\.6 GiB each, plus ~4 GiB of runtime and at least 2 GiB of KV cache = 40\.6 GiB per GPU, but the smallest GPU gives 36 GiB at gpu-memory-utilization 0\.9\./);
      assert.match(r.explanation, /Kimi-K2\.5 does not fit on these GPUs/);
      const three = checkLayout([host('a', A100_40), host('b', A100_40), host('c', A100_40)], { kind: 'tp-pp-ray', tensorParallel: 8, gpusPerNode: 8 });
      assert.equal(three.fits, true);
    });
  });
});

