// The benchmark's baseline: what any extension does at activation — one status bar item and one command — and
// nothing more. scripts/bench.mjs bundles it exactly like src/extension.ts (esbuild, cjs, `vscode` external,
// minified) into out/bench/baseline/extension.js.
//
// It also hosts the activation probe (test/bench/activationProbe.ts): VS Code activates it (onStartupFinished, like
// kimi-vllm) as the extension under development, and the ExtensionContext it returns is the real one the probe hands
// (wrapped) to both measured bundles.
import * as vscode from 'vscode';

export interface BaselineApi {
  readonly context: vscode.ExtensionContext;
}

export function activate(context: vscode.ExtensionContext): BaselineApi {
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
  item.text = '$(beaker) Baseline';
  item.tooltip = 'Benchmark baseline extension';
  item.command = 'benchBaseline.hello';
  item.show();
  context.subscriptions.push(
    item,
    vscode.commands.registerCommand('benchBaseline.hello', () => vscode.window.showInformationMessage('Hello from the baseline')),
  );
  return { context };
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions.
}
