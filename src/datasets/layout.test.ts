import assert from "node:assert/strict";
import { test } from "node:test";
import { makeVector } from "apache-arrow";
import { compileLayout, getDataset } from "./index.ts";
import type { LogRow } from "./logs.ts";
import type { JsonLog } from "./types.ts";

/** Row layouts decode binary columns in bulk: a malformed value still fails the batch, by name. */

function logRow(i: number, data: string): LogRow {
  const h = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
  const log: JsonLog = {
    address: `0x${i.toString(16).padStart(40, "0")}`,
    topics: [h(i), h(i + 1)],
    data,
    blockNumber: "0x10",
    blockHash: h(999),
    transactionHash: h(1000 + i),
    transactionIndex: "0x0",
    logIndex: `0x${i.toString(16)}`,
  };
  return { log, logIndex: i };
}

test("a malformed binary value fails takeBatch naming its column; the layout is reusable after discardBatch", () => {
  const logs = getDataset("logs");
  const layout = compileLayout<LogRow>(logs, ["address", "topic0", "topic1", "topic2", "data"]);
  layout.append(logRow(1, "0x00ff"), { chainId: 1 });
  layout.append(logRow(2, "0x12zz"), { chainId: 1 });
  assert.throws(() => layout.takeBatch(), /invalid value for column data: "0x12zz"/);
  layout.discardBatch();
  assert.equal(layout.rows, 0);

  const rows = [logRow(3, "0x"), logRow(4, "0xABcd")];
  for (const r of rows) layout.append(r, { chainId: 1 });
  const batch = layout.takeBatch();
  const hex = (name: string) =>
    [...makeVector(batch.getChild(name)!.data[0]!)].map((b) =>
      b === null ? null : `0x${Buffer.from(b as Uint8Array).toString("hex")}`,
    );
  assert.deepEqual(
    hex("address"),
    rows.map((r) => r.log.address),
  );
  assert.deepEqual(
    hex("topic0"),
    rows.map((r) => r.log.topics[0]),
  );
  assert.deepEqual(
    hex("topic1"),
    rows.map((r) => r.log.topics[1]),
  );
  assert.deepEqual(hex("topic2"), [null, null]);
  assert.deepEqual(hex("data"), ["0x", "0xabcd"]);
});
