import { lstatSync, realpathSync } from "node:fs";
import { ZodError } from "zod";
import { errorCategory } from "../core/errors.ts";
import type { DatasetGrant } from "../core/tokens.ts";
import { MANIFEST_NAME, type Manifest, ManifestSchema, type StorageRef } from "../core/types.ts";
import type { ObjectStore } from "../sink/object-store.ts";
import { type DatasetVersionRow, type Db, listDatasetVersions } from "../state/index.ts";
import type { ObjectCache } from "./cache.ts";
import { QueryError, refuse } from "./errors.ts";
import type { ManifestCache } from "./manifest-cache.ts";
import { VIEW_NAME_RE, type ViewSpec } from "./session.ts";

/**
 * From grants to views: only versions present in state.dataset_versions (published), each
 * attached through its own manifest (a prefix is never listed), every manifest verified
 * before a single file is scanned. Anything missing or malformed refuses the whole request.
 */

export interface AttachLimits {
  maxManifestBytes: number;
  maxManifestObjects: number;
}

export interface AttachDeps {
  sql: Db;
  /** The store Trace publishes into; storage refs outside it are refused. */
  store: ObjectStore | undefined;
  cache: ObjectCache;
  limits: AttachLimits;
  /** Verified manifests of (immutable) published versions; without it each is read per request. */
  manifests?: ManifestCache;
}

export interface Attached {
  views: ViewSpec[];
  /** Set when exactly one dataset is attached: it is also visible as `dataset`. */
  alias?: string;
  datasetIds: string[];
  release: () => void;
}

type Location = { scheme: "s3"; bucket: string; base: string } | { scheme: "file"; root: string };

function locate(store: ObjectStore): Location {
  const u = new URL(store.url);
  if (store.scheme === "s3")
    return { scheme: "s3", bucket: u.hostname, base: decodeURIComponent(u.pathname.slice(1)) };
  return { scheme: "file", root: decodeURIComponent(u.pathname) };
}

const FILE_SAFE_KEY = /^[A-Za-z0-9._\-/=+]+$/;

/** Store-relative key of a full key, or undefined when it lies outside the store. */
function relativeKey(loc: Location, ref: StorageRef, fullKey: string): string | undefined {
  if (loc.scheme === "s3") {
    if (ref.scheme !== "s3" || ref.bucket !== loc.bucket || !fullKey.startsWith(loc.base))
      return undefined;
    return fullKey.slice(loc.base.length);
  }
  if (ref.scheme !== "file") return undefined;
  const abs = `/${fullKey}`;
  if (!abs.startsWith(loc.root)) return undefined;
  return abs.slice(loc.root.length);
}

/** The version prefix as a full key (bucket-relative for s3, root-relative for file). */
function fullPrefix(ref: StorageRef): string | undefined {
  const p = ref.scheme === "file" ? ref.prefix.replace(/^\/+/, "") : ref.prefix;
  if (
    p === "" ||
    !p.endsWith("/") ||
    p.includes("\\") ||
    p.split("/").some((s) => s === ".." || s === ".")
  )
    return undefined;
  if (ref.scheme === "file" && !ref.prefix.startsWith("/")) return undefined;
  return p;
}

function viewNameFor(grant: DatasetGrant, row: DatasetVersionRow): string {
  if (grant.name !== undefined && grant.name !== null) {
    if (!VIEW_NAME_RE.test(grant.name))
      throw refuse.badRequest("dataset grant name is not a valid view name");
    return grant.name;
  }
  // config_hash of chain_sync streams is `cryo_ingest.{cryo dataset}:v1` (trace-rust §2.9).
  const m = /^cryo_ingest\.([a-z][a-z0-9_]{0,63}):v\d+$/.exec(row.config_hash);
  if (m?.[1]) return m[1];
  return `dataset_${grant.dataset_uuid.replaceAll("-", "")}`;
}

