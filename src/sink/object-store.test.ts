import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { s3Endpoint } from "../../test/support/s3.ts";
import { errorCategory, FatalError, isRetryable } from "../core/errors.ts";
import { openObjectStore } from "./open-store.ts";
import {
  patternBytes,
  patternSha256,
  STORE_CASES,
  sha256OfStream,
  tempDir,
  useTestS3,
} from "./testing/fixtures.ts";

const MiB = 1024 * 1024;
await useTestS3();

for (const c of STORE_CASES) {
  test(`${c.kind}: put, get, head, list, delete`, async () => {
    const store = await c.open({ partSizeBytes: 5 * MiB });
    const big = await store.put("v/1/big.bin", patternBytes(11 * MiB), {
      contentType: "application/octet-stream",
    });
    assert.deepEqual(big, { key: "v/1/big.bin", size: 11 * MiB, sha256: patternSha256(11 * MiB) });
    const small = await store.put("v/1/small.json", Buffer.from('{"a":1}'));
    assert.equal(small.size, 7);
    await store.put("v/2/other.bin", patternBytes(10));
    await store.put("v/10/other.bin", patternBytes(10));

    assert.deepEqual(await sha256OfStream(await store.get("v/1/big.bin")), {
      sha256: big.sha256,
      size: big.size,
    });
    assert.equal((await store.getBytes("v/1/small.json", 100)).toString(), '{"a":1}');
    assert.deepEqual(await store.head("v/1/big.bin"), { size: 11 * MiB });
    assert.equal(await store.head("v/1/nope"), undefined);
    assert.deepEqual(await store.list("v/1/"), [
      { key: "v/1/big.bin", size: 11 * MiB },
      { key: "v/1/small.json", size: 7 },
    ]);
    assert.deepEqual(
      (await store.list("v/1")).map((o) => o.key),
      ["v/1/big.bin", "v/1/small.json", "v/10/other.bin"],
    );
    assert.deepEqual(await store.listIncomplete(""), []);

    await assert.rejects(
      store.getBytes("v/1/big.bin", MiB),
      (e) => errorCategory(e) === "object_too_large",
    );
    await assert.rejects(store.get("v/1/missing"), (e) => errorCategory(e) === "object_not_found");

    await store.delete("v/1/big.bin");
    await store.delete("v/1/big.bin"); // idempotent
    assert.equal(await store.head("v/1/big.bin"), undefined);
    assert.deepEqual(
      (await store.list("v/")).map((o) => o.key),
      ["v/1/small.json", "v/10/other.bin", "v/2/other.bin"],
    );
  });

  test(`${c.kind}: a put stopped by onChunk or abort leaves nothing behind`, async () => {
    const store = await c.open({ partSizeBytes: 5 * MiB });
    const stop = new FatalError("enough", { category: "test_stop" });
    await assert.rejects(
      store.put("x/capped.bin", patternBytes(20 * MiB), {
        onChunk: (_n, soFar) => {
          if (soFar > 12 * MiB) throw stop;
        },
      }),
      (e) => e === stop,
    );
    // A stalled producer: the abort must not wait for its next chunk.
    const ctl = new AbortController();
    async function* stalls() {
      yield* patternBytes(11 * MiB);
      setTimeout(() => ctl.abort(new FatalError("stop now", { category: "test_abort" })), 10);
      await new Promise(() => {});
    }
    await assert.rejects(
      store.put("x/aborted.bin", stalls(), { signal: ctl.signal }),
      (e) => errorCategory(e) === "test_abort",
    );
    assert.deepEqual(await store.list(""), []);
    assert.deepEqual(await store.listIncomplete(""), []);
  });

  test(`${c.kind}: a Node Readable is a valid body`, async () => {
    const store = await c.open();
    const r = await store.put(
      "r/readable.bin",
      Readable.from([Buffer.from("ab"), new Uint8Array([99])]),
    );
    assert.equal(r.size, 3);
    assert.equal((await store.getBytes("r/readable.bin", 10)).toString(), "abc");
    // A stream with an encoding yields strings: refused rather than silently re-encoded.
    const text = Readable.from(["not bytes"], { objectMode: true });
    await assert.rejects(store.put("r/text.bin", text), (e) => errorCategory(e) === "invalid_body");
    assert.equal(await store.head("r/text.bin"), undefined);
  });

  test(`${c.kind}: non-byte chunks are refused`, async () => {
    const store = await c.open();
    async function* strings() {
      yield "text" as unknown as Uint8Array;
    }
    await assert.rejects(store.put("x/s", strings()), (e) => errorCategory(e) === "invalid_body");
    await assert.rejects(
      store.put("../x", patternBytes(1)),
      (e) => errorCategory(e) === "invalid_object_name",
    );
    assert.deepEqual(await store.list(""), []);
  });
}

