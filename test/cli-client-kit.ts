/**
 * Shared by the `trace` client-command tests (not a test file itself): a real stack in this
 * process — PostgreSQL, the chain_sync dispatcher over HTTP, a worker, the S3 test server, the
 * synthetic chain and the query service — and a runner that starts `node bin/trace.js …` as a
 * child process pointed at it through the environment, the way a user would.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { DEFAULT_ORG_ID } from "../src/core/ids.ts";
import { USER_TOKEN_DEFAULTS } from "../src/core/tokens.ts";
import { TEST_CAPABILITY } from "../src/dispatcher/testkit.ts";
import { createQueryService } from "../src/query/index.ts";
import { fixedTargetYaml, type Stack, startStack } from "../src/worker/testing/stack.ts";
import { type CliRun, runTrace } from "./support/cli.ts";

export type { CliRun };

export const ADMIN_TOKEN = "admin-token-for-worker-tests";
export const USER_SECRET = "cli-client-user-token-secret-0123456789";

export interface CliStack {
  stack: Stack;
  queryUrl: string;
  /** What the CLI needs to reach this stack (no `trace up`: TRACE_HOME is an empty folder). */
  env: Record<string, string>;
  dir: string;
  writeFile(name: string, text: string): string;
}

export async function startCliStack(label: string): Promise<CliStack> {
  const stack = await startStack({
    label,
    chain: { seed: label, chainId: 31337, length: 2_000, txsPerBlock: 4, logsPerBlock: 8 },
  });
  const query = await createQueryService({
    sql: stack.sql,
    capability: TEST_CAPABILITY,
    user: { ...USER_TOKEN_DEFAULTS, secret: USER_SECRET },
    objectStore: stack.store,
    limits: {
      timeoutMs: 20_000,
      maxConcurrent: 2,
      maxRows: 5_000,
      maxResultBytes: 16 << 20,
      memoryLimit: "256MB",
      threads: 1,
    },
  });
  const queryUrl = await query.app.listen({ host: "127.0.0.1", port: 0 });
  const dir = mkdtempSync(join(tmpdir(), `trace-${label}-`));
  // Registered after startStack's own hook: node:test runs after() hooks in order, so the
  // query service stops after the stack; it only needs the pool and store until then.
  after(async () => {
    await query.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    stack,
    queryUrl,
    dir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      TRACE_HOME: join(dir, ".trace"),
      TRACE_DISPATCHER_URL: stack.dispatcherUrl,
      TRACE_ADMIN_TOKEN: ADMIN_TOKEN,
      TRACE_QUERY_URL: queryUrl,
      TRACE_USER_TOKEN_SECRET: USER_SECRET,
      TRACE_ORG_ID: DEFAULT_ORG_ID,
    },
    writeFile(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}

/** Runs `trace <args>` as a child process (asynchronously: the stack lives in this process). */
export function trace(
  cli: CliStack,
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number; input?: string } = {},
): Promise<CliRun> {
  return runTrace(args, {
    env: { ...cli.env, ...options.env },
    cwd: cli.dir,
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}

export function syncYaml(opts: {
  name: string;
  from: number;
  to: number;
  datasets: string[];
  /** Prepended to each dataset_key (a dataset has one owning job). */
  keyPrefix?: string;
  chunk?: number;
  inflight?: number;
}): string {
  return fixedTargetYaml({ ...opts, chunk: opts.chunk ?? 100, inflight: opts.inflight ?? 2 });
}
