import { Readable } from "node:stream";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { FatalError } from "../core/errors.ts";
import type { ByteSource, PutResult, StorageRef } from "../core/types.ts";
import { meterBody } from "./body.ts";
import { validateKey, validateListPrefix, validatePrefix } from "./keys.ts";
import type { IncompleteUpload, ObjectStore, PutOptions, StoredObject } from "./object-store.ts";
import { PartBufferPool, uploadStream } from "./s3-multipart.ts";
import { storageError } from "./storage-errors.ts";

export interface S3StoreOptions {
  bucket: string;
  /** Base key prefix ('' or ending in '/'); every key of the store lives under it. */
  basePrefix: string;
  /** The SDK client is created from this on first use. */
  clientConfig: S3ClientConfig;
  partSizeBytes: number;
  queueSize: number;
}

/**
 * S3 (or any S3 API) as an object store. Puts stream through `uploadStream` (s3-multipart.ts):
 * one PutObject below the part size, otherwise a multipart upload with at most `queueSize` parts
 * of `partSizeBytes` in flight, so memory is bounded whatever the object size, and the object
 * appears at its key only when CompleteMultipartUpload succeeds.
 *
 * The AWS SDK (~25 MiB of resident memory, ~150 ms to load) is imported on the first operation,
 * not with this module: a process that only ever uses a folder store never loads it.
 */
export class S3ObjectStore implements ObjectStore {
  readonly scheme = "s3" as const;
  readonly url: string;
  readonly bucket: string;
  readonly basePrefix: string;
  private readonly clientConfig: S3ClientConfig;
  private sdk?: Promise<Sdk>;
  private readonly queueSize: number;
  private readonly parts: PartBufferPool;

  constructor(o: S3StoreOptions) {
    this.bucket = o.bucket;
    this.basePrefix = validatePrefix(o.basePrefix);
    this.clientConfig = o.clientConfig;
    this.queueSize = o.queueSize;
    this.parts = new PartBufferPool(o.partSizeBytes, o.queueSize + 1);
    this.url = `s3://${o.bucket}/${o.basePrefix}`;
  }

  /** The SDK modules and this store's client, loaded and created once. */
  private s3(): Promise<Sdk> {
    this.sdk ??= (async () => {
      const commands = await import("@aws-sdk/client-s3");
      return { ...commands, client: new commands.S3Client(this.clientConfig) };
    })();
    return this.sdk;
  }

  fullKey(key: string): string {
    return this.basePrefix + key;
  }

  private objectKey(key: string): string {
    return this.fullKey(validateKey(key));
  }

  async put(key: string, body: ByteSource | Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    const Key = this.objectKey(key);
    const metered = meterBody(body, opts);
    try {
      const sdk = await this.s3();
      // On any failure uploadStream aborts the multipart upload before it rethrows.
      await uploadStream(
        sdk,
        { Bucket: this.bucket, Key, ContentType: opts.contentType },
        metered.chunks,
        this.parts,
        this.queueSize,
      );
    } catch (err) {
      if (metered.bodyError !== undefined) throw metered.bodyError;
      throw storageError(err, `uploading s3://${this.bucket}/${Key}`);
    }
    return { key, size: metered.size, sha256: metered.sha256() };
  }

  async get(key: string): Promise<Readable> {
    const Key = this.objectKey(key);
    try {
      const { client, GetObjectCommand } = await this.s3();
      const res = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!(res.Body instanceof Readable)) throw new Error("GetObject returned no Node stream");
      return res.Body;
    } catch (err) {
      throw storageError(err, `reading s3://${this.bucket}/${Key}`);
    }
  }

  async getBytes(key: string, maxBytes: number): Promise<Buffer> {
    const Key = this.objectKey(key);
    try {
      const { client, GetObjectCommand } = await this.s3();
      const res = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      const body = res.Body as Readable;
      if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
        body.destroy();
        throw tooLarge(key, res.ContentLength, maxBytes);
      }
      const parts: Buffer[] = [];
      let n = 0;
      for await (const c of body) {
        n += (c as Buffer).byteLength;
        // Do not trust Content-Length alone: stop reading as soon as the bound is crossed.
        if (n > maxBytes) {
          body.destroy();
          throw tooLarge(key, n, maxBytes);
        }
        parts.push(c as Buffer);
      }
      return Buffer.concat(parts);
    } catch (err) {
      throw storageError(err, `reading s3://${this.bucket}/${Key}`);
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const Key = this.objectKey(key);
    try {
      const { client, HeadObjectCommand } = await this.s3();
      const res = await client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { size: res.ContentLength ?? 0 };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404)
        return undefined;
      throw storageError(err, `inspecting s3://${this.bucket}/${Key}`);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const Prefix = this.fullKey(validateListPrefix(prefix));
    const out: StoredObject[] = [];
    let ContinuationToken: string | undefined;
    try {
      const { client, ListObjectsV2Command } = await this.s3();
      do {
        const res = await client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken }),
        );
        for (const o of res.Contents ?? []) {
          if (o.Key === undefined) continue;
          out.push({ key: o.Key.slice(this.basePrefix.length), size: o.Size ?? 0 });
        }
        ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (ContinuationToken);
    } catch (err) {
      throw storageError(err, `listing s3://${this.bucket}/${Prefix}`);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      const { client, DeleteObjectCommand } = await this.s3();
      await client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      const e = err as { name?: string };
      if (e.name === "NoSuchKey" || e.name === "NotFound") return;
      throw storageError(err, `deleting s3://${this.bucket}/${Key}`);
    }
  }

  async listIncomplete(prefix: string): Promise<IncompleteUpload[]> {
    const Prefix = this.fullKey(validateListPrefix(prefix));
    const out: IncompleteUpload[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    try {
      const { client, ListMultipartUploadsCommand } = await this.s3();
      while (true) {
        const res = await client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix,
            KeyMarker,
            UploadIdMarker,
          }),
        );
        for (const u of res.Uploads ?? []) {
          if (u.Key === undefined || u.UploadId === undefined) continue;
          out.push({
            key: u.Key.slice(this.basePrefix.length),
            uploadId: u.UploadId,
            initiated: u.Initiated ?? new Date(0),
          });
        }
        if (!res.IsTruncated) break;
        KeyMarker = res.NextKeyMarker;
        UploadIdMarker = res.NextUploadIdMarker;
        if (KeyMarker === undefined) break;
      }
    } catch (err) {
      throw storageError(err, `listing multipart uploads under s3://${this.bucket}/${Prefix}`);
    }
    return out;
  }

  async abortIncomplete(item: IncompleteUpload): Promise<void> {
    const Key = this.objectKey(item.key);
    try {
      const { client, AbortMultipartUploadCommand } = await this.s3();
      await client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: item.uploadId }),
      );
    } catch (err) {
      // Already completed or aborted by someone else: nothing is left to clean.
      if ((err as { name?: string }).name === "NoSuchUpload") return;
      throw storageError(err, `aborting multipart upload of s3://${this.bucket}/${Key}`);
    }
  }

  storageRef(prefix: string): StorageRef {
    return {
      scheme: "s3",
      bucket: this.bucket,
      prefix: this.fullKey(validatePrefix(prefix)),
      glob: "*.parquet",
    };
  }

  async close(): Promise<void> {
    if (this.sdk) (await this.sdk.catch(() => undefined))?.client.destroy();
  }
}

type Sdk = typeof import("@aws-sdk/client-s3") & { client: S3Client };

function tooLarge(key: string, size: number, max: number): FatalError {
  return new FatalError(`object ${key} is at least ${size} bytes, more than the allowed ${max}`, {
    category: "object_too_large",
  });
}
