import { datasetVersion, isUuid, versionPrefix } from "../core/ids.ts";
import type { DatasetGrant } from "../core/tokens.ts";
import { TaskPayloadSchema } from "../core/types.ts";
import type { TaskGrants } from "../dispatcher/grants.ts";
import type { Db, TaskRow } from "../state/index.ts";

/**
 * Dataset grants for chain_sync (trace-rust §9.5: the reference only ever granted a fixture).
 * A task's capability token names exactly its own dataset and the one version prefix it may
 * write; the query path can be granted the published chain_sync datasets of an org.
 */

export function chainSyncGrantsFor(task: TaskRow): TaskGrants {
  const parsed = TaskPayloadSchema.safeParse(task.payload);
  if (!parsed.success) return { datasets: [], s3: { read_prefixes: [], write_prefixes: [] } };
  const p = parsed.data;
  const version = datasetVersion(
    p.dataset_uuid,
    p.config_hash,
    p.chain_id,
    p.range_start,
    p.range_end,
  );
  return {
    datasets: [{ dataset_uuid: p.dataset_uuid, name: p.dataset_key }],
    s3: {
      read_prefixes: [],
      // Relative to the object store root (bucket + base prefix), as the completion check.
      write_prefixes: [
        versionPrefix({
          chainId: p.chain_id,
          datasetUuid: p.dataset_uuid,
          rangeStart: p.range_start,
          rangeEnd: p.range_end,
          datasetVersion: version,
        }),
      ],
    },
  };
}

export interface ChainSyncDataset {
  dataset_uuid: string;
  dataset_key: string;
  cryo_dataset_name: string;
  chain_id: number;
  job_name: string;
  job_id: string;
  /** Registered versions (published ranges) of this dataset. */
  versions: number;
  /** Blocks covered by published versions: [min start, max end); null when none. */
  first_block: number | null;
  end_block: number | null;
}

/**
 * The chain_sync datasets of an org, with what is published of each. By default only datasets
 * with at least one registered version (what a query can actually see).
 */
export async function listChainSyncDatasets(
  db: Db,
  orgId: string,
  options: { includeUnpublished?: boolean; jobName?: string } = {},
): Promise<ChainSyncDataset[]> {
  if (!isUuid(orgId)) throw new TypeError("org_id must be a lowercase hyphenated UUID");
  const rows = await db<
    {
      dataset_uuid: string;
      dataset_key: string;
      cryo_dataset_name: string;
      chain_id: string;
      job_name: string;
      job_id: string;
      versions: number;
      first_block: string | null;
      end_block: string | null;
    }[]
  >`
    SELECT s.dataset_uuid, s.dataset_key, s.cryo_dataset_name, j.chain_id, j.name AS job_name,
           j.job_id, count(v.dataset_version)::int AS versions,
           min(v.range_start) AS first_block, max(v.range_end) AS end_block
      FROM state.chain_sync_streams s
      JOIN state.chain_sync_jobs j USING (job_id)
      LEFT JOIN state.dataset_versions v
             ON v.dataset_uuid = s.dataset_uuid AND v.config_hash = s.config_hash
     WHERE j.org_id = ${orgId}
       AND (${options.jobName ?? null}::text IS NULL OR j.name = ${options.jobName ?? null})
     GROUP BY s.dataset_uuid, s.dataset_key, s.cryo_dataset_name, j.chain_id, j.name, j.job_id
    HAVING ${options.includeUnpublished === true} OR count(v.dataset_version) > 0
     ORDER BY j.name, s.dataset_key`;
  return rows.map((r) => ({
    dataset_uuid: r.dataset_uuid,
    dataset_key: r.dataset_key,
    cryo_dataset_name: r.cryo_dataset_name,
    chain_id: Number(r.chain_id),
    job_name: r.job_name,
    job_id: r.job_id,
    versions: r.versions,
    first_block: r.first_block === null ? null : Number(r.first_block),
    end_block: r.end_block === null ? null : Number(r.end_block),
  }));
}

const VIEW_NAME_RE = /^[a-z_][a-z0-9_]{0,63}$/;

/**
 * The view name of each dataset in a user query: the dataset_key; when two chains share a key,
 * each view gets `_c{chain_id}` appended. Pure, so clients that list datasets over the admin API
 * name views exactly as the server does.
 */
export function datasetViewGrants(
  datasets: Pick<ChainSyncDataset, "dataset_uuid" | "dataset_key" | "chain_id">[],
): (DatasetGrant & { key: string })[] {
  const perKey = new Map<string, number>();
  for (const d of datasets) perKey.set(d.dataset_key, (perKey.get(d.dataset_key) ?? 0) + 1);
  return datasets.map((d) => {
    let name =
      (perKey.get(d.dataset_key) ?? 0) > 1 ? `${d.dataset_key}_c${d.chain_id}` : d.dataset_key;
    if (!VIEW_NAME_RE.test(name)) name = `d_${name}`;
    return { key: d.dataset_key, dataset_uuid: d.dataset_uuid, name: name.slice(0, 64) };
  });
}

/** Grants for a user query over an org's published chain_sync datasets (see datasetViewGrants). */
export async function chainSyncDatasetGrants(
  db: Db,
  orgId: string,
  options: { jobName?: string } = {},
): Promise<DatasetGrant[]> {
  const datasets = await listChainSyncDatasets(db, orgId, options);
  return datasetViewGrants(datasets).map(({ dataset_uuid, name }) => ({ dataset_uuid, name }));
}
