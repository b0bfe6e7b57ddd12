import { type Db, uuidArray } from "../state/index.ts";
import { JobNotFoundError } from "./errors.ts";

/**
 * What users ask of a sync (peers.md: progress, rate, ETA, why it is stuck): per stream the
 * cursor, the planning target or observed head, range counts by status, in-flight, the last
 * error with its category and time, blocks/s over a recent window and an ETA; per job whether
 * it is paused, its last error and an exact `completed` flag.
 */

export const DEFAULT_RATE_WINDOW_SECONDS = 300;

export interface LastError {
  /** Planner block kind (e.g. stale_head_observation) or the failed task's error category. */
  category: string;
  message: string;
  at: string;
}

export interface StreamStatus {
  dataset_key: string;
  dataset_uuid: string;
  cryo_dataset_name: string;
  rpc_pool: string;
  /** False once removed from the YAML (no new planning). */
  active: boolean;
  chunk_size: number;
  max_inflight: number;
  /** Exclusive: every block below is planned. */
  cursor: number;
  /** Where planning currently aims (exclusive); null when blocked (follow_head without a fresh head). */
  target: number | null;
  /** follow_head: last observed head of the stream's pool (even when stale). */
  observed_head: number | null;
  head_observed_at: string | null;
  head_stale: boolean | null;
  ranges: { scheduled: number; completed: number; failed: number };
  /** Ranges holding an in-flight slot (= scheduled). */
  inflight: number;
  blocks_completed: number;
  blocks_per_second: number;
  /** fixed_target: seconds to finish at the recent rate; null when unknown. */
  eta_seconds: number | null;
  /** Why planning is blocked right now (planner block kind), or null. */
  blocked: string | null;
  last_error: LastError | null;
}

export interface JobStatus {
  job_id: string;
  org_id: string;
  name: string;
  chain_id: number;
  enabled: boolean;
  mode: "fixed_target" | "follow_head";
  from_block: number;
  to_block: number | null;
  tail_lag: number | null;
  head_poll_interval_seconds: number | null;
  max_head_age_seconds: number | null;
  yaml_hash: string;
  created_at: string;
  updated_at: string;
  /**
   * fixed_target: every active stream's cursor >= to_block and no range of the job is scheduled
   * or failed, i.e. every block of the target is published. Always false for follow_head.
   */
  completed: boolean;
  last_error: LastError | null;
  rate_window_seconds: number;
  streams: StreamStatus[];
}

interface JobRow {
  job_id: string;
  org_id: string;
  name: string;
  chain_id: string;
  enabled: boolean;
  mode: "fixed_target" | "follow_head";
  from_block: string;
  to_block: string | null;
  tail_lag: string | null;
  head_poll_interval_seconds: number | null;
  max_head_age_seconds: number | null;
  yaml_hash: string;
  created_at: Date;
  updated_at: Date;
  last_error_kind: string | null;
  last_error_message: string | null;
  last_error_at: Date | null;
}

interface StreamRow {
  job_id: string;
  dataset_key: string;
  dataset_uuid: string;
  cryo_dataset_name: string;
  rpc_pool: string;
  active: boolean;
  chunk_size: number;
  max_inflight: number;
  next_block: string;
  last_error_kind: string | null;
  last_error_message: string | null;
  last_error_at: Date | null;
  head_block: string | null;
  observed_at: Date | null;
  head_age_seconds: number | null;
  scheduled: number;
  completed: number;
  failed: number;
  blocks_completed: string;
  recent_blocks: string;
  open_blocks: string;
  failed_category: string | null;
  failed_message: string | null;
  failed_at: Date | null;
  failed_start: string | null;
  failed_end: string | null;
}

export async function chainSyncStatus(
  db: Db,
  orgId: string,
  name: string,
  options: { rateWindowSeconds?: number } = {},
): Promise<JobStatus> {
  const [job] = await listChainSyncStatus(db, orgId, { ...options, name });
  if (!job) throw new JobNotFoundError(name);
  return job;
}

