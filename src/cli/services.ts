import type { Command } from "commander";
import { chainSyncConfigFromEnv, createChainSyncDispatcher } from "../chain-sync/index.ts";
import { describeError, TraceError } from "../core/errors.ts";
import { dispatcherConfigFromEnv } from "../dispatcher/env.ts";
import { queryConfigFromEnv } from "../query/env.ts";
import { createQueryService } from "../query/index.ts";
import { connectWarm } from "../stack/stack.ts";
import { migrate, type Sql } from "../state/index.ts";
import { runWorkerMain } from "../worker/index.ts";
import { EXIT_USAGE } from "./usage.ts";

/**
 * The per-service commands of a production layout, each configured only from the environment
 * (see README "Production layout"): `trace dispatcher`, `trace worker`, `trace query-service`,
 * `trace migrate`. SIGTERM / SIGINT stop a service gracefully (exit 0).
 */
export function registerServices(program: Command): void {
  program
    .command("dispatcher")
    .description(
      "run the dispatcher with chain_sync (env: DATABASE_URL, TRACE_WORKER_TOKEN, TASK_CAPABILITY_SECRET, TRACE_ADMIN_TOKEN, DISPATCHER_BIND, TRACE_RPC_POOL_<POOL>_URL, …)",
    )
    .action(async () => {
      process.exitCode = await runDispatcherService(process.env);
    });
  program
    .command("worker")
    .description(
      "run a cryo_ingest worker (env: TRACE_DISPATCHER_URL, TRACE_WORKER_TOKEN, DATABASE_URL, TRACE_OBJECT_STORE, TRACE_RPC_POOL_<POOL>_URL, …)",
    )
    .option("--concurrency <n>", "tasks at once (overrides TRACE_WORKER_CONCURRENCY)")
    .action(async (flags: { concurrency?: string }) => {
      const argv = flags.concurrency === undefined ? [] : ["--concurrency", flags.concurrency];
      process.exitCode = await runWorkerMain(process.env, argv);
    });
  program
    .command("query-service")
    .description(
      "run the query service (env: DATABASE_URL, TRACE_OBJECT_STORE, TASK_CAPABILITY_SECRET, TRACE_USER_TOKEN_SECRET, QUERY_BIND, QUERY_* limits)",
    )
    .action(async () => {
      process.exitCode = await runQueryService(process.env);
    });
  program
    .command("migrate")
    .description("apply the state migrations to DATABASE_URL and exit")
    .action(async () => {
      process.exitCode = await runMigrate(process.env);
    });
}

/** Bad configuration is a usage error (2); anything else failing at start is 1. */
function startFailure(service: string, err: unknown): number {
  process.stderr.write(`error: ${service} failed to start: ${describeError(err)}\n`);
  return err instanceof TraceError && err.category === "config" ? EXIT_USAGE : 1;
}

/** Resolves on the first SIGTERM / SIGINT with the result of `stop` (0, or 1 if it failed). */
function untilSignal(service: string, stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (s: NodeJS.Signals) => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      process.stderr.write(`${s}: stopping the ${service}\n`);
      stop().then(
        () => resolve(0),
        (err) => {
          process.stderr.write(`error: ${service} shutdown failed: ${describeError(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

export async function runDispatcherService(env: NodeJS.ProcessEnv): Promise<number> {
  let dispatcher: Awaited<ReturnType<typeof createChainSyncDispatcher>>;
  try {
    const cfg = dispatcherConfigFromEnv(env);
    const chainSync = chainSyncConfigFromEnv(env);
    dispatcher = await createChainSyncDispatcher({ ...cfg.options, ...chainSync });
    try {
      await dispatcher.listen({ host: cfg.host, port: cfg.port });
      await dispatcher.start();
    } catch (err) {
      await dispatcher.stop().catch(() => {});
      throw err;
    }
  } catch (err) {
    return startFailure("dispatcher", err);
  }
  return await untilSignal("dispatcher", () => dispatcher.stop());
}

export async function runQueryService(env: NodeJS.ProcessEnv): Promise<number> {
  let service: Awaited<ReturnType<typeof createQueryService>>;
  let sql: Sql | undefined;
  try {
    const cfg = queryConfigFromEnv(env);
    // See connectWarm: a database that cannot be reached stops the service at start.
    sql = await connectWarm(cfg.options.databaseUrl as string, "trace-query");
    service = await createQueryService({ ...cfg.options, databaseUrl: undefined, sql });
    try {
      await service.app.listen({ host: cfg.host, port: cfg.port });
    } catch (err) {
      await service.close().catch(() => {});
      throw err;
    }
  } catch (err) {
    await sql?.end({ timeout: 1 }).catch(() => {});
    return startFailure("query service", err);
  }
  const client = sql;
  return await untilSignal("query service", async () => {
    await service.close();
    await client.end({ timeout: 5 });
  });
}

export async function runMigrate(env: NodeJS.ProcessEnv): Promise<number> {
  const url = env.DATABASE_URL;
  if (!url) {
    process.stderr.write("error: DATABASE_URL is required (postgres://user:password@host/db)\n");
    return EXIT_USAGE;
  }
  try {
    const { applied } = await migrate(url);
    process.stdout.write(
      applied.length === 0
        ? "the database is up to date (no migration to apply)\n"
        : `applied ${applied.length} migration(s): ${applied.join(", ")}\n`,
    );
    return 0;
  } catch (err) {
    // The cause chain of a connection error can quote the URL: only say what failed.
    process.stderr.write(`error: migrate failed: ${redactSecrets(describeError(err), url)}\n`);
    return 1;
  }
}

/** Removes the database URL and its password from a message, should a driver quote them. */
function redactSecrets(message: string, url: string): string {
  let out = message.split(url).join("<DATABASE_URL>");
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) out = out.split(password).join("***");
  } catch {
    // not a URL: nothing more to hide
  }
  return out;
}
