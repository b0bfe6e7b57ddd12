/**
 * `trace demo` as a user runs it (a child process, its own throwaway home): it completes, and
 * the three query results it prints equal what the synthetic chain's generator says about the
 * same blocks — computed here from the chain's JSON, not through extraction or the query path.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { DEMO_CHAIN } from "../src/cli/demo.ts";
import { SyntheticChain } from "../src/devnet/chain.ts";
import { baseEnv, processesMentioning, tableAfter, tempDir, trace } from "./cli-up-kit.ts";

const BLOCKS = 600;

function expected() {
  const chain = new SyntheticChain({ ...DEMO_CHAIN, length: BLOCKS + 1_000 });
  const logsBy = new Map<string, number>();
  const gas: number[] = [];
  let txs = 0;
  let failed = 0;
  for (let n = 0; n < BLOCKS; n++) {
    gas.push(Number.parseInt(chain.block(n, false)?.gasUsed, 16));
    for (const r of chain.receipts(n) ?? []) {
      txs++;
      if (r.status === "0x0") failed++;
      for (const log of r.logs) {
        const a = String(log.address).toLowerCase();
        logsBy.set(a, (logsBy.get(a) ?? 0) + 1);
      }
    }
  }
  const top = [...logsBy]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .slice(0, 5)
    .map(([a, c]) => [a, String(c)]);
  const total = gas.reduce((s, g) => s + g, 0);
  return {
    top,
    gas: [
      String(BLOCKS),
      String(total),
      String(Math.min(...gas)),
      String(Math.round(total / BLOCKS)),
      String(Math.max(...gas)),
    ],
    txs: [String(txs), String(failed), ((100 * failed) / txs).toFixed(2)],
  };
}

test("trace demo syncs the synthetic chain and prints query results that match its data", async () => {
  const dir = tempDir("demo");
  const run = await trace(
    ["demo", "--blocks", String(BLOCKS), "--chunk-size", "200"],
    baseEnv(dir, { TMPDIR: dir }),
    240_000,
  );
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const want = expected();
  assert.ok(want.txs[1] !== "0", "the chain has failed transactions to count");
  assert.deepEqual(tableAfter(run.stdout, "== Top 5 log emitters"), want.top);
  assert.deepEqual(tableAfter(run.stdout, "== Gas used per block"), [want.gas]);
  const share = tableAfter(run.stdout, "== Failed transaction share");
  assert.equal(share.length, 1);
  assert.deepEqual([share[0]?.[0], share[0]?.[1], Number(share[0]?.[2]).toFixed(2)], want.txs);
  assert.match(run.stdout, /progress: /);
  // The throwaway home (under TMPDIR) is gone, and nothing of the stack is left running.
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith("trace-demo-")),
    [],
  );
  assert.deepEqual(processesMentioning(dir), []);
});
