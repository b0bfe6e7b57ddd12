import { raceAbort } from "../core/abort.ts";
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

/** One fetch group: `count` consecutive blocks, as `prepare` turned them into `value`. */
export interface PreparedGroup<T> {
  count: number;
  value: T;
}

/**
 * Fetches the blocks of `chunks` (in order; a group never spans two chunks) ahead of the
 * consumer, in groups of `groupSize` blocks. Up to `maxBlocksInFlight` blocks are requested at
 * once (the RPC client further caps concurrent HTTP requests); a new group is requested only when
 * the consumer has taken one, so a slow encoder or upload slows fetching instead of growing
 * memory.
 *
 * `prepare` runs on a group's units (one per block) as soon as they arrive, possibly out of
 * order. Turning them into compact rows right there lets the parsed JSON die young: V8 frees it
 * in a cheap scavenge instead of promoting it to the old generation while it waits for its turn
 * in the window (bench/extract.ts: with the engine's smaller encoder hand-overs, peak RSS -25 to
 * -35 MiB for transactions, and less GC time).
 * A group whose fetch or `prepare` failed throws when the consumer reaches it.
 */
export async function* prefetchGroups<T>(
  dataset: AnyDataset,
  rpc: BlockRpc,
  chunks: readonly BlockChunk[],
  needs: FetchNeeds,
  opts: PrefetchOptions,
  prepare: (units: unknown[]) => T,
): AsyncGenerator<PreparedGroup<T>> {
  const group = Math.max(1, opts.groupSize);
  const window = Math.max(1, Math.floor(opts.maxBlocksInFlight / group));
  const pending: { count: number; value: Promise<T> }[] = [];
  let chunkIndex = 0;
  let next = chunks[0]?.start ?? 0;
  const launch = () => {
    while (pending.length < window && chunkIndex < chunks.length) {
      const chunk = chunks[chunkIndex] as BlockChunk;
      const numbers: number[] = [];
      for (let b = next; b <= Math.min(chunk.end, next + group - 1); b++) numbers.push(b);
      next += numbers.length;
      if (next > chunk.end) next = chunks[++chunkIndex]?.start ?? 0;
      const count = numbers.length;
      const value = (dataset.fetch(rpc, numbers, needs) as Promise<unknown[]>).then((units) => {
        if (units.length !== count) {
          throw new RetryableError(`fetch returned ${units.length} blocks, expected ${count}`, {
            category: "invalid_rpc_response",
          });
        }
        return prepare(units);
      });
      // Failures are observed when the group reaches the head of the queue; until then keep them
      // from being reported as unhandled.
      value.catch(() => {});
      pending.push({ count, value });
    }
  };
  const signal = opts.signal;
  while (true) {
    if (signal?.aborted) throw abortError(signal);
    launch();
    const head = pending.shift();
    if (!head) return;
    const value = signal ? await raceAbort(head.value, signal, abortError) : await head.value;
    yield { count: head.count, value };
  }
}

/** prefetchGroups without preparation: the units (one per block), in block order. */
export async function* prefetchUnits(
  dataset: AnyDataset,
  rpc: BlockRpc,
  chunks: readonly BlockChunk[],
  needs: FetchNeeds,
  opts: PrefetchOptions,
): AsyncGenerator<unknown> {
  for await (const group of prefetchGroups(dataset, rpc, chunks, needs, opts, (u) => u)) {
    yield* group.value;
  }
}
