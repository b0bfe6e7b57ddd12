import assert from "node:assert/strict";
import { test } from "node:test";
import { awsEnv, testBucket } from "../../test/support/s3.ts";
import { openObjectStore } from "./open-store.ts";
import { startFaultProxy } from "./testing/fault-proxy.ts";
import { patternBytes, patternSha256, sha256OfStream, useTestS3 } from "./testing/fixtures.ts";

await useTestS3();

const MiB = 1024 * 1024;
const PART = 5 * MiB;

test("s3 uploads: one PutObject up to the part size, multipart beyond, bytes intact at every boundary", async () => {
  const b = await testBucket("multipart");
  // A transparent proxy (fault rate 0) counts the requests each put sends.
  const proxy = await startFaultProxy(b.endpoint, { rate: 0, modes: ["500"] });
  const store = openObjectStore(`s3://${b.bucket}`, {
    env: awsEnv(proxy.endpoint),
    partSizeBytes: PART,
    queueSize: 2,
  });
  try {
    // [size, chunk size of the source, requests expected]
    const cases: [number, number, number][] = [
      [0, 1024, 1],
      [10, 1024, 1],
      [PART, 256 * 1024, 1], // exactly one part: no multipart upload
      [PART, PART, 1], // one chunk of exactly the part size
      [PART + 1, 256 * 1024, 4], // create, 2 parts, complete
      [2 * PART, 999_983, 4], // chunks straddle the part boundary
      [3 * PART + 12_345, 3 * MiB, 6], // create, 4 parts, complete
    ];
    for (const [i, [size, chunk, requests]] of cases.entries()) {
      const key = `b/${i}.bin`;
      const before = proxy.stats.requests;
      const r = await store.put(key, patternBytes(size, chunk, i));
      assert.equal(proxy.stats.requests - before, requests, `requests for ${size} bytes`);
      const expected = patternSha256(size, chunk, i);
      assert.deepEqual(r, { key, size, sha256: expected });
      assert.deepEqual(await sha256OfStream(await store.get(key)), { sha256: expected, size });
    }
    assert.deepEqual(await store.listIncomplete(""), []);
  } finally {
    await store.close();
    await proxy.stop();
  }
});

test("s3 uploads: concurrent puts of one store share part buffers without mixing bytes", async () => {
  const b = await testBucket("multipart-concurrent");
  const store = openObjectStore(`s3://${b.bucket}`, {
    env: b.env,
    partSizeBytes: PART,
    queueSize: 2,
  });
  try {
    // Two rounds, so the second reuses the buffers the first gave back.
    for (const round of [0, 1]) {
      const sizes = [12 * MiB + 7, 7 * MiB, 3 * MiB, 16 * MiB + 1];
      const results = await Promise.all(
        sizes.map((size, i) =>
          store.put(`c/${round}-${i}.bin`, patternBytes(size, 300_007, 10 * round + i)),
        ),
      );
      for (const [i, size] of sizes.entries()) {
        const expected = patternSha256(size, 300_007, 10 * round + i);
        assert.equal(results[i]!.sha256, expected);
        assert.deepEqual(await sha256OfStream(await store.get(`c/${round}-${i}.bin`)), {
          sha256: expected,
          size,
        });
      }
    }
    assert.deepEqual(await store.listIncomplete(""), []);
  } finally {
    await store.close();
  }
});
