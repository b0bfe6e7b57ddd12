-- Query-service audit (owned by the query service; created here so one migrator owns the DB).
-- Never holds SQL text.
CREATE SCHEMA IF NOT EXISTS data;

CREATE TABLE data.query_audit (
  id             bigserial PRIMARY KEY,
  org_id         uuid NOT NULL,
  subject        text NOT NULL,
  route          text NOT NULL,
  task_id        uuid NULL,
  dataset_ids    uuid[] NOT NULL DEFAULT '{}',
  row_count      bigint NULL,
  duration_ms    int NULL,
  outcome        text NOT NULL,
  error_category text NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX query_audit_org_created_idx ON data.query_audit (org_id, created_at DESC);
CREATE INDEX query_audit_task_created_idx ON data.query_audit (task_id, created_at DESC)
  WHERE task_id IS NOT NULL;
CREATE INDEX query_audit_subject_created_idx ON data.query_audit (subject, created_at DESC);