/** Newest first, keep a version only if its range overlaps none already kept. */
function pickVersions(rows: DatasetVersionRow[]): DatasetVersionRow[] {
  const kept: DatasetVersionRow[] = [];
  const newestFirst = [...rows].sort((a, b) => b.created_at.getTime() - a.created_at.getTime());
  for (const r of newestFirst) {
    if (kept.every((k) => r.range_end <= k.range_start || r.range_start >= k.range_end))
      kept.push(r);
  }
  return kept.sort((a, b) => a.range_start - b.range_start);
}

function sameRef(a: StorageRef, b: StorageRef): boolean {
  return (
    a.scheme === b.scheme &&
    a.prefix === b.prefix &&
    (a.scheme !== "s3" || b.scheme !== "s3" || a.bucket === b.bucket)
  );
}

async function readManifest(
  store: ObjectStore,
  key: string,
  limits: AttachLimits,
): Promise<Manifest> {
  let bytes: Buffer;
  try {
    bytes = await store.getBytes(key, limits.maxManifestBytes);
  } catch (err) {
    if (errorCategory(err) === "object_too_large") throw refuse.manifestTooLarge();
    throw refuse.manifestFetch(err);
  }
  if (bytes.length > limits.maxManifestBytes) throw refuse.manifestTooLarge();
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw refuse.manifestInvalid(err);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) throw refuse.manifestInvalid(parsed.error);
  return parsed.data;
}

function verifyManifest(
  m: Manifest,
  row: DatasetVersionRow,
  prefix: string,
  limits: AttachLimits,
): void {
  const bad = (why: string) => refuse.manifestInvalid(new Error(why));
  if (m.dataset_uuid !== row.dataset_uuid || m.dataset_version !== row.dataset_version)
    throw bad("manifest names another dataset or version");
  if (m.objects.length === 0) throw bad("manifest lists no objects");
  if (m.objects.length > limits.maxManifestObjects) throw bad("manifest lists too many objects");
  const seen = new Set<string>();
  for (const o of m.objects) {
    const rest = o.key.slice(prefix.length);
    if (
      !o.key.startsWith(prefix) ||
      rest === "" ||
      rest.includes("\\") ||
      rest.split("/").some((s) => s === "" || s === "." || s === "..") ||
      !FILE_SAFE_KEY.test(o.key) ||
      !o.key.toLowerCase().endsWith(".parquet")
    )
      throw bad("manifest key outside the version prefix or not a .parquet object");
    if (seen.has(o.key)) throw bad("duplicate manifest key");
    seen.add(o.key);
  }
}

/** The published versions of these datasets, as the registry has them now. */
export async function lookupVersions(sql: Db, uuids: string[]): Promise<DatasetVersionRow[]> {
  try {
    return await listDatasetVersions(sql, { datasetUuids: uuids });
  } catch (err) {
    // A registry row whose storage_ref does not parse refuses the request (fail closed) with a
    // status that says so, instead of an internal error.
    if (err instanceof ZodError) throw refuse.storage(new Error("malformed storage_ref"));
    throw err;
  }
}

/** Resolves, verifies and materialises the granted datasets; the caller must call release(). */
export async function attachDatasets(grants: DatasetGrant[], deps: AttachDeps): Promise<Attached> {
  const rows = await lookupVersions(
    deps.sql,
    grants.map((g) => g.dataset_uuid),
  );
  return await attachVersions(grants, rows, deps);
}

/**
 * attachDatasets with the registry rows already read (`rows`: the published versions of the
 * granted datasets, as lookupVersions returns them).
 */
