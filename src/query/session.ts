import {
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBType,
  StatementType,
} from "@duckdb/node-api";
import { QueryError, refuse } from "./errors.ts";
import { type IdleDatabases, reuseKey } from "./idle.ts";
import {
  createFreshDatabase,
  type DatabasePool,
  destroyDatabase,
  type EngineSettings,
  type FreshDatabase,
  sameSettings,
} from "./pool.ts";
import { rowToJson } from "./values.ts";

/**
 * One query in a fresh, locked-down, in-memory DuckDB (trace-rust §3.5 plus what it lacked):
 * extensions never auto-install or auto-load; the views over the granted files are created
 * first, then `allowed_paths`/`allowed_directories` → `enable_external_access=false` →
 * `lock_configuration=true`, so the SQL that follows can read exactly those files and the
 * private spill directory, nothing else, and cannot undo the settings. A timer interrupts a
 * runaway query; rows and bytes of the result are capped while they are read.
 */

export const VIEW_NAME_RE = /^[a-z_][a-z0-9_]{0,63}$/;

export interface ViewSpec {
  name: string;
  /** Absolute paths of local Parquet files (scanned in place or from the cache). */
  files: string[];
}

export interface SessionOptions {
  views: ViewSpec[];
  /** `dataset` alias for this view, when exactly one dataset is attached. */
  alias?: string;
  sql: string;
  /** Maximum rows returned; one more is read to decide `truncated`. */
  limit: number;
  maxResultBytes: number;
  timeoutMs: number;
  memoryLimit: string;
  threads: number;
  /** Parent of the per-query spill directory (created 0700, removed afterwards). */
  tempRoot: string;
  /**
   * Where fresh databases come from: pre-created, never-used instances. Without it (or when its
   * settings differ from these) the database is created on the spot.
   */
  pool?: DatabasePool;
  /**
   * Reuse of locked databases (see idle.ts): a database parked under the same scope, settings
   * and views is used instead of a fresh one, and this one is parked after a clean run.
   */
  reuse?: { idle: IdleDatabases; scope: string };
}

export interface SessionResult {
  columns: { name: string; type: string }[];
  /** Each row already serialised as a JSON array (see values.ts). */
  rows: string[];
  truncated: boolean;
  truncatedBy?: "rows" | "bytes";
  /** Bytes of the serialised rows. */
  resultBytes: number;
}

const quoteLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`;
const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;
const list = (items: string[]) => `[${items.map(quoteLiteral).join(", ")}]`;

/**
 * Views, then the lock-down, sent as ONE batch (one round trip to DuckDB's worker thread instead
 * of one per statement). DuckDB runs the statements in order and stops at the first error, so a
 * failing view leaves the database unlocked but unused: the caller destroys it.
 */
function setupSql(views: ViewSpec[], alias: string | undefined, spillDir: string): string {
  const files: string[] = [];
  const statements: string[] = [];
  for (const v of views) {
    if (!VIEW_NAME_RE.test(v.name) || v.files.length === 0)
      throw new Error("invalid view specification");
    statements.push(
      `CREATE VIEW ${quoteIdent(v.name)} AS SELECT * FROM read_parquet(${list(v.files)})`,
    );
    files.push(...v.files);
  }
  if (alias !== undefined)
    statements.push(`CREATE VIEW dataset AS SELECT * FROM ${quoteIdent(alias)}`);
  // Order matters: the last SET freezes every setting, including the two before it.
  statements.push(
    `SET allowed_paths = ${list(files)}`,
    `SET allowed_directories = ${list([`${spillDir}/`])}`,
    "SET enable_external_access = false",
    "SET lock_configuration = true",
    // Fail closed: read the settings back instead of trusting that the SETs took effect.
    "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), " +
      "current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')",
  );
  return statements.join(";\n");
}

async function configureAndLock(
  conn: DuckDBConnection,
  views: ViewSpec[],
  alias: string | undefined,
  spillDir: string,
): Promise<void> {
  const check = await conn.runAndReadAll(setupSql(views, alias, spillDir));
  const [ext, lock, autoinstall, autoload] = check.getRows()[0] ?? [];
  if (ext !== false || lock !== true || autoinstall !== false || autoload !== false)
    throw new Error("DuckDB hardening settings did not take effect");
}

/**
 * DuckDB's message can echo the SQL, so only its leading error class is used: the user gets a
 * status that says whose fault it was, never the text.
 */
function classifyEngineError(err: unknown): QueryError {
  const msg = err instanceof Error ? err.message : "";
  if (/^(Parser|Binder|Catalog|Syntax) Error/.test(msg)) return refuse.planning(err);
  if (/^Permission Error/.test(msg)) return refuse.engineDenied(err);
  return refuse.execution(err);
}

/** A finished query whose database is still open; `dispose()` destroys it (call it once). */
export interface OpenSession {
  result: SessionResult;
  dispose: () => Promise<void>;
}

/** Runs the query and destroys its database before returning. */
export async function runLockedQuery(opts: SessionOptions): Promise<SessionResult> {
  const s = await openLockedQuery(opts);
  await s.dispose();
  return s.result;
}

/**
 * Runs the query in a fresh database (from `opts.pool` when its settings match) and hands back
 * the result with the teardown still to do, so a server can answer first and destroy the
 * database right after (closing costs 1.5–3 ms). On any error the database is destroyed before
 * the error is thrown.
 */
export async function openLockedQuery(opts: SessionOptions): Promise<OpenSession> {
  const settings: EngineSettings = {
    threads: opts.threads,
    memoryLimit: opts.memoryLimit,
    tempRoot: opts.tempRoot,
  };
  let db: FreshDatabase | undefined;
  let conn: DuckDBConnection | undefined;
  let disposed = false;
  const key = opts.reuse ? reuseKey(opts.reuse.scope, settings, opts.views, opts.alias) : undefined;
  /** Set only once the query has run to its end without error, timeout or interrupt. */
  let clean = false;
  /** Set when every row of the result was fetched (not cut at a row or byte limit). */
  let drained = false;
  let prepared: DuckDBPreparedStatement | undefined;
  const dispose = async () => {
    if (disposed || !db) return;
    disposed = true;
    if (clean && opts.reuse && key !== undefined) {
      try {
        // A connection whose result was read to its end holds nothing (the query was one
        // SELECT): it goes with the database. One stopped early at a limit still holds the
        // unfinished query, so it is closed.
        prepared?.destroySync();
        if (drained) db.connection = conn;
        else {
          db.connection = undefined;
          conn?.closeSync();
        }
        opts.reuse.idle.park(key, db);
        return;
      } catch {
        // Could not close the connection: do not keep this database.
      } finally {
        opts.pool?.refill();
      }
    }
    try {
      await destroyDatabase(db, conn);
    } finally {
      opts.pool?.refill();
    }
  };
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  try {
    try {
      // A parked database was locked for exactly these views by an earlier request (its
      // settings were read back then and cannot have changed since: lock_configuration).
      db = key !== undefined ? opts.reuse?.idle.take(key) : undefined;
      if (db) {
        conn = db.connection ?? (await db.instance.connect());
        db.connection = undefined;
      } else {
        db =
          opts.pool && sameSettings(opts.pool.settings, settings)
            ? await opts.pool.take()
            : await createFreshDatabase(settings);
        conn = await db.instance.connect();
        await configureAndLock(conn, opts.views, opts.alias, db.spillDir);
      }
    } catch (err) {
      throw refuse.hardening(err);
    }

    const c = conn;
    timer = setTimeout(() => {
      timedOut = true;
      c.interrupt();
    }, opts.timeoutMs);
    try {
      // Second line of defence behind the gate: DuckDB's own parser must see exactly one
      // SELECT statement. Preparing refuses a multi-statement text before executing any of it
      // (ClientContext::Prepare), so no separate extract-statements round trip is needed.
      try {
        prepared = await c.prepare(opts.sql);
      } catch (err) {
        if (
          err instanceof Error &&
          /Cannot prepare multiple statements|No statement/.test(err.message)
        )
          throw refuse.engineRejected("statement_count");
        throw err;
      }
      if (prepared.statementType !== StatementType.SELECT)
        throw refuse.engineRejected("statement_type");
      const statement = prepared;
      const result = await statement.stream();
      const types: DuckDBType[] = result.columnTypes();
      const columns = result
        .columnNames()
        .map((name, i) => ({ name, type: (types[i] as DuckDBType).toString() }));
      const rows: string[] = [];
      let resultBytes = 0;
      let truncatedBy: "rows" | "bytes" | undefined;
      read: for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) {
          drained = true;
          break;
        }
        for (const row of chunk.getRows()) {
          if (rows.length >= opts.limit) {
            truncatedBy = "rows";
            break read;
          }
          const json = rowToJson(row, types);
          const bytes = Buffer.byteLength(json) + 1;
          if (resultBytes + bytes > opts.maxResultBytes) {
            truncatedBy = "bytes";
            break read;
          }
          rows.push(json);
          resultBytes += bytes;
        }
        if (timedOut) break;
      }
      if (timedOut) throw refuse.timeout();
      clean = true;
      return {
        result: {
          columns,
          rows,
          truncated: truncatedBy !== undefined,
          ...(truncatedBy ? { truncatedBy } : {}),
          resultBytes,
        },
        dispose,
      };
    } catch (err) {
      if (timedOut) throw refuse.timeout();
      if (err instanceof QueryError) throw err;
      throw classifyEngineError(err);
    }
  } catch (err) {
    await dispose();
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
}
