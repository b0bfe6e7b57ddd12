import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { type ChainSyncSpec, parseChainSyncYaml } from "../core/chain-sync-spec.ts";
import { FatalError } from "../core/errors.ts";
import { cryoConfigHash, datasetUuid, isUuid, yamlHash } from "../core/ids.ts";
import { rpcPoolEnvVar } from "../core/rpc-pools.ts";
import type { Sql, Tx } from "../state/index.ts";
import { ApplyRejectedError } from "./errors.ts";

/**
 * Apply a chain_sync YAML: idempotent by (org_id, name), all in one transaction, nothing written
 * when the YAML is invalid or a re-apply rule rejects it. Re-apply rules (README "chain_sync"):
 *
 * - chain_id cannot change (every dataset_uuid and cursor is bound to it) → rejected.
 * - A kept stream's cryo_dataset_name cannot change (config_hash would change under the same
 *   dataset_uuid, mixing two datasets) → rejected; use a new dataset_key.
 * - from_block can be raised (cursors behind it jump forward; the skipped blocks are reported)
 *   but not lowered while a stream is kept: the blocks below would never be planned → rejected.
 * - fixed_target to_block can grow (planning resumes) and shrink down to the highest cursor of a
 *   kept stream, never below already-planned ranges → rejected.
 * - mode can switch (fixed_target ↔ follow_head); cursors stay where they are.
 * - rpc_pool, chunk_size, max_inflight and follow_head knobs change for ranges planned from now on.
 * - Streams added start at from_block; streams removed become inactive (no new planning; their
 *   in-flight ranges finish and their published versions stay); re-adding one resumes its cursor.
 * - A dataset (org, chain, dataset_key) belongs to one job only → another job claiming it is
 *   rejected.
 * - enabled (pause state) is preserved; the job's last error is cleared.
 * Cursors never move backwards (also enforced by a trigger).
 */

export interface ApplyInput {
  orgId: string;
  yaml: string;
  /** Name used in error messages, e.g. the file name. */
  source?: string;
  /** Environment checked for the streams' RPC pools (warnings only). */
  env?: NodeJS.ProcessEnv;
}

export interface ApplyResult {
  job_id: string;
  name: string;
  created: boolean;
  /** False when the same spec was applied before: nothing was written. */
  changed: boolean;
  /** Human-readable list of what this apply changed. */
  changes: string[];
  /** Things that do not block the apply but will block work (e.g. an RPC pool without URL). */
  warnings: string[];
}

interface JobRow {
  job_id: string;
  chain_id: string;
  from_block: string;
  spec: ChainSyncSpec;
}

interface StreamRow {
  dataset_key: string;
  cryo_dataset_name: string;
  rpc_pool: string;
  chunk_size: number;
  max_inflight: number;
  active: boolean;
  next_block: string;
}

export async function applyChainSyncYaml(sql: Sql, input: ApplyInput): Promise<ApplyResult> {
  if (!isUuid(input.orgId)) throw new FatalError("org_id must be a UUID", { category: "config" });
  // Parsing happens before the transaction: invalid YAML never reaches the database.
  const spec = parseChainSyncYaml(input.yaml, input.source ?? "spec");
  const hash = yamlHash(input.yaml);
  const warnings = poolWarnings(spec, input.env);
  return await sql.begin(async (tx) => {
    let job = await lockJob(tx, input.orgId, spec.name);
    if (!job) {
      const jobId = randomUUID();
      const inserted = await tx`
        INSERT INTO state.chain_sync_jobs
          (job_id, org_id, name, chain_id, mode, from_block, to_block, tail_lag,
           head_poll_interval_seconds, max_head_age_seconds, yaml_hash, spec)
        VALUES (${jobId}, ${input.orgId}, ${spec.name}, ${spec.chain_id}, ${spec.mode.kind},
                ${spec.mode.from_block}, ${toBlock(spec)}, ${tailLag(spec)}, ${pollSecs(spec)},
                ${maxAgeSecs(spec)}, ${hash}, ${tx.json(spec as never)})
        ON CONFLICT (org_id, name) DO NOTHING
        RETURNING job_id`;
      if (inserted.length > 0) {
        const changes: string[] = [];
        for (const [key, stream] of sortedStreams(spec)) {
          await insertStream(tx, input.orgId, jobId, spec, key, stream);
          changes.push(`stream ${key} added, planned from block ${spec.mode.from_block}`);
        }
        return { job_id: jobId, name: spec.name, created: true, changed: true, changes, warnings };
      }
      // A concurrent apply created it first: continue as a re-apply of that job.
      job = await lockJob(tx, input.orgId, spec.name);
      if (!job)
        throw new FatalError("chain_sync job vanished during apply", { category: "conflict" });
    }
    return await reapply(tx, input.orgId, job, spec, hash, warnings);
  });
}

