import type { FastifyInstance } from "fastify";
import { type Logger, pino } from "pino";
import { FatalError } from "../core/errors.ts";
import { DEFAULT_ORG_ID, isUuid } from "../core/ids.ts";
import { checkKeyConfig, type TokenKeyConfig } from "../core/tokens.ts";
import type { TaskRow } from "../state/index.ts";
import { connect, drainOutboxOnce, migrate, PgQueue, type Sql } from "../state/index.ts";
import { checkRetryPolicy, DEFAULT_RETRY_POLICY, type RetryPolicy } from "./backoff.ts";
import { defaultGrantsFor, type TaskGrants } from "./grants.ts";
import type { TaskOutcomeHooks } from "./hooks.ts";
import { buildHttpApp } from "./http.ts";
import {
  cancelTask,
  type LifecycleConfig,
  reapExpiredLeases,
  scheduleDueRetries,
  WAKEUP_QUEUE,
} from "./lifecycle.ts";
import { type Loop, startLoop } from "./loops.ts";

export interface DispatcherOptions {
  /** Either a URL (the dispatcher opens and closes its own pool) or a client it borrows. */
  databaseUrl?: string;
  sql?: Sql;
  /** Shared secret workers send as X-Trace-Worker-Token (>= 16 bytes). */
  workerToken: string;
  capability: TokenKeyConfig;
  orgId?: string;
  /** Lease length; heartbeats extend it by this much. Default 120 s. */
  leaseMs?: number;
  /** Whether start() runs the background loops. Default true. */
  loops?: boolean;
  /** Loop periods in ms. Defaults: outbox 200, reaper 1000, retry 1000. */
  intervals?: { outboxMs?: number; reaperMs?: number; retryMs?: number };
  retry?: RetryPolicy;
  batchSize?: number;
  /** Apply migrations when created. Default true (safe with concurrent processes). */
  migrate?: boolean;
  hooks?: TaskOutcomeHooks;
  grantsFor?: (task: TaskRow) => TaskGrants;
  wakeupQueue?: string;
  /** pino logger; default: info level to stdout. `false` silences logs. */
  logger?: Logger | false;
  /** Pool size when opening from databaseUrl. Default 10. */
  poolSize?: number;
}

export interface Dispatcher {
  app: FastifyInstance;
  sql: Sql;
  queue: PgQueue;
  /** Cancels a queued or running task (see lifecycle.cancelTask). */
  cancel(taskId: string, reason?: string): Promise<boolean>;
  /** Starts the background loops (no-op when `loops: false`). */
  start(): Promise<void>;
  /** Listens on host:port (127.0.0.1 by default; port 0 picks one) and returns the base URL. */
  listen(options?: { host?: string; port?: number }): Promise<string>;
  /** Stops loops and the HTTP server, and closes the pool if it owns it. */
  stop(): Promise<void>;
}

function positiveMs(label: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0)
    throw new FatalError(`${label} must be > 0 ms`, { category: "config" });
  return v;
}

export async function createDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  if ((options.sql === undefined) === (options.databaseUrl === undefined)) {
    throw new FatalError("pass exactly one of databaseUrl or sql", { category: "config" });
  }
  if (Buffer.byteLength(options.workerToken ?? "") < 16) {
    throw new FatalError("workerToken must be at least 16 bytes", { category: "config" });
  }
  checkKeyConfig(options.capability);
  const orgId = options.orgId ?? DEFAULT_ORG_ID;
  if (!isUuid(orgId)) throw new FatalError("orgId must be a UUID", { category: "config" });
  const leaseMs = positiveMs("leaseMs", options.leaseMs ?? 120_000);
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  checkRetryPolicy(retry);
  const outboxMs = positiveMs("intervals.outboxMs", options.intervals?.outboxMs ?? 200);
  const reaperMs = positiveMs("intervals.reaperMs", options.intervals?.reaperMs ?? 1000);
  const retryMs = positiveMs("intervals.retryMs", options.intervals?.retryMs ?? 1000);
  const batchSize = options.batchSize ?? 50;
  const log =
    options.logger === false
      ? pino({ level: "silent" })
      : (options.logger ?? pino({ name: "dispatcher" }));

  const ownsSql = options.sql === undefined;
  const sql =
    options.sql ??
    connect(options.databaseUrl!, {
      max: options.poolSize ?? 10,
      applicationName: "trace-dispatcher",
    });
  try {
    if (options.migrate !== false) await migrate(sql);
  } catch (err) {
    if (ownsSql) await sql.end({ timeout: 5 });
    throw err;
  }
  const queue = new PgQueue(sql);
  const lifecycle: LifecycleConfig = {
    leaseMs,
    retry,
    hooks: options.hooks ?? {},
    wakeupQueue: options.wakeupQueue ?? WAKEUP_QUEUE,
  };
  const app = buildHttpApp({
    sql,
    lifecycle,
    workerToken: options.workerToken,
    capability: options.capability,
    orgId,
    grantsFor: options.grantsFor ?? defaultGrantsFor,
    log,
  });

  let loops: Loop[] = [];
  let stopped = false;
  return {
    app,
    sql,
    queue,
    cancel: (taskId, reason) => cancelTask(sql, lifecycle, taskId, reason),
    async start() {
      if (options.loops === false || loops.length > 0 || stopped) return;
      loops = [
        startLoop(
          "outbox_drain",
          outboxMs,
          async () => (await drainOutboxOnce(sql, queue, { batchSize })).sent,
          log,
          batchSize,
        ),
        startLoop(
          "lease_reaper",
          reaperMs,
          () => reapExpiredLeases(sql, lifecycle, batchSize),
          log,
          batchSize,
        ),
        startLoop(
          "retry_scheduler",
          retryMs,
          () => scheduleDueRetries(sql, lifecycle, batchSize),
          log,
          batchSize,
        ),
      ];
    },
    async listen(opts = {}) {
      const host = opts.host ?? "127.0.0.1";
      const address = await app.listen({ host, port: opts.port ?? 0 });
      log.info({ event: "dispatcher.listening", address }, "dispatcher listening");
      return address;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(loops.map((l) => l.stop()));
      await app.close();
      if (ownsSql) await sql.end({ timeout: 5 });
      log.info({ event: "dispatcher.shutdown" }, "dispatcher stopped");
    },
  };
}
