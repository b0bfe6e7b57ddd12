-- Core state schema: tasks, task events, dataset version registry, outbox, pgqueue.
-- Index names carry their table name so they cannot collide inside the schema
-- (trace-rust §2.1/§9.12: colliding names silently skipped indexes there).

CREATE TABLE state.tasks (
  task_id             uuid PRIMARY KEY,
  kind                text NOT NULL DEFAULT 'cryo_ingest',
  status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'canceled')),
  attempt             int NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  max_attempts        int NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  lease_token         uuid NULL,
  lease_expires_at    timestamptz NULL,
  worker_id           text NULL,
  next_retry_at       timestamptz NULL,
  payload             jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_error_category text NULL,
  last_error_message  text NULL CHECK (length(last_error_message) <= 2000),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz NULL,
  finished_at         timestamptz NULL,
  -- A running task always holds a live-or-expired lease; no other status has an expiry. A
  -- completed task keeps the lease_token that completed it, so an identical retried completion
  -- of that same lease can be answered idempotently.
  CONSTRAINT tasks_lease_matches_status CHECK (
    (status = 'running') = (lease_expires_at IS NOT NULL)
    AND (status <> 'running' OR lease_token IS NOT NULL)
    AND (status IN ('running', 'completed') OR lease_token IS NULL)
  )
);
-- Lease reaper: running tasks by lease expiry.
CREATE INDEX tasks_running_lease_idx ON state.tasks (lease_expires_at) WHERE status = 'running';
-- Retry scheduler: queued tasks waiting for their backoff to end.
CREATE INDEX tasks_retry_due_idx ON state.tasks (next_retry_at)
  WHERE status = 'queued' AND next_retry_at IS NOT NULL;
-- Status views: tasks by status, newest first.
CREATE INDEX tasks_status_updated_idx ON state.tasks (status, updated_at DESC);

CREATE TABLE state.task_events (
  event_id  bigserial PRIMARY KEY,
  task_id   uuid NOT NULL REFERENCES state.tasks (task_id) ON DELETE CASCADE,
  attempt   int NOT NULL,
  event     text NOT NULL,
  detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
  at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_events_task_at_idx ON state.task_events (task_id, at, event_id);

CREATE TABLE state.dataset_versions (
  dataset_version uuid PRIMARY KEY,
  dataset_uuid    uuid NOT NULL,
  storage_ref     jsonb NOT NULL,
  config_hash     text NOT NULL,
  chain_id        bigint NULL,
  range_start     bigint NOT NULL CHECK (range_start >= 0),
  range_end       bigint NOT NULL,
  task_id         uuid NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT dataset_versions_range_check CHECK (range_end > range_start),
  CONSTRAINT dataset_versions_determinism_key UNIQUE (dataset_uuid, config_hash, range_start, range_end)
);
-- listDatasetVersions({datasetUuids}) is served by the determinism key's leading column;
-- this one serves "newest versions first" listings.
CREATE INDEX dataset_versions_created_idx ON state.dataset_versions (created_at DESC);

CREATE TABLE state.outbox (
  outbox_id    uuid PRIMARY KEY,
  topic        text NOT NULL,
  payload      jsonb NOT NULL,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
  attempts     int NOT NULL DEFAULT 0,
  available_at timestamptz NOT NULL DEFAULT now(),
  last_error   text NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_pending_idx ON state.outbox (available_at, created_at) WHERE status = 'pending';

CREATE TABLE state.queue_messages (
  message_id      uuid PRIMARY KEY,
  queue_name      text NOT NULL,
  payload         jsonb NOT NULL,
  available_at    timestamptz NOT NULL DEFAULT now(),
  invisible_until timestamptz NULL,
  deliveries      int NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_messages_ready_idx ON state.queue_messages (queue_name, available_at, created_at);
CREATE INDEX queue_messages_invisible_idx ON state.queue_messages (queue_name, invisible_until);

-- Messages received maxDeliveries times without an ack end here instead of looping forever.
CREATE TABLE state.queue_dead_letters (
  message_id       uuid PRIMARY KEY,
  queue_name       text NOT NULL,
  payload          jsonb NOT NULL,
  deliveries       int NOT NULL,
  first_created_at timestamptz NOT NULL,
  dead_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_dead_letters_queue_idx ON state.queue_dead_letters (queue_name, dead_at);
