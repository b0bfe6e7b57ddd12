import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BodyBufferPool, readBody } from "./body-buffers.ts";

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

describe("BodyBufferPool", () => {
  const bodyOf = (bytes: number) => Buffer.alloc(bytes, 0x5b);
  /** Reads a body of `bytes` with its Content-Length, checks it, and keeps it until released. */
  const read = async (pool: BodyBufferPool, bytes: number) => {
    const body = await pool.read(chunksOf(bodyOf(bytes), 65_536), bytes);
    assert.equal(body.bytes.length, bytes);
    assert.ok(body.bytes.every((b) => b === 0x5b));
    return body;
  };

  test("a full pool replaces its smallest buffer with a larger one, which the next body reuses", async () => {
    const pool = new BodyBufferPool(2);
    const small = await Promise.all([read(pool, 1_000), read(pool, 2_000)]);
    for (const b of small) b.release();
    const big = await read(pool, 1_000_000);
    const bigBuffer = big.bytes.buffer;
    big.release();
    const again = await read(pool, 1_000_000);
    assert.equal(
      again.bytes.buffer,
      bigBuffer,
      "the 1 MB body reused the buffer made for the last",
    );
    again.release();
  });

  test("a body a little larger than the last one fits the same buffer (headroom)", async () => {
    const pool = new BodyBufferPool();
    const first = await read(pool, 1_000_000);
    const buffer = first.bytes.buffer;
    first.release();
    const larger = await read(pool, 1_100_000);
    assert.equal(larger.bytes.buffer, buffer);
    larger.release();
  });

  test("a body takes the smallest free buffer it fits in; one of unknown length the largest", async () => {
    const pool = new BodyBufferPool();
    const [a, b] = await Promise.all([read(pool, 500_000), read(pool, 4_000_000)]);
    const [smallBuffer, bigBuffer] = [a.bytes.buffer, b.bytes.buffer];
    a.release();
    b.release();
    const fits = await read(pool, 400_000);
    assert.equal(fits.bytes.buffer, smallBuffer);
    fits.release();
    const unknown = await pool.read(chunksOf(bodyOf(3_000_000), 65_536));
    assert.equal(unknown.bytes.buffer, bigBuffer, "no copy while it grows");
    assert.equal(unknown.bytes.length, 3_000_000);
    unknown.release();
  });

  test("a buffer past keepMaxBytes is not kept", async () => {
    const pool = new BodyBufferPool(4, 1_000_000);
    const huge = await read(pool, 2_000_000);
    const hugeBuffer = huge.bytes.buffer;
    huge.release();
    const next = await read(pool, 2_000_000);
    assert.notEqual(next.bytes.buffer, hugeBuffer);
    next.release();
  });
});
