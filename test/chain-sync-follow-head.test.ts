import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  JsonRpcError,
  type RunningJsonRpcServer,
  startJsonRpcServer,
} from "../src/devnet/jsonrpc-server.ts";
import { eventually } from "../src/dispatcher/testkit.ts";
import {
  cursorOf,
  followYaml,
  publish,
  rangesOf,
  type Stack,
  startStack,
} from "./chain-sync-kit.ts";
import { testDatabase } from "./support/postgres.ts";

/** A node whose head and availability the test controls. */
const node = { chainId: 31337, head: 100, down: false, polls: 0 };
let rpc: RunningJsonRpcServer;
const db = await testDatabase("chain_sync_follow");
const loopDb = await testDatabase("chain_sync_follow_loops");
let stack: Stack;
const POOL_SECRET = "pool-api-key-0123456789";

before(async () => {
  rpc = await startJsonRpcServer({
    resolve: (method) => {
      if (method === "eth_chainId") return () => `0x${node.chainId.toString(16)}`;
      if (method === "eth_blockNumber")
        return () => {
          node.polls++;
          if (node.down) throw new JsonRpcError(-32000, "node is syncing");
          return `0x${node.head.toString(16)}`;
        };
      return undefined;
    },
  });
  // The pool URL carries a key in its path, as hosted RPC URLs do: it must never be stored,
  // reported or logged.
  stack = await startStack(db.url, {
    rpcEnv: { TRACE_RPC_POOL_MAIN_URL: `${rpc.url}/v2/${POOL_SECRET}` },
  });
});
after(async () => {
  await stack.stop();
  await rpc.stop();
});

/** Moves the stored observation back in time, as if `seconds` had passed since the poll. */
async function age(seconds: number): Promise<void> {
  await stack.sql`
    UPDATE state.chain_head_observations
       SET observed_at = observed_at - make_interval(secs => ${seconds})`;
}

const spans = async (jobId: string) =>
  (await rangesOf(stack.sql, jobId)).map((r) => [r.range_start, r.range_end]);

