import { createHash } from "node:crypto";

/**
 * Deterministic ids (RFC 4122 UUIDv5, SHA-1) with the namespaces and name formats of the Rust
 * reference (trace-rust.md §2.9), so ids computed here equal ids computed there.
 * Hand-written because it is ten lines over node:crypto; a dependency is not worth it.
 */
export const NAMESPACES = {
  datasetUuid: "1f55c495-7e91-4433-8b4a-0c088c5a5c7f",
  task: "906c0c0c-342d-472f-97a1-2c9b3d4eaab1",
  datasetVersion: "6e484f2c-567a-44f3-8a5e-c0650b2a169f",
  outbox: "6c073087-5b7c-4c55-b07a-1e2c7a015ae2",
  yaml: "41915e64-16d8-4c48-8f6c-e48a0f4b620a",
} as const;

export const DEFAULT_ORG_ID = "00000000-0000-0000-0000-000000000001";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const SLUG_RE = /^[a-z0-9_]{1,64}$/;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

function uuidBytes(uuid: string): Buffer {
  const lower = uuid.toLowerCase();
  if (!UUID_RE.test(lower)) throw new TypeError(`not a UUID: ${uuid}`);
  return Buffer.from(lower.replaceAll("-", ""), "hex");
}

export function uuidv5(namespace: string, name: string | Uint8Array): string {
  const hash = createHash("sha1")
    .update(uuidBytes(namespace))
    .update(typeof name === "string" ? Buffer.from(name, "utf8") : name)
    .digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function requireUuid(label: string, value: string): string {
  if (!UUID_RE.test(value)) throw new TypeError(`${label} must be a lowercase hyphenated UUID`);
  return value;
}

function requireBlock(label: string, value: number | bigint): string {
  const v = BigInt(value);
  if (v < 0n) throw new RangeError(`${label} must be >= 0`);
  return v.toString(10);
}

export function datasetUuid(orgId: string, chainId: number | bigint, datasetKey: string): string {
  requireUuid("org_id", orgId);
  if (BigInt(chainId) <= 0n) throw new RangeError("chain_id must be > 0");
  if (!SLUG_RE.test(datasetKey))
    throw new TypeError(`dataset_key is not a valid slug: ${datasetKey}`);
  return uuidv5(NAMESPACES.datasetUuid, `chain_sync:${orgId}:${BigInt(chainId)}:${datasetKey}`);
}

export function planTaskId(
  jobId: string,
  datasetKey: string,
  rangeStart: number | bigint,
  rangeEnd: number | bigint,
): string {
  requireUuid("job_id", jobId);
  return uuidv5(
    NAMESPACES.task,
    `chain_sync:${jobId}:${datasetKey}:${requireBlock("range_start", rangeStart)}:${requireBlock("range_end", rangeEnd)}`,
  );
}

export function datasetVersion(
  datasetUuidValue: string,
  configHash: string,
  chainId: number | bigint,
  rangeStart: number | bigint,
  rangeEnd: number | bigint,
): string {
  requireUuid("dataset_uuid", datasetUuidValue);
  return uuidv5(
    NAMESPACES.datasetVersion,
    `cryo_ingest:${datasetUuidValue}:${configHash}:${BigInt(chainId)}:${requireBlock("range_start", rangeStart)}:${requireBlock("range_end", rangeEnd)}`,
  );
}

export function wakeupOutboxId(taskId: string, attempt: number): string {
  requireUuid("task_id", taskId);
  return uuidv5(NAMESPACES.outbox, `task_wakeup:${taskId}:${attempt}`);
}

export function bufferPublishOutboxId(taskId: string, attempt: number, batchUri: string): string {
  requireUuid("task_id", taskId);
  return uuidv5(NAMESPACES.outbox, `buffer_publish:${taskId}:${attempt}:${batchUri}`);
}

export function yamlHash(rawYaml: string | Uint8Array): string {
  return uuidv5(NAMESPACES.yaml, rawYaml);
}

/** config_hash of a cryo_ingest stream, as the reference derives it at apply time. */
export function cryoConfigHash(cryoDatasetName: string): string {
  return `cryo_ingest.${cryoDatasetName}:v1`;
}

/** Object key prefix of one dataset version (trailing slash included). */
export function versionPrefix(args: {
  chainId: number | bigint;
  datasetUuid: string;
  rangeStart: number | bigint;
  rangeEnd: number | bigint;
  datasetVersion: string;
}): string {
  return `cryo/${BigInt(args.chainId)}/${args.datasetUuid}/${requireBlock("range_start", args.rangeStart)}_${requireBlock("range_end", args.rangeEnd)}/${args.datasetVersion}/`;
}
