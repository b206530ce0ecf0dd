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

export function parseVersion(version: string): [number, number, number] {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim());
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

export function versionAtLeast(version: string, min: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(min);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

export function newWording(version: string): boolean {
  return versionAtLeast(version, NEW_LOG_WORDING);
}
