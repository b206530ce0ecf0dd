// Waiting on a promise that an AbortSignal may cut short.

/** Settles like `p`, unless `signal` aborts first: then settles with `onAbort()` (its value, or its throw). A
 *  rejection of `p` after the abort is swallowed (the caller has moved on). */
export function settleOnAbort<T>(p: Promise<T>, signal: AbortSignal, onAbort: () => T): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return new Promise<T>((resolve) => resolve(onAbort()));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      p.catch(() => undefined);
      try {
        resolve(onAbort());
      } catch (e) {
        reject(e);
      }
    };
    signal.addEventListener('abort', abort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}
