import assert from "node:assert/strict";
import { test } from "node:test";
import { errorCategory } from "./errors.ts";
import { memoryFlags, memoryModeFromEnv } from "./extraction-memory.ts";

test("TRACE_MEMORY: unset, empty or default is lean; lean and v8 are read as such", () => {
  assert.equal(memoryModeFromEnv({}), "lean");
  assert.equal(memoryModeFromEnv({ TRACE_MEMORY: "" }), "lean");
  assert.equal(memoryModeFromEnv({ TRACE_MEMORY: "default" }), "lean");
  assert.equal(memoryModeFromEnv({ TRACE_MEMORY: "lean" }), "lean");
  assert.equal(memoryModeFromEnv({ TRACE_MEMORY: "v8" }), "v8");
});

test("TRACE_MEMORY: an unknown mode is a config error that names the accepted ones", () => {
  for (const value of ["LEAN", "small", " lean", "toString", "__proto__"]) {
    assert.throws(
      () => memoryModeFromEnv({ TRACE_MEMORY: value }),
      (err: unknown) =>
        errorCategory(err) === "config" &&
        (err as Error).message ===
          `invalid TRACE_MEMORY "${value}": expected "lean" (the default) or "v8"`,
    );
  }
});

test("every mode keeps the young generation small; lean also collects the old one sooner", () => {
  assert.deepEqual(memoryFlags("v8"), ["--semi-space-growth-factor=1"]);
  assert.deepEqual(memoryFlags("lean"), [
    "--semi-space-growth-factor=1",
    "--heap-growing-percent=50",
  ]);
});
