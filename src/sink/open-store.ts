import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FatalError } from "../core/errors.ts";
import { FileObjectStore } from "./file-store.ts";
import { validatePrefix } from "./keys.ts";
import type { ObjectStore } from "./object-store.ts";
import { S3ObjectStore } from "./s3-store.ts";

export interface OpenStoreOptions {
  /** Multipart part size (s3). Default 8 MiB; S3 requires at least 5 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded concurrently per put (s3). Default 2. */
  queueSize?: number;
  /** SDK attempts per request, first try included (s3). Default 4. */
  maxAttempts?: number;
  /** Where AWS_* settings are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
/**
 * Two parts in flight already upload faster than an extraction produces Parquet (~5 MB/s for
 * mainnet-sized transactions), and each part in flight is a buffer: with 4, a 10,000-block
 * transactions extraction to S3 peaked at 330 MiB RSS, with 2 at 309 (bench/extract.ts).
 */
export const DEFAULT_QUEUE_SIZE = 2;
const DEFAULT_MAX_ATTEMPTS = 4;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function badConfig(message: string): FatalError {
  return new FatalError(message, { category: "invalid_config" });
}

function intOption(
  name: string,
  value: number | undefined,
  dflt: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return dflt;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw badConfig(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/**
 * Opens the store a URL names: `s3://bucket[/prefix]`, `file:///abs/dir` or a plain path
 * (relative ones resolve against the cwd). For s3, endpoint / region / credentials come from
 * the standard AWS variables; an explicit endpoint (MinIO, test servers) implies path-style.
 */
export function openObjectStore(url: string, opts: OpenStoreOptions = {}): ObjectStore {
  if (typeof url !== "string" || url.trim() === "") throw badConfig("object store URL is empty");
  if (url.startsWith("s3://")) return openS3(url, opts);
  if (url.startsWith("file:")) {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (err) {
      throw new FatalError(`invalid file URL ${JSON.stringify(url)}: use file:///absolute/path`, {
        category: "invalid_config",
        cause: err,
      });
    }
    return new FileObjectStore(path);
  }
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url))
    throw badConfig(
      `unsupported object store URL ${JSON.stringify(url)}: expected s3://, file:// or a path`,
    );
  return new FileObjectStore(resolve(url));
}

function openS3(url: string, opts: OpenStoreOptions): S3ObjectStore {
  const env = opts.env ?? process.env;
  const rest = url.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  let basePrefix = slash < 0 ? "" : rest.slice(slash + 1);
  if (!BUCKET_RE.test(bucket))
    throw badConfig(`invalid bucket name ${JSON.stringify(bucket)} in ${JSON.stringify(url)}`);
  if (basePrefix !== "" && !basePrefix.endsWith("/")) basePrefix += "/";
  try {
    validatePrefix(basePrefix);
  } catch (err) {
    throw new FatalError(`invalid key prefix in ${JSON.stringify(url)}`, {
      category: "invalid_config",
      cause: err,
    });
  }

  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  if (endpoint !== undefined) {
    let u: URL;
    try {
      u = new URL(endpoint);
    } catch {
      throw badConfig(`AWS endpoint ${JSON.stringify(endpoint)} is not a URL`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw badConfig(`AWS endpoint ${JSON.stringify(endpoint)} must be http(s)`);
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    throw badConfig("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");

  const clientConfig = {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    endpoint,
    forcePathStyle: endpoint !== undefined,
    // Without explicit keys the SDK's default chain applies (profiles, IMDS, web identity).
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined }
        : undefined,
    // The retry policy of the object store lives here: standard SDK retries (5xx, throttling,
    // connection errors) with backoff; what still fails is classified by storage-errors.ts.
    maxAttempts: intOption("maxAttempts", opts.maxAttempts, DEFAULT_MAX_ATTEMPTS, 1, 20),
    // Bounded waits: a dead connection must turn into a retryable error, not a hung task.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
  };
  return new S3ObjectStore({
    bucket,
    basePrefix,
    clientConfig,
    partSizeBytes: intOption(
      "partSizeBytes",
      opts.partSizeBytes,
      DEFAULT_PART_SIZE_BYTES,
      MIN_PART_SIZE_BYTES,
      5 * 1024 ** 3,
    ),
    queueSize: intOption("queueSize", opts.queueSize, DEFAULT_QUEUE_SIZE, 1, 64),
  });
}
