// Proves these tests run in a REAL VS Code extension host (code-server's, on Node 24) with the workspace the
// harness prepared and the extension under development loaded from the repo root.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'kimi-selfhosted.kimi-vllm';

describe('integration harness: a real VS Code extension host', () => {
  it('is VS Code 1.139.x', () => {
    assert.match(vscode.version, /^1\.139\./);
  });

  it('runs on a real Node (24 under code-server) in a real process, not a web worker', () => {
    if (vscode.env.appName === 'code-server') {
      assert.match(process.versions.node, /^24\./);
      // The workspace (remote) extension host, not the browser's web-worker one.
      assert.ok(vscode.env.remoteName, 'expected to run in the remote extension host');
    } else {
      // VS Code desktop (npm run test:desktop): Electron's Node.
      assert.ok(process.versions.electron, `unexpected host ${vscode.env.appName}`);
    }
    assert.equal(typeof process.pid, 'number');
  });

  it('opened the temp copy of the sample workspace', () => {
    const expected = process.env.KIMI_TEST_WORKSPACE;
    assert.ok(expected, 'KIMI_TEST_WORKSPACE reaches the extension host through extensionEnvironment');
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1);
    assert.equal(fs.realpathSync(folders[0].uri.fsPath), fs.realpathSync(expected));
    assert.ok(fs.existsSync(path.join(expected, 'src', 'math.ts')));
    assert.ok(fs.existsSync(path.join(expected, '.gitignore')));
  });

  it('can find files through the workspace API', async () => {
    const found = await vscode.workspace.findFiles('**/*.{ts,py}', '**/node_modules/**');
    const names = found.map((u) => path.basename(u.fsPath)).sort();
    assert.deepEqual(names, ['analyze.py', 'main.ts', 'math.ts']);
  });

  it('can spawn child processes', () => {
    const out = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(6 * 7))'], { encoding: 'utf8' });
    assert.equal(out, '42');
  });

  it(`has the extension under development (${EXTENSION_ID}) and it activates`, async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not loaded from the extensionDevelopmentPath`);
    assert.equal(fs.realpathSync(ext.extensionPath), fs.realpathSync(process.env.KIMI_REPO_ROOT ?? ''));
    await ext.activate();
    assert.equal(ext.isActive, true);
  });
});
