import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import { type CapabilityClaims, mintCapabilityToken, type TokenKeyConfig } from "../core/tokens.ts";
import { TaskOutcomeSchema, UuidSchema } from "../core/types.ts";
import type { Sql, TaskRow } from "../state/index.ts";
import { checkCapability, workerTokenMatches } from "./auth.ts";
import type { TaskGrants } from "./grants.ts";
import { claimTask, completeTask, heartbeatTask, type LifecycleConfig } from "./lifecycle.ts";

/**
 * The dispatcher's HTTP contract (trace-rust §1.2, hardened per §7/§9): every error body is
 * `{error: "<static message>"}`; authentication runs before the body is looked at; tokens and
 * bodies are never logged.
 */

export interface HttpDeps {
  sql: Sql;
  lifecycle: LifecycleConfig;
  workerToken: string;
  capability: TokenKeyConfig;
  orgId: string;
  grantsFor: (task: TaskRow) => TaskGrants;
  log: Logger;
  bodyLimit?: number;
}

const ClaimBody = z.object({
  task_id: UuidSchema,
  worker_id: z.string().min(1).max(128).optional(),
});

const FenceBody = z.object({
  task_id: UuidSchema,
  attempt: z.number().int().positive().max(1_000_000),
  lease_token: UuidSchema,
});

const CompleteBody = FenceBody.extend({
  outcome: TaskOutcomeSchema,
  datasets_published: z.array(z.unknown()).max(64).default([]),
  error: z
    .object({
      category: z.string().regex(/^[a-z0-9_.-]{1,64}$/),
      message: z.string().max(64 * 1024),
    })
    .optional(),
});

const fail = (reply: FastifyReply, status: number, error: string) =>
  reply.code(status).send({ error });

export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Per-request logs would carry URLs of every heartbeat; events are logged explicitly.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
  });

  // Framework-level rejections (bad JSON, wrong content type, too large) get the same shape.
  app.setErrorHandler((err: { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status === 413) return fail(reply, 413, "request body too large");
    if (status === 415) return fail(reply, 415, "unsupported content type");
    if (status >= 400 && status < 500) return fail(reply, 400, "invalid request body");
    deps.log.error({ event: "dispatcher.internal_error", code: err.code }, "internal error");
    return fail(reply, 500, "internal error");
  });
  app.setNotFoundHandler((_req, reply) => fail(reply, 404, "not found"));

  app.get("/healthz", async (_req, reply) => {
    try {
      await deps.sql`SELECT 1`;
      return { ok: true };
    } catch {
      return fail(reply, 503, "state database unavailable");
    }
  });

  app.post("/internal/task-claim", async (req, reply) => {
    const presented = req.headers["x-trace-worker-token"];
    if (typeof presented !== "string" || presented.length === 0) {
      return fail(reply, 401, "missing worker token");
    }
    if (!workerTokenMatches(deps.workerToken, presented)) {
      deps.log.warn({ event: "dispatcher.worker_token.invalid" }, "invalid worker token");
      return fail(reply, 401, "invalid worker token");
    }
    const body = ClaimBody.safeParse(req.body);
    if (!body.success) return fail(reply, 400, "invalid request body");
    const result = await claimTask(
      deps.sql,
      deps.lifecycle,
      body.data.task_id,
      body.data.worker_id ?? null,
    );
    switch (result.kind) {
      case "not_found":
        return fail(reply, 404, "task not found");
      case "leased":
        return fail(reply, 409, "task already leased");
      case "not_due":
        return fail(reply, 409, "task retry not due yet");
      case "not_claimable":
        return fail(reply, 409, "task not claimable");
    }
    const task = result.task;
    // If signing fails the lease stays held and expires; the reaper turns it into a retry.
    const capabilityToken = await mintCapabilityToken(deps.capability, {
      org_id: deps.orgId,
      task_id: task.task_id,
      attempt: task.attempt,
      ...deps.grantsFor(task),
    });
    return {
      task_id: task.task_id,
      attempt: task.attempt,
      lease_token: task.lease_token,
      lease_expires_at: task.lease_expires_at?.toISOString(),
      capability_token: capabilityToken,
      work_payload: task.payload,
    };
  });

  /**
   * A fenced call's body and capability, checked in this order: a missing or invalid token is
   * 401 whatever the body, then a bad body 400, then a token for another task or attempt 403.
   * Undefined when the reply has been sent.
   */
  async function authorizedTask<S extends typeof FenceBody>(
    req: FastifyRequest,
    reply: FastifyReply,
    schema: S,
  ): Promise<{ body: z.infer<S>; claims: CapabilityClaims } | undefined> {
    const body = schema.safeParse(req.body);
    const auth = await checkCapability(
      deps.capability,
      req.headers["x-trace-task-capability"],
      body.success ? body.data : { task_id: "", attempt: -1 },
    );
    if (!auth.ok && auth.status === 401) return void fail(reply, 401, auth.error);
    if (!body.success) return void fail(reply, 400, "invalid request body");
    if (!auth.ok) return void fail(reply, auth.status, auth.error);
    return { body: body.data, claims: auth.claims };
  }

  app.post("/v1/task/heartbeat", async (req, reply) => {
    const checked = await authorizedTask(req, reply, FenceBody);
    if (!checked) return reply;
    const { body: b, claims } = checked;
    const fence = { taskId: b.task_id, attempt: b.attempt, leaseToken: b.lease_token };
    const expires = await heartbeatTask(deps.sql, deps.lifecycle, fence);
    if (!expires) return fail(reply, 409, "stale task fence");
    // A fresh capability token, so a task that heartbeats can outlive one token's TTL.
    const capabilityToken = await mintCapabilityToken(deps.capability, {
      org_id: claims.org_id,
      task_id: claims.task_id,
      attempt: claims.attempt,
      datasets: claims.datasets,
      s3: claims.s3,
    });
    return { lease_expires_at: expires.toISOString(), capability_token: capabilityToken };
  });

  app.post("/v1/task/complete", async (req, reply) => {
    const checked = await authorizedTask(req, reply, CompleteBody);
    if (!checked) return reply;
    const b = checked.body;
    if (b.outcome !== "success" && !b.error) {
      return fail(reply, 400, "failure outcome requires an error category and message");
    }
    const result = await completeTask(deps.sql, deps.lifecycle, {
      taskId: b.task_id,
      attempt: b.attempt,
      leaseToken: b.lease_token,
      outcome: b.outcome,
      publications: b.datasets_published,
      error: b.error,
    });
    switch (result.kind) {
      case "not_found":
        return fail(reply, 404, "task not found");
      case "stale":
        return fail(reply, 409, "stale task fence");
      case "invalid":
        return fail(reply, 422, result.error);
      case "conflict":
        return fail(reply, 409, result.error);
    }
    deps.log.info(
      {
        event: "dispatcher.task.completed",
        task_id: b.task_id,
        attempt: b.attempt,
        status: result.status,
      },
      "task attempt ended",
    );
    return {
      task_id: b.task_id,
      attempt: b.attempt,
      status: result.status,
      ...(result.created === undefined ? {} : { registered: result.created }),
      ...(result.nextAttemptAt ? { next_attempt_at: result.nextAttemptAt.toISOString() } : {}),
    };
  });

  return app;
}
