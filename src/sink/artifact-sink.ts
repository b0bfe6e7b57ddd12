import { FatalError, RetryableError, TraceError } from "../core/errors.ts";
import {
  type ArtifactSink,
  type ByteSource,
  type DatasetPublication,
  DatasetPublicationSchema,
  MANIFEST_NAME,
  type Manifest,
  ManifestSchema,
  type PutResult,
  UuidSchema,
} from "../core/types.ts";
import { type ArtifactCaps, capExceeded, resolveCaps } from "./caps.ts";
import { validateKey, validateObjectName, validatePrefix } from "./keys.ts";
import type { ObjectStore } from "./object-store.ts";

export interface ArtifactSinkOptions {
  store: ObjectStore;
  /** The version prefix (`versionPrefix(...)` from core), trailing slash included. */
  prefix: string;
  datasetUuid: string;
  datasetVersion: string;
  configHash: string;
  rangeStart: number;
  rangeEnd: number;
  caps?: Partial<ArtifactCaps>;
}

export type SinkState = "open" | "sealed" | "failed" | "aborted";

/** The core ArtifactSink plus what tests and the worker like to inspect. */
export interface TraceArtifactSink extends ArtifactSink {
  readonly state: SinkState;
  readonly caps: Readonly<ArtifactCaps>;
  /** Completed objects, in completion order (manifest excluded). */
  readonly objects: readonly PutResult[];
}

/** Deletes run a few at a time: enough to be quick, few enough not to flood the store. */
const DELETE_CONCURRENCY = 8;

/**
 * One task attempt's writer into one version prefix. Keys are `{prefix}{name}`; caps are
 * checked before an object starts (count) and on every chunk (bytes per object, total). Any
 * failure poisons the sink: in-flight uploads are aborted and everything it wrote is deleted
 * before the error surfaces, so a failed attempt leaves nothing behind; the manifest goes last.
 */
