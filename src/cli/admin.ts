import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ChainSyncAdminClient, ChainSyncAdminError } from "../chain-sync/client.ts";
import { parseChainSyncYaml, SpecError } from "../core/chain-sync-spec.ts";
import { FatalError, RetryableError } from "../core/errors.ts";
import { connectionError } from "./connection.ts";
import { adminEndpoint } from "./local-stack.ts";
import { parsePositive, UsageError } from "./usage.ts";

/**
 * The chain_sync admin API as the client commands use it: endpoint from the environment or a
 * running `trace up` (local-stack.ts), and every failure turned into a message that says what
 * went wrong and what to check.
 */
export interface AdminSession {
  url: string;
  call<T>(fn: (client: ChainSyncAdminClient) => Promise<T>): Promise<T>;
}

export function adminSession(env: NodeJS.ProcessEnv = process.env): AdminSession {
  const endpoint = adminEndpoint(env);
  return adminSessionFor(endpoint);
}

export function adminSessionFor(endpoint: { url: string; token: string }): AdminSession {
  const client = new ChainSyncAdminClient(endpoint.url, endpoint.token);
  return {
    url: endpoint.url,
    async call(fn) {
      try {
        return await fn(client);
      } catch (err) {
        throw describeAdminError(err, endpoint.url);
      }
    },
  };
}

export function describeAdminError(err: unknown, url: string): Error {
  if (err instanceof ChainSyncAdminError) {
    if (err.status === 401)
      return new FatalError(
        `the dispatcher at ${url} refused the admin token (${err.message}): check TRACE_ADMIN_TOKEN, or that it is the dispatcher of your \`trace up\``,
        { category: "unauthorized", cause: err },
      );
    if (err.status >= 500)
      return new RetryableError(
        `the dispatcher at ${url} failed (HTTP ${err.status}): ${err.message}`,
        {
          category: "dispatcher_error",
          cause: err,
        },
      );
    const problems = err.problems.filter((p) => !err.message.includes(p));
    const detail = problems.length ? `\n${problems.map((p) => `  - ${p}`).join("\n")}` : "";
    return new FatalError(`${err.message}${detail}`, {
      category: err.status === 404 ? "not_found" : "rejected",
      cause: err,
    });
  }
  return connectionError(
    err,
    `the dispatcher at ${url}`,
    "is `trace up` or `trace dispatcher` running? TRACE_DISPATCHER_URL overrides the address",
  );
}

/**
 * The name of a job given by name or id (`trace status --job`, `trace pause <job>` …): the admin
 * API addresses jobs by name, so an id is looked up among the org's jobs.
 */
export async function resolveJobName(session: AdminSession, nameOrId: string): Promise<string> {
  if (!UUID_RE.test(nameOrId)) return nameOrId;
  const jobs = await session.call((c) => c.list());
  const byId = jobs.find((j) => j.job_id === nameOrId.toLowerCase());
  if (byId) return byId.name;
  // A job may also be named like a UUID.
  if (jobs.some((j) => j.name === nameOrId)) return nameOrId;
  throw new FatalError(`chain_sync job not found: ${nameOrId}`, { category: "not_found" });
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads and validates a chain_sync YAML file before anything is sent. */
export function readSpecFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "it is a directory, not a YAML file"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : (err as Error).message;
    throw new UsageError(`cannot read ${path}: ${why}`);
  }
  try {
    parseChainSyncYaml(text, path);
  } catch (err) {
    if (err instanceof SpecError)
      throw new UsageError(
        `${path} is not a valid chain_sync spec:\n${err.problems.map((p) => `  - ${p}`).join("\n")}`,
      );
    throw err;
  }
  return text;
}

/** `trace apply`, `trace pause`, `trace resume`, `trace retry-failed`. */
export function registerAdminCommands(program: Command): void {
  program
    .command("apply")
    .description("create or update a chain_sync job from a YAML file")
    .argument("<file>", "chain_sync YAML")
    .option("--json", "print the dispatcher's answer as JSON")
    .action(async (file: string, flags: { json?: boolean }) => {
      const yaml = readSpecFile(file);
      const session = adminSession();
      const r = await session.call((c) => c.apply(yaml));
      if (flags.json) return void process.stdout.write(`${JSON.stringify(r)}\n`);
      const what = r.created ? "created" : r.changed ? "updated" : "unchanged";
      const lines = [`job ${r.name} ${what} (${r.job_id})`];
      for (const c of r.changes) lines.push(`  ${c}`);
      for (const w of r.warnings) lines.push(`  warning: ${w}`);
      if (r.created || r.changed) lines.push("follow it with `trace status --watch`");
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  for (const [action, enabled] of [
    ["pause", false],
    ["resume", true],
  ] as const) {
    program
      .command(action)
      .description(
        enabled
          ? "resume planning of a paused chain_sync job (continues from its cursor)"
          : "stop planning new ranges of a chain_sync job (ranges in flight finish)",
      )
      .argument("<job>", "job name or id")
      .action(async (job: string) => {
        const session = adminSession();
        const name = await resolveJobName(session, job);
        const r = await session.call((c) => (enabled ? c.resume(name) : c.pause(name)));
        const state = enabled ? "resumed" : "paused";
        process.stdout.write(
          r.changed ? `job ${r.name} ${state}\n` : `job ${r.name} was already ${state}\n`,
        );
      });
  }

  program
    .command("retry-failed")
    .description("re-queue the failed ranges of a chain_sync job")
    .argument("<job>", "job name or id")
    .option("--dataset <key>", "only this stream (dataset_key)")
    .option("--attempts <n>", "attempts the new cycle gets (default 3)", parsePositive)
    .action(async (job: string, flags: { dataset?: string; attempts?: number }) => {
      const session = adminSession();
      const name = await resolveJobName(session, job);
      if (flags.dataset) {
        const status = await session.call((c) => c.status(name));
        const keys = status.streams.map((s) => s.dataset_key);
        if (!keys.includes(flags.dataset))
          throw new UsageError(
            `job ${name} has no stream "${flags.dataset}": its streams are ${keys.join(", ") || "(none)"}`,
          );
      }
      const r = await session.call((c) =>
        c.retryFailed(name, { datasetKey: flags.dataset, attempts: flags.attempts }),
      );
      if (r.retried.length === 0) {
        process.stdout.write(
          `no failed ranges in job ${r.name}${flags.dataset ? ` (stream ${flags.dataset})` : ""}\n`,
        );
        return;
      }
      const lines = [`re-queued ${r.retried.length} failed range(s) of job ${r.name}:`];
      for (const x of r.retried)
        lines.push(
          `  ${x.dataset_key} [${x.range_start}, ${x.range_end}) attempt ${x.attempt} (task ${x.task_id})`,
        );
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
