/** `trace extract`'s TTY progress line: blocks done, rows, blocks/s and ETA, self-overwriting. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProgressLine } from "../src/cli/extract.ts";

test("progress shows blocks, rows, rate and ETA, throttled except when a file completes", () => {
  const written: string[] = [];
  let clock = 0;
  const line = new ProgressLine({ write: (s: string) => written.push(s) }, () => clock);
  clock = 2_000;
  line.update({ dataset: "logs", blocksDone: 100, blocksTotal: 1_000, rows: 3_000 });
  assert.deepEqual(written, ["\r\x1b[Klogs: 100/1000 blocks, 3000 rows, 50.0 blocks/s, ETA 18s"]);
  // Within 200 ms: throttled, unless a file was just completed.
  clock = 2_100;
  line.update({ dataset: "logs", blocksDone: 105, blocksTotal: 1_000, rows: 3_100 });
  assert.equal(written.length, 1);
  const file = {
    name: "f",
    key: "f",
    rows: 1,
    size: 1,
    sha256: "",
    blocks: [0, 0] as [number, number],
  };
  line.update({ dataset: "logs", blocksDone: 105, blocksTotal: 1_000, rows: 3_100, file });
  assert.equal(written.length, 2);
  line.clear();
  assert.equal(written.at(-1), "\r\x1b[K");
});
