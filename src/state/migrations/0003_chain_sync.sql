-- chain_sync (trace-rust §2.1/§2.8, without the §9 gaps): jobs, streams, cursors, the scheduling
-- ledger and head observations. Every index name starts with its table name, so nothing can
-- collide inside the schema (§9.12: colliding names silently skipped indexes in the reference).

CREATE TABLE state.chain_sync_jobs (
  job_id                     uuid PRIMARY KEY,
  org_id                     uuid NOT NULL,
  name                       text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  chain_id                   bigint NOT NULL CHECK (chain_id > 0),
  enabled                    boolean NOT NULL DEFAULT true,
  mode                       text NOT NULL CHECK (mode IN ('fixed_target', 'follow_head')),
  from_block                 bigint NOT NULL CHECK (from_block >= 0),
  -- End-exclusive; fixed_target only.
  to_block                   bigint NULL,
  tail_lag                   bigint NULL CHECK (tail_lag >= 0),
  head_poll_interval_seconds int NULL CHECK (head_poll_interval_seconds > 0),
  max_head_age_seconds       int NULL CHECK (max_head_age_seconds > 0),
  yaml_hash                  text NOT NULL,
  spec                       jsonb NOT NULL,
  last_error_kind            text NULL,
  last_error_message         text NULL CHECK (length(last_error_message) <= 1024),
  last_error_at              timestamptz NULL,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chain_sync_jobs_org_name_key UNIQUE (org_id, name),
  -- Each mode carries exactly its own fields, so the planner never meets a half-configured job.
  CONSTRAINT chain_sync_jobs_mode_fields CHECK (
    (mode = 'fixed_target' AND to_block IS NOT NULL AND to_block > from_block
      AND tail_lag IS NULL AND head_poll_interval_seconds IS NULL AND max_head_age_seconds IS NULL)
    OR
    (mode = 'follow_head' AND to_block IS NULL AND tail_lag IS NOT NULL
      AND head_poll_interval_seconds IS NOT NULL AND max_head_age_seconds IS NOT NULL)
  )
);
-- Planner and head observer: enabled jobs, oldest change first.
CREATE INDEX chain_sync_jobs_enabled_idx ON state.chain_sync_jobs (updated_at, created_at)
  WHERE enabled;

CREATE TABLE state.chain_sync_streams (
  job_id             uuid NOT NULL REFERENCES state.chain_sync_jobs (job_id) ON DELETE CASCADE,
  dataset_key        text NOT NULL CHECK (dataset_key ~ '^[a-z0-9_]{1,64}$'),
  dataset_uuid       uuid NOT NULL,
  cryo_dataset_name  text NOT NULL,
  rpc_pool           text NOT NULL,
  config_hash        text NOT NULL,
  chunk_size         int NOT NULL CHECK (chunk_size > 0),
  max_inflight       int NOT NULL CHECK (max_inflight > 0),
  -- False once the stream was removed from the YAML: no new planning, history kept.
  active             boolean NOT NULL DEFAULT true,
  last_error_kind    text NULL,
  last_error_message text NULL CHECK (length(last_error_message) <= 1024),
  last_error_at      timestamptz NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, dataset_key),
  -- dataset_uuid = f(org, chain, dataset_key): two jobs writing one dataset would interleave
  -- differently chunked versions of the same blocks, so one dataset has exactly one owner.
  CONSTRAINT chain_sync_streams_dataset_uuid_key UNIQUE (dataset_uuid)
);

CREATE TABLE state.chain_sync_cursor (
  job_id      uuid NOT NULL,
  dataset_key text NOT NULL,
  -- Exclusive high-water mark: every block below it is planned.
  next_block  bigint NOT NULL CHECK (next_block >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, dataset_key),
  FOREIGN KEY (job_id, dataset_key)
    REFERENCES state.chain_sync_streams (job_id, dataset_key) ON DELETE CASCADE
);

-- Cursors never move backwards, whoever writes them.
CREATE FUNCTION state.chain_sync_cursor_monotonic() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.next_block < OLD.next_block THEN
    RAISE EXCEPTION 'chain_sync cursor cannot move backwards (% -> %)', OLD.next_block, NEW.next_block
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER chain_sync_cursor_monotonic_trg BEFORE UPDATE ON state.chain_sync_cursor
  FOR EACH ROW EXECUTE FUNCTION state.chain_sync_cursor_monotonic();

CREATE TABLE state.chain_sync_scheduled_ranges (
  job_id         uuid NOT NULL,
  dataset_key    text NOT NULL,
  range_start    bigint NOT NULL CHECK (range_start >= 0),
  range_end      bigint NOT NULL,
  task_id        uuid NOT NULL,
  status         text NOT NULL DEFAULT 'scheduled'
                   CHECK (status IN ('scheduled', 'completed', 'failed')),
  -- How many times an operator re-queued this range after it failed for good.
  retries        int NOT NULL DEFAULT 0 CHECK (retries >= 0),
  error_category text NULL,
  error_message  text NULL CHECK (length(error_message) <= 1024),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz NULL,
  failed_at      timestamptz NULL,
  PRIMARY KEY (job_id, dataset_key, range_start, range_end),
  CONSTRAINT chain_sync_scheduled_ranges_range_check CHECK (range_end > range_start),
  CONSTRAINT chain_sync_scheduled_ranges_task_key UNIQUE (task_id),
  FOREIGN KEY (job_id, dataset_key)
    REFERENCES state.chain_sync_streams (job_id, dataset_key) ON DELETE CASCADE
);
-- In-flight counts (planner) and per-status counts (status).
CREATE INDEX chain_sync_scheduled_ranges_status_idx
  ON state.chain_sync_scheduled_ranges (job_id, dataset_key, status);
-- blocks/s over recent completions.
CREATE INDEX chain_sync_scheduled_ranges_completed_idx
  ON state.chain_sync_scheduled_ranges (job_id, dataset_key, completed_at)
  WHERE status = 'completed';
-- Latest failure per stream, and the retry-failed admin command.
CREATE INDEX chain_sync_scheduled_ranges_failed_idx
  ON state.chain_sync_scheduled_ranges (job_id, dataset_key, failed_at)
  WHERE status = 'failed';

CREATE TABLE state.chain_head_observations (
  org_id      uuid NOT NULL,
  chain_id    bigint NOT NULL CHECK (chain_id > 0),
  rpc_pool    text NOT NULL,
  head_block  bigint NOT NULL CHECK (head_block >= 0),
  observed_at timestamptz NOT NULL,
  source      text NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, chain_id, rpc_pool)
);
