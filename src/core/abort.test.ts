import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import { raceAbort } from "./abort.ts";

test("raceAbort settles as the promise does and leaves no listener behind", async () => {
  const ac = new AbortController();
  assert.equal(await raceAbort(Promise.resolve(7), ac.signal), 7);
  await assert.rejects(raceAbort(Promise.reject(new Error("rpc down")), ac.signal), /rpc down/);
  assert.equal(getEventListeners(ac.signal, "abort").length, 0);
});

test("raceAbort rejects with the abort reason (or the mapped one) without waiting", async () => {
  const never = new Promise<number>(() => {});
  const ac = new AbortController();
  const raced = raceAbort(never, ac.signal);
  const mapped = raceAbort(never, ac.signal, (s) => new Error(`aborted: ${String(s.reason)}`));
  ac.abort("shutdown");
  await assert.rejects(raced, (e) => e === "shutdown");
  await assert.rejects(mapped, /aborted: shutdown/);
  // Already aborted: rejects at once.
  await assert.rejects(raceAbort(never, ac.signal), (e) => e === "shutdown");
});
