import type { Manifest } from "../core/types.ts";
import { WeightedLru } from "./lru.ts";

/**
 * Manifests that already passed verification, by (storage location, dataset, version).
 *
 * A published dataset version is immutable: its manifest is written once, before the version is
 * registered, and never rewritten. Re-reading and re-verifying it on every query cost ~0.6 ms
 * per request (a file or S3 read, JSON + schema parse) for an answer that cannot change. What
 * can change — whether a file scanned in place is still a regular file of the declared size
 * inside its version directory — is still checked on every request by the caller. Keeping the
 * first verified copy also means a manifest rewritten after publication is never picked up.
 *
 * Bounded by the total number of objects listed (least recently used evicted first).
 */
export class ManifestCache extends WeightedLru<Manifest> {
  constructor(maxObjects = 200_000) {
    super(maxObjects, (m) => m.objects.length);
  }
}