test("file: private modes, temp files hidden from listings and found as incomplete", async () => {
  const dir = await tempDir();
  const store = openObjectStore(join(dir, "objects"));
  await store.put("a/b/c.parquet", patternBytes(1000));
  assert.equal((await stat(join(dir, "objects"))).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, "objects/a/b"))).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, "objects/a/b/c.parquet"))).mode & 0o777, 0o600);
  const tmp = "a/b/d.parquet.00112233445566ff.trace-tmp";
  await writeFile(join(dir, "objects", tmp), "partial");
  assert.deepEqual(
    (await store.list("a/")).map((o) => o.key),
    ["a/b/c.parquet"],
  );
  const inc = await store.listIncomplete("a/");
  assert.equal(inc.length, 1);
  assert.equal(inc[0]!.key, "a/b/d.parquet");
  assert.equal(inc[0]!.uploadId, tmp);
  await assert.rejects(
    store.abortIncomplete({
      key: "a/b/c.parquet",
      uploadId: "a/b/c.parquet",
      initiated: new Date(),
    }),
    (e) => errorCategory(e) === "invalid_object_name",
  );
  await store.abortIncomplete(inc[0]!);
  assert.deepEqual(await store.listIncomplete(""), []);
  assert.deepEqual(
    (await store.list("")).map((o) => o.key),
    ["a/b/c.parquet"],
  );
});

test("openObjectStore: URLs, storage refs and full keys", async () => {
  const dir = await tempDir();
  const f = openObjectStore(`file://${dir}/o`);
  assert.equal(f.url, `file://${dir}/o/`);
  assert.deepEqual(f.storageRef("cryo/1/"), {
    scheme: "file",
    prefix: `${dir}/o/cryo/1/`,
    glob: "*.parquet",
  });
  assert.equal(f.fullKey("cryo/1/x.parquet"), `${dir.slice(1)}/o/cryo/1/x.parquet`);
  const rel = openObjectStore("./.trace/objects");
  assert.equal(rel.url, `file://${process.cwd()}/.trace/objects/`);

  const env = {
    AWS_ENDPOINT_URL: "http://127.0.0.1:1",
    AWS_ACCESS_KEY_ID: "a",
    AWS_SECRET_ACCESS_KEY: "b",
  };
  const s = openObjectStore("s3://my-bucket/some/base", { env });
  assert.equal(s.url, "s3://my-bucket/some/base/");
  assert.deepEqual(s.storageRef("cryo/1/"), {
    scheme: "s3",
    bucket: "my-bucket",
    prefix: "some/base/cryo/1/",
    glob: "*.parquet",
  });
  assert.equal(s.fullKey("k"), "some/base/k");
  assert.equal(openObjectStore("s3://my-bucket", { env }).storageRef("p/").prefix, "p/");
  await s.close();

  const bad: [string, object?][] = [
    ["", undefined],
    ["http://example.com/x", undefined],
    ["s3://Bad_Bucket/x", undefined],
    ["s3://ok-bucket/../x", undefined],
    ["file://host/x", undefined],
    ["s3://ok-bucket", { env: { AWS_ENDPOINT_URL: "not a url" } }],
    ["s3://ok-bucket", { env: { AWS_ACCESS_KEY_ID: "only-half" } }],
    ["s3://ok-bucket", { env, partSizeBytes: 1024 }],
    ["s3://ok-bucket", { env, queueSize: 0 }],
  ];
  for (const [url, opts] of bad)
    assert.throws(
      () => openObjectStore(url, opts),
      (e) => errorCategory(e) === "invalid_config",
      url,
    );
});

test("s3: a missing bucket is fatal, an unreachable endpoint is retryable", async () => {
  const endpoint = await s3Endpoint();
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
  const missing = openObjectStore("s3://no-such-bucket-here", { env });
  const err = await missing.put("k", patternBytes(10)).catch((e) => e);
  assert.equal(errorCategory(err), "no_such_bucket");
  assert.equal(isRetryable(err), false);
  await missing.close();

  // Port 1 on loopback: nothing listens, the connection is refused at once.
  const down = openObjectStore("s3://some-bucket", {
    env: { ...env, AWS_ENDPOINT_URL: "http://127.0.0.1:1" },
    maxAttempts: 1,
  });
  const err2 = await down.put("k", patternBytes(10)).catch((e) => e);
  assert.equal(isRetryable(err2), true, String(err2));
  assert.equal(errorCategory(err2), "storage_network");
  await down.close();
});
