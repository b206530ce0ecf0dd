// Python number formatting where JavaScript differs. `f'{x:.2f}'` rounds exact ties to even; Number#toFixed
// rounds them up (2.5 → "3" in JS, "2" in Python). tqdm's percentages and sizes go through Python's rule, so the
// fake must too or a bar could read "13%" where the real one reads "12%".

/** Python's `format(x, f'{width}.{digits}f')`. */
export function pyFixed(x: number, digits: number, width = 0): string {
  if (!Number.isFinite(x)) return (x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan').padStart(width);
  const negative = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  let text = abs.toFixed(digits);
  // toFixed(100) is the exact decimal expansion of the double (every double below 1e21 has at most ~1075
  // fractional digits, but the ones tqdm formats — at least 1e-3 — have fewer than 100).
  const exact = abs < 1e21 ? abs.toFixed(100) : '';
  const dot = exact.indexOf('.');
  if (dot >= 0) {
    const rest = exact.slice(dot + 1 + digits);
    if (/^50*$/.test(rest)) {
      // An exact tie: Python keeps the even neighbour. toFixed took the larger one; step back if that is odd.
      const truncated = exact.slice(0, digits > 0 ? dot + 1 + digits : dot);
      const lastDigit = Number(truncated[truncated.length - 1]);
      if (lastDigit % 2 === 0) text = truncated;
    }
  }
  return `${negative ? '-' : ''}${text}`.padStart(width);
}

/** tqdm.format_sizeof: three significant digits and an SI prefix (k, M, G, …) by `divisor`. */
export function formatSizeof(num: number, suffix = '', divisor = 1000): string {
  for (const unit of ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z']) {
    if (Math.abs(num) < 999.5) {
      if (Math.abs(num) < 99.95) {
        if (Math.abs(num) < 9.995) return `${pyFixed(num, 2, 1)}${unit}${suffix}`;
        return `${pyFixed(num, 1, 2)}${unit}${suffix}`;
      }
      return `${pyFixed(num, 0, 3)}${unit}${suffix}`;
    }
    num /= divisor;
  }
  return `${pyFixed(num, 1, 3)}Y${suffix}`;
}

/** tqdm.format_interval: [H:]MM:SS of int(t). */
export function formatInterval(t: number): string {
  const sign = t < 0 ? '-' : '';
  const mins = Math.floor(Math.abs(Math.trunc(t)) / 60);
  const s = Math.abs(Math.trunc(t)) % 60;
  const h = Math.floor(mins / 60);
  const m = mins % 60;
  const p2 = (n: number) => String(n).padStart(2, '0');
  return h ? `${sign}${h}:${p2(m)}:${p2(s)}` : `${sign}${p2(m)}:${p2(s)}`;
}
