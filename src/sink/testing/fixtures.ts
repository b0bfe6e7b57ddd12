import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { startS3Server, testBucket } from "../../../test/support/s3.ts";
import type { ObjectStore } from "../object-store.ts";
import { type OpenStoreOptions, openObjectStore } from "../open-store.ts";

/**
 * Test helpers for src/sink (not a test file itself): real stores (a temp folder, a fresh bucket
 * on the test S3 server) and deterministic byte streams whose sha256 can be recomputed.
 */

/**
 * Makes sure an S3 test server is running for this test file and returns its endpoint: the
 * runner's (TRACE_TEST_S3_ENDPOINT) under test/run.ts, else one started here and stopped by a
 * root-level after() hook. Call it at the top level of a test file. Used instead of relying on
 * s3Endpoint()'s lazily started private server, which kept standalone runs of a file from
 * exiting (its after() hook did not stop it); setting the env var makes s3Endpoint() and
 * testBucket() use this server.
 */
export async function useTestS3(): Promise<string> {
  const fromRunner = process.env.TRACE_TEST_S3_ENDPOINT;
  if (fromRunner) return fromRunner;
  const server = await startS3Server();
  process.env.TRACE_TEST_S3_ENDPOINT = server.endpoint;
  after(() => server.stop());
  return server.endpoint;
}

const PATTERN = (() => {
  // xorshift32: fixed, incompressible-looking bytes without a dependency or a seed file.
  const b = Buffer.allocUnsafe(64 * 1024);
  let x = 0x9e3779b9;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
})();

/** Chunk `i` of a pattern stream: fresh memory each time, like a real producer. */
function chunkAt(i: number, size: number, seed: number): Buffer {
  const c = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; off += PATTERN.length)
    PATTERN.copy(c, off, 0, Math.min(PATTERN.length, size - off));
  // A tail chunk can be shorter than the stamps: stamp only what fits.
  if (size >= 4) c.writeUInt32LE(i >>> 0, 0);
  if (size >= 8) c.writeUInt32LE(seed >>> 0, 4);
  return c;
}

export async function* patternBytes(
  total: number,
  chunkSize = 256 * 1024,
  seed = 1,
): AsyncGenerator<Uint8Array> {
  for (let i = 0, sent = 0; sent < total; i++) {
    const n = Math.min(chunkSize, total - sent);
    yield chunkAt(i, n, seed);
    sent += n;
  }
}

export function patternSha256(total: number, chunkSize = 256 * 1024, seed = 1): string {
  const h = createHash("sha256");
  for (let i = 0, sent = 0; sent < total; i++) {
    const n = Math.min(chunkSize, total - sent);
    h.update(chunkAt(i, n, seed));
    sent += n;
  }
  return h.digest("hex");
}

export async function sha256OfStream(
  s: AsyncIterable<unknown>,
): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const c of s) {
    h.update(c as Buffer);
    size += (c as Buffer).byteLength;
  }
  return { sha256: h.digest("hex"), size };
}

/** A source that yields `okBytes` and then fails, like an extractor dying mid-range. */
export async function* failingBytes(okBytes: number, error: Error): AsyncGenerator<Uint8Array> {
  yield* patternBytes(okBytes);
  throw error;
}

export async function tempDir(label = "sink"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `trace-${label}-`));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface StoreCase {
  kind: "file" | "s3";
  open(opts?: OpenStoreOptions): Promise<ObjectStore>;
}

/** Both store kinds, each opened on fresh, empty storage (a temp folder / a new bucket). */
export const STORE_CASES: StoreCase[] = [
  {
    kind: "file",
    async open(opts) {
      return openObjectStore(`file://${await tempDir()}/objects`, opts);
    },
  },
  {
    kind: "s3",
    async open(opts) {
      const b = await testBucket("sink");
      const store = openObjectStore(`s3://${b.bucket}/base`, { ...opts, env: b.env });
      after(() => store.close());
      return store;
    },
  },
];