describe("follow_head", () => {
  test("plans up to (head + 1) − tail_lag and stops planning when the head observation is stale", async () => {
    const { job_id } = await stack.admin.apply(
      followYaml({
        name: "tip",
        chainId: node.chainId,
        tailLag: 5,
        pollSeconds: 600,
        maxAgeSeconds: 1200,
        streams: { blocks: { pool: "main", chunk: 40, inflight: 10 } },
      }),
    );
    // No observation yet: fail closed.
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 0);
    let s = (await stack.admin.status("tip")).streams[0]!;
    assert.equal(s.blocked, "missing_head_observation");
    assert.equal(s.target, null);

    assert.equal(await stack.dispatcher.observeHeadsOnce(), 1);
    assert.equal(
      await stack.dispatcher.observeHeadsOnce(),
      0,
      "not due again before the poll interval",
    );
    await stack.dispatcher.planOnce();
    assert.deepEqual(await spans(job_id), [
      [0, 40],
      [40, 80],
      [80, 96],
    ]);
    s = (await stack.admin.status("tip")).streams[0]!;
    assert.deepEqual(
      [s.observed_head, s.target, s.cursor, s.blocked, s.head_stale],
      [100, 96, 96, null, false],
    );

    // The head moves; the next poll (interval elapsed) raises the target.
    node.head = 150;
    await age(601);
    assert.equal(await stack.dispatcher.observeHeadsOnce(), 1);
    await stack.dispatcher.planOnce();
    assert.equal(await cursorOf(stack.sql, job_id, "blocks"), 146);
    assert.deepEqual((await spans(job_id)).slice(3), [
      [96, 136],
      [136, 146],
    ]);

    // The node stops answering; the observation ages past max_head_age_seconds.
    node.head = 400;
    node.down = true;
    await age(1300);
    assert.equal(await stack.dispatcher.observeHeadsOnce(), 0);
    const [polled] = await stack.sql<{ last_error_kind: string; last_error_message: string }[]>`
      SELECT last_error_kind, last_error_message FROM state.chain_sync_jobs WHERE job_id = ${job_id}`;
    assert.equal(polled!.last_error_kind, "head_poll_failed");
    assert.match(polled!.last_error_message, /node is syncing/);
    assert.doesNotMatch(polled!.last_error_message, new RegExp(POOL_SECRET), "no pool key stored");
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 0);
    assert.equal(await cursorOf(stack.sql, job_id, "blocks"), 146, "no planning on a stale head");
    const status = await stack.admin.status("tip");
    assert.doesNotMatch(JSON.stringify(status), new RegExp(POOL_SECRET), "no pool key in status");
    s = status.streams[0]!;
    assert.deepEqual(
      [s.blocked, s.head_stale, s.target, s.observed_head],
      ["stale_head_observation", true, null, 150],
    );
    assert.equal(s.last_error?.category, "stale_head_observation");
    assert.equal(status.last_error?.category, "stale_head_observation", "newest error of the job");

    // In-flight work still completes while blocked; the node comes back and planning resumes.
    await publish(stack.worker, (await rangesOf(stack.sql, job_id))[0]!.task_id);
    node.down = false;
    assert.equal(await stack.dispatcher.observeHeadsOnce(), 1);
    await stack.dispatcher.planOnce();
    s = (await stack.admin.status("tip")).streams[0]!;
    assert.deepEqual([s.blocked, s.target, s.cursor, s.inflight], [null, 396, 386, 10]);
    assert.equal(s.last_error, null, "the block is cleared once the head is fresh");
    // The job's errors end with the problem too, not only at the next re-apply (§9.8).
    const recovered = await stack.admin.status("tip");
    assert.equal(recovered.last_error, null, "no stale job-level error after recovery");
    const [job] = await stack.sql<{ last_error_kind: string | null }[]>`
      SELECT last_error_kind FROM state.chain_sync_jobs WHERE job_id = ${job_id}`;
    assert.equal(job!.last_error_kind, null);
  });

  test("a pool that serves another chain never drives planning; paused jobs are not polled", async () => {
    await stack.admin.apply(
      followYaml({
        name: "wrong_chain",
        chainId: 5,
        tailLag: 0,
        pollSeconds: 1,
        maxAgeSeconds: 60,
        streams: { headers: { dataset: "blocks", pool: "main" } },
      }),
    );
    await stack.admin.pause("tip");
    const polls = node.polls;
    assert.equal(await stack.dispatcher.observeHeadsOnce(), 0);
    assert.equal(
      node.polls,
      polls,
      "neither the paused job nor the mismatched chain polled a head",
    );
    const [obs] = await stack.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM state.chain_head_observations WHERE chain_id = 5`;
    assert.equal(obs!.n, 0);
    const status = await stack.admin.status("wrong_chain");
    assert.equal(status.last_error?.category, "rpc_chain_mismatch");
    assert.match(status.last_error!.message, /serves chain 31337, not chain 5/);
    assert.doesNotMatch(status.last_error!.message, /127\.0\.0\.1/, "no RPC URL in errors");
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 0);
  });

  test("a pool without URL is reported, and planning stays blocked", async () => {
    const r = await stack.admin.apply(
      followYaml({
        name: "no_url",
        chainId: node.chainId + 1,
        tailLag: 0,
        streams: { blocks: { pool: "nowhere" } },
      }),
    );
    assert.match(
      r.warnings.join("\n"),
      /RPC pool 'nowhere' has no URL .*TRACE_RPC_POOL_NOWHERE_URL.*planning stays blocked/,
    );
    await stack.dispatcher.observeHeadsOnce();
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 0);
    const status = await stack.admin.status("no_url");
    assert.equal(status.streams[0]!.blocked, "missing_head_observation");
    assert.equal(status.last_error?.category, "missing_head_observation");
  });
});

describe("head errors per pool", () => {
  test("a good pool clears only its own head errors on a job; the failing pool's error stays", async () => {
    const twoPools = await startStack(loopDb.url, {
      rpcEnv: {
        TRACE_RPC_POOL_MAIN_URL: rpc.url,
        // Nothing listens on port 1: connection refused.
        TRACE_RPC_POOL_BROKEN_URL: "http://127.0.0.1:1",
      },
    });
    try {
      const { job_id } = await twoPools.admin.apply(
        followYaml({
          name: "two_pools",
          chainId: node.chainId,
          tailLag: 0,
          pollSeconds: 1,
          streams: { blocks: { pool: "main" }, logs: { pool: "broken" } },
        }),
      );
      const jobError = async () =>
        (
          await twoPools.sql<{ kind: string | null; message: string | null }[]>`
            SELECT last_error_kind AS kind, last_error_message AS message
              FROM state.chain_sync_jobs WHERE job_id = ${job_id}`
        )[0]!;
      for (let round = 0; round < 2; round++) {
        await twoPools.sql`
          UPDATE state.chain_head_observations SET observed_at = observed_at - interval '1 hour'`;
        assert.equal(await twoPools.dispatcher.observeHeadsOnce(), 1, "main observed");
        const e = await jobError();
        assert.equal(e.kind, "head_poll_failed", `round ${round}`);
        assert.match(e.message!, /via pool broken failed/);
      }
      // Planning follows each pool: main's stream plans, the broken pool's stays blocked.
      await twoPools.dispatcher.planOnce();
      const status = await twoPools.admin.status("two_pools");
      const byKey = Object.fromEntries(status.streams.map((s) => [s.dataset_key, s]));
      assert.deepEqual([byKey.blocks!.blocked, byKey.blocks!.target], [null, node.head + 1]);
      assert.deepEqual(
        [byKey.logs!.blocked, byKey.logs!.observed_head, byKey.logs!.cursor],
        ["missing_head_observation", null, 0],
      );
    } finally {
      // Paused, so the loop test sharing this database neither polls nor plans it.
      await twoPools.admin.pause("two_pools").catch(() => {});
      await twoPools.stop();
    }
  });
});

describe("composed dispatcher with its loops", () => {
  test("wake-ups reach a worker and follow_head keeps up with a moving head", async () => {
    const live = { head: 49 };
    const liveRpc = await startJsonRpcServer({
      resolve: (method) => {
        if (method === "eth_chainId") return () => "0x2a";
        if (method === "eth_blockNumber") return () => `0x${live.head.toString(16)}`;
        return undefined;
      },
    });
    const loops = await startStack(loopDb.url, {
      loops: true,
      rpcEnv: { TRACE_RPC_POOL_LIVE_URL: liveRpc.url },
      intervals: { outboxMs: 20, reaperMs: 200, retryMs: 200 },
      plannerIntervalMs: 20,
      headObserverIntervalMs: 20,
    });
    try {
      await loops.dispatcher.start();
      const { job_id } = await loops.admin.apply(
        followYaml({
          name: "live",
          chainId: 42,
          tailLag: 0,
          pollSeconds: 1,
          maxAgeSeconds: 60,
          streams: { blocks: { pool: "live", chunk: 10, inflight: 2 } },
        }),
      );
      // A worker: take wake-ups from the queue, claim, publish, ack.
      let stop = false;
      const worker = (async () => {
        while (!stop) {
          const msgs = await loops.dispatcher.queue.receive<{ task_id: string }>("task_wakeup", {
            max: 5,
            visibilityMs: 30_000,
          });
          for (const m of msgs) {
            await publish(loops.worker, m.payload.task_id);
            await loops.dispatcher.queue.ack(m.messageId);
          }
          if (msgs.length === 0) await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await eventually(
        async () => (await loops.admin.status("live")).streams[0]!.ranges.completed === 5,
        20_000,
        "blocks [0, 50) published",
      );
      live.head = 99;
      await eventually(
        async () => (await loops.admin.status("live")).streams[0]!.ranges.completed === 10,
        20_000,
        "blocks [0, 100) published after the head moved",
      );
      stop = true;
      await worker;
      const ranges = await rangesOf(loops.sql, job_id);
      assert.deepEqual(
        ranges.map((r) => [r.range_start, r.range_end, r.status]),
        Array.from({ length: 10 }, (_, i) => [i * 10, i * 10 + 10, "completed"]),
      );
      const status = await loops.admin.status("live");
      assert.equal(status.completed, false, "follow_head never completes");
      assert.equal(status.streams[0]!.cursor, 100);
    } finally {
      await loops.stop();
      await liveRpc.stop();
    }
  });
});
