/**
 * The engine's chunk overlap: the next file starts while the previous one's write is completing,
 * and a failure of either leaves no second write running (or succeeding) behind it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Devnet, startDevnet } from "../src/devnet/server.ts";
import { runExtraction } from "../src/extract/index.ts";
import { collectBytes } from "../src/parquet/encoder.ts";
import { RpcClient } from "../src/rpc/index.ts";

let devnet: Devnet;
let rpc: RpcClient;
before(async () => {
  devnet = await startDevnet({
    chain: { seed: 11, chainId: 31337, length: 1_000, txsPerBlock: 3, logsPerBlock: 4 },
  });
  rpc = new RpcClient({ urls: [devnet.url] });
});
after(async () => {
  await rpc?.close();
  await devnet?.stop();
});

/** Resolves when `p` does, or rejects after a generous wait (a deadlock would hang forever). */
function within<T>(p: Promise<T>, what: string, ms = 60_000): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`never: ${what}`)), ms).unref(),
    ),
  ]);
}

test("the next chunk's write starts before the previous chunk's write has completed", async () => {
  let secondStarted!: () => void;
  const second = new Promise<void>((resolve) => {
    secondStarted = resolve;
  });
  const calls: string[] = [];
  const result = await runExtraction({
    rpc,
    dataset: "logs",
    chainId: 31337,
    range: [100, 130],
    options: { chunkSize: 10 },
    write: async (name, body) => {
      calls.push(`start ${name}`);
      if (calls.length === 2) secondStarted();
      const bytes = await collectBytes(body);
      // The first file's write completes only once the second one has begun: a pipeline that
      // waited for each write before starting the next chunk would never get here.
      if (name.includes("00000100_to")) await within(second, "second chunk started");
      calls.push(`end ${name}`);
      return { key: name, size: bytes.length, sha256: "" };
    },
  });
  assert.deepEqual(
    result.files.map((f) => f.blocks),
    [
      [100, 109],
      [110, 119],
      [120, 129],
    ],
  );
  assert.ok(
    calls.indexOf("start network_31337__logs__00000110_to_00000119.parquet") <
      calls.indexOf("end network_31337__logs__00000100_to_00000109.parquet"),
  );
});

test("a chunk whose write fails after its rows: the run fails naming it, the next chunk is cancelled and leaves no file", async () => {
  const outcomes = new Map<string, string>();
  let firstFailed!: () => void;
  const failedFirst = new Promise<void>((resolve) => {
    firstFailed = resolve;
  });
  const FIRST = "network_31337__transactions__00000200_to_00000209.parquet";
  const NEXT = "network_31337__transactions__00000210_to_00000219.parquet";
  await assert.rejects(
    runExtraction({
      rpc,
      dataset: "transactions",
      chainId: 31337,
      range: [200, 230],
      options: { chunkSize: 10 },
      write: async (name, body) => {
        try {
          // The next chunk reads its body only once the first one has failed.
          if (name !== FIRST) await within(failedFirst, "first chunk failed");
          const bytes = await collectBytes(body);
          if (name === FIRST) {
            firstFailed();
            throw new Error("upload refused at completion");
          }
          outcomes.set(name, "written");
          return { key: name, size: bytes.length, sha256: "" };
        } catch (error) {
          outcomes.set(name, `failed: ${(error as Error).message}`);
          throw error;
        }
      },
    }),
    (e: Error) => {
      assert.match(
        e.message,
        /^chunk network_31337__transactions__00000200_to_00000209\.parquet failed$/,
      );
      assert.match(String((e.cause as Error).message), /upload refused at completion/);
      return true;
    },
  );
  // Every write that was started has ended by the time the run rejected; the next one failed
  // (so a store keeps no file for it) and the third never started.
  assert.deepEqual([...outcomes.entries()].sort(), [
    [FIRST, "failed: upload refused at completion"],
    [NEXT, "failed: cancelled: an earlier chunk failed"],
  ]);
});
