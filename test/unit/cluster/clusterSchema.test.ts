// Cluster profiles in kimi.servers: defaults, and every bad value refused with the setting's full name and the value.
import { strict as assert } from 'node:assert';
import { parseSettings } from '../../../src/core/config/settings';

function problems(cluster: unknown, host = 'gpu-a'): { setting: string; message: string }[] {
  return parseSettings({ servers: [{ name: 'Two boxes', host, cluster }] }).problems;
}

describe('cluster profiles (kimi.servers[].cluster)', () => {
  it('a head and one worker: layout ray, Ray port 6379, DP rpc port 13345, 8 ranks per node, detected addresses', () => {
    const { settings, problems: p } = parseSettings({ servers: [{ name: 'Two boxes', host: 'gpu-a', cluster: { workers: ['gpu-b'] } }] });
    assert.deepEqual(p, []);
    assert.deepEqual(settings.servers[0]!.cluster, {
      layout: 'ray',
      workers: ['gpu-b'],
      headIp: '',
      networkInterface: '',
      rayPort: 6379,
      dpRpcPort: 13345,
      dataParallelSizeLocal: 8,
      sharedStorage: false,
    });
  });

  it('workers may carry their own address and interface; IPv6 addresses are accepted', () => {
    const { settings, problems: p } = parseSettings({
      servers: [{ name: 'c', host: 'local', cluster: { layout: 'dp', headIp: 'fd00::1', workers: [{ host: 'root@10.0.0.2:2222', ip: '10.0.0.2', networkInterface: 'ib0' }, 'gpu-c'] } }],
    });
    assert.deepEqual(p, []);
    assert.deepEqual(settings.servers[0]!.cluster!.workers[0], { host: 'root@10.0.0.2:2222', ip: '10.0.0.2', networkInterface: 'ib0' });
  });

  it('refuses a worker that is "local", the head again, a duplicate, or shell text — naming the field and the value', () => {
    assert.deepEqual(problems({ workers: ['local'] }).map((x) => x.setting), ['kimi.servers[0].cluster.workers[0]']);
    assert.match(problems({ workers: ['local'] })[0]!.message, /"local" can only be the head.*\(got "local"\)/);
    const dup = problems({ workers: ['gpu-b', 'gpu-a', 'gpu-b'] });
    assert.deepEqual(dup.map((x) => x.setting), ['kimi.servers[0].cluster.workers[1]', 'kimi.servers[0].cluster.workers[2]']);
    assert.match(dup[0]!.message, /"gpu-a" is already a node of this cluster \(the head or another worker\) \(got "gpu-a"\)/);
    const evil = problems({ workers: ['gpu-b; touch /tmp/x'] });
    assert.equal(evil[0]!.setting, 'kimi.servers[0].cluster.workers[0]');
    assert.match(evil[0]!.message, /no spaces, quotes or shell characters/);
    assert.match(problems({ workers: ['-oProxyCommand=x'] })[0]!.message, /not starting with "-"/);
  });

  it('refuses bad addresses, interfaces, ports, layouts and an empty worker list', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ workers: [] }, 'kimi.servers[0].cluster.workers', /at least one worker/],
      [{ workers: ['b'], headIp: '10.0.0.300' }, 'kimi.servers[0].cluster.headIp', /IPv4 or IPv6 address.*\(got "10\.0\.0\.300"\)/],
      [{ workers: [{ host: 'b', ip: '$(id)' }] }, 'kimi.servers[0].cluster.workers[0].ip', /IPv4 or IPv6 address.*\(got "\$\(id\)"\)/],
      [{ workers: ['b'], networkInterface: 'eth0; reboot' }, 'kimi.servers[0].cluster.networkInterface', /network interface name/],
      [{ workers: ['b'], rayPort: 70000 }, 'kimi.servers[0].cluster.rayPort', /70000/],
      [{ workers: ['b'], layout: 'mesh' }, 'kimi.servers[0].cluster.layout', /"mesh"/],
      [{ workers: ['b'], dataParallelSizeLocal: 0 }, 'kimi.servers[0].cluster.dataParallelSizeLocal', /got 0/],
      [{ workers: ['b'], extra: 1 }, 'kimi.servers[0].cluster', /extra/],
    ];
    for (const [cluster, setting, message] of cases) {
      const p = problems(cluster);
      assert.ok(p.length > 0, JSON.stringify(cluster));
      assert.equal(p[0]!.setting, setting, JSON.stringify(p));
      assert.match(p.map((x) => x.message).join(' | '), message);
    }
  });

  it('a bad cluster drops only that profile', () => {
    const { settings } = parseSettings({ servers: [{ name: 'bad', host: 'a', cluster: { workers: ['local'] } }, { name: 'good', host: 'b' }] });
    assert.deepEqual(settings.servers.map((s) => s.name), ['good']);
  });
});
