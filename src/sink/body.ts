import { createHash } from "node:crypto";
import { raceAbort } from "../core/abort.ts";
import { FatalError } from "../core/errors.ts";
import type { ByteSource } from "../core/types.ts";

/**
 * The byte stream of one put, observed on its way to the store: counted, hashed, checked chunk
 * by chunk (the sink's caps live in `onChunk`) and abortable. Any failure of the source, of
 * `onChunk` or of the abort signal is remembered as `bodyError`, so a store can tell "the bytes
 * stopped coming" (rethrown unchanged) from "the store failed" (classified).
 */
export interface MeteredBody {
  chunks: AsyncIterable<Uint8Array>;
  /** Bytes seen so far, and their sha256 once the source is exhausted. */
  readonly size: number;
  sha256(): string;
  readonly bodyError: unknown;
}

export interface MeterOptions {
  signal?: AbortSignal;
  /** Called before a chunk is passed on; throwing stops the put (caps). */
  onChunk?: (chunkBytes: number, objectBytesSoFar: number) => void;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error
    ? signal.reason
    : new FatalError("upload aborted", { category: "aborted" });
}

export function meterBody(body: ByteSource | Uint8Array, opts: MeterOptions = {}): MeteredBody {
  const hash = createHash("sha256");
  let size = 0;
  let digest: string | undefined;
  let bodyError: unknown;
  const { signal, onChunk } = opts;

  async function* source(): AsyncGenerator<unknown> {
    if (body instanceof Uint8Array) yield body;
    else if (Symbol.asyncIterator in body) yield* body as AsyncIterable<unknown>;
    else
      throw new FatalError("put body must be an AsyncIterable or Readable", {
        category: "invalid_body",
      });
  }

  /** Next item of `it`, or a rejection as soon as the signal fires (a stalled source must not pin the upload). */
  function nextOrAbort(it: AsyncIterator<unknown>): Promise<IteratorResult<unknown>> {
    if (!signal) return it.next();
    // Checked first: an aborted upload does not pull one more item from its source.
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return raceAbort(it.next(), signal, abortReason);
  }

  async function* chunks(): AsyncGenerator<Uint8Array> {
    const it = source()[Symbol.asyncIterator]();
    let finished = false;
    try {
      while (true) {
        let chunk: Uint8Array;
        // Only failures while pulling from the source count as body errors. An error the
        // consumer throws into us at `yield` (Node streams do that when an upload gives up) is
        // the store's failure, not the body's, and must keep the store's classification.
        try {
          const r = await nextOrAbort(it);
          if (r.done) {
            finished = true;
            break;
          }
          if (!(r.value instanceof Uint8Array))
            throw new FatalError(
              `put body yielded a ${typeof r.value}, expected Uint8Array chunks`,
              {
                category: "invalid_body",
              },
            );
          chunk = r.value;
          if (chunk.byteLength === 0) continue;
          onChunk?.(chunk.byteLength, size + chunk.byteLength);
        } catch (err) {
          bodyError = err;
          throw err;
        }
        size += chunk.byteLength;
        hash.update(chunk);
        yield chunk;
      }
      digest = hash.digest("hex");
    } finally {
      // Stopped early, for whatever reason: let the producer release what it holds, but never
      // wait for a stalled one.
      if (!finished) void it.return?.(undefined).catch(() => {});
    }
  }

  return {
    chunks: chunks(),
    get size() {
      return size;
    },
    sha256() {
      if (digest === undefined) throw new Error("sha256 requested before the body was consumed");
      return digest;
    },
    get bodyError() {
      return bodyError;
    },
  };
}
