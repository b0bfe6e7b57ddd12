import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChainSyncDataset } from "../chain-sync/grants.ts";
import { viewGrants } from "./query-client.ts";

function dataset(key: string, chainId: number, n: number): ChainSyncDataset {
  return {
    dataset_uuid: `00000000-0000-4000-8000-00000000000${n}`,
    dataset_key: key,
    cryo_dataset_name: "blocks",
    chain_id: chainId,
    job_name: `job${n}`,
    job_id: `00000000-0000-4000-8000-0000000000a${n}`,
    versions: 1,
    first_block: 0,
    end_block: 100,
  };
}

test("views are named by dataset_key; a key shared by two chains gets the chain id", () => {
  const grants = viewGrants([
    dataset("blocks", 1, 1),
    dataset("blocks", 10, 2),
    dataset("logs", 1, 3),
  ]);
  assert.deepEqual(
    grants.map((g) => [g.key, g.name]),
    [
      ["blocks", "blocks_c1"],
      ["blocks", "blocks_c10"],
      ["logs", "logs"],
    ],
  );
  // A key that is not a valid identifier start (digits) is prefixed.
  assert.equal(viewGrants([dataset("2024_blocks", 1, 4)])[0]?.name, "d_2024_blocks");
});
