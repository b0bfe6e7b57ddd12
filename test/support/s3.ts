import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { after } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { buildApp } from "fauxqs";

/**
 * A real S3-protocol server for tests: fauxqs (in-memory), bound to 127.0.0.1 only.
 * fauxqs 1.x routes `GET /bucket?uploads` (ListMultipartUploads) to ListObjects, so this module
 * answers that one call itself from fauxqs's own store; every other request goes to fauxqs.
 * `test/run.ts` starts one per run (TRACE_TEST_S3_ENDPOINT); a file run on its own starts its own.
 * fauxqs does not enforce If-None-Match: never rely on conditional PUT.
 */

export const TEST_S3_CREDENTIALS = {
  region: "us-east-1",
  accessKeyId: "test",
  secretAccessKey: "test",
} as const;

export interface RunningS3 {
  endpoint: string;
  stop(): Promise<void>;
  /** Let the process exit while the server listens. */
  unref(): void;
}

interface PendingUpload {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: Date;
}
interface FauxS3Store {
  multipartUploads: Map<string, PendingUpload>;
  buckets: Map<string, unknown>;
}

// fauxqs does not export its stores; load them by file so we can read pending uploads.
async function loadStores(): Promise<{ s3Store: FauxS3Store; stores: Record<string, unknown> }> {
  const base = import.meta.resolve("fauxqs");
  const load = async (rel: string, name: string) =>
    (await import(new URL(rel, base).href))[name] as new () => unknown;
  const S3Store = await load("./s3/s3Store.js", "S3Store");
  const SqsStore = await load("./sqs/sqsStore.js", "SqsStore");
  const SnsStore = await load("./sns/snsStore.js", "SnsStore");
  const s3Store = new S3Store() as FauxS3Store;
  return { s3Store, stores: { s3Store, sqsStore: new SqsStore(), snsStore: new SnsStore() } };
}

const xmlEscape = (v: string) => v.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function listMultipartUploadsXml(store: FauxS3Store, bucket: string, prefix: string): string {
  const uploads = [...store.multipartUploads.values()]
    .filter((u) => u.bucket === bucket && u.key.startsWith(prefix))
    .sort((a, b) =>
      a.key === b.key ? a.uploadId.localeCompare(b.uploadId) : a.key < b.key ? -1 : 1,
    );
  const items = uploads
    .map(
      (u) =>
        `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId>` +
        `<Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
    )
    .join("");
  return (
    `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>` +
    `<Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>10000</MaxUploads><IsTruncated>false</IsTruncated>` +
    `${items}</ListMultipartUploadsResult>`
  );
}

export async function startS3Server(): Promise<RunningS3> {
  const { s3Store, stores } = await loadStores();
  // biome-ignore lint/suspicious/noExplicitAny: fauxqs types its stores by classes it does not export
  const app = buildApp({ logger: false, stores: stores as any });
  await app.ready();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const bucket = url.pathname.split("/")[1] ?? "";
    const isListUploads =
      req.method === "GET" &&
      url.searchParams.has("uploads") &&
      url.pathname.replace(/\/$/, "") === `/${bucket}`;
    if (!isListUploads) {
      app.routing(req, res);
      return;
    }
    if (!s3Store.buckets.has(bucket)) {
      res.writeHead(404, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>no such bucket</Message></Error>`,
      );
      return;
    }
    res.writeHead(200, { "content-type": "application/xml" });
    res.end(listMultipartUploadsXml(s3Store, bucket, url.searchParams.get("prefix") ?? ""));
  });
  // Accepted keep-alive sockets hold the event loop too; track them so unref() covers them.
  const sockets = new Set<import("node:net").Socket>();
  let unrefConnections = false;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    if (unrefConnections) socket.unref();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("S3 test server has no port");
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
    unref() {
      server.unref();
      unrefConnections = true;
      for (const socket of sockets) socket.unref();
    },
  };
}

let privateServer: Promise<RunningS3> | undefined;

export async function s3Endpoint(): Promise<string> {
  const fromRunner = process.env.TRACE_TEST_S3_ENDPOINT;
  if (fromRunner) return fromRunner;
  if (!privateServer) {
    // As with the private Postgres (test/support/postgres.ts): not an `after()` hook, which would
    // attach to the test that happens to call first; the server lets the process exit and is
    // closed on `beforeExit`.
    privateServer = startS3Server().then((s3) => {
      s3.unref();
      process.once("beforeExit", () => void s3.stop());
      return s3;
    });
  }
  return (await privateServer).endpoint;
}

export function s3ClientFor(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: TEST_S3_CREDENTIALS.region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: TEST_S3_CREDENTIALS.accessKeyId,
      secretAccessKey: TEST_S3_CREDENTIALS.secretAccessKey,
    },
  });
}

/**
 * The standard AWS environment for a test endpoint, as the product reads it. Returns the
 * variables; tests that spawn child processes pass them on explicitly.
 */
export function awsEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: TEST_S3_CREDENTIALS.region,
    AWS_ACCESS_KEY_ID: TEST_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_S3_CREDENTIALS.secretAccessKey,
  };
}

export interface TestBucket {
  endpoint: string;
  bucket: string;
  client: S3Client;
  env: Record<string, string>;
}

/** A fresh bucket on the test S3 server. */
export async function testBucket(label = "t"): Promise<TestBucket> {
  const endpoint = await s3Endpoint();
  const bucket = `${label.replace(/[^a-z0-9-]/g, "-").slice(0, 30)}-${randomBytes(5).toString("hex")}`;
  const client = s3ClientFor(endpoint);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  after(() => client.destroy());
  return { endpoint, bucket, client, env: awsEnv(endpoint) };
}
