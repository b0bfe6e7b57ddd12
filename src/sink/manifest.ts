import { createHash } from "node:crypto";
import { FatalError, TraceError } from "../core/errors.ts";
import { MANIFEST_NAME, type Manifest, ManifestSchema, type StorageRef } from "../core/types.ts";
import { validateObjectName, validatePrefix } from "./keys.ts";
import type { ObjectStore } from "./object-store.ts";
import { type OpenStoreOptions, openObjectStore } from "./open-store.ts";

/** A manifest as read back, with each object's store-relative key alongside its full key. */
export interface ReadManifest {
  manifest: Manifest;
  objects: { key: string; name: string; fullKey: string; size: number; sha256: string }[];
}

export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;

function invalidManifest(where: string, why: string, cause?: unknown): FatalError {
  return new FatalError(`invalid manifest ${where}: ${why}`, {
    category: "invalid_manifest",
    cause,
  });
}

/**
 * Reads and checks `{versionPrefix}_manifest.json`: the schema (unknown fields refused), keys
 * sorted and unique, every key inside the version prefix and a valid object name there. A
 * manifest is untrusted input to the query service, so anything off is a FatalError.
 */
export async function readManifest(
  store: ObjectStore,
  versionPrefix: string,
  opts: { maxBytes?: number; expect?: { datasetUuid?: string; datasetVersion?: string } } = {},
): Promise<ReadManifest> {
  validatePrefix(versionPrefix);
  const key = versionPrefix + MANIFEST_NAME;
  const where = store.fullKey(key);
  if ((await store.head(key)) === undefined)
    throw new FatalError(`no manifest at ${where}`, { category: "manifest_missing" });
  const bytes = await store.getBytes(key, opts.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw invalidManifest(where, "not JSON", err);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw invalidManifest(
      where,
      `${first?.path.join(".") || "(root)"}: ${first?.message ?? "schema mismatch"}`,
    );
  }
  const manifest = parsed.data;
  if (opts.expect?.datasetUuid && manifest.dataset_uuid !== opts.expect.datasetUuid)
    throw invalidManifest(
      where,
      `dataset_uuid ${manifest.dataset_uuid} is not ${opts.expect.datasetUuid}`,
    );
  if (opts.expect?.datasetVersion && manifest.dataset_version !== opts.expect.datasetVersion)
    throw invalidManifest(
      where,
      `dataset_version ${manifest.dataset_version} is not ${opts.expect.datasetVersion}`,
    );

  const fullPrefix = store.fullKey(versionPrefix);
  const objects: ReadManifest["objects"] = [];
  let prev: string | undefined;
  for (const o of manifest.objects) {
    if (prev !== undefined && !(o.key > prev))
      throw invalidManifest(where, `keys not sorted and unique at ${o.key}`);
    prev = o.key;
    if (!o.key.startsWith(fullPrefix))
      throw invalidManifest(where, `object ${o.key} lies outside ${fullPrefix}`);
    const name = o.key.slice(fullPrefix.length);
    try {
      validateObjectName(name);
    } catch (err) {
      throw invalidManifest(where, `object ${o.key} has an invalid name`, err);
    }
    if (name === MANIFEST_NAME) throw invalidManifest(where, "lists itself");
    objects.push({
      key: versionPrefix + name,
      name,
      fullKey: o.key,
      size: o.size,
      sha256: o.sha256,
    });
  }
  return { manifest, objects };
}

export interface ManifestProblem {
  key: string;
  problem: "missing" | "size_mismatch" | "sha256_mismatch";
  detail: string;
}

/**
 * Compares a manifest with the objects in the store: presence and size always, sha256 too
 * when `hashes` is set (reads every byte, streaming). Returns the problems, empty when all match.
 */
export async function verifyManifest(
  store: ObjectStore,
  read: ReadManifest,
  opts: { hashes?: boolean } = {},
): Promise<ManifestProblem[]> {
  const problems: ManifestProblem[] = [];
  for (const o of read.objects) {
    const head = await store.head(o.key);
    if (head === undefined) {
      problems.push({ key: o.fullKey, problem: "missing", detail: "object not found" });
      continue;
    }
    if (head.size !== o.size) {
      problems.push({
        key: o.fullKey,
        problem: "size_mismatch",
        detail: `manifest ${o.size}, object ${head.size}`,
      });
      continue;
    }
    if (opts.hashes) {
      const hash = createHash("sha256");
      for await (const chunk of await store.get(o.key)) hash.update(chunk as Buffer);
      const actual = hash.digest("hex");
      if (actual !== o.sha256)
        problems.push({
          key: o.fullKey,
          problem: "sha256_mismatch",
          detail: `manifest ${o.sha256}, object ${actual}`,
        });
    }
  }
  return problems;
}

/** readManifest + verifyManifest; throws a FatalError `manifest_mismatch` naming the first problems. */
export async function readVerifiedManifest(
  store: ObjectStore,
  versionPrefix: string,
  opts: {
    hashes?: boolean;
    maxBytes?: number;
    expect?: { datasetUuid?: string; datasetVersion?: string };
  } = {},
): Promise<ReadManifest> {
  const read = await readManifest(store, versionPrefix, opts);
  const problems = await verifyManifest(store, read, opts);
  if (problems.length > 0) {
    const shown = problems
      .slice(0, 5)
      .map((p) => `${p.key}: ${p.problem} (${p.detail})`)
      .join("; ");
    throw new FatalError(
      `manifest under ${store.fullKey(versionPrefix)} does not match its objects: ${shown}`,
      {
        category: "manifest_mismatch",
      },
    );
  }
  return read;
}

/**
 * The store and version prefix behind a published StorageRef, so readers can call
 * readManifest on it: s3 → the bucket (prefix = the ref's key prefix); file → the filesystem
 * root (prefix = the absolute directory without its leading '/'). Manifest keys are full keys,
 * so they resolve the same way.
 */
export function openStorageRef(
  ref: StorageRef,
  opts: OpenStoreOptions = {},
): { store: ObjectStore; versionPrefix: string } {
  try {
    if (ref.scheme === "s3")
      return {
        store: openObjectStore(`s3://${ref.bucket}`, opts),
        versionPrefix: validatePrefix(ref.prefix),
      };
    if (!ref.prefix.startsWith("/"))
      throw new Error("file storage_ref prefix must be an absolute path");
    return {
      store: openObjectStore("file:///", opts),
      versionPrefix: validatePrefix(ref.prefix.slice(1)),
    };
  } catch (err) {
    if (err instanceof TraceError) throw err;
    throw new FatalError(`invalid storage_ref: ${(err as Error).message}`, {
      category: "invalid_storage_ref",
      cause: err,
    });
  }
}
