// What a ChatSession needs of VS Code: the server's state and API key, the active editor (attach, insert), the
// clipboard, modal questions, links, commands, and restarting the managed server with missing flags.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { samplingFromSettings } from '../../core/chat/chatClient';
import type { TextAttachment } from '../../core/chat/conversation';
import { ChatError } from '../../core/chat/errors';
import { HistoryStore } from '../../core/chat/historyStore';
import type { ChatMode, ChatSampling } from '../../core/chat/types';
import { SETTINGS_SECTION } from '../../core/config/settings';
import { PROTOCOL_LIMITS, type HostToWebview, type ServerView } from '../../shared/protocol';
import { chatServerView, hostLabel } from '../server/presentation';
import { activeOf, settingsSettled } from '../server/profiles';
import { startWithProgress } from '../server/startFlow';
import { stopWithProgress } from '../server/stopFlow';
import type { Services } from '../services';
import { toolsHostFor } from '../tools/toolsHost';
import { VscodeWorkspace, type Approver } from '../tools/vscodeWorkspace';
import type { ChatPlatform } from './chatSession';
import type { ToolsAvailability } from './toolRun';

/** Where conversations are kept: the extension's global storage (survives window reloads, per machine). */
export function chatHistoryDir(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, 'chat-history');
}

function invalid(message: string): ChatError {
  return new ChatError({ kind: 'invalidInput', retryable: false, message });
}

/** The profile a "Restart with Flags" is restarting, per extension instance (one at a time). */
const restarting = new WeakMap<Services, string>();

export class VscodeChatPlatform implements ChatPlatform {
  readonly store: HistoryStore;
  readonly log: ChatPlatform['log'];

  constructor(private readonly s: Services, readonly post: (msg: HostToWebview) => void) {
    this.store = new HistoryStore(chatHistoryDir(s.context));
    this.log = { info: (l) => s.log.info(l), warn: (l) => s.log.warn(l) };
  }

  chatSettings(): { mode: ChatMode; sampling: ChatSampling } {
    const st = this.s.config.settings;
    return { mode: st['chat.mode'], sampling: samplingFromSettings(st) };
  }

  server(): ServerView {
    return chatServerView(this.s.status.current, this.s.server.state, this.s.server.download);
  }

  async refreshServer(): Promise<ServerView> {
    await this.s.status.check();
    return this.server();
  }

  apiKey(): Promise<string | undefined> {
    return this.s.secrets.apiKey();
  }

  reasoningParser(): boolean | undefined {
    // Known only for a server the extension runs: its profile says whether vLLM got --reasoning-parser.
    return this.s.server.state.kind === 'ready' ? this.s.server.runningProfile.reasoningParser !== '' : undefined;
  }

