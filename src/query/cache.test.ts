import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { ObjectCache } from "./cache.ts";
import { QueryError } from "./errors.ts";

const root = mkdtempSync(join(tmpdir(), "trace-cache-"));
after(() => rmSync(root, { recursive: true, force: true }));

const object = (bytes: Buffer, opens = { n: 0 }) => ({
  sha256: createHash("sha256").update(bytes).digest("hex"),
  size: bytes.length,
  open: async () => {
    opens.n++;
    return Readable.from([bytes]);
  },
});

test("objects are fetched once, verified, kept private, and evicted least recently used", async () => {
  const dir = join(root, "lru");
  const cache = new ObjectCache(dir, 2500);
  const a = object(Buffer.alloc(1000, 1));
  const b = object(Buffer.alloc(1000, 2));
  const c = object(Buffer.alloc(1000, 3));
  const got = await cache.acquire([a, b]);
  assert.deepEqual(got.paths, [cache.pathOf(a.sha256), cache.pathOf(b.sha256)]);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(got.paths[0] as string).mode & 0o777, 0o600);
  // Pinned: no room for c while a and b are in use.
  await assert.rejects(cache.acquire([c]), (e) => e instanceof QueryError && e.status === 429);
  got.release();
  (await cache.acquire([b])).release(); // b is now more recent than a
  (await cache.acquire([c])).release();
  assert.ok(!existsSync(cache.pathOf(a.sha256)), "a was the least recently used");
  assert.ok(existsSync(cache.pathOf(b.sha256)));
  // Four misses: a, b, the refused c, c.
  assert.deepEqual(cache.stats, { hits: 1, misses: 4, evictions: 1, bytesFetched: 3000 });
  await assert.rejects(
    cache.acquire([object(Buffer.alloc(3000))]),
    (e) => e instanceof QueryError && e.status === 413,
  );
});

test("bytes that differ from the manifest are refused and never appear under the hash", async () => {
  const cache = new ObjectCache(join(root, "verify"), 1 << 20);
  const real = object(Buffer.from("published bytes"));
  const forged = { ...real, open: async () => Readable.from([Buffer.from("PUBLISHED BYTES")]) };
  await assert.rejects(cache.acquire([forged]), (e) => e instanceof QueryError && e.status === 422);
  const longer = { ...real, open: async () => Readable.from([Buffer.from("published bytes!")]) };
  await assert.rejects(cache.acquire([longer]), (e) => e instanceof QueryError && e.status === 422);
  assert.ok(!existsSync(cache.pathOf(real.sha256)));
  (await cache.acquire([real])).release();
  assert.ok(existsSync(cache.pathOf(real.sha256)));
});

test("a file found at start is pinned while it is re-hashed: a concurrent request cannot evict it", async () => {
  const dir = join(root, "restart");
  mkdirSync(dir, { recursive: true });
  // A big file from an earlier run: re-hashing it takes a while.
  const big = Buffer.alloc(8 << 20, 7);
  const old = object(big);
  writeFileSync(join(dir, `${old.sha256}.parquet`), big);
  writeFileSync(join(dir, "stray.tmp"), "x");

  const cache = new ObjectCache(dir, (8 << 20) + 500);
  const other = object(Buffer.alloc(900, 9));
  // Both start in the same tick: while `old` is re-hashed, `other` needs its room. It used to
  // evict it, and the first acquire then crashed on the missing entry.
  const [first, second] = await Promise.allSettled([cache.acquire([old]), cache.acquire([other])]);
  assert.equal(first.status, "fulfilled", String((first as PromiseRejectedResult).reason));
  assert.equal(second.status, "rejected");
  assert.equal(((second as PromiseRejectedResult).reason as QueryError).status, 429);
  assert.ok(existsSync(cache.pathOf(old.sha256)));
  (first as PromiseFulfilledResult<{ release: () => void }>).value.release();
  assert.equal(cache.stats.bytesFetched, 0, "the verified file was used as it was");
  assert.ok(!existsSync(join(dir, "stray.tmp")));
});

test("a file found at start whose bytes do not match its name is fetched again", async () => {
  const dir = join(root, "corrupt");
  mkdirSync(dir, { recursive: true });
  const opens = { n: 0 };
  const good = object(Buffer.from("good bytes"), opens);
  writeFileSync(join(dir, `${good.sha256}.parquet`), "bad  bytes");
  const cache = new ObjectCache(dir, 1 << 20);
  const got = await cache.acquire([good]);
  got.release();
  assert.equal(opens.n, 1);
  assert.equal(readFileSync(got.paths[0] as string, "utf8"), "good bytes");
});
