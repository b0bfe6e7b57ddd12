import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ensureDirSync } from "../core/dirs.ts";
import { TASK_TOKEN_DEFAULTS, type TokenKeyConfig, USER_TOKEN_DEFAULTS } from "../core/tokens.ts";
import { UsageError } from "./usage.ts";

/**
 * The local state directory of `trace up` (default `./.trace`, or `TRACE_HOME`) and the two files
 * through which the other commands (`apply`, `status`, `query`, …) find a running local stack:
 *
 * - `secrets.json` (0600): generated once and kept, so that tokens, leases and jobs survive a
 *   restart — worker token, task-capability secret, admin token, dev user-token secret, org id.
 * - `stack.json` (0600): written by a running `trace up` (its pid and loopback URLs), removed when
 *   it stops. A file whose pid is not alive is stale.
 *
 * Production layouts never need these files: every command also takes its settings from the
 * environment (TRACE_DISPATCHER_URL, TRACE_ADMIN_TOKEN, TRACE_QUERY_URL, TRACE_USER_TOKEN_SECRET…).
 */

export function traceHome(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env.TRACE_HOME ?? ".trace");
}

const SecretsSchema = z
  .object({
    version: z.literal(1),
    org_id: z.string().uuid(),
    worker_token: z.string().min(16),
    capability_secret: z.string().min(32),
    admin_token: z.string().min(16),
    user_token_secret: z.string().min(32),
    /** Password of the embedded PostgreSQL's superuser (absent in files from before it). */
    postgres_password: z.string().min(16).optional(),
  })
  .strict();
export type LocalSecrets = z.infer<typeof SecretsSchema>;

const StackSchema = z
  .object({
    version: z.literal(1),
    pid: z.number().int().positive(),
    started_at: z.string(),
    dispatcher_url: z.string().url(),
    query_url: z.string().url(),
    database_url_redacted: z.string(),
    object_store: z.string(),
    workers: z.number().int().nonnegative(),
  })
  .strict();
export type LocalStack = z.infer<typeof StackSchema>;

/** Reads `secrets.json`, creating it (with fresh random secrets) the first time. */
export function loadOrCreateSecrets(home: string): LocalSecrets {
  const existing = readSecrets(home);
  if (existing?.postgres_password) return existing;
  if (existing) {
    // An older file: add the embedded PostgreSQL password, keep every other secret.
    const upgraded = { ...existing, postgres_password: randomBytes(18).toString("base64url") };
    writePrivateJson(join(home, "secrets.json"), upgraded);
    return upgraded;
  }
  const secrets: LocalSecrets = {
    version: 1,
    org_id: randomUUID(),
    worker_token: randomBytes(24).toString("base64url"),
    capability_secret: randomBytes(32).toString("base64url"),
    admin_token: randomBytes(24).toString("base64url"),
    user_token_secret: randomBytes(32).toString("base64url"),
    postgres_password: randomBytes(18).toString("base64url"),
  };
  writePrivateJson(join(home, "secrets.json"), secrets);
  return secrets;
}

export function readSecrets(home: string): LocalSecrets | undefined {
  return readJson(join(home, "secrets.json"), SecretsSchema);
}

export function writeStack(home: string, stack: LocalStack): void {
  writePrivateJson(join(home, "stack.json"), stack);
}

export function removeStack(home: string): void {
  rmSync(join(home, "stack.json"), { force: true });
}

/** The running local stack, or undefined when none runs (a stale file's pid is not alive). */
export function readRunningStack(home: string): LocalStack | undefined {
  const stack = readJson(join(home, "stack.json"), StackSchema);
  if (!stack) return undefined;
  return isAlive(stack.pid) ? stack : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function capabilityKey(secrets: LocalSecrets): TokenKeyConfig {
  return { ...TASK_TOKEN_DEFAULTS, secret: secrets.capability_secret };
}

export function userKey(secrets: LocalSecrets): TokenKeyConfig {
  return { ...USER_TOKEN_DEFAULTS, secret: secrets.user_token_secret };
}

/** Where a client command reaches the dispatcher's admin API: env first, then a running `trace up`. */
export function adminEndpoint(
  env: NodeJS.ProcessEnv = process.env,
  home = traceHome(env),
): { url: string; token: string } {
  if (env.TRACE_DISPATCHER_URL || env.TRACE_ADMIN_TOKEN) {
    if (!env.TRACE_DISPATCHER_URL || !env.TRACE_ADMIN_TOKEN)
      throw new UsageError("set both TRACE_DISPATCHER_URL and TRACE_ADMIN_TOKEN, or neither");
    return { url: env.TRACE_DISPATCHER_URL, token: env.TRACE_ADMIN_TOKEN };
  }
  const stack = readRunningStack(home);
  const secrets = readSecrets(home);
  if (!stack || !secrets)
    throw new UsageError(
      `no running local stack under ${home}: start one with \`trace up\` (or set TRACE_DISPATCHER_URL and TRACE_ADMIN_TOKEN)`,
    );
  return { url: stack.dispatcher_url, token: secrets.admin_token };
}

/**
 * Where `trace query` reaches the query service and how it mints a dev user token: env first
 * (TRACE_QUERY_URL, TRACE_USER_TOKEN_SECRET, TRACE_ORG_ID), then a running `trace up`.
 */
export function queryEndpoint(
  env: NodeJS.ProcessEnv = process.env,
  home = traceHome(env),
): { url: string; userKey: TokenKeyConfig; orgId: string } {
  if (env.TRACE_QUERY_URL || env.TRACE_USER_TOKEN_SECRET) {
    if (!env.TRACE_QUERY_URL || !env.TRACE_USER_TOKEN_SECRET || !env.TRACE_ORG_ID)
      throw new UsageError(
        "set TRACE_QUERY_URL, TRACE_USER_TOKEN_SECRET and TRACE_ORG_ID together, or none of them",
      );
    return {
      url: env.TRACE_QUERY_URL,
      userKey: { ...USER_TOKEN_DEFAULTS, secret: env.TRACE_USER_TOKEN_SECRET },
      orgId: env.TRACE_ORG_ID,
    };
  }
  const stack = readRunningStack(home);
  const secrets = readSecrets(home);
  if (!stack || !secrets)
    throw new UsageError(
      `no running local stack under ${home}: start one with \`trace up\` (or set TRACE_QUERY_URL, TRACE_USER_TOKEN_SECRET and TRACE_ORG_ID)`,
    );
  return { url: stack.query_url, userKey: userKey(secrets), orgId: secrets.org_id };
}

function readJson<T>(path: string, schema: z.ZodType<T>): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not valid JSON; remove it to start over`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success)
    throw new UsageError(
      `${path} is malformed (${result.error.issues[0]?.path.join(".") || "root"}: ${result.error.issues[0]?.message}); remove it to start over`,
    );
  return result.data;
}

function writePrivateJson(path: string, value: unknown): void {
  const dir = resolve(path, "..");
  ensureDirSync(dir, 0o700);
  // Nobody else may list or write the directory. Search (x) bits are kept: run as root, the
  // embedded PostgreSQL runs as user `postgres` and must traverse it to reach its data dir;
  // the files themselves are 0600.
  chmodSync(dir, statSync(dir).mode & 0o711);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
