import assert from "node:assert/strict";
import { test } from "node:test";
import { classify, errorCategory, FatalError } from "../core/errors.ts";
import { storageError } from "./storage-errors.ts";

/** Errors shaped like the ones @aws-sdk/client-s3 and node:fs throw. */
function sdkError(name: string, status?: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}
function sysError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

test("classification of store failures", () => {
  const cases: [Error, "retryable" | "fatal", string][] = [
    [sdkError("InternalError", 500), "retryable", "storage_throttled"],
    [sdkError("SomethingNew", 502), "retryable", "storage_unavailable"],
    [sdkError("SlowDown", 503), "retryable", "storage_throttled"],
    [sdkError("TooManyRequests", 429), "retryable", "storage_throttled"],
    [sdkError("AccessDenied", 403), "fatal", "access_denied"],
    [sdkError("InvalidAccessKeyId", 403), "fatal", "access_denied"],
    [sdkError("NoSuchBucket", 404), "fatal", "no_such_bucket"],
    [sdkError("EntityTooLarge", 400), "fatal", "storage_rejected"],
    [sdkError("TimeoutError"), "retryable", "storage_network"],
    [
      Object.assign(new Error("socket"), { cause: sysError("ECONNRESET") }),
      "retryable",
      "storage_network",
    ],
    [sysError("EACCES"), "fatal", "access_denied"],
    [sysError("ENOSPC"), "retryable", "storage_io"],
    [sysError("ENOENT"), "fatal", "object_not_found"],
    [new Error("who knows"), "fatal", "storage_error"],
  ];
  for (const [err, cls, category] of cases) {
    const e = storageError(err, "doing it");
    assert.equal(classify(e), cls, err.message);
    assert.equal(errorCategory(e), category, err.message);
    assert.equal(e.cause, err);
  }
  const own = new FatalError("cap", { category: "cap_exceeded" });
  assert.equal(storageError(own, "x"), own, "classified errors pass through unchanged");
});
