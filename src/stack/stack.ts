import { chmodSync, existsSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Logger, pino } from "pino";
import { type ChainSyncDispatcher, createChainSyncDispatcher } from "../chain-sync/index.ts";
import {
  capabilityKey,
  type LocalSecrets,
  loadOrCreateSecrets,
  removeStack,
  userKey,
  writeStack,
} from "../cli/local-stack.ts";
import { ensureDirSync } from "../core/dirs.ts";
import { describeError } from "../core/errors.ts";
import { createQueryService, type QueryLimits, type QueryService } from "../query/index.ts";
import { type ObjectStore, openObjectStore } from "../sink/index.ts";
import { connect, migrate, type Sql } from "../state/index.ts";
import { createWorker, type Worker } from "../worker/index.ts";
import { acquireHomeLock, type HomeLock } from "./lock.ts";
import { checkPortFree, isAddressInUse, PortInUseError } from "./ports.ts";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./postgres.ts";

/**
 * The whole of Trace in one process on loopback ports — what `trace up` and `trace demo` run:
 * PostgreSQL (embedded, data under `<home>/pg`, unless DATABASE_URL is set), migrations, the
 * chain_sync dispatcher, N in-process workers and the query service. Secrets come from
 * `<home>/secrets.json`; `<home>/stack.json` tells the client commands where it listens.
 */

export const DEFAULT_DISPATCHER_PORT = 7420;
export const DEFAULT_QUERY_PORT = 7421;

export interface LocalStackOptions {
  home: string;
  /** DATABASE_URL, TRACE_OBJECT_STORE, TRACE_RPC_POOL_<POOL>_URL, AWS_*. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** 0 picks a free port. Defaults 7420 / 7421. */
  dispatcherPort?: number;
  queryPort?: number;
  /** How to choose another port, quoted in the "port in use" error (e.g. the flag and env). */
  portHints?: { dispatcher?: string; query?: string };
  /** In-process workers (default 2) and tasks each runs at once (default 2). */
  workers?: number;
  workerConcurrency?: number;
  /** Blocks each extraction fetches ahead (default: the engine's, 40). */
  maxBlocksInFlight?: number;
  /** fsync of the embedded PostgreSQL (default true; the demo's throwaway home turns it off). */
  durable?: boolean;
  /** Where the services' JSON logs go; default `<home>/trace.log`; false drops them. */
  logFile?: string | false;
  plannerIntervalMs?: number;
  queryLimits?: Partial<QueryLimits>;
}

export interface RunningLocalStack {
  home: string;
  dispatcherUrl: string;
  queryUrl: string;
  databaseUrlRedacted: string;
  /** True when PostgreSQL is the embedded one (false: DATABASE_URL). */
  embeddedPostgres: boolean;
  postgresPid: number | undefined;
  objectStore: string;
  workers: number;
  logFile: string | undefined;
  secrets: LocalSecrets;
  /** Stops workers (letting running tasks finish briefly), dispatcher, query service, PostgreSQL. */
  stop(options?: { workerDeadlineMs?: number }): Promise<void>;
}

const DEFAULT_QUERY_LIMITS: QueryLimits = {
  timeoutMs: 30_000,
  maxConcurrent: 2,
  maxRows: 10_000,
  maxResultBytes: 32 * 1024 * 1024,
  memoryLimit: "1GB",
  threads: 2,
  warmDatabases: 1,
};

