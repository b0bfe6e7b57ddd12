import { destroyDatabase, type FreshDatabase } from "./pool.ts";

/**
 * Locked databases kept for the next request that needs exactly the same one.
 *
 * Setting up a fresh database (views over the granted files, lock-down, first reads of the
 * Parquet footers) costs more than most queries over 1M rows, and a fresh instance also starts
 * with empty caches. A database that has been locked for a set of files can only ever read
 * those files (plus its spill directory) and cannot change its own settings, and the SQL that
 * runs in it is a single SELECT (gate + DuckDB's statement type), which leaves no state behind
 * (the connection it ran on is kept too, once its result was read to the end; the only
 * connection-level state a SELECT can touch is the random seed, `setseed`, within the same org).
 * So after a query that finished cleanly, the database is parked here under a key made of the
 * caller's scope (the org), the engine settings and the exact view specification (view names,
 * alias, resolved file paths). Only a request whose own, freshly verified attach step produces
 * the identical key gets it, i.e. a request that would have built an identical database anyway.
 * A database that failed, timed out or was interrupted is never parked; it is destroyed.
 *
 * Bounded: at most `capacity` idle databases (the least recently parked is destroyed first),
 * and each is destroyed after `idleMs` without use. A parked database is used by one request at
 * a time: `take` removes it from the idle set.
 */
export class IdleDatabases {
  private readonly idle = new Map<
    string,
    { db: FreshDatabase; timer: NodeJS.Timeout; parkedAt: number }[]
  >();
  private count = 0;
  private closed = false;
  private readonly destroying = new Set<Promise<void>>();
  /** For tests and benchmarks. */
  readonly stats = { reused: 0, parked: 0, destroyed: 0 };

  constructor(
    readonly capacity: number,
    readonly idleMs: number,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > 64)
      throw new Error("idle database capacity must be an integer in [0, 64]");
    if (!Number.isFinite(idleMs) || idleMs <= 0) throw new Error("idleMs must be positive");
  }

  get size(): number {
    return this.count;
  }

  /** An idle database parked under exactly this key, removed from the idle set; else undefined. */
  take(key: string): FreshDatabase | undefined {
    const list = this.idle.get(key);
    const entry = list?.pop();
    if (!entry) return undefined;
    if (list?.length === 0) this.idle.delete(key);
    clearTimeout(entry.timer);
    this.count--;
    this.stats.reused++;
    return entry.db;
  }

  /**
   * Parks a cleanly used database (with at most its one idle connection, `db.connection`; any
   * other already closed); may evict the oldest.
   */
  park(key: string, db: FreshDatabase): void {
    if (this.closed || this.capacity === 0) {
      this.destroy(db);
      return;
    }
    const entry = {
      db,
      parkedAt: performance.now(),
      timer: setTimeout(() => this.expire(key, entry), this.idleMs),
    };
    entry.timer.unref();
    const list = this.idle.get(key) ?? [];
    list.push(entry);
    this.idle.set(key, list);
    this.count++;
    this.stats.parked++;
    while (this.count > this.capacity) this.evictOldest();
  }

  /** Destroys every idle database and refuses to park more. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [key, list] of this.idle) {
      for (const e of list.splice(0)) {
        clearTimeout(e.timer);
        this.destroy(e.db);
      }
      this.idle.delete(key);
    }
    this.count = 0;
    await Promise.all([...this.destroying]);
  }

  private expire(key: string, entry: { db: FreshDatabase }): void {
    const list = this.idle.get(key);
    const i = list?.indexOf(entry as never) ?? -1;
    if (!list || i === -1) return;
    list.splice(i, 1);
    if (list.length === 0) this.idle.delete(key);
    this.count--;
    this.destroy(entry.db);
  }

  private evictOldest(): void {
    let oldest: { key: string; i: number; at: number } | undefined;
    for (const [key, list] of this.idle)
      list.forEach((e, i) => {
        if (!oldest || e.parkedAt < oldest.at) oldest = { key, i, at: e.parkedAt };
      });
    if (!oldest) return;
    const list = this.idle.get(oldest.key) as { db: FreshDatabase; timer: NodeJS.Timeout }[];
    const [e] = list.splice(oldest.i, 1);
    if (list.length === 0) this.idle.delete(oldest.key);
    this.count--;
    if (e) {
      clearTimeout(e.timer);
      this.destroy(e.db);
    }
  }

  private destroy(db: FreshDatabase): void {
    this.stats.destroyed++;
    const p = destroyDatabase(db)
      .catch(() => {})
      .finally(() => this.destroying.delete(p));
    this.destroying.add(p);
  }
}

/** The key under which a locked database may be reused: scope + settings + exact views. */
export function reuseKey(
  scope: string,
  settings: { threads: number; memoryLimit: string; tempRoot: string },
  views: { name: string; files: string[] }[],
  alias: string | undefined,
): string {
  return JSON.stringify([
    scope,
    settings.threads,
    settings.memoryLimit,
    settings.tempRoot,
    alias ?? null,
    views.map((v) => [v.name, v.files]),
  ]);
}