export async function attachVersions(
  grants: DatasetGrant[],
  rows: DatasetVersionRow[],
  deps: Omit<AttachDeps, "sql">,
): Promise<Attached> {
  const store = deps.store;
  if (!store) throw refuse.storage(new Error("no object store configured"));
  const loc = locate(store);
  const uuids = grants.map((g) => g.dataset_uuid);

  const views: ViewSpec[] = [];
  const releases: (() => void)[] = [];
  const release = () => {
    for (const r of releases.splice(0)) r();
  };
  try {
    for (const grant of grants) {
      let mine = rows.filter((r) => r.dataset_uuid === grant.dataset_uuid);
      if (grant.dataset_version)
        mine = mine.filter((r) => r.dataset_version === grant.dataset_version);
      if (mine.length === 0) throw refuse.notPublished();
      if (
        grant.storage_ref &&
        !mine.every((r) => sameRef(r.storage_ref, grant.storage_ref as StorageRef))
      )
        throw refuse.storage(new Error("grant storage_ref differs from the registry"));
      const name = viewNameFor(grant, mine[0] as DatasetVersionRow);
      if (views.some((v) => v.name === name) || name === "dataset") throw refuse.ambiguous();

      const files: string[] = [];
      const remote: { sha256: string; size: number; key: string }[] = [];
      for (const row of pickVersions(mine)) {
        const ref = row.storage_ref;
        const prefix = fullPrefix(ref);
        if (prefix === undefined) throw refuse.storage(new Error("malformed storage_ref"));
        const manifestKey = relativeKey(loc, ref, `${prefix}${MANIFEST_NAME}`);
        if (manifestKey === undefined)
          throw refuse.storage(new Error("storage_ref outside the store"));
        const manifest = await verifiedManifest(store, manifestKey, row, prefix, deps);
        const local: { path: string; size: number }[] = [];
        for (const o of manifest.objects) {
          const key = relativeKey(loc, ref, o.key);
          if (key === undefined) throw refuse.storage(new Error("object outside the store"));
          if (loc.scheme === "file") local.push({ path: `/${o.key}`, size: o.size });
          else remote.push({ sha256: o.sha256, size: o.size, key });
        }
        if (local.length > 0) {
          // The version dir is resolved once, then 2 syscalls per file; every one must pass.
          const realDir = realVersionDir(ref.prefix);
          for (const f of local) files.push(checkLocalFile(f.path, realDir, f.size));
        }
      }
      if (remote.length > 0) {
        const got = await deps.cache.acquire(
          remote.map((r) => ({ sha256: r.sha256, size: r.size, open: () => store.get(r.key) })),
        );
        releases.push(got.release);
        files.push(...got.paths);
      }
      views.push({ name, files });
    }
  } catch (err) {
    release();
    if (err instanceof QueryError) throw err;
    throw refuse.execution(err);
  }
  return {
    views,
    ...(views.length === 1 ? { alias: (views[0] as ViewSpec).name } : {}),
    datasetIds: uuids,
    release,
  };
}

async function verifiedManifest(
  store: ObjectStore,
  manifestKey: string,
  row: DatasetVersionRow,
  prefix: string,
  deps: Omit<AttachDeps, "sql">,
): Promise<Manifest> {
  const ref = row.storage_ref;
  // Everything verifyManifest compares against is part of the key.
  const key = [
    ref.scheme,
    ref.scheme === "s3" ? ref.bucket : "",
    prefix,
    row.dataset_uuid,
    row.dataset_version,
  ].join("\n");
  const cached = deps.manifests?.get(key);
  if (cached) return cached;
  const manifest = await readManifest(store, manifestKey, deps.limits);
  verifyManifest(manifest, row, prefix, deps.limits);
  deps.manifests?.set(key, manifest);
  return manifest;
}

/*
 * The in-place checks below use synchronous calls on purpose: they are a handful of metadata
 * syscalls on a local file system (~10 µs each), while each async call is a round trip through
 * libuv's thread pool (~50–100 µs) on the request's critical path.
 */

/** The version directory with symlinks resolved, ending in "/". */
function realVersionDir(versionDir: string): string {
  try {
    const realDir = realpathSync.native(versionDir);
    return realDir.endsWith("/") ? realDir : `${realDir}/`;
  } catch (err) {
    throw refuse.objectInvalid(err);
  }
}

/** A file scanned in place must be a regular file, inside its version dir, of the declared size. */
function checkLocalFile(path: string, realDir: string, size: number): string {
  try {
    const st = lstatSync(path);
    const real = realpathSync.native(path);
    if (!st.isFile() || !real.startsWith(realDir))
      throw new Error("not a regular file inside the version directory");
    if (st.size !== size) throw new Error("size differs from manifest");
    return real;
  } catch (err) {
    throw refuse.objectInvalid(err);
  }
}
