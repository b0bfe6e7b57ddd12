import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { datasetUuid, datasetVersion } from "../../core/ids.ts";
import type { TokenKeyConfig } from "../../core/tokens.ts";
import type { Manifest, StorageRef } from "../../core/types.ts";
import { type Db, registerDatasetVersion } from "../../state/index.ts";

/**
 * Realistic synthetic chain data for query tests, written as Parquet by DuckDB and published the
 * way a worker does: objects under the deterministic version prefix, `_manifest.json` with
 * size + sha256, then a state.dataset_versions row. Shape (per block b in [start, end)):
 * 3 transactions, each with 2 logs; values are simple functions of the indexes so tests can
 * compute expected answers independently of DuckDB.
 */

export const ORG = "00000000-0000-0000-0000-000000000001";

/** The query service's signing keys in the query tests and benchmark: user tokens (issued as
 * `trace up` issues them) and task capabilities (issued as the dispatcher does). */
export const TEST_USER_KEY: TokenKeyConfig = {
  issuer: "trace-lite",
  audience: "trace.user",
  kid: "dev-user",
  secret: "u".repeat(40),
};
export const TEST_TASK_KEY: TokenKeyConfig = {
  issuer: "trace-dispatcher",
  audience: "trace.task",
  kid: "dev",
  secret: "c".repeat(40),
};
export const CHAIN = 1;
export const TX_PER_BLOCK = 3;
export const LOGS_PER_TX = 2;

const SQL_BY_DATASET: Record<string, (s: number, e: number) => string> = {
  blocks: (s, e) => `SELECT range::UINTEGER AS block_number,
      (1600000000 + range * 12)::UINTEGER AS timestamp,
      (range * 1000)::UBIGINT AS gas_used,
      unhex(lpad(printf('%x', range), 64, '0'))::BLOB AS block_hash,
      ${CHAIN}::UBIGINT AS chain_id
    FROM range(${s}, ${e})`,
  transactions: (s, e) => `SELECT b::UINTEGER AS block_number, i::UBIGINT AS transaction_index,
      unhex(lpad(printf('%x', b * 10 + i), 64, '0'))::BLOB AS transaction_hash,
      unhex(lpad(printf('%x', i), 40, '0'))::BLOB AS from_address,
      (i * 1e18)::DOUBLE AS value_f64, (21000 + i)::UBIGINT AS gas_used, (i <> 2) AS success,
      ${CHAIN}::UBIGINT AS chain_id
    FROM range(${s}, ${e}) t(b), range(${TX_PER_BLOCK}) u(i)`,
  logs: (s, e) => `SELECT b::UINTEGER AS block_number, i::UINTEGER AS transaction_index,
      (i * ${LOGS_PER_TX} + j)::UINTEGER AS log_index,
      unhex(lpad(printf('%x', b * 10 + i), 64, '0'))::BLOB AS transaction_hash,
      unhex(lpad(printf('%x', 100 + j), 40, '0'))::BLOB AS address,
      unhex(lpad('ddf252ad', 64, '0'))::BLOB AS topic0, ''::BLOB AS data, 0::UINTEGER AS n_data_bytes,
      ${CHAIN}::UBIGINT AS chain_id
    FROM range(${s}, ${e}) t(b), range(${TX_PER_BLOCK}) u(i), range(${LOGS_PER_TX}) v(j)`,
};

export interface Published {
  datasetUuid: string;
  datasetVersion: string;
  storageRef: StorageRef;
  /** Absolute directory of the version (file) or the full key prefix (s3). */
  prefix: string;
  objects: { key: string; size: number; sha256: string; path: string }[];
}