async function lockJob(tx: Tx, orgId: string, name: string): Promise<JobRow | undefined> {
  const [row] = await tx<JobRow[]>`
    SELECT job_id, chain_id, from_block, spec FROM state.chain_sync_jobs
     WHERE org_id = ${orgId} AND name = ${name}
     FOR UPDATE`;
  return row;
}

async function reapply(
  tx: Tx,
  orgId: string,
  job: JobRow,
  spec: ChainSyncSpec,
  hash: string,
  warnings: string[],
): Promise<ApplyResult> {
  const base = { job_id: job.job_id, name: spec.name, created: false, warnings };
  if (isDeepStrictEqual(job.spec, spec)) return { ...base, changed: false, changes: [] };

  const existing = new Map(
    (
      await tx<StreamRow[]>`
        SELECT s.dataset_key, s.cryo_dataset_name, s.rpc_pool, s.chunk_size, s.max_inflight,
               s.active, c.next_block
          FROM state.chain_sync_streams s
          JOIN state.chain_sync_cursor c USING (job_id, dataset_key)
         WHERE s.job_id = ${job.job_id}
         FOR UPDATE OF c`
    ).map((r) => [r.dataset_key, r]),
  );
  const problems: string[] = [];
  const changes: string[] = [];
  const oldChain = Number(job.chain_id);
  const oldFrom = Number(job.from_block);
  const newFrom = spec.mode.from_block;
  if (oldChain !== spec.chain_id) {
    problems.push(
      `chain_id: cannot change from ${oldChain} to ${spec.chain_id} (datasets and cursors belong to the chain); apply it under a new name`,
    );
  }
  const kept = sortedStreams(spec).filter(([key]) => existing.has(key));
  if (newFrom < oldFrom && kept.length > 0) {
    problems.push(
      `mode.from_block: cannot be lowered from ${oldFrom} to ${newFrom}: blocks below ${oldFrom} would never be planned for the existing streams; sync them with a new job`,
    );
  }
  for (const [key, stream] of kept) {
    const row = existing.get(key)!;
    if (row.cryo_dataset_name !== stream.cryo_dataset_name) {
      problems.push(
        `streams.${key}.cryo_dataset_name: cannot change from ${row.cryo_dataset_name} to ${stream.cryo_dataset_name} (it defines the dataset); use a new dataset_key`,
      );
    }
    const cursor = Number(row.next_block);
    if (spec.mode.kind === "fixed_target" && cursor > spec.mode.to_block) {
      problems.push(
        `mode.to_block: ${spec.mode.to_block} is below stream ${key}'s cursor ${cursor} (ranges up to ${cursor} are already planned); to_block must be >= ${cursor}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ApplyRejectedError(`chain_sync '${spec.name}': ${problems.join("; ")}`, problems);
  }

  describeJobChanges(job.spec, spec, changes);
  await tx`
    UPDATE state.chain_sync_jobs
       SET mode = ${spec.mode.kind}, from_block = ${newFrom}, to_block = ${toBlock(spec)},
           tail_lag = ${tailLag(spec)}, head_poll_interval_seconds = ${pollSecs(spec)},
           max_head_age_seconds = ${maxAgeSecs(spec)}, yaml_hash = ${hash},
           spec = ${tx.json(spec as never)},
           last_error_kind = NULL, last_error_message = NULL, last_error_at = NULL,
           updated_at = now()
     WHERE job_id = ${job.job_id}`;

  const wanted = new Set(Object.keys(spec.streams));
  for (const [key, stream] of sortedStreams(spec)) {
    const row = existing.get(key);
    if (!row) {
      await insertStream(tx, orgId, job.job_id, spec, key, stream);
      changes.push(`stream ${key} added, planned from block ${newFrom}`);
      continue;
    }
    if (!row.active) changes.push(`stream ${key} re-activated at its cursor ${row.next_block}`);
    if (row.rpc_pool !== stream.rpc_pool)
      changes.push(`stream ${key} rpc_pool ${row.rpc_pool} → ${stream.rpc_pool} for new ranges`);
    if (row.chunk_size !== stream.chunk_size)
      changes.push(`stream ${key} chunk_size ${row.chunk_size} → ${stream.chunk_size}`);
    if (row.max_inflight !== stream.max_inflight)
      changes.push(`stream ${key} max_inflight ${row.max_inflight} → ${stream.max_inflight}`);
    await tx`
      UPDATE state.chain_sync_streams
         SET rpc_pool = ${stream.rpc_pool}, chunk_size = ${stream.chunk_size},
             max_inflight = ${stream.max_inflight}, active = true,
             last_error_kind = NULL, last_error_message = NULL, last_error_at = NULL,
             updated_at = now()
       WHERE job_id = ${job.job_id} AND dataset_key = ${key}`;
    if (Number(row.next_block) < newFrom) {
      changes.push(
        `stream ${key} cursor ${row.next_block} → ${newFrom}: blocks [${row.next_block}, ${newFrom}) will not be synced`,
      );
      await tx`
        UPDATE state.chain_sync_cursor SET next_block = ${newFrom}, updated_at = now()
         WHERE job_id = ${job.job_id} AND dataset_key = ${key}`;
    }
  }
  for (const [key, row] of existing) {
    if (wanted.has(key) || !row.active) continue;
    await tx`
      UPDATE state.chain_sync_streams SET active = false, updated_at = now()
       WHERE job_id = ${job.job_id} AND dataset_key = ${key}`;
    changes.push(`stream ${key} removed: no new ranges; in-flight ranges finish, versions stay`);
  }
  return { ...base, changed: true, changes };
}

function describeJobChanges(before: ChainSyncSpec, after: ChainSyncSpec, changes: string[]): void {
  if (before.mode.kind !== after.mode.kind) {
    changes.push(`mode ${before.mode.kind} → ${after.mode.kind} (cursors kept)`);
    return;
  }
  const a = before.mode as Record<string, unknown>;
  const b = after.mode as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (k !== "kind" && a[k] !== b[k]) changes.push(`mode.${k} ${String(a[k])} → ${String(b[k])}`);
  }
}

async function insertStream(
  tx: Tx,
  orgId: string,
  jobId: string,
  spec: ChainSyncSpec,
  key: string,
  stream: ChainSyncSpec["streams"][string],
): Promise<void> {
  const uuid = datasetUuid(orgId, spec.chain_id, key);
  const [owner] = await tx<{ name: string }[]>`
    SELECT j.name FROM state.chain_sync_streams s JOIN state.chain_sync_jobs j USING (job_id)
     WHERE s.dataset_uuid = ${uuid} AND s.job_id <> ${jobId}`;
  if (owner) {
    throw new ApplyRejectedError(
      `streams.${key}: dataset ${key} of chain ${spec.chain_id} is already synced by job '${owner.name}'; a dataset has one owner`,
    );
  }
  await tx`
    INSERT INTO state.chain_sync_streams
      (job_id, dataset_key, dataset_uuid, cryo_dataset_name, rpc_pool, config_hash, chunk_size,
       max_inflight)
    VALUES (${jobId}, ${key}, ${uuid}, ${stream.cryo_dataset_name}, ${stream.rpc_pool},
            ${cryoConfigHash(stream.cryo_dataset_name)}, ${stream.chunk_size},
            ${stream.max_inflight})`;
  await tx`
    INSERT INTO state.chain_sync_cursor (job_id, dataset_key, next_block)
    VALUES (${jobId}, ${key}, ${spec.mode.from_block})`;
}

function sortedStreams(spec: ChainSyncSpec) {
  return Object.entries(spec.streams).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function poolWarnings(spec: ChainSyncSpec, env: NodeJS.ProcessEnv | undefined): string[] {
  if (!env) return [];
  const pools = [...new Set(Object.values(spec.streams).map((s) => s.rpc_pool))].sort();
  return pools
    .filter((p) => !env[rpcPoolEnvVar(p)]?.trim())
    .map(
      (p) =>
        `RPC pool '${p}' has no URL in this dispatcher's environment (${rpcPoolEnvVar(p)})${spec.mode.kind === "follow_head" ? ": its head cannot be observed, planning stays blocked" : ""}`,
    );
}

const toBlock = (s: ChainSyncSpec) => (s.mode.kind === "fixed_target" ? s.mode.to_block : null);
const tailLag = (s: ChainSyncSpec) => (s.mode.kind === "follow_head" ? s.mode.tail_lag : null);
const pollSecs = (s: ChainSyncSpec) =>
  s.mode.kind === "follow_head" ? s.mode.head_poll_interval_seconds : null;
const maxAgeSecs = (s: ChainSyncSpec) =>
  s.mode.kind === "follow_head" ? s.mode.max_head_age_seconds : null;
