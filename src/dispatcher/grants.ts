import type { CapabilityClaims } from "../core/tokens.ts";
import { TaskPayloadSchema } from "../core/types.ts";
import type { TaskRow } from "../state/index.ts";

export type TaskGrants = Pick<CapabilityClaims, "datasets" | "s3">;

/**
 * Grants carried by a task's capability token. A cryo_ingest task may read its own dataset
 * (no storage_ref: it only writes). chain_sync (issue #6) can pass its own `grantsFor`.
 */
export function defaultGrantsFor(task: TaskRow): TaskGrants {
  const payload = TaskPayloadSchema.safeParse(task.payload);
  return {
    datasets: payload.success ? [{ dataset_uuid: payload.data.dataset_uuid }] : [],
    s3: { read_prefixes: [], write_prefixes: [] },
  };
}