export async function startLocalStack(options: LocalStackOptions): Promise<RunningLocalStack> {
  const env = options.env ?? process.env;
  const home = options.home;
  const dispatcherPort = options.dispatcherPort ?? DEFAULT_DISPATCHER_PORT;
  const queryPort = options.queryPort ?? DEFAULT_QUERY_PORT;
  const workerCount = options.workers ?? 2;
  const workerConcurrency = options.workerConcurrency ?? 2;
  if (dispatcherPort !== 0 && dispatcherPort === queryPort)
    throw new PortInUseError(
      "query service",
      queryPort,
      "the dispatcher and the query service need different ports",
    );

  if (!existsSync(home)) {
    ensureDirSync(home, 0o700);
    // Others may not list or write a new home; as root, the `postgres` user must traverse it.
    // An existing directory keeps its mode (it may be a folder the user chose with --home).
    if (userInfo().uid === 0) chmodSync(home, 0o711);
  }
  const lock: HomeLock = acquireHomeLock(home);

  // Everything started so far, stopped in reverse order if a later step fails.
  const undo: (() => Promise<void> | void)[] = [() => lock.release()];
  const unwind = async () => {
    for (const u of undo.reverse()) await Promise.resolve(u()).catch(() => {});
  };
  try {
    // Cheap checks first, so a taken port fails before PostgreSQL starts.
    await checkPortFree("dispatcher", dispatcherPort, options.portHints?.dispatcher);
    await checkPortFree("query service", queryPort, options.portHints?.query);

    const secrets = loadOrCreateSecrets(home);
    const logFile =
      options.logFile === false ? undefined : (options.logFile ?? join(home, "trace.log"));
    const logger: Logger | false = logFile
      ? pino(
          { name: "trace" },
          pino.destination({ dest: logFile, mkdir: true, sync: true, mode: 0o600 }),
        )
      : false;

    let database: EmbeddedDatabase | undefined;
    let databaseUrl = env.DATABASE_URL;
    let databaseUrlRedacted = databaseUrl ? redactDatabaseUrl(databaseUrl) : "";
    if (!databaseUrl) {
      database = await startEmbeddedPostgres({
        dir: join(home, "pg"),
        password: secrets.postgres_password as string,
        durable: options.durable,
        onLog: logger ? (line) => logger.info({ component: "postgres" }, line.trim()) : undefined,
      });
      const db = database;
      undo.push(() => db.stop());
      databaseUrl = db.url;
      databaseUrlRedacted = db.redactedUrl;
    }
    await migrate(databaseUrl);

    const objectStore = env.TRACE_OBJECT_STORE || pathToFileURL(join(home, "objects")).href;
    const store: ObjectStore = openObjectStore(objectStore, { env });
    undo.push(() => store.close());

    const dispatcher: ChainSyncDispatcher = await createChainSyncDispatcher({
      databaseUrl,
      workerToken: secrets.worker_token,
      capability: capabilityKey(secrets),
      orgId: secrets.org_id,
      adminToken: secrets.admin_token,
      rpcEnv: env,
      plannerIntervalMs: options.plannerIntervalMs ?? 500,
      // The migrations ran above; local retries back off in seconds rather than minutes.
      migrate: false,
      retry: { baseMs: 2_000, maxMs: 60_000, jitter: 0.5 },
      logger: logger ? logger.child({ component: "dispatcher" }) : false,
    });
    undo.push(() => dispatcher.stop());
    const dispatcherUrl = await listenOrExplain(
      () => dispatcher.listen({ host: "127.0.0.1", port: dispatcherPort }),
      "dispatcher",
      dispatcherPort,
      options.portHints?.dispatcher,
    );
    await dispatcher.start();

    const querySql = await connectWarm(databaseUrl, "trace-query");
    undo.push(() => querySql.end({ timeout: 5 }));
    const query: QueryService = await createQueryService({
      sql: querySql,
      capability: capabilityKey(secrets),
      user: userKey(secrets),
      objectStore: store,
      cacheDir: join(home, "query-cache"),
      limits: { ...DEFAULT_QUERY_LIMITS, ...options.queryLimits },
      logger: false,
    });
    undo.push(() => query.close());
    const queryUrl = await listenOrExplain(
      () => query.app.listen({ host: "127.0.0.1", port: queryPort }),
      "query service",
      queryPort,
      options.portHints?.query,
    );

    const workers: Worker[] = [];
    for (let i = 0; i < workerCount; i++) {
      const worker = createWorker({
        dispatcherUrl,
        workerToken: secrets.worker_token,
        queue: { databaseUrl },
        objectStoreUrl: objectStore,
        concurrency: workerConcurrency,
        extractOptions:
          options.maxBlocksInFlight === undefined
            ? undefined
            : { maxBlocksInFlight: options.maxBlocksInFlight },
        env,
        logger: logger ? logger.child({ component: "worker", worker: i }) : false,
      });
      workers.push(worker);
      undo.push(() => worker.stop({ deadlineMs: 5_000 }));
      await worker.start();
    }

    writeStack(home, {
      version: 1,
      pid: process.pid,
      started_at: new Date().toISOString(),
      dispatcher_url: dispatcherUrl,
      query_url: queryUrl,
      database_url_redacted: databaseUrlRedacted,
      object_store: objectStore,
      workers: workerCount,
    });

    let stopping: Promise<void> | undefined;
    return {
      home,
      dispatcherUrl,
      queryUrl,
      databaseUrlRedacted,
      embeddedPostgres: database !== undefined,
      postgresPid: database?.pid,
      objectStore,
      workers: workerCount,
      logFile,
      secrets,
      stop(stopOptions = {}) {
        stopping ??= (async () => {
          const deadlineMs = stopOptions.workerDeadlineMs ?? 10_000;
          // Workers first (they finish or cleanly abort their tasks through the dispatcher),
          // then the dispatcher, the query service, the store, PostgreSQL, and the files.
          const errors: unknown[] = [];
          const settle = async (p: Promise<unknown>) => {
            try {
              await p;
            } catch (err) {
              errors.push(err);
            }
          };
          await Promise.all(workers.map((w) => settle(w.stop({ deadlineMs }))));
          await settle(dispatcher.stop());
          await settle(query.close());
          await settle(querySql.end({ timeout: 5 }));
          await settle(store.close());
          if (database) await settle(database.stop());
          removeStack(home);
          lock.release();
          if (logger) logger.flush();
          if (errors.length > 0)
            throw new Error(`stopping the stack: ${errors.map(describeError).join("; ")}`);
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

async function listenOrExplain(
  listen: () => Promise<string>,
  service: string,
  port: number,
  hint: string | undefined,
): Promise<string> {
  try {
    const address = await listen();
    return address.replace("://localhost", "://127.0.0.1");
  } catch (err) {
    if (isAddressInUse(err)) throw new PortInUseError(service, port, hint);
    throw err;
  }
}

/** A database URL without its password (and query string), for display. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    u.search = "";
    return u.toString();
  } catch {
    return "<invalid DATABASE_URL>";
  }
}

/**
 * A client whose first query has completed, so that an unreachable or misconfigured database
 * stops a service at start instead of failing its first request. (Array parameters are typed
 * explicitly — see uuidArray in src/state/connect.ts — so a cold client is also correct.)
 */
export async function connectWarm(databaseUrl: string, applicationName: string): Promise<Sql> {
  const sql = connect(databaseUrl, { applicationName });
  try {
    await sql`SELECT 1`;
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw err;
  }
  return sql;
}
