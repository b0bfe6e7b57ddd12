/**
 * Settles as `p` does, but rejects with `reason(signal)` as soon as `signal` aborts, so that an
 * abort does not wait for a slow promise (a stalled RPC call). The abort listener is removed once
 * `p` settles, so a long-lived signal does not collect one listener per call.
 */
export function raceAbort<T>(
  p: Promise<T>,
  signal: AbortSignal,
  reason: (signal: AbortSignal) => unknown = (s) => s.reason,
): Promise<T> {
  if (signal.aborted) return Promise.reject(reason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
