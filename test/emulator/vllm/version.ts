// vLLM version handling for the fake. Behaviour that changed between releases is keyed on these helpers so the
// cut-over points are in one place.

export const DEFAULT_VERSION = '0.15.1';

/**
 * First version printing `Starting vLLM server on http://…` instead of `Starting vLLM API server 0 on http://…`,
 * `Free memory on device cuda:N (…)` with the device name, `model's` instead of the old `models's` typo, and a
 * prefix coloured only on a TTY. Real logs dated Feb 2026 (0.15.x) still show the old start line, logs from April 2026
 * the new one; 0.17.0 is the cut-over the fake uses (the exact release was not pinned down).
 */
export const NEW_LOG_WORDING = '0.17.0';

// One version parser for the whole emulator: the HTTP server's wire-format switches use the same one.
import { versionAtLeast } from '../vllmFormat';

export { parseVersion, versionAtLeast } from '../vllmFormat';

export function newWording(version: string): boolean {
  return versionAtLeast(version, NEW_LOG_WORDING);
}
