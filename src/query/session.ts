import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBType,
  StatementType,
} from "@duckdb/node-api";
import { QueryError, refuse } from "./errors.ts";
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

async function lockDown(conn: DuckDBConnection, files: string[], spillDir: string): Promise<void> {
  // Order matters: the last SET freezes every setting, including the two before it.
  await conn.run(`SET allowed_paths = ${list(files)}`);
  await conn.run(`SET allowed_directories = ${list([`${spillDir}/`])}`);
  await conn.run("SET enable_external_access = false");
  await conn.run("SET lock_configuration = true");
  // Fail closed: read the settings back instead of trusting that the SETs took effect.
  const check = await conn.runAndReadAll(
    "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), " +
      "current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')",
  );
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

export async function runLockedQuery(opts: SessionOptions): Promise<SessionResult> {
  const spillDir = await mkdtemp(join(opts.tempRoot, "q-"));
  let instance: DuckDBInstance | undefined;
  let conn: DuckDBConnection | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  try {
    try {
      instance = await DuckDBInstance.create(":memory:", {
        autoinstall_known_extensions: "false",
        autoload_known_extensions: "false",
        allow_community_extensions: "false",
        allow_unsigned_extensions: "false",
        threads: String(opts.threads),
        memory_limit: opts.memoryLimit,
        temp_directory: spillDir,
      });
      conn = await instance.connect();
      const files: string[] = [];
      for (const v of opts.views) {
        if (!VIEW_NAME_RE.test(v.name) || v.files.length === 0)
          throw new Error("invalid view specification");
        await conn.run(
          `CREATE VIEW ${quoteIdent(v.name)} AS SELECT * FROM read_parquet(${list(v.files)})`,
        );
        files.push(...v.files);
      }
      if (opts.alias !== undefined)
        await conn.run(`CREATE VIEW dataset AS SELECT * FROM ${quoteIdent(opts.alias)}`);
      await lockDown(conn, files, spillDir);
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
      // SELECT statement.
      const statements = await c.extractStatements(opts.sql);
      if (statements.count !== 1) throw refuse.engineRejected("statement_count");
      const prepared = await statements.prepare(0);
      if (prepared.statementType !== StatementType.SELECT)
        throw refuse.engineRejected("statement_type");
      const result = await prepared.stream();
      const types: DuckDBType[] = result.columnTypes();
      const columns = result
        .columnNames()
        .map((name, i) => ({ name, type: (types[i] as DuckDBType).toString() }));
      const rows: string[] = [];
      let resultBytes = 0;
      let truncatedBy: "rows" | "bytes" | undefined;
      read: for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
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
      return {
        columns,
        rows,
        truncated: truncatedBy !== undefined,
        ...(truncatedBy ? { truncatedBy } : {}),
        resultBytes,
      };
    } catch (err) {
      if (timedOut) throw refuse.timeout();
      if (err instanceof QueryError) throw err;
      throw classifyEngineError(err);
    }
  } finally {
    if (timer) clearTimeout(timer);
    try {
      conn?.closeSync();
      instance?.closeSync();
    } finally {
      await rm(spillDir, { recursive: true, force: true });
    }
  }
}
