import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../support/paths';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const c = pkg.contributes;

function srcText(dir: string): string {
  return fs.readdirSync(dir, { withFileTypes: true }).map((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? srcText(p) : e.name.endsWith('.ts') ? fs.readFileSync(p, 'utf8') : '';
  }).join('\n');
}

describe('package.json manifest', () => {
  const declared: string[] = c.commands.map((x: { command: string }) => x.command);
  const registered = [...srcText(path.join(repoRoot, 'src/vscode')).matchAll(/registerCommand\(\s*'([^']+)'/g)].map((m) => m[1]!);

  it('has the display name, kimi.* command ids and the Kimi category', () => {
    assert.equal(pkg.displayName, 'Kimi (self-hosted)');
    for (const cmd of c.commands) {
      assert.match(cmd.command, /^kimi\.[a-zA-Z]+$/);
      assert.equal(cmd.category, 'Kimi');
    }
  });

  it('declares the lifecycle, chat and explain commands from day one', () => {
    for (const id of ['kimi.downloadModel', 'kimi.startServer', 'kimi.stopServer', 'kimi.restartServer', 'kimi.showServerLogs', 'kimi.openChat', 'kimi.newChat', 'kimi.explainSelection']) {
      assert.ok(declared.includes(id), id);
    }
  });

  it('every declared command is registered and every registered command is declared', () => {
    assert.deepEqual([...declared].sort(), [...new Set(registered)].sort());
  });

  it('menus, keybindings and walkthrough buttons refer to declared commands only', () => {
    const refs: string[] = [
      ...Object.values(c.menus as Record<string, { command: string }[]>).flat().map((m) => m.command),
      ...c.keybindings.map((k: { command: string }) => k.command),
      ...c.walkthroughs.flatMap((w: { steps: { description: string }[] }) => w.steps.flatMap((s) => [...s.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]!))),
    ];
    assert.ok(refs.length > 5);
    for (const r of refs) assert.ok(declared.includes(r), r);
  });

  it('Explain Selection is in the editor context menu and has a keybinding, both only with a selection', () => {
    const menu = c.menus['editor/context'].find((m: { command: string }) => m.command === 'kimi.explainSelection');
    assert.match(menu.when, /editorHasSelection/);
    const kb = c.keybindings.find((k: { command: string }) => k.command === 'kimi.explainSelection');
    assert.ok(kb.key && kb.mac);
    assert.match(kb.when, /editorHasSelection/);
  });

  it('the inline explanation\'s actions are on its comment thread (Kimi\'s comment controller only), not in the palette', () => {
    const threadActions = c.menus['comments/commentThread/title'].map((m: { command: string; when: string }) => [m.command, m.when]);
    assert.deepEqual(threadActions.map(([cmd]: string[]) => cmd), ['kimi.stopExplanation', 'kimi.rerunExplanation', 'kimi.continueExplanationInChat', 'kimi.dismissExplanation']);
    for (const [, when] of threadActions) assert.match(when, /^commentController == kimi\.explain\b/);
    const thinking = c.menus['comments/comment/title'].map((m: { command: string; when: string; group: string }) => [m.command, m.when, m.group]);
    assert.deepEqual(thinking.map(([cmd]: string[]) => cmd), ['kimi.showExplanationThinking', 'kimi.hideExplanationThinking']);
    for (const [, when, group] of thinking) {
      assert.match(when, /^commentController == kimi\.explain && comment == kimiThinking:(collapsed|expanded)$/);
      assert.match(group, /^inline/, 'shown as a button on the comment');
    }
    const hidden = c.menus.commandPalette.filter((m: { when: string }) => m.when === 'false').map((m: { command: string }) => m.command);
    for (const [cmd] of [...threadActions, ...thinking]) assert.ok(hidden.includes(cmd), `${cmd} is hidden from the palette`);
  });

  it('the chat is a webview view in its own activity-bar container', () => {
    const container = c.viewsContainers.activitybar.find((v: { id: string }) => v.id === 'kimi');
    assert.ok(container);
    assert.ok(fs.existsSync(path.join(repoRoot, container.icon)));
    assert.equal(c.views.kimi[0].type, 'webview');
    assert.equal(c.views.kimi[0].id, 'kimi.chatView');
  });

  it('the walkthrough steps have existing media', () => {
    const steps = c.walkthroughs[0].steps;
    assert.ok(steps.length >= 4);
    for (const s of steps) assert.ok(fs.existsSync(path.join(repoRoot, s.media.markdown)), s.media.markdown);
  });

  it('never delays VS Code start-up (only onStartupFinished, for the status bar) and targets a VS Code the tests can run', () => {
    assert.deepEqual(pkg.activationEvents, ['onStartupFinished']);
    const min = /^\^(\d+)\.(\d+)\.\d+$/.exec(pkg.engines.vscode);
    assert.ok(min, pkg.engines.vscode);
    assert.ok(Number(min[1]) === 1 && Number(min[2]) <= 139, 'engines.vscode must not ask for more than the test VS Code (1.139.1)');
    const types = /(\d+)\.(\d+)/.exec(pkg.devDependencies['@types/vscode'])!;
    assert.ok(Number(types[2]) <= Number(min[2]), '@types/vscode must not be newer than engines.vscode (vsce refuses)');
  });

  it('ships an allowlist .vscodeignore', () => {
    const lines = fs.readFileSync(path.join(repoRoot, '.vscodeignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(lines[0], '**');
    assert.ok(lines.slice(1).every((l) => l.startsWith('!')));
    assert.ok(!lines.some((l) => /test|emulator|\.map|src\//.test(l)));
  });
});
