// Human-readable numbers, durations and times for the chat panel.

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Whole seconds for the thinking timer: "12 s", "1 min 5 s". */
export function formatSeconds(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return rest ? `${m} min ${rest} s` : `${m} min`;
}

/** A finished duration: "420 ms", "12.3 s", "2 min 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatSeconds(ms);
}

/** "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then the date. */
export function relativeTime(then: number, now: number = Date.now()): string {
  const s = Math.round((now - then) / 1000);
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d === 1) return 'yesterday';
  if (d < 7) return `${d} days ago`;
  return new Date(then).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric' });
}

/** "src/a.ts:12-40", "src/a.ts:7", "src/a.ts". */
export function attachmentLabel(a: { path: string; startLine?: number; endLine?: number }): string {
  if (a.startLine === undefined) return a.path;
  if (a.endLine === undefined || a.endLine === a.startLine) return `${a.path}:${a.startLine}`;
  return `${a.path}:${a.startLine}-${a.endLine}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
