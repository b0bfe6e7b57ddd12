import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

/**
 * Fresh DuckDB databases, created ahead of the requests that will use them.
 *
 * Creating an in-memory instance costs ~8–10 ms (catalog, buffer manager, thread pool), which
 * used to sit on every request's critical path. The pool creates a few instances in the
 * background so a request finds one ready. Isolation is unchanged: a pooled database has run no
 * SQL at all (only the hardened constructor options and its own private 0700 spill directory),
 * every request takes one out for good, configures and locks it for its own files, uses it once
 * and destroys it. Nothing ever returns to the pool.
 */

export interface EngineSettings {
  threads: number;
  /** DuckDB memory_limit, e.g. "512MB". */
  memoryLimit: string;
  /** Parent of the per-database spill directories. */
  tempRoot: string;
}

export interface FreshDatabase {
  instance: DuckDBInstance;
  /** Private spill directory (temp_directory) of this instance only; removed with it. */
  spillDir: string;
  /**
   * The connection of a parked database (see idle.ts), kept so the next request does not open
   * one; only kept when its last result was read to the end (nothing left running on it).
   */
  connection?: DuckDBConnection;
}

/** A new in-memory instance with extensions locked down, in its own spill directory. */
export async function createFreshDatabase(s: EngineSettings): Promise<FreshDatabase> {
  // mkdtemp creates the directory 0700: other users cannot read spilled data.
  const spillDir = await mkdtemp(join(s.tempRoot, "q-"));
  try {
    const instance = await DuckDBInstance.create(":memory:", {
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
      allow_community_extensions: "false",
      allow_unsigned_extensions: "false",
      threads: String(s.threads),
      memory_limit: s.memoryLimit,
      temp_directory: spillDir,
    });
    return { instance, spillDir };
  } catch (err) {
    await rm(spillDir, { recursive: true, force: true });
    throw err;
  }
}

/** Closes the connection and the instance, then removes the spill directory. */
export async function destroyDatabase(db: FreshDatabase, conn?: DuckDBConnection): Promise<void> {
  try {
    conn?.closeSync();
    if (db.connection !== conn) db.connection?.closeSync();
    db.instance.closeSync();
  } finally {
    await rm(db.spillDir, { recursive: true, force: true });
  }
}

export function sameSettings(a: EngineSettings, b: EngineSettings): boolean {
  return a.threads === b.threads && a.memoryLimit === b.memoryLimit && a.tempRoot === b.tempRoot;
}

export class DatabasePool {
  /** Databases being created or ready, oldest first; undefined marks a failed creation. */
  private readonly pending: Promise<FreshDatabase | undefined>[] = [];
  private closed = false;
  /** Taken from the pool (created ahead) vs created on demand; for tests and benchmarks. */
  readonly stats = { pooled: 0, onDemand: 0 };

  constructor(
    readonly settings: EngineSettings,
    readonly size: number,
  ) {
    if (!Number.isSafeInteger(size) || size < 0 || size > 64)
      throw new Error("pool size must be an integer in [0, 64]");
    this.refill();
  }

  /**
   * A database nothing has used. The oldest pooled one (waiting for it if it is still being
   * created: it is further along than a new one would be), else one created now.
   */
  async take(): Promise<FreshDatabase> {
    if (this.closed) throw new Error("database pool is closed");
    // No refill here: a creation started now would compete for the CPU with the query about to
    // run (measured: it ate most of the gain on 2 cores). The session refills after teardown.
    const next = this.pending.shift();
    const db = next ? await next : undefined;
    if (db) {
      this.stats.pooled++;
      return db;
    }
    this.stats.onDemand++;
    return await createFreshDatabase(this.settings);
  }

  /** Starts creations until `size` are ready or under way (after a database was destroyed). */
  refill(): void {
    while (!this.closed && this.pending.length < this.size) {
      // A failed creation only costs the request that meets it an inline creation, where a
      // persistent failure surfaces as a normal error.
      this.pending.push(createFreshDatabase(this.settings).catch(() => undefined));
    }
  }

  /** Resolves when every creation under way has finished (benchmarks, tests). */
  async settled(): Promise<number> {
    return (await Promise.all(this.pending)).filter((d) => d !== undefined).length;
  }

  /** Destroys every database still in the pool (none of them was used). */
  async close(): Promise<void> {
    this.closed = true;
    const left = this.pending.splice(0);
    for (const p of left) {
      const db = await p;
      if (db) await destroyDatabase(db).catch(() => {});
    }
  }
}
