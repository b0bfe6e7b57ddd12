import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ensureDir } from "../core/dirs.ts";
import { QueryError, refuse } from "./errors.ts";

/**
 * Private, size-bounded, content-addressed cache of S3 objects for DuckDB to scan locally
 * (httpfs is not available offline). Published versions are immutable and every object is
 * named by the sha256 its manifest declares, so a cached file is valid for every query that
 * names the same hash. Bytes are hashed while they are downloaded and the file only appears
 * under its final name if size and sha256 match. Files in use by a running query are pinned;
 * others are evicted least-recently-used when space is needed. Files found on disk at start are
 * re-hashed once before their first use.
 */

export interface CacheObject {
  sha256: string;
  size: number;
  /** Opens the object's bytes (through the sink's ObjectStore). */
  open: () => Promise<Readable>;
}

interface Entry {
  size: number;
  pins: number;
  lastUsed: number;
  verified: boolean;
  ready?: Promise<void>;
}

const NAME_RE = /^[0-9a-f]{64}\.parquet$/;

export class ObjectCache {
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  private clock = 0;
  private initialised?: Promise<void>;
  /** Counters for tests and the benchmark. */
  readonly stats = { hits: 0, misses: 0, evictions: 0, bytesFetched: 0 };

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  pathOf(sha256: string): string {
    return join(this.dir, `${sha256}.parquet`);
  }

  private async init(): Promise<void> {
    await ensureDir(this.dir, 0o700);
    await chmod(this.dir, 0o700);
    for (const name of await readdir(this.dir)) {
      const p = join(this.dir, name);
      if (!NAME_RE.test(name)) {
        await rm(p, { force: true, recursive: true });
        continue;
      }
      const s = await stat(p);
      this.entries.set(name.slice(0, 64), { size: s.size, pins: 0, lastUsed: 0, verified: false });
      this.used += s.size;
    }
  }

  /**
   * Makes every object available locally and pins it until `release` is called.
   * Refuses (413) a set that could never fit, and sheds (429) when pinned files leave no room.
   */
  async acquire(objects: CacheObject[]): Promise<{ paths: string[]; release: () => void }> {
    this.initialised ??= this.init();
    await this.initialised;
    const unique = new Map(objects.map((o) => [o.sha256, o]));
    const total = [...unique.values()].reduce((a, o) => a + o.size, 0);
    if (total > this.maxBytes) throw refuse.tooLargeForCache();
    const pinned: string[] = [];
    const release = () => {
      for (const sha of pinned.splice(0)) {
        const e = this.entries.get(sha);
        if (e) e.pins--;
      }
    };
    try {
      for (const o of unique.values()) {
        await this.ensure(o);
        const e = this.entries.get(o.sha256) as Entry;
        e.pins++;
        e.lastUsed = ++this.clock;
        pinned.push(o.sha256);
      }
    } catch (err) {
      release();
      throw err;
    }
    return { paths: objects.map((o) => this.pathOf(o.sha256)), release };
  }

  private async ensure(o: CacheObject): Promise<void> {
    const existing = this.entries.get(o.sha256);
    if (existing) {
      if (existing.ready) await existing.ready.catch(() => {});
      const again = this.entries.get(o.sha256);
      if (again && !again.ready) {
        if (again.size === o.size && again.verified) {
          this.stats.hits++;
          return;
        }
        if (again.size === o.size) {
          // Pinned while it is re-hashed: a concurrent request making room must not evict (and
          // unlink) it in the meantime. A file that cannot be read is fetched again.
          again.pins++;
          const ok = await this.rehash(o.sha256).catch(() => false);
          again.pins--;
          if (ok && this.entries.get(o.sha256) === again) {
            again.verified = true;
            this.stats.hits++;
            return;
          }
        }
        if (this.entries.get(o.sha256) === again) await this.drop(o.sha256);
      } else if (again?.ready) {
        return await this.ensure(o);
      }
    }
    // Someone else may have started fetching it while this one was re-hashing or dropping.
    if (this.entries.has(o.sha256)) return await this.ensure(o);
    this.stats.misses++;
    this.makeRoom(o.size);
    const entry: Entry = { size: o.size, pins: 1, lastUsed: ++this.clock, verified: false };
    this.entries.set(o.sha256, entry);
    this.used += o.size;
    entry.ready = this.download(o);
    try {
      await entry.ready;
      entry.verified = true;
    } catch (err) {
      this.entries.delete(o.sha256);
      this.used -= o.size;
      throw err;
    } finally {
      entry.pins--;
      delete entry.ready;
    }
  }

  private makeRoom(size: number): void {
    if (this.used + size <= this.maxBytes) return;
    const victims = [...this.entries.entries()]
      .filter(([, e]) => e.pins === 0 && !e.ready)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [sha, e] of victims) {
      if (this.used + size <= this.maxBytes) break;
      this.entries.delete(sha);
      this.used -= e.size;
      this.stats.evictions++;
      // Unlinking is safe even if a reader still has it open; new readers re-fetch.
      void rm(this.pathOf(sha), { force: true });
    }
    if (this.used + size > this.maxBytes)
      throw new QueryError(429, "query cache is full, retry later", "cache_full");
  }

  private async drop(sha: string): Promise<void> {
    const e = this.entries.get(sha);
    if (!e) return;
    this.entries.delete(sha);
    this.used -= e.size;
    await rm(this.pathOf(sha), { force: true });
  }

  private async rehash(sha: string): Promise<boolean> {
    const { createReadStream } = await import("node:fs");
    const h = createHash("sha256");
    await pipeline(createReadStream(this.pathOf(sha)), h);
    return h.digest("hex") === sha;
  }

  private async download(o: CacheObject): Promise<void> {
    const tmp = join(this.dir, `.${o.sha256}.${randomBytes(6).toString("hex")}.tmp`);
    const hash = createHash("sha256");
    let bytes = 0;
    try {
      let body: Readable;
      try {
        body = await o.open();
      } catch (err) {
        throw refuse.objectFetch(err);
      }
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            // Stop early: a larger object than the manifest says is not the published one.
            if (bytes > o.size)
              throw refuse.objectInvalid(new Error("object larger than manifest"));
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp, { mode: 0o600, flags: "wx" }),
      );
      if (bytes !== o.size || hash.digest("hex") !== o.sha256)
        throw refuse.objectInvalid(new Error("object size or sha256 differs from manifest"));
      await rename(tmp, this.pathOf(o.sha256));
      this.stats.bytesFetched += bytes;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