/** Writes one dataset range as Parquet into `root` (a file store dir) and publishes it. */
export async function publishFileDataset(
  sql: Db,
  root: string,
  dataset: keyof typeof SQL_BY_DATASET,
  start: number,
  end: number,
  opts: { files?: number; org?: string } = {},
): Promise<Published> {
  const uuid = datasetUuid(opts.org ?? ORG, CHAIN, dataset);
  const configHash = `cryo_ingest.${dataset}:v1`;
  const version = datasetVersion(uuid, configHash, CHAIN, start, end);
  const dir = join(root, "cryo", String(CHAIN), uuid, `${start}_${end}`, version);
  mkdirSync(dir, { recursive: true });
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  const gen = SQL_BY_DATASET[dataset] as (s: number, e: number) => string;
  const parts = opts.files ?? 1;
  const objects: Published["objects"] = [];
  const step = Math.ceil((end - start) / parts);
  for (let s = start, _n = 0; s < end; s += step, _n++) {
    const path = join(dir, `${dataset}_${s}_${Math.min(end, s + step)}.parquet`);
    await c.run(`COPY (${gen(s, Math.min(end, s + step))}) TO '${path}' (FORMAT parquet)`);
    const bytes = readFileSync(path);
    objects.push({
      key: path.slice(1),
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      path,
    });
  }
  c.closeSync();
  db.closeSync();
  const manifest: Manifest = {
    version: 1,
    dataset_uuid: uuid,
    dataset_version: version,
    objects: objects.map(({ key, size, sha256 }) => ({ key, size, sha256 })),
  };
  writeFileSync(join(dir, "_manifest.json"), JSON.stringify(manifest));
  const storageRef: StorageRef = { scheme: "file", prefix: `${dir}/`, glob: "*.parquet" };
  await registerDatasetVersion(
    sql,
    {
      dataset_uuid: uuid,
      dataset_version: version,
      storage_ref: storageRef,
      config_hash: configHash,
      range_start: start,
      range_end: end,
    },
    { chainId: CHAIN },
  );
  return { datasetUuid: uuid, datasetVersion: version, storageRef, prefix: `${dir}/`, objects };
}

/** Same data, uploaded to an S3 bucket under the version prefix with its manifest. */
export async function publishS3Dataset(
  sql: Db,
  client: S3Client,
  bucket: string,
  scratch: string,
  dataset: keyof typeof SQL_BY_DATASET,
  start: number,
  end: number,
  opts: { files?: number; org?: string } = {},
): Promise<Published> {
  const uuid = datasetUuid(opts.org ?? ORG, CHAIN, dataset);
  const configHash = `cryo_ingest.${dataset}:v1`;
  const version = datasetVersion(uuid, configHash, CHAIN, start, end);
  const prefix = `cryo/${CHAIN}/${uuid}/${start}_${end}/${version}/`;
  const dir = join(scratch, prefix);
  mkdirSync(dir, { recursive: true });
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  const gen = SQL_BY_DATASET[dataset] as (s: number, e: number) => string;
  const parts = opts.files ?? 2;
  const step = Math.ceil((end - start) / parts);
  const objects: Published["objects"] = [];
  for (let s = start; s < end; s += step) {
    const name = `${dataset}_${s}_${Math.min(end, s + step)}.parquet`;
    const path = join(dir, name);
    await c.run(`COPY (${gen(s, Math.min(end, s + step))}) TO '${path}' (FORMAT parquet)`);
    const bytes = readFileSync(path);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + name, Body: bytes }));
    objects.push({
      key: prefix + name,
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      path,
    });
  }
  c.closeSync();
  db.closeSync();
  const manifest: Manifest = {
    version: 1,
    dataset_uuid: uuid,
    dataset_version: version,
    objects: objects.map(({ key, size, sha256 }) => ({ key, size, sha256 })),
  };
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `${prefix}_manifest.json`,
      Body: JSON.stringify(manifest),
    }),
  );
  const storageRef: StorageRef = { scheme: "s3", bucket, prefix, glob: "*.parquet" };
  await registerDatasetVersion(
    sql,
    {
      dataset_uuid: uuid,
      dataset_version: version,
      storage_ref: storageRef,
      config_hash: configHash,
      range_start: start,
      range_end: end,
    },
    { chainId: CHAIN },
  );
  return { datasetUuid: uuid, datasetVersion: version, storageRef, prefix, objects };
}
