import { z } from "zod";
import { parseEnv, signingKeyEnv } from "../core/env.ts";
import { checkRpcPoolSettings } from "../core/rpc-pools.ts";
import { TASK_TOKEN_DEFAULTS } from "../core/tokens.ts";
import type { DispatcherOptions } from "./dispatcher.ts";

/**
 * Dispatcher configuration from environment variables (names follow trace-rust's appendix where
 * one exists; periods are in milliseconds so tests can run fast). Secrets are read here and never
 * echoed back in errors.
 */

const capabilityKey = signingKeyEnv("TASK_CAPABILITY", TASK_TOKEN_DEFAULTS);
const ms = z.coerce.number().int().positive();
const EnvSchema = z
  .object({
    DATABASE_URL: z.string().min(1, "DATABASE_URL is required"),
    TRACE_WORKER_TOKEN: z.string().min(16, "TRACE_WORKER_TOKEN must be at least 16 bytes"),
    ...capabilityKey.shape,
    TASK_CAPABILITY_TTL_SECS: z.coerce
      .number()
      .int()
      .positive()
      .default(TASK_TOKEN_DEFAULTS.ttlSeconds),
    DISPATCHER_BIND: z
      .string()
      .regex(/^[^:]+:\d{1,5}$/, "DISPATCHER_BIND must be host:port")
      .refine((v) => Number(v.split(":")[1]) <= 65_535, "DISPATCHER_BIND port must be <= 65535")
      .default("127.0.0.1:8080"),
    ORG_ID: z
      .string()
      .regex(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        "ORG_ID must be a lowercase hyphenated UUID",
      )
      .optional(),
    TRACE_LEASE_MS: ms.default(120_000),
    TRACE_OUTBOX_POLL_MS: ms.default(200),
    TRACE_LEASE_REAPER_POLL_MS: ms.default(1000),
    TRACE_RETRY_POLL_MS: ms.default(1000),
    TRACE_RETRY_BASE_MS: z.coerce.number().int().nonnegative().default(30_000),
    TRACE_RETRY_MAX_MS: z.coerce.number().int().nonnegative().default(600_000),
    TRACE_RETRY_JITTER: z.coerce.number().min(0).lt(1).default(0.5),
    TRACE_DISPATCHER_LOOPS: z.enum(["0", "1"]).default("1"),
  })
  .refine((e) => e.TRACE_RETRY_MAX_MS >= e.TRACE_RETRY_BASE_MS, {
    message: "TRACE_RETRY_MAX_MS must be >= TRACE_RETRY_BASE_MS",
    path: ["TRACE_RETRY_MAX_MS"],
  });

export interface DispatcherEnvConfig {
  options: DispatcherOptions;
  host: string;
  port: number;
}

export function dispatcherConfigFromEnv(env: NodeJS.ProcessEnv): DispatcherEnvConfig {
  const e = parseEnv(EnvSchema, env, "dispatcher");
  // The head observer reads pool URLs from this environment: a misspelt pool setting fails here.
  checkRpcPoolSettings(env);
  const [host, port] = e.DISPATCHER_BIND.split(":") as [string, string];
  return {
    host,
    port: Number(port),
    options: {
      databaseUrl: e.DATABASE_URL,
      workerToken: e.TRACE_WORKER_TOKEN,
      capability: {
        ...capabilityKey.read(e, "dispatcher"),
        ttlSeconds: e.TASK_CAPABILITY_TTL_SECS,
      },
      orgId: e.ORG_ID,
      leaseMs: e.TRACE_LEASE_MS,
      loops: e.TRACE_DISPATCHER_LOOPS === "1",
      intervals: {
        outboxMs: e.TRACE_OUTBOX_POLL_MS,
        reaperMs: e.TRACE_LEASE_REAPER_POLL_MS,
        retryMs: e.TRACE_RETRY_POLL_MS,
      },
      retry: {
        baseMs: e.TRACE_RETRY_BASE_MS,
        maxMs: e.TRACE_RETRY_MAX_MS,
        jitter: e.TRACE_RETRY_JITTER,
      },
    },
  };
}
