import { type Logger, pino } from "pino";
import { z } from "zod";
import { parseEnv } from "../core/env.ts";
import { FatalError } from "../core/errors.ts";
import { DEFAULT_ORG_ID } from "../core/ids.ts";
import {
  createDispatcher,
  type Dispatcher,
  type DispatcherOptions,
} from "../dispatcher/dispatcher.ts";
import { WAKEUP_QUEUE } from "../dispatcher/lifecycle.ts";
import { type Loop, startLoop } from "../dispatcher/loops.ts";
import { chainSyncGrantsFor } from "./grants.ts";
import { HeadObserver } from "./head-observer.ts";
import { composeHooks } from "./hooks.ts";
import { type PlanTickResult, planOnce } from "./planner.ts";
import { registerChainSyncRoutes } from "./routes.ts";

export interface ChainSyncDispatcherOptions extends DispatcherOptions {
  /** Bearer token of the admin API (>= 16 bytes), e.g. TRACE_ADMIN_TOKEN. */
  adminToken: string;
  /** Environment holding TRACE_RPC_POOL_<POOL>_URL for the head observer. Default process.env. */
  rpcEnv?: NodeJS.ProcessEnv;
  /** Planner period. Default 1000 ms. A tick plans every stream once, then waits a full period. */
  plannerIntervalMs?: number;
  /** Head observer period (each group is still polled at most every head_poll_interval_seconds). Default 1000 ms. */
  headObserverIntervalMs?: number;
  /** max_attempts of planned tasks. Default 3. */
  taskMaxAttempts?: number;
}

export interface ChainSyncDispatcher extends Dispatcher {
  orgId: string;
  /** One planner tick now (tests, CLI "plan once"); safe alongside the loop. */
  planOnce(): Promise<PlanTickResult>;
  /** One head-observer pass now. */
  observeHeadsOnce(): Promise<number>;
}

/**
 * The dispatcher with chain_sync: range-completion hooks, per-dataset task grants, the admin API
 * on its HTTP server, and the planner + head observer loops next to the dispatcher's own ones
 * on start(). What `trace up` / `trace dispatcher` run.
 */
export async function createChainSyncDispatcher(
  options: ChainSyncDispatcherOptions,
): Promise<ChainSyncDispatcher> {
  if (Buffer.byteLength(options.adminToken ?? "") < 16) {
    throw new FatalError("adminToken must be at least 16 bytes", { category: "config" });
  }
  const plannerMs = period("plannerIntervalMs", options.plannerIntervalMs ?? 1000);
  const headMs = period("headObserverIntervalMs", options.headObserverIntervalMs ?? 1000);
  const log: Logger =
    options.logger === false
      ? pino({ level: "silent" })
      : (options.logger ?? pino({ name: "dispatcher" }));
  const orgId = options.orgId ?? DEFAULT_ORG_ID;
  const wakeupQueue = options.wakeupQueue ?? WAKEUP_QUEUE;
  const env = options.rpcEnv ?? process.env;

  const dispatcher = await createDispatcher({
    ...options,
    orgId,
    hooks: composeHooks(options.hooks),
    grantsFor: options.grantsFor ?? chainSyncGrantsFor,
  });
  registerChainSyncRoutes(dispatcher.app, {
    sql: dispatcher.sql,
    orgId,
    adminToken: options.adminToken,
    env,
    log,
    wakeupQueue,
  });
  const observer = new HeadObserver({ env, log });
  const plannerOptions = { wakeupQueue, maxAttempts: options.taskMaxAttempts ?? 3, log };
  const tickPlanner = () => planOnce(dispatcher.sql, plannerOptions);
  const tickHeads = () => observer.observeOnce(dispatcher.sql);

  let loops: Loop[] = [];
  let stopped = false;
  return {
    ...dispatcher,
    orgId,
    planOnce: tickPlanner,
    observeHeadsOnce: tickHeads,
    async start() {
      await dispatcher.start();
      if (options.loops === false || loops.length > 0 || stopped) return;
      // batchSize Infinity: a tick is never repeated back to back, so the period bounds the
      // planner's load whatever the backlog (no hot loop).
      loops = [
        startLoop(
          "chain_sync_planner",
          plannerMs,
          async () => (await tickPlanner()).scheduled,
          log,
          Number.POSITIVE_INFINITY,
        ),
        startLoop("chain_sync_head_observer", headMs, tickHeads, log, Number.POSITIVE_INFINITY),
      ];
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(loops.map((l) => l.stop()));
      await observer.close();
      await dispatcher.stop();
    },
  };
}

function period(label: string, ms: number): number {
  if (!Number.isFinite(ms) || ms < 10 || ms > 3_600_000) {
    throw new FatalError(`${label} must be in [10, 3600000] ms`, { category: "config" });
  }
  return ms;
}

const EnvSchema = z.object({
  TRACE_ADMIN_TOKEN: z.string().min(16, "TRACE_ADMIN_TOKEN must be at least 16 bytes"),
  TRACE_CHAIN_SYNC_PLANNER_MS: z.coerce.number().int().min(10).max(3_600_000).default(1000),
  TRACE_HEAD_OBSERVER_MS: z.coerce.number().int().min(10).max(3_600_000).default(1000),
  TRACE_TASK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
});

/** The chain_sync part of the dispatcher's environment; combine with dispatcherConfigFromEnv. */
export function chainSyncConfigFromEnv(
  env: NodeJS.ProcessEnv,
): Pick<
  ChainSyncDispatcherOptions,
  "adminToken" | "plannerIntervalMs" | "headObserverIntervalMs" | "taskMaxAttempts" | "rpcEnv"
> {
  const e = parseEnv(EnvSchema, env, "chain_sync");
  return {
    adminToken: e.TRACE_ADMIN_TOKEN,
    plannerIntervalMs: e.TRACE_CHAIN_SYNC_PLANNER_MS,
    headObserverIntervalMs: e.TRACE_HEAD_OBSERVER_MS,
    taskMaxAttempts: e.TRACE_TASK_MAX_ATTEMPTS,
    rpcEnv: env,
  };
}