/** Every job of the org (most recently changed first), or only `name`. */
export async function listChainSyncStatus(
  db: Db,
  orgId: string,
  options: { rateWindowSeconds?: number; name?: string } = {},
): Promise<JobStatus[]> {
  const window = options.rateWindowSeconds ?? DEFAULT_RATE_WINDOW_SECONDS;
  if (!Number.isInteger(window) || window < 1 || window > 86_400) {
    throw new RangeError("rateWindowSeconds must be an integer in [1, 86400]");
  }
  const name = options.name ?? null;
  const jobs = await db<JobRow[]>`
    SELECT job_id, org_id, name, chain_id, enabled, mode, from_block, to_block, tail_lag,
           head_poll_interval_seconds, max_head_age_seconds, yaml_hash, created_at, updated_at,
           last_error_kind, last_error_message, last_error_at
      FROM state.chain_sync_jobs
     WHERE org_id = ${orgId} AND (${name}::text IS NULL OR name = ${name})
     ORDER BY updated_at DESC, name`;
  if (jobs.length === 0) return [];
  const ids = jobs.map((j) => j.job_id);
  // One statement for every stream: counts come from the (job, stream, status) index, the
  // recent rate from the partial completed_at index, the last failure from the failed one.
  const streams = await db<StreamRow[]>`
    SELECT s.job_id, s.dataset_key, s.dataset_uuid, s.cryo_dataset_name, s.rpc_pool, s.active,
           s.chunk_size, s.max_inflight, c.next_block,
           s.last_error_kind, s.last_error_message, s.last_error_at,
           o.head_block, o.observed_at,
           greatest(0, floor(extract(epoch FROM now() - o.observed_at)))::float8 AS head_age_seconds,
           coalesce(agg.scheduled, 0)::int AS scheduled,
           coalesce(agg.completed, 0)::int AS completed,
           coalesce(agg.failed, 0)::int AS failed,
           coalesce(agg.blocks_completed, 0)::text AS blocks_completed,
           coalesce(agg.open_blocks, 0)::text AS open_blocks,
           coalesce(recent.blocks, 0)::text AS recent_blocks,
           lf.error_category AS failed_category, lf.error_message AS failed_message,
           lf.failed_at, lf.range_start AS failed_start, lf.range_end AS failed_end
      FROM state.chain_sync_streams s
      JOIN state.chain_sync_jobs j USING (job_id)
      JOIN state.chain_sync_cursor c USING (job_id, dataset_key)
      LEFT JOIN state.chain_head_observations o
             ON j.mode = 'follow_head' AND o.org_id = j.org_id AND o.chain_id = j.chain_id
            AND o.rpc_pool = s.rpc_pool
      LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE r.status = 'scheduled') AS scheduled,
               count(*) FILTER (WHERE r.status = 'completed') AS completed,
               count(*) FILTER (WHERE r.status = 'failed') AS failed,
               sum(r.range_end - r.range_start) FILTER (WHERE r.status = 'completed')
                 AS blocks_completed,
               sum(r.range_end - r.range_start) FILTER (WHERE r.status <> 'completed')
                 AS open_blocks
          FROM state.chain_sync_scheduled_ranges r
         WHERE r.job_id = s.job_id AND r.dataset_key = s.dataset_key) agg ON true
      LEFT JOIN LATERAL (
        SELECT sum(r.range_end - r.range_start) AS blocks
          FROM state.chain_sync_scheduled_ranges r
         WHERE r.job_id = s.job_id AND r.dataset_key = s.dataset_key AND r.status = 'completed'
           AND r.completed_at > now() - make_interval(secs => ${window})) recent ON true
      LEFT JOIN LATERAL (
        SELECT r.error_category, r.error_message, r.failed_at, r.range_start, r.range_end
          FROM state.chain_sync_scheduled_ranges r
         WHERE r.job_id = s.job_id AND r.dataset_key = s.dataset_key AND r.status = 'failed'
         ORDER BY r.failed_at DESC LIMIT 1) lf ON true
     WHERE s.job_id = ANY(${uuidArray(db, ids)})
     ORDER BY s.job_id, s.dataset_key`;
  return jobs.map((j) =>
    toJobStatus(
      j,
      streams.filter((s) => s.job_id === j.job_id),
      window,
    ),
  );
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const num = (v: string | null) => (v === null ? null : Number(v));

function toJobStatus(j: JobRow, rows: StreamRow[], window: number): JobStatus {
  const toBlock = num(j.to_block);
  const fromBlock = Number(j.from_block);
  const streams = rows.map((s) => toStreamStatus(j, s, window, fromBlock, toBlock));
  const completed =
    j.mode === "fixed_target" &&
    toBlock !== null &&
    streams.every(
      (s) => (s.active ? s.cursor >= toBlock : true) && s.inflight === 0 && s.ranges.failed === 0,
    );
  const jobError =
    j.last_error_kind && j.last_error_at
      ? {
          category: j.last_error_kind,
          message: j.last_error_message ?? "",
          at: j.last_error_at.toISOString(),
        }
      : null;
  return {
    job_id: j.job_id,
    org_id: j.org_id,
    name: j.name,
    chain_id: Number(j.chain_id),
    enabled: j.enabled,
    mode: j.mode,
    from_block: fromBlock,
    to_block: toBlock,
    tail_lag: num(j.tail_lag),
    head_poll_interval_seconds: j.head_poll_interval_seconds,
    max_head_age_seconds: j.max_head_age_seconds,
    yaml_hash: j.yaml_hash,
    created_at: j.created_at.toISOString(),
    updated_at: j.updated_at.toISOString(),
    completed,
    // A range failure is reported through its stream, with the task's own error category.
    last_error: latest([jobError, ...streams.map((s) => s.last_error)]),
    rate_window_seconds: window,
    streams,
  };
}

function toStreamStatus(
  j: JobRow,
  s: StreamRow,
  window: number,
  fromBlock: number,
  toBlock: number | null,
): StreamStatus {
  const cursor = Number(s.next_block);
  const head = num(s.head_block);
  const stale =
    j.mode === "follow_head" && s.head_age_seconds !== null
      ? s.head_age_seconds > (j.max_head_age_seconds ?? 0)
      : null;
  let target: number | null = toBlock;
  if (j.mode === "follow_head") {
    target =
      head === null || stale ? null : Math.max(fromBlock, head + 1 - Number(j.tail_lag ?? 0));
  }
  const rate = Number(s.recent_blocks) / window;
  const remaining =
    j.mode === "fixed_target" && toBlock !== null
      ? Math.max(0, toBlock - cursor) + Number(s.open_blocks)
      : null;
  const plannerError =
    s.last_error_kind && s.last_error_at
      ? {
          category: s.last_error_kind,
          message: s.last_error_message ?? "",
          at: s.last_error_at.toISOString(),
        }
      : null;
  const failedError =
    s.failed_at && s.failed_category
      ? {
          category: s.failed_category,
          message: `range [${s.failed_start}, ${s.failed_end}) failed: ${s.failed_message ?? ""}`,
          at: s.failed_at.toISOString(),
        }
      : null;
  const blocked = s.active && j.enabled && plannerError ? plannerError.category : null;
  return {
    dataset_key: s.dataset_key,
    dataset_uuid: s.dataset_uuid,
    cryo_dataset_name: s.cryo_dataset_name,
    rpc_pool: s.rpc_pool,
    active: s.active,
    chunk_size: s.chunk_size,
    max_inflight: s.max_inflight,
    cursor,
    target,
    observed_head: head,
    head_observed_at: iso(s.observed_at),
    head_stale: stale,
    ranges: { scheduled: s.scheduled, completed: s.completed, failed: s.failed },
    inflight: s.scheduled,
    blocks_completed: Number(s.blocks_completed),
    blocks_per_second: rate,
    eta_seconds:
      remaining === null
        ? null
        : remaining === 0
          ? 0
          : rate > 0
            ? Math.ceil(remaining / rate)
            : null,
    blocked,
    // A planner block is reported over an older range failure only if it is newer.
    last_error: latest([plannerError, failedError]),
  };
}

function latest(errors: (LastError | null)[]): LastError | null {
  let best: LastError | null = null;
  for (const e of errors) if (e && (!best || e.at > best.at)) best = e;
  return best;
}
