import assert from "node:assert/strict";
import { test } from "node:test";
import {
  causeChain,
  classify,
  describeError,
  errorCategory,
  FatalError,
  RetryableError,
} from "./errors.ts";

test("classes and cause chains", () => {
  const root = new Error("ECONNRESET");
  const r = new RetryableError("rpc failed", { category: "rpc_network", cause: root });
  const outer = new Error("chunk 0 failed", { cause: r });
  assert.equal(classify(r), "retryable");
  assert.equal(classify(outer), "retryable");
  assert.equal(errorCategory(outer), "rpc_network");
  assert.deepEqual(causeChain(outer), [outer, r, root]);
  assert.equal(describeError(outer), "chunk 0 failed: rpc failed: ECONNRESET");
  const repeating = new RetryableError("gave up after 5 attempts: HTTP 500", {
    category: "rpc_http",
    cause: new Error("HTTP 500"),
  });
  assert.equal(describeError(repeating), "gave up after 5 attempts: HTTP 500");
  assert.equal(r.name, "RetryableError");
});

test("unknown errors are fatal (fail closed), nearest class wins", () => {
  assert.equal(classify(new Error("boom")), "fatal");
  assert.equal(classify("string"), "fatal");
  const f = new FatalError("cap", { cause: new RetryableError("inner") });
  assert.equal(classify(f), "fatal");
  assert.ok(f instanceof Error);
});
