import type { Readable } from "node:stream";
import type { ByteSource, PutResult, StorageRef } from "../core/types.ts";

/**
 * Where artifacts go: an S3 bucket (+ prefix) or a local folder. Keys are relative to the
 * store's base (`s3://bucket/base/` or the folder) and validated by src/sink/keys.ts.
 */
export interface ObjectStore {
  readonly scheme: "s3" | "file";
  /** The URL the store was opened with, normalised (`s3://bucket/base/`, `file:///abs/dir/`). */
  readonly url: string;
  /**
   * Streams `body` to `key`; the object becomes visible at `key` only complete (multipart
   * complete / rename), never half-written. Holds at most part size × queue size bytes.
   */
  put(key: string, body: ByteSource | Uint8Array, opts?: PutOptions): Promise<PutResult>;
  /** The object's bytes as a stream; FatalError `object_not_found` if absent. */
  get(key: string): Promise<Readable>;
  /** The whole object, refused (FatalError `object_too_large`) when larger than `maxBytes`. */
  getBytes(key: string, maxBytes: number): Promise<Buffer>;
  head(key: string): Promise<{ size: number } | undefined>;
  /** Complete objects whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Unfinished writes under `prefix`: multipart uploads (s3) or temp files (file). */
  listIncomplete(prefix: string): Promise<IncompleteUpload[]>;
  abortIncomplete(item: IncompleteUpload): Promise<void>;
  /**
   * The key as readers see it in a manifest: bucket-relative for s3 (base prefix included),
   * filesystem-root-relative for file (the absolute path without its leading '/').
   */
  fullKey(key: string): string;
  /** The StorageRef of a version prefix (s3: bucket + full key prefix; file: absolute dir + '/'). */
  storageRef(prefix: string): StorageRef;
  close(): Promise<void>;
}

export interface PutOptions {
  contentType?: string;
  /** Aborting stops the upload: parts are aborted / the temp file is removed, nothing appears. */
  signal?: AbortSignal;
  /** Called for each chunk before it is written; throwing stops and undoes the put (caps). */
  onChunk?: (chunkBytes: number, objectBytesSoFar: number) => void;
}

export interface StoredObject {
  key: string;
  size: number;
}

export interface IncompleteUpload {
  /** The key the unfinished write was headed for. */
  key: string;
  /** s3: the multipart UploadId; file: the temp file's key. */
  uploadId: string;
  initiated: Date;
}
