import type { CompletedPart, S3Client } from "@aws-sdk/client-s3";
import { FatalError } from "../core/errors.ts";

/**
 * Streaming upload of one object of unknown length: a single PutObject when it fits in one part,
 * otherwise a multipart upload with at most `queueSize` parts in flight. The object appears at
 * its key only when CompleteMultipartUpload succeeds; on any failure the multipart upload is
 * aborted before the error is rethrown.
 *
 * Why not lib-storage's `Upload`, which does the same: it allocates a fresh part-sized buffer
 * (`Buffer.concat`) for every part. On glibc, once the first of those is freed, the allocator's
 * dynamic mmap threshold rises above the part size and every later part lands in the main heap,
 * which then fragments: a 100,000-block logs extraction to S3 held ~18 MiB more at its peak than
 * fresh processes on the same blocks, and the excess went away when that threshold was pinned
 * (BENCHMARKS.md). Here parts are copied into buffers that are reused for the life of the
 * store, so an upload allocates no part buffers in its steady state.
 */

/** S3's limit on the parts of one multipart upload. */
const MAX_PARTS = 10_000;

/** The SDK pieces an upload needs (imported lazily by the store). */
export interface MultipartSdk {
  client: S3Client;
  PutObjectCommand: typeof import("@aws-sdk/client-s3").PutObjectCommand;
  CreateMultipartUploadCommand: typeof import("@aws-sdk/client-s3").CreateMultipartUploadCommand;
  UploadPartCommand: typeof import("@aws-sdk/client-s3").UploadPartCommand;
  CompleteMultipartUploadCommand: typeof import("@aws-sdk/client-s3").CompleteMultipartUploadCommand;
  AbortMultipartUploadCommand: typeof import("@aws-sdk/client-s3").AbortMultipartUploadCommand;
}

/**
 * Part buffers shared by the uploads of one store. `take` never waits (it allocates when none is
 * free), so concurrent uploads cannot deadlock on the pool; `give` keeps at most `keep` spare
 * buffers, the steady state of one upload (its parts in flight plus the one being filled).
 */
export class PartBufferPool {
  private readonly spare: Buffer[] = [];

  constructor(
    readonly partSize: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared pool; every byte sent
    // is one this upload copied in (only `subarray(0, filled)` ever leaves).
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.partSize);
  }

  give(buf: Buffer): void {
    if (this.spare.length < this.keep) this.spare.push(buf);
  }
}

export interface MultipartParams {
  Bucket: string;
  Key: string;
  ContentType?: string;
}

export async function uploadStream(
  sdk: MultipartSdk,
  params: MultipartParams,
  chunks: AsyncIterable<Uint8Array>,
  pool: PartBufferPool,
  queueSize: number,
): Promise<void> {
  const { client } = sdk;
  const partSize = pool.partSize;
  // Checksums as lib-storage sets them: CRC32 on every part unless the client was configured
  // (AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED) for a store without checksum support.
  const checksummed = (await client.config.requestChecksumCalculation()) === "WHEN_SUPPORTED";
  let buf = pool.take();
  let filled = 0;
  let uploadId: string | undefined;
  let partCount = 0;
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let partFailure: { error: unknown } | undefined;

  /** Sends the filled buffer as the next part; waits while `queueSize` parts are in flight. */
  async function sendPart(): Promise<void> {
    if (partCount === MAX_PARTS)
      throw new FatalError(
        `object ${params.Key} needs more than ${MAX_PARTS} parts of ${partSize} bytes`,
        { category: "object_too_large" },
      );
    if (uploadId === undefined) {
      const created = await client.send(
        new sdk.CreateMultipartUploadCommand({
          ...params,
          ChecksumAlgorithm: checksummed ? "CRC32" : undefined,
        }),
      );
      if (!created.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
      uploadId = created.UploadId;
    }
    while (inFlight.size >= queueSize && !partFailure) await Promise.race(inFlight);
    if (partFailure) throw partFailure.error;
    const PartNumber = ++partCount;
    const owned = buf;
    const sent = client
      .send(
        new sdk.UploadPartCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: uploadId,
          PartNumber,
          Body: owned.subarray(0, filled),
          ChecksumAlgorithm: checksummed ? "CRC32" : undefined,
        }),
      )
      .then((res) => {
        if (!res.ETag) throw new Error(`UploadPart ${PartNumber} returned no ETag`);
        parts.push({ PartNumber, ETag: res.ETag, ChecksumCRC32: res.ChecksumCRC32 });
        // Only a part that was sent whole goes back: after a failed request the socket may
        // still hold a reference to its bytes.
        pool.give(owned);
      })
      .catch((error: unknown) => {
        partFailure ??= { error };
      })
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    buf = pool.take();
    filled = 0;
  }

  try {
    for await (const chunk of chunks) {
      if (partFailure) throw partFailure.error;
      let offset = 0;
      while (offset < chunk.byteLength) {
        // A full buffer is sent only once more bytes exist, so the last part is never empty
        // and an object of exactly one part stays a single PutObject.
        if (filled === partSize) await sendPart();
        const n = Math.min(chunk.byteLength - offset, partSize - filled);
        buf.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
      }
    }
    if (uploadId === undefined) {
      await client.send(new sdk.PutObjectCommand({ ...params, Body: buf.subarray(0, filled) }));
      pool.give(buf);
      return;
    }
    await sendPart();
    await Promise.all(inFlight);
    if (partFailure) throw partFailure.error;
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(
      new sdk.CompleteMultipartUploadCommand({
        Bucket: params.Bucket,
        Key: params.Key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (err) {
    // Parts still uploading would otherwise land after the abort and leave billable parts.
    await Promise.all(inFlight);
    if (uploadId !== undefined) {
      await client
        .send(
          new sdk.AbortMultipartUploadCommand({
            Bucket: params.Bucket,
            Key: params.Key,
            UploadId: uploadId,
          }),
        )
        .catch((abortError: unknown) => {
          // The upload's own failure is what the caller needs; a failed abort leaves an
          // incomplete upload that listIncomplete/abortIncomplete (crash cleanup) will find.
          if (err instanceof Error && err.cause === undefined) err.cause = abortError;
        });
    }
    throw err;
  }
}