export function createArtifactSink(opts: ArtifactSinkOptions): TraceArtifactSink {
  const { store } = opts;
  const prefix = validatePrefix(opts.prefix);
  if (prefix === "")
    throw new FatalError("artifact sink needs a non-empty version prefix", {
      category: "invalid_config",
    });
  const caps = resolveCaps(opts.caps);
  UuidSchema.parse(opts.datasetUuid);
  UuidSchema.parse(opts.datasetVersion);
  // Fail at construction, not after gigabytes, if the publication could never be valid.
  const publication: DatasetPublication = DatasetPublicationSchema.parse({
    dataset_uuid: opts.datasetUuid,
    dataset_version: opts.datasetVersion,
    storage_ref: store.storageRef(prefix),
    config_hash: opts.configHash,
    range_start: opts.rangeStart,
    range_end: opts.rangeEnd,
  });
  const manifestKey = prefix + MANIFEST_NAME;

  let state: SinkState = "open";
  let sealing = false;
  let totalBytes = 0;
  /** Every key a put was started for: all of them are deleted on failure (deletes are idempotent). */
  const touched = new Set<string>();
  const completed: PutResult[] = [];
  const inFlight = new Map<string, { ctl: AbortController; done: Promise<unknown> }>();
  let cleanup: Promise<void> | undefined;

  async function deleteTouched(): Promise<void> {
    // The manifest first: a reader must never see a manifest whose objects are going away.
    const keys = [...touched].sort((a, b) => Number(b === manifestKey) - Number(a === manifestKey));
    if (keys[0] === manifestKey) {
      await store.delete(manifestKey);
      touched.delete(manifestKey);
      keys.shift();
    }
    const failures: unknown[] = [];
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        try {
          await store.delete(key);
          touched.delete(key);
        } catch (err) {
          failures.push(err);
        }
      }
    };
    await Promise.all(Array.from({ length: DELETE_CONCURRENCY }, worker));
    if (failures.length > 0) {
      const first = failures[0];
      const msg = `could not delete ${failures.length} object(s) of aborted attempt under ${prefix}`;
      throw first instanceof TraceError && first.errorClass === "fatal"
        ? new FatalError(msg, { category: "cleanup_failed", cause: first })
        : new RetryableError(msg, { category: "cleanup_failed", cause: first });
    }
  }

  /** Stops every in-flight upload with `reason`, waits for them, then deletes what was touched. */
  function stopAndClean(reason: unknown): Promise<void> {
    for (const { ctl } of inFlight.values()) ctl.abort(reason);
    const settle = Promise.allSettled([...inFlight.values()].map((f) => f.done));
    cleanup = settle.then(deleteTouched);
    return cleanup;
  }

  /** Poisons the sink after a failure; the original error is what the caller sees. */
  async function fail(err: unknown): Promise<never> {
    if (state === "open") {
      state = "failed";
      // A cleanup failure here is retried by abort(); the cause of the failure stays primary.
      await stopAndClean(err).catch(() => {});
    }
    throw err;
  }

  function requireOpen(action: string): void {
    if (state !== "open" || sealing)
      throw new FatalError(`cannot ${action}: artifact sink is ${sealing ? "sealing" : state}`, {
        category: "sink_closed",
      });
  }

  return {
    prefix,
    caps,
    get state() {
      return state;
    },
    get objects() {
      return [...completed];
    },

    async putObject(name: string, body: ByteSource, options: { contentType?: string } = {}) {
      validateObjectName(name);
      if (name === MANIFEST_NAME)
        throw new FatalError(`${MANIFEST_NAME} is written by the sink itself`, {
          category: "invalid_object_name",
        });
      const key = validateKey(prefix + name);
      requireOpen(`put ${name}`);
      if (touched.has(key))
        throw new FatalError(`object ${name} was already written by this attempt`, {
          category: "duplicate_object_name",
        });
      if (touched.size >= caps.maxFiles)
        return fail(
          capExceeded(
            "maxFiles",
            caps.maxFiles,
            `object ${touched.size + 1} (${name}) refused before upload`,
          ),
        );

      touched.add(key);
      const ctl = new AbortController();
      const onChunk = (chunkBytes: number, objectBytes: number) => {
        if (objectBytes > caps.maxBytesPerFile)
          throw capExceeded(
            "maxBytesPerFile",
            caps.maxBytesPerFile,
            `${name} reached ${objectBytes} bytes`,
          );
        if (totalBytes + chunkBytes > caps.maxTotalBytes)
          throw capExceeded(
            "maxTotalBytes",
            caps.maxTotalBytes,
            `range reached ${totalBytes + chunkBytes} bytes at ${name}`,
          );
        totalBytes += chunkBytes;
      };
      const done = store.put(key, body, {
        contentType: options.contentType,
        signal: ctl.signal,
        onChunk,
      });
      inFlight.set(key, { ctl, done });
      try {
        const result = await done;
        inFlight.delete(key);
        // An abort that raced with the upload's completion: its key is deleted by the cleanup.
        if (state !== "open")
          throw new FatalError(`artifact sink became ${state} during ${name}`, {
            category: "aborted",
          });
        completed.push(result);
        return result;
      } catch (err) {
        inFlight.delete(key);
        return fail(err);
      }
    },

    async writeManifest(): Promise<DatasetPublication> {
      if (state === "sealed") return publication;
      requireOpen("write the manifest");
      if (inFlight.size > 0)
        throw new FatalError(
          `cannot write the manifest while ${inFlight.size} upload(s) are in flight`,
          {
            category: "uploads_in_flight",
          },
        );
      const manifest: Manifest = ManifestSchema.parse({
        version: 1,
        dataset_uuid: opts.datasetUuid,
        dataset_version: opts.datasetVersion,
        objects: completed
          .map((r) => ({ key: store.fullKey(r.key), size: r.size, sha256: r.sha256 }))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      });
      sealing = true;
      touched.add(manifestKey);
      const ctl = new AbortController();
      const done = store.put(manifestKey, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), {
        contentType: "application/json",
        signal: ctl.signal,
      });
      // Tracked like any upload, so an abort() now waits for it before deleting the manifest.
      inFlight.set(manifestKey, { ctl, done });
      try {
        await done;
      } catch (err) {
        sealing = false;
        inFlight.delete(manifestKey);
        return fail(err);
      }
      inFlight.delete(manifestKey);
      sealing = false;
      if (state !== "open") {
        // abort() ran while the manifest was being written; its cleanup covers the manifest.
        throw new FatalError("artifact sink was aborted while writing the manifest", {
          category: "aborted",
        });
      }
      state = "sealed";
      return publication;
    },

    async abort(): Promise<void> {
      if (state === "open" || state === "sealed") {
        state = "aborted";
        await stopAndClean(new FatalError("artifact sink aborted", { category: "aborted" }));
        return;
      }
      state = state === "failed" ? "failed" : "aborted";
      // Failed or aborted before: wait for that cleanup, then retry whatever it could not delete.
      await cleanup?.catch(() => {});
      if (touched.size > 0) await deleteTouched();
    },
  };
}
