import assert from "node:assert/strict";
import { test } from "node:test";
import { s3Endpoint } from "../../test/support/s3.ts";
import { errorCategory, FatalError, isRetryable, RetryableError } from "../core/errors.ts";
import { DEFAULT_ORG_ID, datasetUuid, datasetVersion, versionPrefix } from "../core/ids.ts";
import { type ByteSource, DatasetPublicationSchema, MANIFEST_NAME } from "../core/types.ts";
import {
  type ArtifactCaps,
  createArtifactSink,
  openStorageRef,
  readManifest,
  readVerifiedManifest,
  verifyManifest,
} from "./index.ts";
import type { ObjectStore } from "./object-store.ts";
import {
  failingBytes,
  patternBytes,
  patternSha256,
  STORE_CASES,
  useTestS3,
} from "./testing/fixtures.ts";

await useTestS3();

const MiB = 1024 * 1024;
const DS = datasetUuid(DEFAULT_ORG_ID, 1, "blocks");
const CONFIG = "cryo_ingest.blocks:v1";
const VERSION = datasetVersion(DS, CONFIG, 1, 0, 1000);
const PREFIX = versionPrefix({
  chainId: 1,
  datasetUuid: DS,
  rangeStart: 0,
  rangeEnd: 1000,
  datasetVersion: VERSION,
});

function sinkFor(store: ObjectStore, caps?: Partial<ArtifactCaps>) {
  return createArtifactSink({
    store,
    prefix: PREFIX,
    datasetUuid: DS,
    datasetVersion: VERSION,
    configHash: CONFIG,
    rangeStart: 0,
    rangeEnd: 1000,
    caps,
  });
}

/** The real store, with the order in which puts start and finish written down. */
function recording(store: ObjectStore): { store: ObjectStore; events: string[] } {
  const events: string[] = [];
  const wrapped = Object.create(store) as ObjectStore;
  wrapped.put = async (key, body, opts) => {
    events.push(`start ${key}`);
    const r = await store.put(key, body, opts);
    events.push(`end ${key}`);
    return r;
  };
  return { store: wrapped, events };
}

async function assertNothingUnder(store: ObjectStore) {
  assert.deepEqual(await store.list(""), [], "objects remain");
  assert.deepEqual(await store.listIncomplete(""), [], "incomplete uploads remain");
}

/** A body whose first pull is recorded: proves a rejection came before any byte was read. */
function watched(): { body: ByteSource; pulled: () => boolean } {
  let pulled = false;
  async function* gen() {
    pulled = true;
    yield* patternBytes(10);
  }
  return { body: gen(), pulled: () => pulled };
}

