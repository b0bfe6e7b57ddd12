import type { JobStatus, StreamStatus } from "../../chain-sync/status.ts";

/** Fixed "now" of the status fixtures. */
export const NOW = new Date("2026-01-01T12:00:00.000Z");

/** One chain_sync stream's status, half way through a 3,000-block fixed target by default. */
export function streamStatus(overrides: Partial<StreamStatus> = {}): StreamStatus {
  return {
    dataset_key: "blocks",
    dataset_uuid: "00000000-0000-4000-8000-000000000001",
    cryo_dataset_name: "blocks",
    rpc_pool: "devnet",
    active: true,
    chunk_size: 1000,
    max_inflight: 2,
    cursor: 2000,
    target: 3000,
    observed_head: null,
    head_observed_at: null,
    head_stale: null,
    ranges: { scheduled: 1, completed: 1, failed: 0 },
    inflight: 1,
    blocks_completed: 1000,
    blocks_per_second: 125.4,
    eta_seconds: 16,
    blocked: null,
    last_error: null,
    ...overrides,
  };
}

/** A chain_sync job's status (`trace status` input) with the given streams. */
export function jobStatus(
  overrides: Partial<JobStatus> = {},
  streams = [streamStatus()],
): JobStatus {
  return {
    job_id: "00000000-0000-4000-8000-0000000000aa",
    org_id: "00000000-0000-4000-8000-0000000000bb",
    name: "demo",
    chain_id: 31337,
    enabled: true,
    mode: "fixed_target",
    from_block: 0,
    to_block: 3000,
    tail_lag: null,
    head_poll_interval_seconds: null,
    max_head_age_seconds: null,
    yaml_hash: "h",
    created_at: NOW.toISOString(),
    updated_at: NOW.toISOString(),
    completed: false,
    last_error: null,
    rate_window_seconds: 300,
    streams,
    ...overrides,
  };
}
