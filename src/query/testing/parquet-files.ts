import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";

/**
 * Small Parquet files for the engine tests, written by DuckDB from `SELECT`s, in a private temp
 * dir with a spill dir beside it; both removed after the test file.
 */
export async function parquetFiles<K extends string>(
  label: string,
  selects: Record<K, string>,
): Promise<{ dir: string; spill: string; paths: Record<K, string> }> {
  const dir = mkdtempSync(join(tmpdir(), `trace-${label}-`));
  const spill = mkdtempSync(join(tmpdir(), `trace-${label}-spill-`));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(spill, { recursive: true, force: true });
  });
  const paths = {} as Record<K, string>;
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    for (const name of Object.keys(selects) as K[]) {
      paths[name] = join(dir, `${name}.parquet`);
      await c.run(`COPY (${selects[name]}) TO '${paths[name]}' (FORMAT parquet)`);
    }
  } finally {
    c.closeSync();
    db.closeSync();
  }
  return { dir, spill, paths };
}
