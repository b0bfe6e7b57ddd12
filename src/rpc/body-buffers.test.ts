import assert from "node:assert/strict";
import { test } from "node:test";
import { readBody } from "./body-buffers.ts";

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

test("bodies read into reused buffers: whole, in order, and what was copied out stays intact", async () => {
  const big = Buffer.from(Array.from({ length: 700_000 }, (_, i) => i % 251));
  const first = await readBody(chunksOf(big, 65_536));
  assert.deepEqual(first.bytes, big, "a body larger than the first buffer grows it");
  const kept = first.bytes.toString("latin1"); // what a consumer keeps is a copy
  const keptBytes = Buffer.from(first.bytes);
  first.release();
  first.release(); // twice is harmless: the buffer is handed back once
  const small = Buffer.from('{"jsonrpc":"2.0","id":1,"result":"0x1"}');
  const second = await readBody(chunksOf(small, 7));
  const third = await readBody(chunksOf(big, 100_000));
  assert.equal(second.bytes.toString(), small.toString());
  assert.deepEqual(third.bytes, big);
  assert.notEqual(second.bytes.buffer, third.bytes.buffer, "bodies read at once never share");
  second.release();
  third.release();
  assert.equal(kept, keptBytes.toString("latin1"));
  assert.deepEqual(keptBytes, big);
});

test("a body that fails mid-way gives its buffer back and throws", async () => {
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield Buffer.from("{");
    throw new Error("socket closed");
  }
  await assert.rejects(readBody(failing()), /socket closed/);
  const next = await readBody(chunksOf(Buffer.from("[]"), 1));
  assert.equal(next.bytes.toString(), "[]");
  next.release();
});
