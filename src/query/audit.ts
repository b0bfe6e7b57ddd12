import { type Db, uuidArray } from "../state/index.ts";

/** One audit row per authenticated request (data.query_audit). Never the SQL text. */
export interface AuditRecord {
  orgId: string;
  subject: string;
  route: "task" | "user";
  taskId?: string;
  datasetIds: string[];
  rowCount?: number;
  durationMs: number;
  outcome: "ok" | "denied" | "failed";
  errorCategory?: string;
}

export async function writeAudit(sql: Db, a: AuditRecord): Promise<void> {
  await sql`
    INSERT INTO data.query_audit
      (org_id, subject, route, task_id, dataset_ids, row_count, duration_ms, outcome, error_category)
    VALUES (${a.orgId}, ${a.subject}, ${a.route}, ${a.taskId ?? null},
            ${uuidArray(sql, a.datasetIds)}, ${a.rowCount ?? null}, ${Math.round(a.durationMs)},
            ${a.outcome}, ${a.errorCategory ?? null})`;
}
