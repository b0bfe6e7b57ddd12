import { datasetVersion, versionPrefix } from "../core/ids.ts";
import {
  type DatasetPublication,
  DatasetPublicationSchema,
  type TaskOutcome,
  type TaskPayload,
  TaskPayloadSchema,
} from "../core/types.ts";

/**
 * Rules a completion must satisfy before anything is registered (issue #5, trace-rust §1.3
 * plus what the reference left unchecked). Pure: the caller turns a rejection into 422.
 */

export type PublicationCheck =
  | { ok: true; publication?: DatasetPublication; payload: TaskPayload }
  | { ok: false; error: string };

export function checkPublications(
  outcome: TaskOutcome,
  rawPayload: unknown,
  publications: unknown[],
): PublicationCheck {
  const payloadParse = TaskPayloadSchema.safeParse(rawPayload);
  if (!payloadParse.success) return { ok: false, error: "invalid task payload" };
  const payload = payloadParse.data;
  if (outcome !== "success") {
    if (publications.length > 0) {
      return { ok: false, error: "non-success completion must not include dataset publications" };
    }
    return { ok: true, payload };
  }
  if (publications.length !== 1) {
    return { ok: false, error: "completion must include exactly one dataset publication" };
  }
  const parsed = DatasetPublicationSchema.safeParse(publications[0]);
  if (!parsed.success) return { ok: false, error: "invalid dataset publication" };
  const p = parsed.data;
  if (
    p.dataset_uuid !== payload.dataset_uuid ||
    p.config_hash !== payload.config_hash ||
    p.range_start !== payload.range_start ||
    p.range_end !== payload.range_end
  ) {
    return { ok: false, error: "dataset publication does not match task payload" };
  }
  // The version id and its storage location are derived, not chosen (trace-rust §2.9): the
  // chain is bound through the version id, and a worker cannot point a version at another
  // dataset's objects.
  const expectedVersion = datasetVersion(
    payload.dataset_uuid,
    payload.config_hash,
    payload.chain_id,
    payload.range_start,
    payload.range_end,
  );
  if (p.dataset_version !== expectedVersion) {
    return { ok: false, error: "dataset version does not match task payload" };
  }
  const expectedPrefix = versionPrefix({
    chainId: payload.chain_id,
    datasetUuid: payload.dataset_uuid,
    rangeStart: payload.range_start,
    rangeEnd: payload.range_end,
    datasetVersion: expectedVersion,
  });
  if (!p.storage_ref.prefix.endsWith(expectedPrefix) || p.storage_ref.prefix.includes("..")) {
    return { ok: false, error: "dataset storage prefix does not match task payload" };
  }
  return { ok: true, publication: p, payload };
}
