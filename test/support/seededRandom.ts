// A small seeded PRNG (mulberry32): numbers that look arbitrary but repeat run after run, for the emulator's jitter
// and cut points, generated workspaces and documents, and property tests. Plain code with no Node or DOM types: the
// browser pages (test/browser, bundled by esbuild) use it too.

/** Returns a generator of numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
