import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { FatalError } from "../core/errors.ts";
import { connect, type Sql } from "./connect.ts";

/**
 * Applies src/state/migrations/NNNN_name.sql in order, each at most once, recorded in
 * state.schema_migrations with a checksum. Everything runs in one transaction that first takes
 * a transaction-scoped advisory lock, so several processes migrating at once serialise: the
 * first applies, the others wait and then find nothing to do. A failed migration rolls back
 * completely (PostgreSQL DDL is transactional).
 */

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);
const FILE_RE = /^(\d{4})_[a-z0-9_]+\.sql$/;
/** Arbitrary constant that identifies "trace state migrations" among advisory locks. */
const MIGRATION_LOCK_KEY = 7_314_500_210n;

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(): Migration[] {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  const seen = new Set<string>();
  return files.map((name) => {
    const m = FILE_RE.exec(name);
    if (!m) throw new FatalError(`migration file name must look like 0001_name.sql: ${name}`);
    const version = m[1]!;
    if (seen.has(version)) throw new FatalError(`duplicate migration version ${version}`);
    seen.add(version);
    const sql = readFileSync(new URL(name, MIGRATIONS_DIR), "utf8");
    return { version, name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
  });
}

export interface MigrateResult {
  applied: string[];
}

/** Brings the database up to date. Accepts a URL (opens and closes its own client) or a client. */
export async function migrate(target: string | Sql): Promise<MigrateResult> {
  const sql = typeof target === "string" ? connect(target, { max: 1 }) : target;
  try {
    return await migrateWith(sql, loadMigrations());
  } finally {
    if (typeof target === "string") await sql.end({ timeout: 5 });
  }
}

async function migrateWith(sql: Sql, migrations: Migration[]): Promise<MigrateResult> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    await tx`CREATE SCHEMA IF NOT EXISTS state`;
    await tx`
      CREATE TABLE IF NOT EXISTS state.schema_migrations (
        version    text PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const rows = await tx<{ version: string; name: string; checksum: string }[]>`
      SELECT version, name, checksum FROM state.schema_migrations`;
    const done = new Map(rows.map((r) => [r.version, r]));
    const applied: string[] = [];
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior) {
        // An edited, already-applied migration means this database and this code disagree.
        if (prior.checksum !== m.checksum) {
          throw new FatalError(
            `migration ${m.name} was changed after it was applied (checksum mismatch)`,
            { category: "migration_checksum" },
          );
        }
        continue;
      }
      try {
        await tx.unsafe(m.sql).simple();
      } catch (err) {
        throw new FatalError(`migration ${m.name} failed`, { category: "migration", cause: err });
      }
      await tx`
        INSERT INTO state.schema_migrations (version, name, checksum)
        VALUES (${m.version}, ${m.name}, ${m.checksum})`;
      applied.push(m.name);
    }
    return { applied };
  });
}
