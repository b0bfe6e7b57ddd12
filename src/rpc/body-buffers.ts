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

/** Free buffers kept for the next bodies, and the largest one kept (a rare huge body's is not). */
const KEEP = 4;
const KEEP_MAX_BYTES = 32 * 1024 * 1024;
const FIRST_BYTES = 256 * 1024;
/** A Content-Length past this is not trusted to size a buffer up front (the body may be cut). */
const MAX_PRESIZE = 256 * 1024 * 1024;
const free: Buffer[] = [];

export interface Body {
  /** The body's bytes; valid until `release()`. */
  readonly bytes: Buffer;
  /** Hand the buffer back for the next body; `bytes` must not be used after this. */
  release(): void;
}

/**
 * Read a whole response body (its chunks, in order) into a reused buffer. `length`: the
 * Content-Length when the server sent one (the buffer is then made that large at once).
 */
export async function readBody(chunks: AsyncIterable<Uint8Array>, length?: number): Promise<Body> {
  let buf = free.pop() ?? Buffer.allocUnsafe(FIRST_BYTES);
  if (length !== undefined && length > buf.length && length <= MAX_PRESIZE) {
    giveBack(buf);
    buf = Buffer.allocUnsafe(length);
  }
  let used = 0;
  try {
    for await (const chunk of chunks) {
      if (used + chunk.length > buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(2 * buf.length, used + chunk.length));
        buf.copy(bigger, 0, 0, used);
        buf = bigger;
      }
      buf.set(chunk, used);
      used += chunk.length;
    }
  } catch (error) {
    giveBack(buf);
    throw error;
  }
  let released = false;
  const full = buf;
  return {
    bytes: full.subarray(0, used),
    release() {
      if (released) return;
      released = true;
      giveBack(full);
    },
  };
}

function giveBack(buf: Buffer): void {
  if (free.length < KEEP && buf.length <= KEEP_MAX_BYTES) free.push(buf);
}
