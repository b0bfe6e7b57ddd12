import type { Manifest } from "../core/types.ts";

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
export class ManifestCache {
  private readonly entries = new Map<string, Manifest>();
  private objects = 0;

  constructor(private readonly maxObjects = 200_000) {}

  get(key: string): Manifest | undefined {
    const m = this.entries.get(key);
    if (m !== undefined) {
      // Map iteration order is insertion order: re-inserting marks it most recently used.
      this.entries.delete(key);
      this.entries.set(key, m);
    }
    return m;
  }

  set(key: string, manifest: Manifest): void {
    if (manifest.objects.length > this.maxObjects) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.objects -= old.objects.length;
    }
    this.entries.set(key, manifest);
    this.objects += manifest.objects.length;
    for (const [k, m] of this.entries) {
      if (this.objects <= this.maxObjects) break;
      this.entries.delete(k);
      this.objects -= m.objects.length;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
