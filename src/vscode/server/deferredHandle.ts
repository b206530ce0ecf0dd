// A single-host profile's ServerHandle whose lifecycle code (ServerManager, SSH, the download — dist/features.js) is
// loaded the first time it is needed: a start, a stop, the logs, a download, a GPU probe, or a reattach that has
// something to find. Until then it is what a new ServerManager is: 'stopped', with no log.
//
// The one shortcut: a local profile whose state directory (~/.kimi-vllm/<slug>, made by the first start) does not
// exist has never run a server on this machine, so a reattach there has nothing to find and answers 'stopped' without
// loading anything — what the ServerManager would answer after running its status script.
import * as fs from 'node:fs';
import type { ServerProfile } from '../../core/config/serverProfile';
import type { LifecycleState, ServerController, Unsubscribe } from '../../core/server/lifecycleTypes';
import { localStateDir } from '../../core/server/stateDir';
import type { ServerHandle } from './controllerFactory';

export interface DeferredHandle extends ServerHandle {
  /** Whether the real handle exists (the lifecycle code was loaded for this profile). */
  readonly loaded: boolean;
}

export function deferredHandle(profile: ServerProfile, create: (p: ServerProfile) => ServerHandle): DeferredHandle {
  let real: ServerHandle | undefined;
  let disposed = false;
  const initial: LifecycleState = { kind: 'stopped', profile: profile.name, host: profile.host };
  const stateListeners = new Set<(s: LifecycleState) => void>();
  const logListeners = new Set<(line: string) => void>();
  const forward: Unsubscribe[] = [];

  const load = (): ServerHandle => {
    if (!real) {
      real = create(profile);
      forward.push(
        real.controller.onState((s) => stateListeners.forEach((l) => l(s))),
        real.controller.onLog((line) => logListeners.forEach((l) => l(line))),
      );
    }
    return real;
  };
  const nothingToFind = (): boolean => profile.host === 'local' && !fs.existsSync(localStateDir(profile.name));

  const controller: ServerController = {
    profile,
    get state() {
      return real ? real.controller.state : initial;
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    onLog(listener) {
      logListeners.add(listener);
      return () => logListeners.delete(listener);
    },
    start: (opts) => load().controller.start(opts),
    reattach: (opts) => (real || (!disposed && !nothingToFind()) ? load().controller.reattach(opts) : Promise.resolve(controller.state)),
    stop: () => load().controller.stop(),
    logTail: (lines) => load().controller.logTail(lines),
    dispose: () => handle.dispose(),
  };
  const handle: DeferredHandle = {
    profile,
    controller,
    get loaded() {
      return real !== undefined;
    },
    download: (opts) => load().download(opts),
    probeGpus: () => load().probeGpus(),
    dispose: () => {
      disposed = true;
      forward.splice(0).forEach((u) => u());
      return real ? real.dispose() : Promise.resolve();
    },
  };
  return handle;
}
