import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { testBucket } from "../../test/support/s3.ts";
import { openObjectStore } from "./open-store.ts";
import { tempDir, useTestS3 } from "./testing/fixtures.ts";

await useTestS3();

const CHILD = join(import.meta.dirname, "testing", "crash-child.ts");

function child(
  args: string[],
  env: Record<string, string>,
): { proc: ChildProcess; lines: AsyncIterator<string> } {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = (async function* () {
    let buf = "";
    for await (const chunk of proc.stdout!) {
      buf += chunk;
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        yield buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    }
  })();
  return { proc, lines };
}

async function runCleanup(
  url: string,
  prefix: string,
  olderThanMs: number,
  env: Record<string, string>,
) {
  const { proc, lines } = child(["cleanup", url, prefix, String(olderThanMs)], env);
  const line = await lines.next();
  const code = await new Promise((r) => proc.on("exit", r));
  assert.equal(code, 0);
  return JSON.parse(line.value as string) as { aborted: string[]; kept: number; failed: number };
}

for (const kind of ["s3", "file"] as const) {
  test(`${kind}: an upload killed mid-way is found and aborted by cleanupStale in a new process`, async () => {
    let url: string;
    let env: Record<string, string> = {};
    if (kind === "s3") {
      const b = await testBucket("crash");
      url = `s3://${b.bucket}/base`;
      env = b.env;
    } else {
      url = `file://${await tempDir("crash")}/objects`;
    }
    const store = openObjectStore(url, { env });
    const key = "cryo/1/ds/0_10/v/data.parquet";

    const up = child(["upload", url, key], env);
    const exited = new Promise((r) => up.proc.on("exit", (_c, sig) => r(sig)));
    assert.equal((await up.lines.next()).value, "READY");
    // READY means the producer has handed over 12 MiB; wait (bounded) until the store shows the upload.
    let incomplete = await store.listIncomplete("cryo/");
    for (let i = 0; i < 200 && incomplete.length === 0; i++) {
      await sleep(25);
      incomplete = await store.listIncomplete("cryo/");
    }
    assert.equal(incomplete.length, 1, "the unfinished upload is visible as incomplete");
    assert.equal(incomplete[0]!.key, key);
    up.proc.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");
    assert.equal(await store.head(key), undefined, "no object at the final key");

    // Younger than the TTL: kept (it might belong to a live worker).
    assert.deepEqual(await runCleanup(url, "cryo/1/", 3_600_000, env), {
      aborted: [],
      kept: 1,
      failed: 0,
    });
    assert.equal((await store.listIncomplete("cryo/")).length, 1);
    // Older than the TTL (0 ms here): aborted.
    assert.deepEqual(await runCleanup(url, "cryo/1/", 0, env), {
      aborted: [key],
      kept: 0,
      failed: 0,
    });
    assert.deepEqual(await store.listIncomplete(""), []);
    assert.deepEqual(await store.list(""), []);
    await store.close();
  });
}
