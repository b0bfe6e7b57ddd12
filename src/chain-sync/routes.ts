import type { FastifyInstance, FastifyReply } from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import { SpecError } from "../core/chain-sync-spec.ts";
import { describeError, errorCategory } from "../core/errors.ts";
import { SLUG_RE } from "../core/ids.ts";
import { workerTokenMatches } from "../dispatcher/auth.ts";
import type { Sql } from "../state/index.ts";
import { retryFailedRanges, setJobEnabled } from "./admin.ts";
import { applyChainSyncYaml } from "./apply.ts";
import { ApplyRejectedError, JobNotFoundError } from "./errors.ts";
import { listChainSyncDatasets } from "./grants.ts";
import { chainSyncStatus, listChainSyncStatus } from "./status.ts";

/**
 * The chain_sync admin API on the dispatcher's HTTP server, behind `Authorization: Bearer
 * <admin token>` (compared in constant time; checked before any body is looked at). The org is
 * the dispatcher's. Error bodies are `{error, problems?}`; spec problems name path and cause.
 *
 *   POST /admin/chain-sync/apply                    YAML body → ApplyResult
 *   GET  /admin/chain-sync/jobs                     → {jobs: JobStatus[]}
 *   GET  /admin/chain-sync/jobs/:name               → JobStatus
 *   POST /admin/chain-sync/jobs/:name/pause         → EnabledResult
 *   POST /admin/chain-sync/jobs/:name/resume        → EnabledResult
 *   POST /admin/chain-sync/jobs/:name/retry-failed  {dataset_key?} → RetryFailedResult
 *   GET  /admin/chain-sync/datasets                 → {datasets: ChainSyncDataset[]} (published)
 */

export const ADMIN_PREFIX = "/admin/chain-sync";
const YAML_TYPES = ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"];

export interface AdminRouteDeps {
  sql: Sql;
  orgId: string;
  adminToken: string;
  /** Environment used to warn about RPC pools without URL at apply time. */
  env?: NodeJS.ProcessEnv;
  log: Logger;
  wakeupQueue?: string;
}

const RetryBody = z
  .object({
    dataset_key: z.string().regex(SLUG_RE).optional(),
    attempts: z.number().int().min(1).max(100).optional(),
  })
  .strict();
const NameParams = z.object({ name: z.string().min(1).max(128) });

export function registerChainSyncRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  app.register(
    async (scope) => {
      scope.addContentTypeParser(YAML_TYPES, { parseAs: "string" }, (_req, body, done) =>
        done(null, body),
      );
      scope.addHook("onRequest", async (req, reply) => {
        const header = req.headers.authorization;
        const presented =
          typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : undefined;
        if (!presented) return reply.code(401).send({ error: "missing admin token" });
        if (!workerTokenMatches(deps.adminToken, presented)) {
          deps.log.warn({ event: "chain_sync.admin_token.invalid" }, "invalid admin token");
          return reply.code(401).send({ error: "invalid admin token" });
        }
      });

      scope.post("/apply", async (req, reply) => {
        if (typeof req.body !== "string" || req.body.length === 0) {
          return reply.code(400).send({ error: "send the chain_sync YAML as the request body" });
        }
        return await handle(reply, deps, async () => {
          const result = await applyChainSyncYaml(deps.sql, {
            orgId: deps.orgId,
            yaml: req.body as string,
            source: "chain_sync",
            env: deps.env,
          });
          deps.log.info(
            {
              event: "chain_sync.applied",
              job_id: result.job_id,
              created: result.created,
              changed: result.changed,
            },
            "chain_sync applied",
          );
          return result;
        });
      });

      scope.get("/jobs", async (_req, reply) =>
        handle(reply, deps, async () => ({
          jobs: await listChainSyncStatus(deps.sql, deps.orgId),
        })),
      );

      scope.get("/jobs/:name", async (req, reply) => {
        const p = NameParams.safeParse(req.params);
        if (!p.success) return reply.code(400).send({ error: "invalid job name" });
        return handle(reply, deps, () => chainSyncStatus(deps.sql, deps.orgId, p.data.name));
      });

      for (const [action, enabled] of [
        ["pause", false],
        ["resume", true],
      ] as const) {
        scope.post(`/jobs/:name/${action}`, async (req, reply) => {
          const p = NameParams.safeParse(req.params);
          if (!p.success) return reply.code(400).send({ error: "invalid job name" });
          return handle(reply, deps, async () => {
            const r = await setJobEnabled(deps.sql, deps.orgId, p.data.name, enabled);
            deps.log.info(
              { event: `chain_sync.${action}`, job_id: r.job_id, changed: r.changed },
              action,
            );
            return r;
          });
        });
      }

      scope.post("/jobs/:name/retry-failed", async (req, reply) => {
        const p = NameParams.safeParse(req.params);
        if (!p.success) return reply.code(400).send({ error: "invalid job name" });
        const b = RetryBody.safeParse(req.body ?? {});
        if (!b.success) return reply.code(400).send({ error: "invalid request body" });
        return handle(reply, deps, async () => {
          const r = await retryFailedRanges(deps.sql, deps.orgId, p.data.name, {
            datasetKey: b.data.dataset_key,
            attempts: b.data.attempts,
            wakeupQueue: deps.wakeupQueue,
          });
          deps.log.info(
            { event: "chain_sync.retry_failed", job_id: r.job_id, retried: r.retried.length },
            "failed ranges re-queued",
          );
          return r;
        });
      });

      scope.get("/datasets", async (_req, reply) =>
        handle(reply, deps, async () => ({
          datasets: await listChainSyncDatasets(deps.sql, deps.orgId),
        })),
      );
    },
    { prefix: ADMIN_PREFIX },
  );
}

async function handle<T>(reply: FastifyReply, deps: AdminRouteDeps, fn: () => Promise<T>) {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SpecError)
      return reply.code(400).send({ error: err.message, problems: err.problems });
    if (err instanceof ApplyRejectedError)
      return reply.code(409).send({ error: err.message, problems: err.problems });
    if (err instanceof JobNotFoundError) return reply.code(404).send({ error: err.message });
    // Anything else is ours: no details to the client, the category (never SQL) to the log.
    deps.log.error(
      {
        event: "chain_sync.admin.error",
        category: errorCategory(err),
        // The error text (a PostgreSQL message names the problem, never the statement).
        err: describeError(err),
        sqlstate: (err as { code?: unknown }).code,
      },
      "admin request failed",
    );
    return reply.code(500).send({ error: "internal error" });
  }
}