for (const c of STORE_CASES) {
  test(`${c.kind}: objects then manifest last; sizes and hashes match; publication is valid`, async () => {
    const real = await c.open({ partSizeBytes: 5 * MiB });
    const { store, events } = recording(real);
    const sink = sinkFor(store);
    // Concurrent puts, completing out of name order.
    const [b, a] = await Promise.all([
      sink.putObject("b.parquet", patternBytes(12 * MiB, 256 * 1024, 2), {
        contentType: "application/vnd.apache.parquet",
      }),
      sink.putObject("a.parquet", patternBytes(1000, 100, 3)),
    ]);
    const sub = await sink.putObject("sub/c.parquet", patternBytes(0));
    assert.deepEqual(b, {
      key: `${PREFIX}b.parquet`,
      size: 12 * MiB,
      sha256: patternSha256(12 * MiB, 256 * 1024, 2),
    });
    assert.equal(a.sha256, patternSha256(1000, 100, 3));
    assert.equal(sub.size, 0);
    const pub = await sink.writeManifest();
    assert.equal(sink.state, "sealed");
    assert.deepEqual(await sink.writeManifest(), pub, "writeManifest is idempotent once sealed");

    // The manifest started only after every object had finished, and nothing came after it.
    const manifestKey = PREFIX + MANIFEST_NAME;
    assert.equal(events.at(-2), `start ${manifestKey}`);
    assert.equal(events.at(-1), `end ${manifestKey}`);
    assert.equal(events.filter((e) => e.startsWith("start")).length, 4);

    assert.deepEqual(DatasetPublicationSchema.parse(pub), pub);
    assert.equal(pub.dataset_uuid, DS);
    assert.equal(pub.dataset_version, VERSION);
    assert.equal(pub.config_hash, CONFIG);
    assert.deepEqual(pub.storage_ref, real.storageRef(PREFIX));
    assert.equal(pub.storage_ref.glob, "*.parquet");

    const read = await readVerifiedManifest(real, PREFIX, {
      hashes: true,
      expect: { datasetUuid: DS, datasetVersion: VERSION },
    });
    assert.deepEqual(
      read.manifest.objects.map((o) => o.key),
      ["a.parquet", "b.parquet", "sub/c.parquet"].map((n) => real.fullKey(PREFIX + n)),
    );
    assert.deepEqual(
      read.objects.map((o) => o.sha256),
      [a.sha256, b.sha256, sub.sha256],
    );
    assert.deepEqual(
      (await real.list(PREFIX)).map((o) => o.key).sort(),
      [manifestKey, a.key, b.key, sub.key].sort(),
    );

    // Readers start from the StorageRef alone and land on the same objects.
    const env =
      c.kind === "s3"
        ? {
            AWS_ENDPOINT_URL: await s3Endpoint(),
            AWS_ACCESS_KEY_ID: "test",
            AWS_SECRET_ACCESS_KEY: "test",
          }
        : {};
    const byRef = openStorageRef(pub.storage_ref, { env });
    const again = await readVerifiedManifest(byRef.store, byRef.versionPrefix, { hashes: true });
    assert.deepEqual(again.manifest, read.manifest);
    await byRef.store.close();

    // Tampering is detected.
    await real.put(b.key, patternBytes(12 * MiB, 256 * 1024, 9));
    assert.deepEqual(
      (await verifyManifest(real, read, { hashes: true })).map((p) => p.problem),
      ["sha256_mismatch"],
    );
    await real.delete(a.key);
    await assert.rejects(
      readVerifiedManifest(real, PREFIX),
      (e) => errorCategory(e) === "manifest_mismatch",
    );
    assert.equal(sink.state, "sealed");
    assert.equal(
      isRetryable(await sink.putObject("late.parquet", patternBytes(1)).catch((e) => e)),
      false,
    );
  });

  for (const [cap, caps, puts] of [
    ["MAX_PARQUET_FILES_PER_RANGE", { maxFiles: 2 }, [MiB, MiB, MiB]],
    ["MAX_PARQUET_BYTES_PER_FILE", { maxBytesPerFile: 12 * MiB }, [MiB, 20 * MiB]],
    ["MAX_TOTAL_PARQUET_BYTES_PER_RANGE", { maxTotalBytes: 14 * MiB }, [6 * MiB, 11 * MiB]],
  ] as const) {
    test(`${c.kind}: crossing ${cap} aborts, deletes everything and is fatal`, async () => {
      const store = await c.open({ partSizeBytes: 5 * MiB });
      const sink = sinkFor(store, caps);
      let err: unknown;
      for (const [i, size] of puts.entries()) {
        err = await sink.putObject(`part-${i}.parquet`, patternBytes(size)).then(
          () => undefined,
          (e) => e,
        );
        if (err) break;
      }
      assert.ok(err instanceof FatalError, `expected a FatalError, got ${err}`);
      assert.equal(err.category, "cap_exceeded");
      assert.match(err.message, new RegExp(cap));
      assert.equal(sink.state, "failed");
      await assertNothingUnder(store);
      await sink.abort(); // still fine to call, as workers do on any failure
      assert.equal(errorCategory(await sink.writeManifest().catch((e) => e)), "sink_closed");
      await assertNothingUnder(store);
    });
  }

  test(`${c.kind}: a body failing mid-upload leaves nothing and keeps its class`, async () => {
    const store = await c.open({ partSizeBytes: 5 * MiB });
    const sink = sinkFor(store);
    await sink.putObject("first.parquet", patternBytes(MiB));
    const boom = new RetryableError("rpc went away", { category: "rpc_network" });
    await assert.rejects(
      sink.putObject("second.parquet", failingBytes(11 * MiB, boom)),
      (e) => e === boom,
    );
    await assertNothingUnder(store);

    // An unclassified producer error surfaces unchanged too (classify() makes it fatal).
    const sink2 = sinkFor(store);
    const plain = new Error("producer bug");
    await assert.rejects(
      sink2.putObject("x.parquet", failingBytes(100, plain)),
      (e) => e === plain,
    );
    await assertNothingUnder(store);
  });

  test(`${c.kind}: one failing put stops its concurrent siblings; nothing remains`, async () => {
    const store = await c.open({ partSizeBytes: 5 * MiB });
    const sink = sinkFor(store);
    await sink.putObject("earlier.parquet", patternBytes(MiB));
    async function* stalls() {
      yield* patternBytes(11 * MiB);
      await new Promise(() => {});
    }
    const sibling = sink.putObject("sibling.parquet", stalls()).catch((e) => e);
    const boom = new RetryableError("extractor lost its RPC", { category: "rpc_network" });
    await assert.rejects(
      sink.putObject("failing.parquet", failingBytes(6 * MiB, boom)),
      (e) => e === boom,
    );
    // The sibling is stopped with the same error, so its class is kept too.
    assert.equal(await sibling, boom);
    assert.equal(sink.state, "failed");
    await assertNothingUnder(store);
  });

  test(`${c.kind}: abort() stops in-flight uploads and removes written objects`, async () => {
    const store = await c.open({ partSizeBytes: 5 * MiB });
    const sink = sinkFor(store);
    await sink.putObject("done.parquet", patternBytes(MiB));
    let reached!: () => void;
    const midway = new Promise<void>((r) => {
      reached = r;
    });
    async function* stalls() {
      yield* patternBytes(11 * MiB);
      reached();
      await new Promise(() => {}); // a producer that never finishes
    }
    const pending = sink.putObject("stuck.parquet", stalls()).catch((e) => e);
    await midway;
    await sink.abort();
    assert.equal(errorCategory(await pending), "aborted");
    assert.equal(sink.state, "aborted");
    await assertNothingUnder(store);

    // Abort after sealing removes the manifest (first) and the objects.
    const sealed = sinkFor(store);
    await sealed.putObject("x.parquet", patternBytes(10));
    await sealed.writeManifest();
    await sealed.abort();
    await assertNothingUnder(store);
  });

  test(`${c.kind}: invalid names, duplicates and the manifest name are refused before any byte`, async () => {
    const store = await c.open();
    const sink = sinkFor(store);
    for (const name of [
      "../escape.parquet",
      "/abs.parquet",
      "a/../../b",
      "bad\u0000name",
      "x".repeat(600),
      MANIFEST_NAME,
    ]) {
      const w = watched();
      const err = await sink.putObject(name, w.body).catch((e) => e);
      assert.equal(errorCategory(err), "invalid_object_name", JSON.stringify(name));
      assert.equal(w.pulled(), false);
    }
    assert.equal(sink.state, "open", "a refused name does not poison the sink");
    await sink.putObject("ok.parquet", patternBytes(10));
    const w = watched();
    assert.equal(
      errorCategory(await sink.putObject("ok.parquet", w.body).catch((e) => e)),
      "duplicate_object_name",
    );
    assert.equal(w.pulled(), false);
    await sink.abort();
    await assertNothingUnder(store);
  });

  test(`${c.kind}: a corrupt or foreign manifest is refused`, async () => {
    const store = await c.open();
    const key = PREFIX + MANIFEST_NAME;
    await assert.rejects(
      readManifest(store, PREFIX),
      (e) => errorCategory(e) === "manifest_missing",
    );
    const put = (v: unknown) =>
      store.put(key, Buffer.from(typeof v === "string" ? v : JSON.stringify(v)));
    const base = { version: 1, dataset_uuid: DS, dataset_version: VERSION };
    const obj = (k: string) => ({ key: store.fullKey(k), size: 1, sha256: "0".repeat(64) });
    for (const bad of [
      "{not json",
      { ...base, objects: [], extra: true },
      { ...base, objects: [obj(`${PREFIX}b`), obj(`${PREFIX}a`)] },
      { ...base, objects: [obj("elsewhere/a.parquet")] },
      { ...base, objects: [{ ...obj(`${PREFIX}a`), key: `${store.fullKey(PREFIX)}../x` }] },
    ]) {
      await put(bad);
      await assert.rejects(
        readManifest(store, PREFIX),
        (e) => errorCategory(e) === "invalid_manifest",
        JSON.stringify(bad),
      );
    }
    await put({ ...base, objects: [] });
    await assert.rejects(
      readManifest(store, PREFIX, { expect: { datasetVersion: DS } }),
      (e) => errorCategory(e) === "invalid_manifest",
    );
    await assert.rejects(
      readManifest(store, PREFIX, { maxBytes: 10 }),
      (e) => errorCategory(e) === "object_too_large",
    );
  });
}

test("construction refuses bad prefixes, ids and ranges", async () => {
  const store = await STORE_CASES[0]!.open();
  const base = {
    store,
    prefix: PREFIX,
    datasetUuid: DS,
    datasetVersion: VERSION,
    configHash: CONFIG,
    rangeStart: 0,
    rangeEnd: 1000,
  };
  assert.throws(() => createArtifactSink({ ...base, prefix: "" }), /non-empty/);
  assert.throws(
    () => createArtifactSink({ ...base, prefix: "no-slash" }),
    (e) => errorCategory(e) === "invalid_object_name",
  );
  assert.throws(
    () => createArtifactSink({ ...base, prefix: "../up/" }),
    (e) => errorCategory(e) === "invalid_object_name",
  );
  assert.throws(() => createArtifactSink({ ...base, datasetUuid: "nope" }));
  assert.throws(() => createArtifactSink({ ...base, rangeEnd: 0 }));
  assert.throws(
    () => createArtifactSink({ ...base, caps: { maxFiles: -1 } }),
    /MAX_PARQUET_FILES_PER_RANGE/,
  );
});
