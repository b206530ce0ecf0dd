// Where a profile's server keeps its pid file and log on its host: `~/.kimi-vllm/<profile-slug>`. A module of its own
// (no shell scripts) so that the extension can look for a local record without loading the lifecycle code.
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';

export const STATE_ROOT = '~/.kimi-vllm';

/** A directory-name-safe, collision-resistant name for a profile: `gpu-box-1a2b3c4d`. */
export function profileSlug(profileName: string): string {
  const base =
    profileName
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 32) || 'profile';
  return `${base}-${createHash('sha256').update(profileName).digest('hex').slice(0, 8)}`;
}

/** `~/.kimi-vllm/<slug>` on the host (the `~` expands there). */
export function stateDirFor(profileName: string, root: string = STATE_ROOT): string {
  return `${root.replace(/\/+$/, '')}/${profileSlug(profileName)}`;
}

/** stateDirFor on this machine, with `~` expanded as the shell expands it ($HOME). */
export function localStateDir(profileName: string): string {
  return path.join(process.env.HOME || os.homedir(), '.kimi-vllm', profileSlug(profileName));
}
