import { performance } from "node:perf_hooks";
import type { ObjectStore } from "../object-store.ts";
import { patternBytes, patternSha256, sha256OfStream } from "./fixtures.ts";

export interface RoundTripReport {
  size: number;
  expectedSha256: string;
  putSha256: string;
  getSha256: string;
  getSize: number;
  putMiBps: number;
  getMiBps: number;
  /** RSS right before the put, after a warm-up put (SDK code loaded, sockets open). */
  baselineRssBytes: number;
  /** Highest RSS seen (sampled every 5 ms and at every chunk) during put and get. */
  peakRssBytes: number;
  /** Highest RSS seen during the put alone. */
  putPeakRssBytes: number;
}

/**
 * Streams `size` bytes into `key` and reads them back, hashing both ways, while watching RSS.
 * Meant to run in a process of its own, so the numbers are the uploader's and nobody else's.
 */
export async function roundTrip(
  store: ObjectStore,
  key: string,
  size: number,
  opts: { collectGarbage?: boolean } = {},
): Promise<RoundTripReport> {
  // With `collectGarbage` (needs --expose-gc) a full GC runs every 4 MiB of produced bytes, so
  // RSS shows what the put *holds*, not the garbage V8 lets pile up (up to ~64 MiB of external
  // buffers) before it collects on its own.
  const gc = opts.collectGarbage ? globalThis.gc : undefined;
  if (opts.collectGarbage && !gc) throw new Error("collectGarbage needs node --expose-gc");
  const expectedSha256 = patternSha256(size);
  await store.put(`${key}.warmup`, patternBytes(64 * 1024));
  await store.delete(`${key}.warmup`);
  globalThis.gc?.();
  const baselineRssBytes = process.memoryUsage().rss;
  let peak = baselineRssBytes;
  const sample = () => {
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, 5);
  try {
    async function* observed() {
      let sinceGc = 0;
      for await (const c of patternBytes(size)) {
        sample();
        sinceGc += c.byteLength;
        if (gc && sinceGc >= 4 * 1024 * 1024) {
          gc();
          sinceGc = 0;
        }
        yield c;
      }
    }
    let t0 = performance.now();
    const put = await store.put(key, observed(), { contentType: "application/octet-stream" });
    const putMs = performance.now() - t0;
    sample();
    const putPeakRssBytes = peak;
    t0 = performance.now();
    const got = await sha256OfStream(
      (async function* () {
        let sinceGc = 0;
        for await (const c of await store.get(key)) {
          sample();
          sinceGc += (c as Buffer).byteLength;
          if (gc && sinceGc >= 4 * 1024 * 1024) {
            gc();
            sinceGc = 0;
          }
          yield c;
        }
      })(),
    );
    const getMs = performance.now() - t0;
    sample();
    const MiB = size / (1024 * 1024);
    return {
      size,
      expectedSha256,
      putSha256: put.sha256,
      getSha256: got.sha256,
      getSize: got.size,
      putMiBps: MiB / (putMs / 1000),
      getMiBps: MiB / (getMs / 1000),
      baselineRssBytes,
      peakRssBytes: peak,
      putPeakRssBytes,
    };
  } finally {
    clearInterval(timer);
  }
}
