import { z } from "zod";
import { parseEnv, signingKeyEnv } from "../core/env.ts";
import { FatalError } from "../core/errors.ts";
import { TASK_TOKEN_DEFAULTS, USER_TOKEN_DEFAULTS } from "../core/tokens.ts";
import type { QueryServiceOptions } from "./service.ts";

/**
 * Query service configuration from the environment (`trace query-service`). Secrets are read
 * here and never echoed back in errors.
 */

const capabilityKey = signingKeyEnv("TASK_CAPABILITY", TASK_TOKEN_DEFAULTS);
const userKey = signingKeyEnv("TRACE_USER_TOKEN", USER_TOKEN_DEFAULTS);
const int = z.coerce.number().int();
const EnvSchema = z.object({
  DATABASE_URL: z.string().min(1, "DATABASE_URL is required"),
  TRACE_OBJECT_STORE: z
    .string()
    .min(1, "TRACE_OBJECT_STORE is required (s3://bucket/prefix, file:///dir or a path)"),
  ...capabilityKey.shape,
  ...userKey.shape,
  QUERY_BIND: z
    .string()
    .regex(/^[^:]+:\d{1,5}$/, "QUERY_BIND must be host:port")
    .default("127.0.0.1:8081"),
  QUERY_TIMEOUT_MS: int.min(1).max(3_600_000).default(30_000),
  QUERY_MAX_CONCURRENT: int.min(1).max(256).default(2),
  QUERY_MAX_QUEUED: int.min(0).optional(),
  QUERY_MAX_ROWS: int.min(1).max(10_000_000).default(10_000),
  QUERY_MAX_RESULT_BYTES: int.min(1).default(32 * 1024 * 1024),
  QUERY_MEMORY_LIMIT: z
    .string()
    .regex(
      /^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i,
      'QUERY_MEMORY_LIMIT must look like "512MB"',
    )
    .default("1GB"),
  QUERY_THREADS: int.min(1).max(256).default(2),
  QUERY_WARM_DATABASES: int.min(0).max(64).optional(),
  QUERY_CACHE_DIR: z.string().min(1).optional(),
  QUERY_CACHE_MAX_BYTES: int.min(1).optional(),
});

export interface QueryEnvConfig {
  options: QueryServiceOptions;
  host: string;
  port: number;
}

export function queryConfigFromEnv(env: NodeJS.ProcessEnv): QueryEnvConfig {
  const e = parseEnv(EnvSchema, env, "query service");
  const bind = e.QUERY_BIND.split(":");
  const port = Number(bind[1]);
  if (port > 65_535)
    throw new FatalError("invalid query service environment: QUERY_BIND: port must be ≤ 65535", {
      category: "config",
    });
  return {
    host: bind[0] as string,
    port,
    options: {
      databaseUrl: e.DATABASE_URL,
      objectStore: e.TRACE_OBJECT_STORE,
      capability: capabilityKey.read(e, "query service"),
      user: userKey.read(e, "query service"),
      cacheDir: e.QUERY_CACHE_DIR,
      cacheMaxBytes: e.QUERY_CACHE_MAX_BYTES,
      limits: {
        timeoutMs: e.QUERY_TIMEOUT_MS,
        maxConcurrent: e.QUERY_MAX_CONCURRENT,
        maxQueued: e.QUERY_MAX_QUEUED,
        maxRows: e.QUERY_MAX_ROWS,
        maxResultBytes: e.QUERY_MAX_RESULT_BYTES,
        memoryLimit: e.QUERY_MEMORY_LIMIT,
        threads: e.QUERY_THREADS,
        warmDatabases: e.QUERY_WARM_DATABASES,
      },
      logger: true,
    },
  };
}