  async editorAttachment(what: 'file' | 'selection'): Promise<TextAttachment> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) throw invalid(`Nothing to attach: no file is open in an editor. Open the file${what === 'selection' ? ' and select the lines' : ''} first.`);
    const doc = editor.document;
    const shown = doc.isUntitled ? path.basename(doc.uri.path) : vscode.workspace.asRelativePath(doc.uri, false);
    let text: string;
    let startLine: number;
    let endLine: number;
    if (what === 'file') {
      text = doc.getText();
      startLine = 1;
      endLine = Math.max(1, doc.lineCount - (doc.lineCount > 1 && doc.lineAt(doc.lineCount - 1).text === '' ? 1 : 0));
    } else {
      const sel = editor.selection;
      if (sel.isEmpty) throw invalid(`Nothing to attach: nothing is selected in ${shown}. Select the lines to attach, or attach the whole file.`);
      text = doc.getText(sel);
      startLine = sel.start.line + 1;
      // A selection that ends at the start of a line does not include that line.
      endLine = sel.end.character === 0 && sel.end.line > sel.start.line ? sel.end.line : sel.end.line + 1;
    }
    if (text.length > PROTOCOL_LIMITS.maxMessageChars) {
      throw invalid(`${shown} is too large to attach: ${text.length.toLocaleString('en-US')} characters (the limit is ${PROTOCOL_LIMITS.maxMessageChars.toLocaleString('en-US')}). Attach a selection instead.`);
    }
    return { kind: what, path: shown, text, startLine, endLine, language: doc.languageId };
  }

  async insertCode(code: string): Promise<boolean> {
    const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
    if (!editor) return false;
    const ok = await editor.edit((b) => {
      for (const sel of editor.selections) b.replace(sel, code);
    });
    if (!ok) throw new Error(`the code could not be inserted into ${vscode.workspace.asRelativePath(editor.document.uri, false)} (is it read-only?)`);
    await vscode.window.showTextDocument(editor.document, { ...(editor.viewColumn ? { viewColumn: editor.viewColumn } : {}), preserveFocus: false });
    return true;
  }

  async copy(text: string): Promise<void> {
    await vscode.env.clipboard.writeText(text);
  }

  async confirm(message: string, detail: string, confirmLabel: string): Promise<boolean> {
    const pick = await vscode.window.showWarningMessage(message, { modal: true, detail }, confirmLabel);
    return pick === confirmLabel;
  }

  async openExternal(url: string): Promise<void> {
    // strict parsing: the URL was checked already; Uri must not reinterpret it.
    const ok = await vscode.env.openExternal(vscode.Uri.parse(url, true));
    if (!ok) this.log.warn(`Opening ${url} was refused or failed.`);
  }

  runCommand(command: 'kimi.startServer' | 'kimi.setApiKey' | 'kimi.openSettings'): void {
    void Promise.resolve(vscode.commands.executeCommand(command)).catch((e: unknown) => this.log.warn(`${command} failed: ${String(e)}`));
  }

  tools(approve: Approver): ToolsAvailability {
    const st = this.s.config.settings;
    if (!st['tools.enabled']) return { enabled: false };
    if (!vscode.workspace.isTrusted) {
      return {
        enabled: false,
        reason: 'Kimi answers without tools here: this workspace is in Restricted Mode (not trusted), so Kimi may not read, search ' +
          'or change its files or run commands in it. Trust the workspace (Workspaces: Manage Workspace Trust) to let Kimi use them.',
      };
    }
    const host = toolsHostFor(this.s);
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const port = folders.length ? new VscodeWorkspace({ folders, approve, output: () => host.output }) : undefined;
    if (!port && !st['tools.enableDemoTools']) return { enabled: false };
    return { enabled: true, ...(port ? { port } : {}), demo: st['tools.enableDemoTools'], maxRounds: st['tools.maxRounds'], presenter: host, memory: host.memory };
  }

  async restartServerWithFlags(flags: string[]): Promise<string | undefined> {
    const { server, config } = this.s;
    const st = server.state;
    // The error card keeps its button: pressed again while the restart runs (stopping, the settings written, starting)
    // or once it is done, it must neither claim the server is not Kimi's nor load the model a second time.
    const profile = server.runningProfile;
    if (st.kind === 'ready' && !st.reattached && profile.enableAutoToolChoice && profile.toolCallParser !== '') {
      return `"${profile.name}" already runs with tool calling turned on (--enable-auto-tool-choice --tool-call-parser ${profile.toolCallParser}). Press Retry to send the message again.`;
    }
    const underWay = restarting.get(this.s);
    if (underWay) return `Kimi is restarting "${underWay}" with tool calling turned on. Press Retry once the server is ready.`;
    if (st.kind !== 'ready') {
      return `The server at ${this.server().baseUrl} was not started by Kimi, so Kimi cannot restart it. Restart \`vllm serve\` with ${flags.join(' ')} (or start one of your kimi.servers profiles, which include them).`;
    }
    const ok = await this.confirm(
      `Restart "${profile.name}" with tool calling turned on?`,
      `Kimi adds ${flags.join(' ')} to the profile "${profile.name}" (kimi.servers) and restarts the server on ${hostLabel(profile.host)}. ` +
        'The chat is unavailable while the model loads again.',
      'Restart Server',
    );
    if (!ok) return undefined;
    restarting.set(this.s, profile.name);
    void (async () => {
      // Stopped first, so that changing the profile of a running server does not also offer a restart.
      await stopWithProgress(this.s, { quiet: true });
      await writeToolCalling(profile.name, profile.toolCallParser || 'kimi_k2');
      await settingsSettled(config, (x) => {
        const p = activeOf(x);
        return p.name !== profile.name || (p.enableAutoToolChoice && p.toolCallParser !== '');
      });
      await startWithProgress(this.s);
    })().catch((e: unknown) => {
      void vscode.window.showErrorMessage(`Kimi: restarting "${profile.name}" with tool calling failed: ${e instanceof Error ? e.message : String(e)}`);
    }).finally(() => restarting.delete(this.s));
    return undefined;
  }
}

/** Turns on `--enable-auto-tool-choice --tool-call-parser P` in the profile's kimi.servers entry (user level; the
 *  implicit default profile becomes an explicit entry). */
async function writeToolCalling(profileName: string, parser: string): Promise<void> {
  const cfg = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  const raw = cfg.get<unknown>('servers');
  const servers: unknown[] = Array.isArray(raw) ? raw.map((p) => (p && typeof p === 'object' ? { ...(p as object) } : p)) : [];
  let entry = servers.find((p): p is Record<string, unknown> => !!p && typeof p === 'object' && (p as { name?: unknown }).name === profileName);
  if (!entry) {
    entry = { name: profileName };
    servers.push(entry);
  }
  entry.enableAutoToolChoice = true;
  entry.toolCallParser = parser;
  await cfg.update('servers', servers, vscode.ConfigurationTarget.Global);
}
