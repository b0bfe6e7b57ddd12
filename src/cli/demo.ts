import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { ChainSyncAdminClient } from "../chain-sync/client.ts";
import type { JobStatus } from "../chain-sync/status.ts";
import { describeError } from "../core/errors.ts";
import type { ChainOptions } from "../devnet/chain.ts";
import { type Devnet, startDevnet } from "../devnet/server.ts";
import { type RunningLocalStack, startLocalStack } from "../stack/index.ts";
import { formatQueryResult } from "./format.ts";
import { userKey } from "./local-stack.ts";
import { runQuery } from "./query-client.ts";
import { renderStatus } from "./status-view.ts";
import { parsePositive } from "./usage.ts";

/**
 * `trace demo`: the main job end to end, offline — a synthetic chain, the local stack in its own
 * home, a chain_sync of blocks, transactions and logs, live progress, then three analyst
 * queries through the query service. Everything it started is stopped at the end.
 */

/** Lighter than mainnet-sized blocks so a few thousand sync in well under a minute on 2 cores. */
export const DEMO_CHAIN: ChainOptions = {
  seed: "trace-demo",
  chainId: 31337,
  length: 100_000,
  txsPerBlock: 12,
  logsPerBlock: 20,
  jitter: 0.5,
};
export const DEMO_JOB = "demo";
export const DEMO_POOL = "demo";

/** The three queries the demo prints; each runs over the views named by dataset key. */
export const DEMO_QUERIES: { title: string; sql: string }[] = [
  {
    title: "Top 5 log emitters",
    sql: "SELECT address, count(*) AS logs FROM logs GROUP BY address ORDER BY logs DESC, address LIMIT 5",
  },
  {
    title: "Gas used per block",
    sql: [
      "SELECT count(*) AS blocks, sum(gas_used) AS total_gas,",
      "min(gas_used) AS min_gas, round(avg(gas_used)) AS avg_gas, max(gas_used) AS max_gas",
      "FROM blocks",
    ].join(" "),
  },
  {
    title: "Failed transaction share",
    sql: [
      "SELECT count(*) AS transactions, count(*) FILTER (WHERE NOT success) AS failed,",
      "CAST(100.0 * count(*) FILTER (WHERE NOT success) / count(*) AS DECIMAL(5, 2)) AS failed_pct",
      "FROM transactions",
    ].join(" "),
  },
];

interface DemoFlags {
  home?: string;
  blocks: number;
  chunkSize: number;
  workers: number;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "sync a synthetic chain through a throwaway local stack and run three example queries (offline, about a minute)",
    )
    .option("--home <dir>", "keep the stack's state here (default: a temporary dir, removed after)")
    .option("--blocks <n>", "blocks to sync (default 3000)", parsePositive, 3000)
    .option("--chunk-size <n>", "blocks per range (default 250)", parsePositive, 250)
    .option("--workers <n>", "in-process workers, 2 tasks each (default 2)", parsePositive, 2)
    .action(async (flags: DemoFlags) => {
      process.exitCode = await runDemo(flags);
    });
}

export function demoYaml(blocks: number, chunkSize: number): string {
  const stream = (d: string) =>
    `  ${d}: { cryo_dataset_name: ${d}, rpc_pool: ${DEMO_POOL}, chunk_size: ${chunkSize}, max_inflight: 4 }`;
  return [
    "kind: chain_sync",
    `name: ${DEMO_JOB}`,
    `chain_id: ${DEMO_CHAIN.chainId}`,
    `mode: { kind: fixed_target, from_block: 0, to_block: ${blocks} }`,
    "streams:",
    stream("blocks"),
    stream("transactions"),
    stream("logs"),
    "",
  ].join("\n");
}

