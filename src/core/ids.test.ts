import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cryoConfigHash,
  DEFAULT_ORG_ID,
  datasetUuid,
  datasetVersion,
  planTaskId,
  uuidv5,
  versionPrefix,
  wakeupOutboxId,
  yamlHash,
} from "./ids.ts";

// Published vectors of trace-rust.md §2.9 (recomputed there from the Rust code).
test("dataset_uuid vectors", () => {
  assert.equal(
    datasetUuid(DEFAULT_ORG_ID, 143, "transactions"),
    "6f8b4b60-1e53-51d1-807c-93fad2c5ac95",
  );
  assert.equal(datasetUuid(DEFAULT_ORG_ID, 143, "blocks"), "0d9f0cf7-64ec-5863-990f-ec95ac577490");
  assert.equal(datasetUuid(DEFAULT_ORG_ID, 143, "logs"), "bacbeb23-fea2-5ccc-8767-1e553da61ffa");
  assert.equal(
    datasetUuid(DEFAULT_ORG_ID, 143, "geth_calls"),
    "702e7701-bf11-55f0-8403-73a8f96187ad",
  );
  assert.equal(datasetUuid(DEFAULT_ORG_ID, 1, "blocks"), "b2a55d44-0bb2-5e39-a1d0-070bfc44b632");
});

test("dataset_version vector", () => {
  const ds = datasetUuid(DEFAULT_ORG_ID, 1, "blocks");
  assert.equal(cryoConfigHash("blocks"), "cryo_ingest.blocks:v1");
  assert.equal(
    datasetVersion(ds, "cryo_ingest.blocks:v1", 1, 0, 1000),
    "ff2bb3e8-f9e3-5d60-88d2-bf9ab8f1021b",
  );
});

test("task_id and wakeup outbox id vectors", () => {
  const taskId = planTaskId("11111111-1111-1111-1111-111111111111", "blocks", 0, 1000);
  assert.equal(taskId, "89564a5b-c837-5564-b9e8-f1fdf7852855");
  assert.equal(wakeupOutboxId(taskId, 1), "ef731db5-54d3-5e86-a029-bd3c548e0cb2");
});

test("uuidv5 matches the RFC 4122 DNS example", () => {
  // Well-known vector: uuidv5(DNS namespace, "www.example.com").
  assert.equal(
    uuidv5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"),
    "2ed6657d-e927-568b-95e1-2665a8aea6a2",
  );
});

test("yaml_hash is deterministic and content-sensitive", () => {
  assert.equal(yamlHash("a: 1\n"), yamlHash(Buffer.from("a: 1\n")));
  assert.notEqual(yamlHash("a: 1\n"), yamlHash("a: 2\n"));
});

test("inputs are validated", () => {
  assert.throws(() => datasetUuid(DEFAULT_ORG_ID, 0, "blocks"), /chain_id/);
  assert.throws(() => datasetUuid(DEFAULT_ORG_ID, 1, "Bad-Key"), /slug/);
  assert.throws(() => datasetUuid("not-a-uuid", 1, "blocks"), /UUID/);
  assert.throws(() => planTaskId("11111111-1111-1111-1111-111111111111", "blocks", -1, 5), />= 0/);
});

test("version prefix layout", () => {
  const ds = datasetUuid(DEFAULT_ORG_ID, 1, "blocks");
  const dv = datasetVersion(ds, "cryo_ingest.blocks:v1", 1, 0, 1000);
  assert.equal(
    versionPrefix({
      chainId: 1,
      datasetUuid: ds,
      rangeStart: 0,
      rangeEnd: 1000,
      datasetVersion: dv,
    }),
    `cryo/1/${ds}/0_1000/${dv}/`,
  );
});
