import { FatalError } from "../core/errors.ts";
import { isUuid } from "../core/ids.ts";
import {
  type DatasetPublication,
  DatasetPublicationSchema,
  type StorageRef,
  StorageRefSchema,
} from "../core/types.ts";
import { type Db, uuidArray } from "./connect.ts";

/**
 * The dataset version registry: the commit point of the whole pipeline. A version becomes
 * visible to readers when its row exists. Registration is idempotent for identical metadata and
 * refuses any divergence (same dataset_version with other metadata, or another dataset_version
 * for the same (dataset_uuid, config_hash, range)) — trace-rust §1.3 returned 500 for the latter.
 */

export class DatasetVersionConflictError extends FatalError {
  constructor(message: string) {
    super(message, { category: "dataset_version_conflict" });
  }
}

export interface DatasetVersionRow {
  dataset_version: string;
  dataset_uuid: string;
  storage_ref: StorageRef;
  config_hash: string;
  chain_id: number | null;
  range_start: number;
  range_end: number;
  task_id: string | null;
  created_at: Date;
}

export interface RegisterResult {
  /** false when an identical row already existed (an idempotent repeat). */
  created: boolean;
  row: DatasetVersionRow;
}

interface RawRow {
  dataset_version: string;
  dataset_uuid: string;
  storage_ref: unknown;
  config_hash: string;
  chain_id: string | null;
  range_start: string;
  range_end: string;
  task_id: string | null;
  created_at: Date;
}

function toRow(r: RawRow): DatasetVersionRow {
  return {
    dataset_version: r.dataset_version,
    dataset_uuid: r.dataset_uuid,
    storage_ref: StorageRefSchema.parse(r.storage_ref),
    config_hash: r.config_hash,
    chain_id: r.chain_id === null ? null : Number(r.chain_id),
    range_start: Number(r.range_start),
    range_end: Number(r.range_end),
    task_id: r.task_id,
    created_at: r.created_at,
  };
}

/** Structural equality of two storage refs after defaults (glob) are applied. */
function sameStorageRef(a: StorageRef, b: StorageRef): boolean {
  const x = StorageRefSchema.parse(a);
  const y = StorageRefSchema.parse(b);
  return (
    x.scheme === y.scheme &&
    x.prefix === y.prefix &&
    x.glob === y.glob &&
    (x.scheme !== "s3" || y.scheme !== "s3" || x.bucket === y.bucket)
  );
}

function describeDivergence(
  existing: DatasetVersionRow,
  p: DatasetPublication,
  chainId: number | null,
): string | undefined {
  if (existing.dataset_version !== p.dataset_version) return "dataset_version";
  if (existing.dataset_uuid !== p.dataset_uuid) return "dataset_uuid";
  if (existing.config_hash !== p.config_hash) return "config_hash";
  if (existing.range_start !== p.range_start || existing.range_end !== p.range_end) return "range";
  if (!sameStorageRef(existing.storage_ref, p.storage_ref)) return "storage_ref";
  if (existing.chain_id !== null && chainId !== null && existing.chain_id !== chainId)
    return "chain_id";
  return undefined;
}

/**
 * Registers one publication inside the caller's transaction (the completion transaction).
 * Throws DatasetVersionConflictError on divergence; a FatalError on malformed input.
 */
export async function registerDatasetVersion(
  tx: Db,
  publication: DatasetPublication,
  options: { chainId?: number | null; taskId?: string | null } = {},
): Promise<RegisterResult> {
  const parsed = DatasetPublicationSchema.safeParse(publication);
  if (!parsed.success) {
    throw new FatalError("dataset publication is malformed", { category: "bad_request" });
  }
  const p = parsed.data;
  const chainId = options.chainId ?? null;
  const taskId = options.taskId ?? null;
  // ON CONFLICT DO NOTHING without a target covers both the primary key and the determinism
  // key; a concurrent identical registration waits for the other transaction, then no-ops.
  const inserted = await tx<RawRow[]>`
    INSERT INTO state.dataset_versions
      (dataset_version, dataset_uuid, storage_ref, config_hash, chain_id, range_start, range_end,
       task_id)
    VALUES (${p.dataset_version}, ${p.dataset_uuid}, ${tx.json(p.storage_ref as never)},
            ${p.config_hash}, ${chainId}, ${p.range_start}, ${p.range_end}, ${taskId})
    ON CONFLICT DO NOTHING
    RETURNING *`;
  if (inserted[0]) return { created: true, row: toRow(inserted[0]) };

  const existing = await tx<RawRow[]>`
    SELECT * FROM state.dataset_versions
     WHERE dataset_version = ${p.dataset_version}
        OR (dataset_uuid = ${p.dataset_uuid} AND config_hash = ${p.config_hash}
            AND range_start = ${p.range_start} AND range_end = ${p.range_end})
     ORDER BY (dataset_version = ${p.dataset_version}) DESC`;
  for (const raw of existing) {
    const row = toRow(raw);
    const diff = describeDivergence(row, p, chainId);
    if (diff !== undefined) {
      throw new DatasetVersionConflictError(`dataset version conflict (${diff} differs)`);
    }
  }
  if (!existing[0]) {
    // The conflicting row vanished between the two statements; only a purge can do that.
    throw new DatasetVersionConflictError("dataset version conflict (row changed concurrently)");
  }
  return { created: false, row: toRow(existing[0]) };
}

/** Published versions, optionally only those of some datasets; oldest range first. */
export async function listDatasetVersions(
  sql: Db,
  filter: { datasetUuids?: string[] } = {},
): Promise<DatasetVersionRow[]> {
  const uuids = filter.datasetUuids;
  if (uuids !== undefined) {
    if (uuids.length === 0) return [];
    for (const u of uuids) {
      if (!isUuid(u)) throw new FatalError("dataset uuid must be a lowercase hyphenated UUID");
    }
  }
  const rows =
    uuids === undefined
      ? await sql<RawRow[]>`
          SELECT * FROM state.dataset_versions
           ORDER BY dataset_uuid, range_start, range_end, dataset_version`
      : await sql<RawRow[]>`
          SELECT * FROM state.dataset_versions
           WHERE dataset_uuid = ANY(${uuidArray(sql, uuids)})
           ORDER BY dataset_uuid, range_start, range_end, dataset_version`;
  return rows.map(toRow);
}
