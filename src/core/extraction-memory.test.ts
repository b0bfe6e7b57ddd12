import assert from "node:assert/strict";
import { test } from "node:test";
import { errorCategory } from "./errors.ts";
import { memoryFlags, memoryModeFromEnv } from "./extraction-memory.ts";

test("TRACE_MEMORY: unset or empty is default; default and lean are read as such", () => {
  assert.equal(memoryModeFromEnv({}), "default");
  assert.equal(memoryModeFromEnv({ TRACE_MEMORY: "" }), "default");
  assert.equal(memoryModeFromEnv({ TRACE_MEMORY: "default" }), "default");
  assert.equal(memoryModeFromEnv({ TRACE_MEMORY: "lean" }), "lean");
});

test("TRACE_MEMORY: an unknown mode is a config error that names the accepted ones", () => {
  for (const value of ["LEAN", "small", " lean"]) {
    assert.throws(
      () => memoryModeFromEnv({ TRACE_MEMORY: value }),
      (err: unknown) =>
        errorCategory(err) === "config" &&
        (err as Error).message === `invalid TRACE_MEMORY "${value}": expected "default" or "lean"`,
    );
  }
});

test("every mode keeps the young generation small; lean also collects the old one sooner", () => {
  assert.deepEqual(memoryFlags("default"), ["--semi-space-growth-factor=1"]);
  assert.deepEqual(memoryFlags("lean"), [
    "--semi-space-growth-factor=1",
    "--heap-growing-percent=100",
  ]);
});
