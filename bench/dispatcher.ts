/**
 * Dispatcher throughput: claim → heartbeat → complete(success + one publication) cycles per
 * second with 1, 8 and 32 concurrent clients, against embedded PostgreSQL, over real HTTP on
 * 127.0.0.1, with the dispatcher's background loops running. Prints measured numbers only.
 *
 *   node --import tsx bench/dispatcher.ts
 */
import { randomUUID } from "node:crypto";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { createDispatcher } from "../src/dispatcher/dispatcher.ts";
import { enqueueTask } from "../src/dispatcher/enqueue.ts";
import {
  type Claim,
  cryoPayload,
  DispatcherClient,
  publicationFor,
  TEST_CAPABILITY,
  TEST_WORKER_TOKEN,
} from "../src/dispatcher/testkit.ts";
import { connect, migrate } from "../src/state/index.ts";
import { startPostgres } from "../test/support/postgres.ts";

const LEVELS: { clients: number; cycles: number }[] = [
  { clients: 1, cycles: 400 },
  { clients: 8, cycles: 2000 },
  { clients: 32, cycles: 3000 },
];

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const pg = await startPostgres();
const url = new URL(pg.url);
const sql = connect(url.toString(), { max: 8 });
try {
  await migrate(sql);
  const dispatcher = await createDispatcher({
    databaseUrl: url.toString(),
    workerToken: TEST_WORKER_TOKEN,
    capability: TEST_CAPABILITY,
    leaseMs: 60_000,
    logger: false,
    poolSize: 20,
  });
  const api = new DispatcherClient(await dispatcher.listen());
  await dispatcher.start();

  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}`,
  );
  console.log(
    "clients | cycles | cycles/s | claim p50/p99 ms | heartbeat p50/p99 ms | complete p50/p99 ms",
  );
  for (const level of LEVELS) {
    // Not timed: the tasks the clients will cycle through.
    const tasks = Array.from({ length: level.cycles }, () => ({
      taskId: randomUUID() as string,
      payload: cryoPayload(),
    }));
    for (let i = 0; i < tasks.length; i += 50) {
      await Promise.all(tasks.slice(i, i + 50).map((t) => enqueueTask(sql, t)));
    }
    const lat = { claim: [] as number[], heartbeat: [] as number[], complete: [] as number[] };
    let next = 0;
    const timed = async <T>(bucket: number[], f: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const r = await f();
      bucket.push(performance.now() - t0);
      return r;
    };
    const client = async () => {
      for (;;) {
        const t = tasks[next++];
        if (!t) return;
        const c = await timed(lat.claim, () => api.claim(t.taskId));
        if (c.status !== 200) throw new Error(`claim failed: ${c.status}`);
        const claim = c.body as Claim;
        const h = await timed(lat.heartbeat, () => api.heartbeat(claim, claim.capability_token));
        if (h.status !== 200) throw new Error(`heartbeat failed: ${h.status}`);
        const d = await timed(lat.complete, () =>
          api.complete(claim, {
            outcome: "success",
            datasets_published: [publicationFor(t.payload)],
          }),
        );
        if (d.status !== 200) throw new Error(`complete failed: ${d.status}`);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: level.clients }, client));
    const secs = (performance.now() - t0) / 1000;
    const f = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `${pct(s, 50).toFixed(2)} / ${pct(s, 99).toFixed(2)}`;
    };
    console.log(
      `${level.clients} | ${level.cycles} | ${(level.cycles / secs).toFixed(0)} | ${f(lat.claim)} | ${f(lat.heartbeat)} | ${f(lat.complete)}`,
    );
  }
  const [{ n }] = (await sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM state.dataset_versions`) as unknown as [{ n: number }];
  console.log(`dataset_versions registered: ${n}`);
  await dispatcher.stop();
} finally {
  await sql.end();
  await pg.stop();
}
