// Python-flavoured formatting: the fake prints what CPython would print (dict reprs in
// `non-default args: {...}`, `round(x, 2)` floats in error messages, `'{:5.2f}'.format(x)` in tqdm).
// Getting these details right matters because log parsers are tested against this output.

/** A value that Python holds as a float even when it is integral (repr `0.9`, `1.0`). */
export class PyFloat {
  constructor(readonly value: number) {}
}

export type PyValue = string | number | boolean | null | PyFloat | PyValue[] | { [key: string]: PyValue };

/** Python's `repr(str)`: single quotes unless the text holds a `'` and no `"`. */
export function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch < ' ' || ch === '\x7f') out += '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

/** Python's `repr(float)`: shortest round-trip digits like JS, but `1.0` not `1` and `1e-07` not `1e-7`. */
export function pyFloat(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
  const s = String(n);
  const m = /^(-?[\d.]+)e([+-])(\d+)$/.exec(s);
  if (m) return `${m[1]}e${m[2]}${m[3].padStart(2, '0')}`;
  return s;
}

/** `repr()` of a value as Python would print it inside a dict or list. */
export function pyRepr(v: PyValue): string {
  if (v === null) return 'None';
  if (v instanceof PyFloat) return pyFloat(v.value);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string') return pyStr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v)
    .map(([k, val]) => `${pyStr(k)}: ${pyRepr(val)}`)
    .join(', ')}}`;
}

/** Python's `round(x, digits)` printed with repr: `round(139.804, 2)` → `139.8`. */
export function pyRound(x: number, digits: number): string {
  return pyFloat(Number(pyFixed(x, digits)));
}

/**
 * `'{:.Nf}'.format(x)`: like toFixed but with round-half-even on exact binary ties, which is what
 * CPython does (`'{:.0f}'.format(12.5)` is `12`, JS `(12.5).toFixed(0)` is `13`).
 */
export function pyFixed(x: number, digits: number): string {
  const scale = 10 ** digits;
  const scaled = x * scale;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5 && Number.isFinite(scaled)) {
    const even = floor % 2 === 0 ? floor : floor + 1;
    return (even / scale).toFixed(digits);
  }
  return x.toFixed(digits);
}

/** Python's `'{:,}'.format(n)` for integers: `3,522,400`. */
export function pyThousands(n: number): string {
  return Math.trunc(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
