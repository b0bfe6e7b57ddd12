import { RetryableError } from "../core/errors.ts";
import type { AnyDataset, BlockRpc } from "../datasets/index.ts";
import type { FetchNeeds } from "../datasets/types.ts";
import type { BlockChunk } from "./naming.ts";

export interface PrefetchOptions {
  /** Blocks per dataset fetch call (the RPC client batches them into JSON-RPC batches). */
  groupSize: number;
  /** Upper bound on blocks requested but not yet consumed: the memory bound of the fetch stage. */
  maxBlocksInFlight: number;
  signal?: AbortSignal;
}

export function abortError(signal: AbortSignal): RetryableError {
  return new RetryableError("extraction aborted", { category: "aborted", cause: signal.reason });
}

/**
 * Fetches the blocks of `chunks` (in order; groups never span two chunks) ahead of the consumer,
 * one unit per block. Up to
 * `maxBlocksInFlight` blocks are requested at once (the RPC client further caps concurrent HTTP
 * requests); a new group is requested only when the consumer has taken one, so a slow encoder or
 * upload slows fetching instead of growing memory.
 */
export async function* prefetchUnits(
  dataset: AnyDataset,
  rpc: BlockRpc,
  chunks: readonly BlockChunk[],
  needs: FetchNeeds,
  opts: PrefetchOptions,
): AsyncGenerator<unknown> {
  const group = Math.max(1, opts.groupSize);
  const window = Math.max(1, Math.floor(opts.maxBlocksInFlight / group));
  const pending: { count: number; units: Promise<unknown[]> }[] = [];
  let chunkIndex = 0;
  let next = chunks[0]?.start ?? 0;
  const launch = () => {
    while (pending.length < window && chunkIndex < chunks.length) {
      const chunk = chunks[chunkIndex] as BlockChunk;
      const numbers: number[] = [];
      for (let b = next; b <= Math.min(chunk.end, next + group - 1); b++) numbers.push(b);
      next += numbers.length;
      if (next > chunk.end) next = chunks[++chunkIndex]?.start ?? 0;
      const units = dataset.fetch(rpc, numbers, needs) as Promise<unknown[]>;
      // Failures are observed when the group reaches the head of the queue; until then keep them
      // from being reported as unhandled.
      units.catch(() => {});
      pending.push({ count: numbers.length, units });
    }
  };
  const signal = opts.signal;
  while (true) {
    if (signal?.aborted) throw abortError(signal);
    launch();
    const head = pending.shift();
    if (!head) return;
    const units = signal ? await raceAbort(head.units, signal) : await head.units;
    if (units.length !== head.count) {
      throw new RetryableError(`fetch returned ${units.length} blocks, expected ${head.count}`, {
        category: "invalid_rpc_response",
      });
    }
    for (const u of units) yield u;
  }
}

/** Rejects as soon as `signal` aborts, so an abort does not wait for slow RPC calls. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
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
