/**
 * Response bodies read into reused buffers.
 *
 * Why: an extraction receives a body of several MB per JSON-RPC batch, thousands of times, and
 * undici's `arrayBuffer()` keeps every chunk until it copies them into a new buffer of the
 * body's size. Each of those large buffers lives until a garbage collection finds it dead, and
 * the C allocator then holds on to much of the freed memory; over a long run that is what made
 * peak RSS creep up (BENCHMARKS.md, extract). Every consumer of a body copies out what it keeps
 * (the byte decoders into their own arrays and strings, JSON.parse into its values, a latin1
 * decode into its own string), so a body's buffer can be used again once it has been answered.
 */

const MiB = 1024 * 1024;
const FIRST_BYTES = 256 * 1024;
/** A Content-Length past this is not trusted to size a buffer up front (the body may be cut). */
const MAX_PRESIZE = 256 * MiB;

export interface Body {
  /** The body's bytes; valid until `release()`. */
  readonly bytes: Buffer;
  /** Hand the buffer back for the next body; `bytes` must not be used after this. */
  release(): void;
}

/**
 * Up to `keep` free buffers, each at most `keepMaxBytes` (a rare huge body's is not kept). A body
 * takes the smallest free buffer it fits in; one that fits none gets a new buffer, a little
 * larger than it needs, and when the pool is full that buffer replaces the smallest free one. So
 * the pool settles on buffers that fit the bodies a run receives, and after the first batches
 * new buffers are rare (before, a full pool whose top buffer was too small kept it and made a
 * new buffer for every larger body).
 */
export class BodyBufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly keep = 4,
    readonly keepMaxBytes = 32 * MiB,
  ) {}

  /**
   * Read a whole response body (its chunks, in order) into a reused buffer. `length`: the
   * Content-Length when the server sent one (the buffer is then made that large at once).
   */
  async read(chunks: AsyncIterable<Uint8Array>, length?: number): Promise<Body> {
    const known = length !== undefined && length <= MAX_PRESIZE ? length : undefined;
    let buf = this.take(known);
    let used = 0;
    try {
      for await (const chunk of chunks) {
        if (used + chunk.length > buf.length) {
          const bigger = Buffer.allocUnsafe(
            withHeadroom(Math.max(2 * buf.length, used + chunk.length)),
          );
          buf.copy(bigger, 0, 0, used);
          this.giveBack(buf);
          buf = bigger;
        }
        buf.set(chunk, used);
        used += chunk.length;
      }
    } catch (error) {
      this.giveBack(buf);
      throw error;
    }
    let released = false;
    const full = buf;
    return {
      bytes: full.subarray(0, used),
      release: () => {
        if (released) return;
        released = true;
        this.giveBack(full);
      },
    };
  }

  /** The smallest free buffer of at least `bytes` (unknown: the largest free one), or a new one. */
  private take(bytes: number | undefined): Buffer {
    let best: number | undefined;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i]!.length;
      const bestSize = best === undefined ? undefined : this.free[best]!.length;
      const better =
        bytes === undefined
          ? bestSize === undefined || size > bestSize
          : size >= bytes && (bestSize === undefined || size < bestSize);
      if (better) best = i;
    }
    if (best !== undefined) return this.free.splice(best, 1)[0]!;
    return Buffer.allocUnsafe(withHeadroom(Math.max(bytes ?? 0, FIRST_BYTES)));
  }

  private giveBack(buf: Buffer): void {
    if (buf.length > this.keepMaxBytes) return;
    if (this.free.length < this.keep) {
      this.free.push(buf);
      return;
    }
    // Full: keep the larger buffers, so that the bodies that fit none become rare.
    let smallest = 0;
    for (let i = 1; i < this.free.length; i++) {
      if (this.free[i]!.length < this.free[smallest]!.length) smallest = i;
    }
    if (this.free[smallest]!.length < buf.length) this.free[smallest] = buf;
  }
}

/** An eighth more, in whole 64 KiB: the next body a little larger than this one fits too. */
function withHeadroom(bytes: number): number {
  const unit = 64 * 1024;
  return Math.ceil((bytes + (bytes >> 3)) / unit) * unit;
}

/** The process's pool: every endpoint reads its bodies through it. */
const shared = new BodyBufferPool();

/** Read a body through the process's pool (see BodyBufferPool.read). */
export function readBody(chunks: AsyncIterable<Uint8Array>, length?: number): Promise<Body> {
  return shared.read(chunks, length);
}