async function runDemo(flags: DemoFlags): Promise<number> {
  const started = performance.now();
  const out = process.stdout;
  const keep = flags.home !== undefined;
  let home: string;
  if (flags.home) home = resolve(flags.home);
  else {
    const dir = mkdtempSync(join(tmpdir(), "trace-demo-"));
    // Run as root, the embedded PostgreSQL (user `postgres`) must traverse the temp dir.
    chmodSync(dir, 0o711);
    home = join(dir, "home");
  }
  let devnet: Devnet | undefined;
  let stack: RunningLocalStack | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    devnet = await startDevnet({ chain: { ...DEMO_CHAIN, length: flags.blocks + 1_000 } });
    out.write(`synthetic chain ${DEMO_CHAIN.chainId} on ${devnet.url}\n`);
    // Offline and self-contained: the user's DATABASE_URL, object store and pools are ignored.
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) =>
          k !== "DATABASE_URL" && k !== "TRACE_OBJECT_STORE" && !k.startsWith("TRACE_RPC_POOL_"),
      ),
    );
    env[`TRACE_RPC_POOL_${DEMO_POOL.toUpperCase()}_URL`] = devnet.url;
    out.write(`starting the local stack in ${home} …\n`);
    stack = await startLocalStack({
      home,
      env,
      dispatcherPort: 0,
      queryPort: 0,
      workers: flags.workers,
      workerConcurrency: 2,
      durable: false,
      plannerIntervalMs: 200,
    });
    out.write(
      `stack up: dispatcher ${stack.dispatcherUrl}, query service ${stack.queryUrl}, objects ${stack.objectStore}\n`,
    );
    const admin = { url: stack.dispatcherUrl, token: stack.secrets.admin_token };
    const client = new ChainSyncAdminClient(admin.url, admin.token);
    const yaml = demoYaml(flags.blocks, flags.chunkSize);
    out.write(`\napplying chain_sync job "${DEMO_JOB}":\n${indent(yaml)}\n`);
    await client.apply(yaml);

    const final = await followProgress(client, () => interrupted);
    if (interrupted) {
      out.write("interrupted: stopping\n");
      return 130;
    }
    const failed = final.streams.reduce((n, s) => n + s.ranges.failed, 0);
    if (!final.completed) {
      const why = final.last_error ? `: ${final.last_error.message}` : "";
      process.stderr.write(
        `error: the demo job did not complete (${failed} range(s) failed${why})\n`,
      );
      return 1;
    }
    const syncSeconds = (performance.now() - started) / 1000;
    out.write(`\nsynced ${flags.blocks} blocks × 3 datasets in ${syncSeconds.toFixed(1)} s\n`);

    const query = {
      url: stack.queryUrl,
      userKey: userKey(stack.secrets),
      orgId: stack.secrets.org_id,
    };
    for (const q of DEMO_QUERIES) {
      const result = await runQuery({ query, admin, sql: q.sql });
      out.write(`\n== ${q.title}\n${indent(q.sql)}\n\n${formatQueryResult(result, "table")}`);
      if (!formatQueryResult(result, "table").endsWith("\n")) out.write("\n");
    }
    out.write(
      `\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s.${
        keep
          ? ` The data stays in ${home}: \`TRACE_HOME=${home} trace up\`, then \`trace query\` (the chain is gone, so configure TRACE_RPC_POOL_${DEMO_POOL.toUpperCase()}_URL or use --no-rpc-check).`
          : ""
      }\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`error: demo failed: ${describeError(err)}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (stack) {
      out.write("stopping the stack …\n");
      await stack.stop({ workerDeadlineMs: 2_000 }).catch((err) => {
        process.stderr.write(`error: stopping the stack: ${describeError(err)}\n`);
      });
    }
    await devnet?.stop();
    if (!keep) rmSync(resolve(home, ".."), { recursive: true, force: true });
  }
}

/**
 * Polls the job's status until it completes, a range fails for good, or `stop()` says so. In a
 * terminal the status view is redrawn in place; otherwise one plain line every few seconds.
 */
async function followProgress(
  client: ChainSyncAdminClient,
  stop: () => boolean,
): Promise<JobStatus> {
  const tty = process.stdout.isTTY === true;
  let drawnLines = 0;
  let lastPlain = 0;
  for (;;) {
    const job = await client.status(DEMO_JOB);
    const failed = job.streams.some((s) => s.ranges.failed > 0);
    const done = job.completed || failed || stop();
    if (tty) {
      const view = renderStatus([job], { width: process.stdout.columns ?? 80 });
      // Move to the start of the previous drawing and clear it before drawing again.
      if (drawnLines > 0) process.stdout.write(`\x1b[${drawnLines}F\x1b[J`);
      process.stdout.write(view.endsWith("\n") ? view : `${view}\n`);
      drawnLines = view.replace(/\n$/, "").split("\n").length;
    } else if (done || Date.now() - lastPlain >= 3_000) {
      lastPlain = Date.now();
      const parts = job.streams.map(
        (s) => `${s.dataset_key} ${s.blocks_completed}/${(job.to_block ?? 0) - job.from_block}`,
      );
      process.stdout.write(`progress: ${parts.join(", ")} blocks\n`);
    }
    if (done) return job;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function indent(text: string): string {
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}
