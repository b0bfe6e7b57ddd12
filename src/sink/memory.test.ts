import assert from "node:assert/strict";
import { test } from "node:test";
import { testBucket } from "../../test/support/s3.ts";
import { tempDir, useTestS3 } from "./testing/fixtures.ts";
import { runRoundTripChild } from "./testing/run-roundtrip.ts";

await useTestS3();

const MiB = 1024 * 1024;
const SIZE = 100 * MiB;
// 5 MiB parts × 2 in flight: (2 + 1) × 5 MiB of part buffers (two parts uploading, one being
// filled), reused from part to part. The child forces a GC every 4 MiB so RSS shows what the put
// holds, not garbage V8 has yet to collect. Measured 16 MiB growth at 100 MiB for S3 (18–33 MiB
// with lib-storage, which allocated every part anew); the bound adds slack and stays far below
// the 100 MiB object, so a put that buffered the whole object fails it.
const PART = 5 * MiB;
const QUEUE = 2;
const MAX_RSS_GROWTH = 48 * MiB;

for (const kind of ["s3", "file"] as const) {
  test(`${kind}: a 100 MiB streamed round trip keeps its sha256 and bounded memory`, async (t) => {
    let url: string;
    let env: Record<string, string> = {};
    if (kind === "s3") {
      const b = await testBucket("memory");
      url = `s3://${b.bucket}/base`;
      env = b.env;
    } else {
      url = `file://${await tempDir("memory")}/objects`;
    }
    // The upload runs in a child process: its RSS is the uploader's alone (the in-memory S3
    // server, when this file runs standalone, lives in this process).
    const r = await runRoundTripChild(
      {
        url,
        key: "big/object.bin",
        bytes: SIZE,
        partSizeBytes: PART,
        queueSize: QUEUE,
        collectGarbage: true,
      },
      env,
    );
    const growth = r.peakRssBytes - r.baselineRssBytes;
    t.diagnostic(
      `put ${r.putMiBps.toFixed(0)} MiB/s, get ${r.getMiBps.toFixed(0)} MiB/s, peak RSS growth ${(growth / MiB).toFixed(1)} MiB`,
    );
    assert.equal(r.putSha256, r.expectedSha256);
    assert.equal(r.getSha256, r.expectedSha256);
    assert.equal(r.getSize, SIZE);
    assert.ok(
      growth < MAX_RSS_GROWTH,
      `RSS grew by ${(growth / MiB).toFixed(1)} MiB (bound ${MAX_RSS_GROWTH / MiB} MiB)`,
    );
  });
}
