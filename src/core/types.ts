import { z } from "zod";
import { SLUG_RE } from "./ids.ts";

/**
 * Wire and domain types shared by every service. Each has a zod schema because each crosses a
 * trust boundary somewhere (HTTP bodies, task payloads from the DB, manifests read back from
 * object storage). Field names are snake_case: they are the wire format of trace-rust §1.2.
 */

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
  message: "must be a lowercase hyphenated UUID",
});
const blockNumber = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const slug = z.string().regex(SLUG_RE, { message: "must match ^[a-z0-9_]{1,64}$" });
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, { message: "must be 64 lowercase hex chars" });

export const UuidSchema = uuid;
export const SlugSchema = slug;
export const BlockNumberSchema = blockNumber;

export const StorageRefSchema = z.discriminatedUnion("scheme", [
  z
    .object({
      scheme: z.literal("s3"),
      bucket: z.string().min(1).max(255),
      prefix: z.string().max(1024),
      glob: z.string().min(1).max(256).default("*.parquet"),
    })
    .strict(),
  z
    .object({
      scheme: z.literal("file"),
      /** Absolute directory path of the version, trailing slash included. */
      prefix: z.string().min(1).max(4096),
      glob: z.string().min(1).max(256).default("*.parquet"),
    })
    .strict(),
]);
export type StorageRef = z.infer<typeof StorageRefSchema>;

export const DatasetPublicationSchema = z
  .object({
    dataset_uuid: uuid,
    dataset_version: uuid,
    storage_ref: StorageRefSchema,
    config_hash: z.string().min(1).max(256),
    range_start: blockNumber,
    range_end: blockNumber,
  })
  .strict()
  .refine((p) => p.range_end > p.range_start, { message: "range_end must be > range_start" });
export type DatasetPublication = z.infer<typeof DatasetPublicationSchema>;

export const ManifestObjectSchema = z
  .object({
    key: z.string().min(1).max(1024),
    size: z.number().int().nonnegative(),
    sha256: sha256Hex,
  })
  .strict();
export type ManifestObject = z.infer<typeof ManifestObjectSchema>;

/** The Trace-owned `_manifest.json`, written last into a version prefix. */
export const ManifestSchema = z
  .object({
    version: z.literal(1),
    dataset_uuid: uuid,
    dataset_version: uuid,
    /** Bucket-relative (s3) or root-relative (file) full keys, sorted by key, unique. */
    objects: z.array(ManifestObjectSchema).max(100_000),
  })
  .strict();
export type Manifest = z.infer<typeof ManifestSchema>;

export const MANIFEST_NAME = "_manifest.json";

/** Payload of a planned chain_sync task (operator `cryo_ingest`), trace-rust §2.8. */
export const CryoIngestPayloadSchema = z
  .object({
    operator: z.literal("cryo_ingest"),
    chain_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    dataset_key: slug,
    dataset_uuid: uuid,
    cryo_dataset_name: z.string().min(1).max(64),
    rpc_pool: slug,
    range_start: blockNumber,
    range_end: blockNumber,
    config_hash: z.string().min(1).max(256),
  })
  .strict()
  .refine((p) => p.range_end > p.range_start, { message: "range_end must be > range_start" });
export type CryoIngestPayload = z.infer<typeof CryoIngestPayloadSchema>;

/** Any task payload; today only cryo_ingest exists. */
export const TaskPayloadSchema = CryoIngestPayloadSchema;
export type TaskPayload = CryoIngestPayload;

export const TaskOutcomeSchema = z.enum(["success", "retryable_error", "fatal_error"]);
export type TaskOutcome = z.infer<typeof TaskOutcomeSchema>;

/** Result of writing one object through an ArtifactSink. */
export interface PutResult {
  key: string;
  size: number;
  sha256: string;
}

export type ByteSource = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/**
 * One task attempt's writer into a version prefix (cryo-library-adapter.md). Implemented in
 * src/sink/; the extraction engine and the cryo-cli fallback write only through this.
 */
export interface ArtifactSink {
  /** Key prefix of the version, trailing slash included. */
  readonly prefix: string;
  putObject(name: string, body: ByteSource, options?: { contentType?: string }): Promise<PutResult>;
  /** Writes `_manifest.json` last and returns the single publication of this attempt. */
  writeManifest(): Promise<DatasetPublication>;
  /** Aborts in-flight uploads and removes every object this sink wrote. */
  abort(): Promise<void>;
}
