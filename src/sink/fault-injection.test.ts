import assert from "node:assert/strict";
import { test } from "node:test";
import { awsEnv, testBucket } from "../../test/support/s3.ts";
import { isRetryable } from "../core/errors.ts";
import type { PutResult } from "../core/types.ts";
import { openObjectStore } from "./open-store.ts";
import { startFaultProxy } from "./testing/fault-proxy.ts";
import { patternBytes, patternSha256, sha256OfStream, useTestS3 } from "./testing/fixtures.ts";

await useTestS3();

const MiB = 1024 * 1024;
const SIZES = [12 * MiB, 100 * 1024, 11 * MiB, 3 * MiB, 16 * MiB, 1000];

test("S3 behind a faulty proxy: puts complete or fail retryable, never half an object", async (t) => {
  const b = await testBucket("faults");
  const proxy = await startFaultProxy(b.endpoint, {
    rate: 0.35,
    modes: ["500", "reset", "lost"],
    seed: 7,
  });
  try {
    const flaky = openObjectStore(`s3://${b.bucket}`, {
      env: awsEnv(proxy.endpoint),
      partSizeBytes: 5 * MiB,
      queueSize: 2,
    });
    const direct = openObjectStore(`s3://${b.bucket}`, { env: b.env });

    /** Whatever happened to the put, the final key holds the whole object or nothing. */
    async function checkKey(key: string, size: number, seed: number) {
      const head = await direct.head(key);
      if (head === undefined) return "absent";
      assert.deepEqual(await sha256OfStream(await direct.get(key)), {
        sha256: patternSha256(size, 256 * 1024, seed),
        size,
      });
      return "whole";
    }

    const outcomes: string[] = [];
    for (const [i, size] of SIZES.entries()) {
      const key = `obj-${i}.bin`;
      const r: PutResult | Error = await flaky
        .put(key, patternBytes(size, 256 * 1024, i))
        .catch((e) => e);
      if (r instanceof Error) {
        assert.ok(
          isRetryable(r),
          `a failed put must be retryable: ${r.message} / ${String(r.cause)}`,
        );
        outcomes.push(`failed:${await checkKey(key, size, i)}`);
      } else {
        assert.equal(r.sha256, patternSha256(size, 256 * 1024, i));
        assert.equal(await checkKey(key, size, i), "whole");
        outcomes.push("ok");
      }
    }
    t.diagnostic(`outcomes ${outcomes.join(", ")}; proxy ${JSON.stringify(proxy.stats)}`);
    const faults = proxy.stats["500"] + proxy.stats.reset + proxy.stats.lost;
    assert.ok(faults > 0, `faults were injected (${JSON.stringify(proxy.stats)})`);
    assert.ok(
      outcomes.includes("ok"),
      `SDK retries carried uploads through: ${outcomes.join(", ")}`,
    );

    // Everything fails: the put gives up as Retryable, and nothing appears.
    proxy.setRate(1);
    const err = await flaky.put("doomed.bin", patternBytes(12 * MiB)).catch((e) => e);
    assert.ok(err instanceof Error && isRetryable(err), String(err));
    assert.equal(await direct.head("doomed.bin"), undefined);
    await flaky.close();
    await direct.close();
  } finally {
    await proxy.stop();
  }
});
