// The Cluster Nodes view and its commands in package.json.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';

const c = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).contributes;

describe('package.json: the cluster view', () => {
  it('a tree view in the Kimi side bar, shown only while the active profile is a cluster', () => {
    const view = c.views.kimi.find((v: { id: string }) => v.id === 'kimi.clusterNodes');
    assert.ok(view, 'kimi.clusterNodes is contributed');
    assert.equal(view.type, undefined, 'a tree view (no webview type)');
    assert.equal(view.when, 'kimi.clusterProfile');
    assert.equal(view.name, 'Cluster Nodes');
  });

  it('each node has an inline "Show Node Logs"; the title bar starts, stops and checks the sizing', () => {
    assert.deepEqual(c.menus['view/item/context'].filter((m: { when: string }) => /kimi\.clusterNodes/.test(m.when)).map((m: { command: string; group: string }) => [m.command, m.group]), [['kimi.showNodeLogs', 'inline']]);
    const title = c.menus['view/title'].filter((m: { when: string }) => /view == kimi\.clusterNodes/.test(m.when)).map((m: { command: string }) => m.command);
    assert.deepEqual(title, ['kimi.startServer', 'kimi.stopServer', 'kimi.checkClusterSizing']);
    for (const id of ['kimi.showNodeLogs', 'kimi.checkClusterSizing']) {
      assert.equal(c.commandPalette?.length, undefined);
      assert.ok(c.menus.commandPalette.some((m: { command: string; when: string }) => m.command === id && m.when === 'kimi.clusterProfile'), `${id} in the palette only for a cluster`);
    }
  });

  it('Stop is offered in the title bar and the palette while a server runs, and after a Stop that could not check every node', () => {
    const title = c.menus['view/title'].find((m: { command: string; when: string }) => m.command === 'kimi.stopServer' && /view == kimi\.clusterNodes/.test(m.when));
    assert.equal(title.when, 'view == kimi.clusterNodes && kimi.serverRunning || view == kimi.clusterNodes && kimi.clusterUnchecked');
    assert.equal(c.menus.commandPalette.find((m: { command: string }) => m.command === 'kimi.stopServer').when, 'kimi.serverRunning || kimi.clusterUnchecked');
  });
});
