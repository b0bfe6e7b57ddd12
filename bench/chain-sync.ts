/**
 * chain_sync planner and status cost against embedded PostgreSQL:
 * - planning throughput: ranges/s for one big planner tick (each range = ledger row + task +
 *   task event + outbox wake-up + cursor advance, one transaction per stream);
 * - an idle tick (every stream at max_inflight) with many jobs;
 * - status latency (one job and all jobs) once the ledger holds many ranges.
 * Prints measured numbers only.
 *
 *   node --import tsx bench/chain-sync.ts
 */
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { applyChainSyncYaml } from "../src/chain-sync/apply.ts";
import { planOnce } from "../src/chain-sync/planner.ts";
import { chainSyncStatus, listChainSyncStatus } from "../src/chain-sync/status.ts";
import { DEFAULT_ORG_ID } from "../src/core/ids.ts";
import { connect, migrate } from "../src/state/index.ts";
import { startPostgres } from "../test/support/postgres.ts";

const STREAMS = 4;
const INFLIGHT = 2500;
const IDLE_JOBS = 100;

function yaml(name: string, chainId: number, inflight: number, streams: number): string {
  const lines = [
    "kind: chain_sync",
    `name: ${name}`,
    `chain_id: ${chainId}`,
    "mode: { kind: fixed_target, from_block: 0, to_block: 100000000 }",
    "streams:",
  ];
  for (let i = 0; i < streams; i++) {
    lines.push(
      `  s${i}: { cryo_dataset_name: blocks, rpc_pool: p${i % 2}, chunk_size: 10, max_inflight: ${inflight} }`,
    );
  }
  return lines.join("\n");
}

async function median(n: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const pg = await startPostgres();
const sql = connect(pg.url, { max: 4 });
try {
  await migrate(sql);
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}`,
  );

  await applyChainSyncYaml(sql, { orgId: DEFAULT_ORG_ID, yaml: yaml("big", 1, INFLIGHT, STREAMS) });
  const t0 = performance.now();
  const tick = await planOnce(sql);
  const planMs = performance.now() - t0;
  console.log(
    `plan: ${tick.scheduled} ranges in one tick (${STREAMS} streams × max_inflight ${INFLIGHT}): ${planMs.toFixed(0)} ms = ${((tick.scheduled / planMs) * 1000).toFixed(0)} ranges/s`,
  );

  // Half of the ledger completed (as the completion hook would), spread over the last minutes.
  await sql`
    UPDATE state.chain_sync_scheduled_ranges
       SET status = 'completed', completed_at = now() - make_interval(secs => (range_start % 600)::int)
     WHERE range_start % 20 = 0`;
  for (let j = 0; j < IDLE_JOBS; j++) {
    await applyChainSyncYaml(sql, {
      orgId: DEFAULT_ORG_ID,
      yaml: yaml(`idle_${j}`, 1000 + j, 1, 1),
    });
  }
  // Fills the idle jobs' single slot each and the slots the completions freed.
  await planOnce(sql);
  const idleMs = await median(5, () => planOnce(sql));
  console.log(
    `idle tick: ${IDLE_JOBS + 1} jobs / ${IDLE_JOBS + STREAMS} streams, nothing to plan: median ${idleMs.toFixed(1)} ms`,
  );
  const [ledger] = await sql<{ n: number; done: number }[]>`
    SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'completed')::int AS done
      FROM state.chain_sync_scheduled_ranges r JOIN state.chain_sync_jobs j USING (job_id)
     WHERE j.name = 'big'`;
  const oneMs = await median(20, () => chainSyncStatus(sql, DEFAULT_ORG_ID, "big"));
  console.log(
    `status of one job with ${ledger!.n} ranges (${ledger!.done} completed): median ${oneMs.toFixed(1)} ms`,
  );
  const allMs = await median(5, () => listChainSyncStatus(sql, DEFAULT_ORG_ID));
  console.log(`status of all ${IDLE_JOBS + 1} jobs: median ${allMs.toFixed(1)} ms`);
} finally {
  await sql.end({ timeout: 5 });
  await pg.stop();
}
