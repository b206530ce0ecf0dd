// The split that keeps activation fast: dist/extension.js (what VS Code loads to activate) holds only the shell —
// settings, status bar, views, commands — and dist/features.js (loaded by src/vscode/lazy.ts on first use) the
// lifecycle, chat, tools, explain and cluster code. Read from the development build's source maps (npm test builds
// it first), so a static import that drags a heavy module back into the activation bundle fails here.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';

const dist = path.join(repoRoot, 'dist');

function sourcesOf(bundle: string): string[] {
  const map = path.join(dist, `${bundle}.map`);
  assert.ok(fs.existsSync(map), `${map} is missing: run \`node esbuild.mjs\` (the development build) first`);
  const { sources } = JSON.parse(fs.readFileSync(map, 'utf8')) as { sources: string[] };
  return sources.map((s) => path.relative(repoRoot, path.resolve(dist, s)).split(path.sep).join('/'));
}

/** Loaded only on first use: none of these may be in the activation bundle. */
const LAZY = [
  'src/core/server/serverManager.ts',
  'src/core/server/ssh.ts',
  'src/core/server/remoteScripts.ts',
  'src/core/server/diagnosis.ts',
  'src/core/cluster/clusterManager.ts',
  'src/core/download/modelDownload.ts',
  'src/core/chat/chatClient.ts',
  'src/core/chat/streamNormalizer.ts',
  'src/core/tools/registry.ts',
  'src/core/tools/toolLoop.ts',
  'src/core/explain/explainPrompt.ts',
  'src/vscode/chat/chatSession.ts',
  'src/vscode/explain/explainController.ts',
  'src/vscode/tools/toolsHost.ts',
  'src/vscode/server/controllerFactory.ts',
];

describe('bundles: what activation loads', () => {
  it('dist/extension.js leaves the lifecycle, chat, tools, explain and cluster code to dist/features.js', () => {
    const shell = sourcesOf('extension.js');
    const features = sourcesOf('features.js');
    assert.ok(shell.includes('src/extension.ts') && shell.includes('src/vscode/config.ts'), `unexpected sources: ${shell.slice(0, 5).join(', ')}…`);
    assert.deepEqual(LAZY.filter((f) => shell.includes(f)), [], 'modules in the activation bundle that belong to features.js');
    assert.deepEqual(LAZY.filter((f) => !features.includes(f)), [], 'modules missing from features.js');
  });

  it('dist/extension.js loads dist/features.js with a run-time require, next to itself', () => {
    const code = fs.readFileSync(path.join(dist, 'extension.js'), 'utf8');
    assert.match(code, /require\("\.\/features\.js"\)/);
    assert.ok(fs.existsSync(path.join(dist, 'features.js')));
    const features = fs.readFileSync(path.join(dist, 'features.js'), 'utf8');
    assert.doesNotMatch(features, /require\("\.\/features\.js"\)/, 'features.js must not load itself');
  });

  it('the VSIX allowlist ships dist/features.js', () => {
    const allow = fs.readFileSync(path.join(repoRoot, '.vscodeignore'), 'utf8').split('\n').map((l) => l.trim());
    assert.ok(allow.includes('!dist/features.js'), '.vscodeignore must let dist/features.js in');
  });
});
