import assert from "node:assert/strict";
import { test } from "node:test";
import { FatalError } from "../core/errors.ts";
import { artifactCapsFromEnv, DEFAULT_ARTIFACT_CAPS, resolveCaps } from "./caps.ts";
import { staleTtlMsFromEnv } from "./cleanup.ts";

test("defaults follow trace-rust §4", () => {
  assert.deepEqual(artifactCapsFromEnv({}), {
    maxFiles: 256,
    maxBytesPerFile: 536_870_912,
    maxTotalBytes: 2_147_483_648,
  });
  assert.deepEqual(artifactCapsFromEnv({ MAX_PARQUET_FILES_PER_RANGE: "" }), DEFAULT_ARTIFACT_CAPS);
});

test("env vars override, with clear errors on bad values", () => {
  assert.deepEqual(
    artifactCapsFromEnv({
      MAX_PARQUET_FILES_PER_RANGE: "3",
      MAX_PARQUET_BYTES_PER_FILE: " 1024 ",
      MAX_TOTAL_PARQUET_BYTES_PER_RANGE: "4096",
    }),
    { maxFiles: 3, maxBytesPerFile: 1024, maxTotalBytes: 4096 },
  );
  for (const bad of ["0", "-1", "1.5", "1e3", "abc", "99999999999999999999"]) {
    assert.throws(
      () => artifactCapsFromEnv({ MAX_PARQUET_BYTES_PER_FILE: bad }),
      (e: unknown) =>
        e instanceof FatalError &&
        e.category === "invalid_config" &&
        e.message.includes("MAX_PARQUET_BYTES_PER_FILE"),
      bad,
    );
  }
  assert.throws(() => resolveCaps({ maxFiles: 0 }), /MAX_PARQUET_FILES_PER_RANGE/);
  assert.throws(
    () => resolveCaps({ maxTotalBytes: Number.NaN }),
    /MAX_TOTAL_PARQUET_BYTES_PER_RANGE/,
  );
});

test("stale TTL defaults to 24 h and accepts fractional hours", () => {
  assert.equal(staleTtlMsFromEnv({}), 24 * 3_600_000);
  assert.equal(staleTtlMsFromEnv({ TRACE_SINK_STALE_TTL_HOURS: "0.5" }), 1_800_000);
  assert.throws(
    () => staleTtlMsFromEnv({ TRACE_SINK_STALE_TTL_HOURS: "-1" }),
    /TRACE_SINK_STALE_TTL_HOURS/,
  );
  assert.throws(
    () => staleTtlMsFromEnv({ TRACE_SINK_STALE_TTL_HOURS: "soon" }),
    /TRACE_SINK_STALE_TTL_HOURS/,
  );
});
