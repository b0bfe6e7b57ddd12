import assert from "node:assert/strict";
import { test } from "node:test";
import type { Manifest } from "../core/types.ts";
import { ManifestCache } from "./manifest-cache.ts";

const manifest = (objects: number): Manifest => ({
  version: 1,
  dataset_uuid: "00000000-0000-4000-8000-000000000001",
  dataset_version: "00000000-0000-4000-8000-000000000002",
  objects: Array.from({ length: objects }, (_, i) => ({
    key: `p/${i}.parquet`,
    size: 1,
    sha256: "0".repeat(64),
  })),
});

test("manifest cache (a weighted LRU) is bounded by listed objects and evicts the least recently used", () => {
  const c = new ManifestCache(10);
  const a = manifest(4);
  c.set("a", a);
  c.set("b", manifest(4));
  assert.equal(c.get("a"), a); // a is now the most recently used
  c.set("c", manifest(4)); // 12 objects > 10: b goes, a stays
  assert.equal(c.get("b"), undefined);
  assert.equal(c.get("a"), a);
  assert.ok(c.get("c"));
  c.set("huge", manifest(11)); // larger than the whole cache: not kept, nothing evicted
  assert.equal(c.get("huge"), undefined);
  assert.equal(c.size, 2);
  c.set("a", manifest(2)); // replacing an entry releases its old size
  c.set("d", manifest(4));
  assert.equal(c.size, 3);
});
