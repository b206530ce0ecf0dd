// What the integration suites share: the extension's API, its settings, a free port, pointing the extension at a
// server (an emulator) and waiting until its status check says ready there, the chat requests a server received, and
// the chat driven as its webview drives it (a ChatInbox tapping everything the chat posts).
//
//   beforeEach(async () => ({ inbox, tap } = await tapChat(a)));
//   afterEach(async () => { await untapChat(a, tap); await dropServer(emulator); emulator = undefined; … });
//   const h = await emulateFor(a, { tokensPerSecond: 500 });
import * as net from 'node:net';
import * as vscode from 'vscode';
import type { KimiApi } from '../../src/extension';
import { startEmulator, type EmulatorServerHandle } from '../emulator/server';
import type { EmulatorOptions } from '../emulator/types';
import { ChatInbox } from '../support/chatInbox';
import type { Json } from '../unit/chat/helpers';

export const EXT_ID = 'kimi-selfhosted.kimi-vllm';

/** The extension's API (activating it if it is not yet). */
export async function api(): Promise<KimiApi> {
  const ext = vscode.extensions.getExtension<KimiApi>(EXT_ID)!;
  return ext.isActive ? ext.exports : await ext.activate();
}

export const cfg = () => vscode.workspace.getConfiguration('kimi');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Points the extension at `baseUrl` and waits (bounded) until its status check says ready there. */
export async function useServer(a: KimiApi, baseUrl: string): Promise<void> {
  await cfg().update('endpoint.baseUrl', baseUrl, vscode.ConfigurationTarget.Global);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await a.services.status.check();
    if (v.state === 'ready' && v.baseUrl === baseUrl) return;
    if (Date.now() > deadline) throw new Error(`the extension never saw ${baseUrl} ready: ${JSON.stringify(v)}`);
  }
}

/** Starts an emulator and points the extension at it (closing it again if the extension never sees it ready). */
export async function emulateFor(a: KimiApi, opts: EmulatorOptions = {}): Promise<EmulatorServerHandle> {
  const emulator = await startEmulator(opts);
  try {
    await useServer(a, `${emulator.url}/v1`);
  } catch (e) {
    await emulator.close();
    throw e;
  }
  return emulator;
}

/** Closes the server (when there is one) and resets the endpoint setting. */
export async function dropServer(h: { close(): Promise<void> } | undefined): Promise<void> {
  await h?.close();
  await cfg().update('endpoint.baseUrl', undefined, vscode.ConfigurationTarget.Global);
}

/** The chat completion requests the server received, in order. */
export function chatRequests(h: EmulatorServerHandle): EmulatorServerHandle['requests'] {
  return h.requests.filter((r) => r.path === '/v1/chat/completions');
}

/** The bodies of the chat completion requests the server received, in order. */
export function chatBodies(h: EmulatorServerHandle): Json[] {
  return chatRequests(h).map((r) => r.body as Json);
}

/** A fresh inbox tapping everything the chat posts, then `ready` and `newChat` as the webview sends them. */
export async function tapChat(a: KimiApi): Promise<{ inbox: ChatInbox; tap: vscode.Disposable }> {
  const inbox = new ChatInbox();
  const tap = a.chat.onDidPost(inbox.push);
  await a.chat.receive({ type: 'ready' });
  await a.chat.receive({ type: 'newChat' });
  return { inbox, tap };
}

/** Removes the tap, stops whatever turn is running and waits until the session is idle. */
export async function untapChat(a: KimiApi, tap: vscode.Disposable | undefined): Promise<void> {
  tap?.dispose();
  await a.chat.receive({ type: 'stop' });
  await a.chat.session.idle();
}
