// What a ChatSession needs of VS Code: the server's state and API key, the active editor (attach, insert), the
// clipboard, modal questions, links, commands, and restarting the managed server with missing flags.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { samplingFromSettings } from '../../core/chat/chatClient';
import type { TextAttachment } from '../../core/chat/conversation';
import { ChatError } from '../../core/chat/errors';
import { HistoryStore } from '../../core/chat/historyStore';
import type { ChatMode, ChatSampling } from '../../core/chat/types';
import type { ServerProfile } from '../../core/config/serverProfile';
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
    const { server } = this.s;
    const st = server.state;
    const wanted = flags.join(' ');
    // The error card keeps its button: pressed again while the restart runs (stopping, the settings written, starting)
    // or once it is done, it must neither claim the server is not Kimi's nor load the model a second time.
    const running = server.runningProfile;
    if (st.kind === 'ready' && !st.reattached && hasToolCalling(running)) {
      return `"${running.name}" already runs with tool calling turned on (${toolFlags(running)}). Press Retry to send the message again.`;
    }
    const underWay = restarting.get(this.s);
    if (underWay) return `Kimi is restarting "${underWay}" with tool calling turned on. Press Retry once the server is ready.`;
    switch (st.kind) {
      case 'preflight':
      case 'starting':
        // Started some other way (Start Server, a profile switch): it comes up with whatever its profile says.
        return hasToolCalling(running)
          ? `"${running.name}" is starting, with tool calling turned on (${toolFlags(running)}). Press Retry once it is ready.`
          : `"${running.name}" is starting without tool calling. Once it is ready, press Restart with Flags again to restart it with ${wanted}.`;
      case 'stopping':
        return `"${running.name}" is stopping. Once it has stopped, press Restart with Flags again to start it with tool calling turned on.`;
      case 'failed':
        return this.startWithToolCalling(wanted, `failed to start: ${st.diagnosis.title.replace(/\.$/, '')}`, st.pid !== undefined);
      case 'stopped': {
        // The chat now talks to kimi.endpoint.baseUrl: a server answering there is not Kimi's to restart.
        const endpoint = await this.s.status.check();
        if (endpoint.state !== 'unreachable' && endpoint.state !== 'checking') return this.notKimis(endpoint.baseUrl, wanted);
        return this.startWithToolCalling(wanted, 'is stopped', false);
      }
      case 'ready':
        break;
    }
    const ok = await this.confirm(
      `Restart "${running.name}" with tool calling turned on?`,
      `Kimi adds ${wanted} to the profile "${running.name}" (kimi.servers) and restarts the server on ${hostLabel(running.host)}. ` +
        'The chat is unavailable while the model loads again.',
      'Restart Server',
    );
    if (!ok) return undefined;
    this.withToolCalling(running, 'Restarting', true);
    return undefined;
  }

  /** A server Kimi does not run: what to run instead. Kimi's own profile is offered only when it has the flags. */
  private notKimis(baseUrl: string, wanted: string): string {
    const own = this.s.server.profile();
    const instead = hasToolCalling(own) ? ' (or start one of your kimi.servers profiles, which include them)'
      : `. Kimi's own profile "${own.name}" has tool calling turned off too`;
    return `The server at ${baseUrl} was not started by Kimi, so Kimi cannot restart it. Restart \`vllm serve\` with ${wanted}${instead}.`;
  }

  /** Kimi's server is not running (stopped, or its start failed): Start Server with the flags turned on, asked first. */
  private async startWithToolCalling(wanted: string, state: string, stopFirst: boolean): Promise<string | undefined> {
    // What Start Server starts: the active profile as the settings define it now.
    const profile = this.s.server.profile();
    if (hasToolCalling(profile)) {
      return `"${profile.name}" ${state}. Its profile already turns tool calling on (${toolFlags(profile)}): start it with Start Server, then press Retry.`;
    }
    const ok = await this.confirm(
      `Start "${profile.name}" with tool calling turned on?`,
      `"${profile.name}" ${state}. Kimi adds ${wanted} to the profile "${profile.name}" (kimi.servers) and starts the server on ` +
        `${hostLabel(profile.host)}. The chat is unavailable until the model has loaded.`,
      'Start Server',
    );
    if (!ok) return undefined;
    this.withToolCalling(profile, 'Starting', stopFirst);
    return undefined;
  }

  /** Writes the flags into `profile` and (re)starts its server in the background, saying in the chat what happens:
   *  now, and once the server is ready (Retry will work) or did not come up. */
  private withToolCalling(profile: ServerProfile, doing: 'Restarting' | 'Starting', stopFirst: boolean): void {
    const { config } = this.s;
    const parser = profile.toolCallParser || 'kimi_k2';
    const notice = (level: 'info' | 'warning', text: string) => this.post({ type: 'notice', level, text });
    restarting.set(this.s, profile.name);
    notice('info', `${doing} "${profile.name}" with tool calling turned on (--enable-auto-tool-choice --tool-call-parser ${parser}). ` +
      'The chat is unavailable while the model loads; press Retry once it is ready.');
    void (async () => {
      // Stopped first, so that changing the profile of a running server does not also offer a restart.
      if (stopFirst) await stopWithProgress(this.s, { quiet: true });
      await writeToolCalling(profile.name, parser);
      await settingsSettled(config, (x) => {
        const p = activeOf(x);
        return p.name !== profile.name || hasToolCalling(p);
      });
      const end = await startWithProgress(this.s);
      // Over before the chat says so: the button pressed after the note gets the answer of the state the note names.
      restarting.delete(this.s);
      if (end.kind === 'ready') notice('info', `"${end.profile}" is ready with tool calling turned on. Press Retry to send the message again.`);
      else if (end.kind === 'failed') notice('warning', `"${end.profile}" did not start: ${end.diagnosis.title.replace(/\.$/, '')}. Its profile keeps tool calling turned on; once the server runs, press Retry.`);
      else notice('info', `"${profile.name}" was not started. Its profile keeps tool calling turned on: start it with Start Server, then press Retry.`);
    })().catch((e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      notice('warning', `${doing} "${profile.name}" with tool calling failed: ${why}`);
      void vscode.window.showErrorMessage(`Kimi: ${doing.toLowerCase()} "${profile.name}" with tool calling failed: ${why}`);
    }).finally(() => restarting.delete(this.s));
  }
}

function hasToolCalling(p: ServerProfile): boolean {
  return p.enableAutoToolChoice && p.toolCallParser !== '';
}

function toolFlags(p: ServerProfile): string {
  return `--enable-auto-tool-choice --tool-call-parser ${p.toolCallParser}`;
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
