import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import postgres from "postgres";
import { testDatabase } from "./postgres.ts";
import { testBucket } from "./s3.ts";

test("each test file gets its own real PostgreSQL database", async () => {
  const a = await testDatabase("a");
  const b = await testDatabase("b");
  assert.notEqual(a.name, b.name);
  const sql = postgres(a.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`SELECT current_database() AS db, version() AS v`;
    assert.equal(row?.db, a.name);
    assert.match(String(row?.v), /PostgreSQL/);
  } finally {
    await sql.end();
  }
});

test("S3 test server supports multipart upload, listing and abort", async () => {
  const { client, bucket } = await testBucket("harness");
  const part = randomBytes(5 * 1024 * 1024);
  // Complete a two-part upload.
  const up = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: "a/done.bin" }),
  );
  const p1 = await client.send(
    new UploadPartCommand({
      Bucket: bucket,
      Key: "a/done.bin",
      UploadId: up.UploadId,
      PartNumber: 1,
      Body: part,
    }),
  );
  const p2 = await client.send(
    new UploadPartCommand({
      Bucket: bucket,
      Key: "a/done.bin",
      UploadId: up.UploadId,
      PartNumber: 2,
      Body: Buffer.from("tail"),
    }),
  );
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: "a/done.bin",
      UploadId: up.UploadId,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: p1.ETag },
          { PartNumber: 2, ETag: p2.ETag },
        ],
      },
    }),
  );
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "a/done.bin" }));
  const body = Buffer.from(await got.Body!.transformToByteArray());
  assert.equal(body.length, part.length + 4);
  assert.ok(body.subarray(0, part.length).equals(part));

  // Start one, see it listed, abort it, see it gone.
  const pending = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: "a/pending.bin" }),
  );
  await client.send(
    new UploadPartCommand({
      Bucket: bucket,
      Key: "a/pending.bin",
      UploadId: pending.UploadId,
      PartNumber: 1,
      Body: part,
    }),
  );
  const listed = await client.send(
    new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "a/" }),
  );
  assert.deepEqual(
    (listed.Uploads ?? []).map((u) => [u.Key, u.UploadId]),
    [["a/pending.bin", pending.UploadId]],
  );
  await client.send(
    new AbortMultipartUploadCommand({
      Bucket: bucket,
      Key: "a/pending.bin",
      UploadId: pending.UploadId,
    }),
  );
  const after = await client.send(
    new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "a/" }),
  );
  assert.equal((after.Uploads ?? []).length, 0);
  const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "a/" }));
  assert.deepEqual(
    (objects.Contents ?? []).map((o) => o.Key),
    ["a/done.bin"],
  );
});
