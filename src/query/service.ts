import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { z } from "zod";
import { errorCategory } from "../core/errors.ts";
import {
  type DatasetGrant,
  TokenError,
  type TokenKeyConfig,
  verifyCapabilityToken,
  verifyUserToken,
} from "../core/tokens.ts";
import { UuidSchema } from "../core/types.ts";
import type { ObjectStore } from "../sink/object-store.ts";
import { openObjectStore } from "../sink/open-store.ts";
import { connect, type DatasetVersionRow, type Db, type Sql } from "../state/index.ts";
import { attachVersions, lookupVersions } from "./attach.ts";
import { writeAudit } from "./audit.ts";
import { ObjectCache } from "./cache.ts";
import { QueryBusyError, QueryError, refuse } from "./errors.ts";
import { checkSql } from "./gate.ts";
import { IdleDatabases } from "./idle.ts";
import { Limiter } from "./limiter.ts";
import { ManifestCache } from "./manifest-cache.ts";
import { DatabasePool } from "./pool.ts";
import { openLockedQuery, type SessionResult } from "./session.ts";
import { sameVersions, VersionsCache, versionsKey } from "./versions-cache.ts";

export interface QueryLimits {
  /** Execution time of one query; also the longest wait in the queue. */
  timeoutMs: number;
  maxConcurrent: number;
  /** Requests waiting for a slot beyond maxConcurrent; more are answered 429. Default 4×. */
  maxQueued?: number;
  /** Server cap on rows per response; requests ask for `limit` ≤ this (default 1000). */
  maxRows: number;
  /** Cap on serialised row bytes per response. */
  maxResultBytes: number;
  /** DuckDB memory_limit per query, e.g. "512MB". */
  memoryLimit: string;
  /** DuckDB threads per query. */
  threads: number;
  maxManifestBytes?: number;
  maxManifestObjects?: number;
  /**
   * Fresh DuckDB databases created ahead of requests (each still used by exactly one request
   * and destroyed after it). Default maxConcurrent, at most 4; 0 creates each on demand.
   */
  warmDatabases?: number;
  /**
   * Locked databases kept after a clean query for the next request of the same org over exactly
   * the same verified files (see idle.ts). Default min(maxConcurrent, 4); 0 turns reuse off.
   * Each holds up to memoryLimit of cached pages while idle.
   */
  idleDatabases?: number;
  /** An idle database unused this long is destroyed. Default 60 s. */
  idleDatabaseMs?: number;
}

export interface QueryServiceOptions {
  databaseUrl?: string;
  sql?: Sql;
  capability: TokenKeyConfig;
  user: TokenKeyConfig;
  /** The object store Trace publishes into (URL or an opened store). Without it nothing is visible. */
  objectStore?: string | ObjectStore;
  cacheDir?: string;
  cacheMaxBytes?: number;
  limits: QueryLimits;
  /** Fastify logger setting; request bodies (SQL) and headers (tokens) are never logged. */
  logger?: boolean;
}

export interface Principal {
  orgId: string;
  subject: string;
  route: "task" | "user";
  taskId?: string;
}

export interface QueryRequest {
  principal: Principal;
  grants: DatasetGrant[];
  /** Datasets to attach; all granted ones when omitted. */
  datasetIds?: string[];
  sql: string;
  limit?: number;
}

export interface QueryResponse {
  columns: { name: string; type: string }[];
  /** Rows as serialised JSON arrays (exact; see values.ts). */
  rows: string[];
  truncated: boolean;
  truncatedBy?: "rows" | "bytes";
  durationMs: number;
}

export interface QueryContext {
  sql: Db;
  store: ObjectStore | undefined;
  cache: ObjectCache;
  limiter: Limiter;
  limits: Required<QueryLimits>;
  tempRoot: string;
  /** Pre-created, never-used databases; optional (without it each is created on demand). */
  pool?: DatabasePool;
  /** Locked databases parked for reuse by identical requests; optional. */
  idle?: IdleDatabases;
  /** Verified manifests of published versions; optional (without it, read per request). */
  manifests?: ManifestCache;
  /** Last registry snapshot per dataset set, attached from while the registry is re-read. */
  versions?: VersionsCache;
}

export const DEFAULT_LIMIT = 1000;

function selectGrants(grants: DatasetGrant[], ids: string[] | undefined): DatasetGrant[] {
  if (grants.length === 0) throw refuse.notGranted();
  const wanted = ids ?? [...new Set(grants.map((g) => g.dataset_uuid))];
  return wanted.map((id) => {
    const matching = grants.filter((g) => g.dataset_uuid === id);
    if (matching.length === 0) throw refuse.notGranted();
    if (matching.length > 1) throw refuse.ambiguous();
    return matching[0] as DatasetGrant;
  });
}

/**
 * The whole query path without HTTP: grants → gate → concurrency slot → attach (verified
 * manifests) → locked DuckDB → audit. Throws QueryError / QueryBusyError with the HTTP status.
 */
export async function runQuery(ctx: QueryContext, req: QueryRequest): Promise<QueryResponse> {
  const started = performance.now();
  let datasetIds = req.datasetIds ?? [];
  try {
    const grants = selectGrants(req.grants, req.datasetIds);
    datasetIds = grants.map((g) => g.dataset_uuid);
    const gate = checkSql(req.sql);
    if (!gate.ok) throw refuse.invalidSql(gate.reason);
    const limit = Math.min(Math.max(req.limit ?? DEFAULT_LIMIT, 1), ctx.limits.maxRows);
    const release = await ctx.limiter.acquire();
    let run: OpenRun | undefined;
    let handedOff = false;
    try {
      run = await openRun(ctx, grants, req, limit);
      const result = run.result;
      const durationMs = performance.now() - started;
      try {
        await writeAudit(ctx.sql, {
          ...req.principal,
          datasetIds,
          rowCount: result.rows.length,
          durationMs,
          outcome: "ok",
        });
      } catch (err) {
        throw new QueryError(500, "audit insert failed", "audit", err);
      }
      // Answer first, tear down right after: the response is written in this tick's
      // microtasks, setImmediate runs after them. The slot stays held until the teardown is
      // done, so the cap still bounds live databases.
      const done = run;
      handedOff = true;
      setImmediate(
        () =>
          void done
            .close()
            .catch(() => {})
            .finally(release),
      );
      return { ...result, durationMs };
    } finally {
      if (!handedOff) {
        try {
          await run?.close();
        } finally {
          release();
        }
      }
    }
  } catch (err) {
    if (!(err instanceof QueryError && err.category === "audit")) {
      const denied = err instanceof QueryError && [400, 403, 413, 422, 429].includes(err.status);
      await writeAudit(ctx.sql, {
        ...req.principal,
        datasetIds: datasetIds.filter((d) => UuidSchema.safeParse(d).success),
        durationMs: performance.now() - started,
        outcome: err instanceof QueryBusyError || denied ? "denied" : "failed",
        errorCategory: errorCategory(err),
      }).catch(() => {});
    }
    throw err;
  }
}

/** A finished query whose database and pinned cache objects are still held until close(). */
interface OpenRun {
  result: SessionResult;
  close(): Promise<void>;
}

/**
 * Registry → attach → locked query. With a snapshot of the registry from an earlier request
 * (see versions-cache.ts) the registry read runs concurrently with the attach and the query,
 * and the result is kept only if the snapshot was still current.
 */
async function openRun(
  ctx: QueryContext,
  grants: DatasetGrant[],
  req: QueryRequest,
  limit: number,
): Promise<OpenRun> {
  const uuids = grants.map((g) => g.dataset_uuid);
  const key = versionsKey(uuids);
  const fresh = lookupVersions(ctx.sql, uuids);
  const guess = ctx.versions?.get(key);
  if (guess === undefined) {
    const rows = await fresh;
    ctx.versions?.set(key, rows);
    return await attachAndRun(ctx, grants, rows, req, limit);
  }
  fresh.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const speculative = await attachAndRun(ctx, grants, guess, req, limit).then(
    (run) => ({ run }),
    (error: unknown) => ({ error }),
  );
  let rows: DatasetVersionRow[];
  try {
    rows = await fresh;
  } catch (err) {
    if ("run" in speculative) await speculative.run.close().catch(() => {});
    throw err;
  }
  ctx.versions?.set(key, rows);
  if (sameVersions(rows, guess)) {
    if (ctx.versions) ctx.versions.stats.confirmed++;
    if ("run" in speculative) return speculative.run;
    throw speculative.error;
  }
  if (ctx.versions) ctx.versions.stats.rerun++;
  if ("run" in speculative) await speculative.run.close().catch(() => {});
  return await attachAndRun(ctx, grants, rows, req, limit);
}

async function attachAndRun(
  ctx: QueryContext,
  grants: DatasetGrant[],
  rows: DatasetVersionRow[],
  req: QueryRequest,
  limit: number,
): Promise<OpenRun> {
  const attached = await attachVersions(grants, rows, {
    store: ctx.store,
    cache: ctx.cache,
    limits: ctx.limits,
    ...(ctx.manifests ? { manifests: ctx.manifests } : {}),
  });
  try {
    const session = await openLockedQuery({
      views: attached.views,
      ...(attached.alias ? { alias: attached.alias } : {}),
      sql: req.sql,
      limit,
      maxResultBytes: ctx.limits.maxResultBytes,
      timeoutMs: ctx.limits.timeoutMs,
      memoryLimit: ctx.limits.memoryLimit,
      threads: ctx.limits.threads,
      tempRoot: ctx.tempRoot,
      ...(ctx.pool ? { pool: ctx.pool } : {}),
      ...(ctx.idle ? { reuse: { idle: ctx.idle, scope: req.principal.orgId } } : {}),
    });
    return {
      result: session.result,
      // The database goes first (DuckDB may hold cached files open until then), then the pins.
      async close() {
        try {
          await session.dispose();
        } finally {
          attached.release();
        }
      },
    };
  } catch (err) {
    attached.release();
    throw err;
  }
}

const BodyBase = {
  sql: z.string({ message: "sql must be a string" }),
  limit: z.number().int().min(0).max(1_000_000).optional(),
  dataset_id: UuidSchema.optional(),
  dataset_ids: z.array(UuidSchema).min(1).max(1024).optional(),
};
const UserBody = z.object(BodyBase);
const TaskBody = z.object({
  ...BodyBase,
  task_id: UuidSchema,
  attempt: z.number().int().positive(),
});

function datasetIdsOf(body: { dataset_id?: string; dataset_ids?: string[] }): string[] | undefined {
  if (body.dataset_id && body.dataset_ids)
    throw refuse.badRequest("give dataset_id or dataset_ids, not both");
  return body.dataset_id ? [body.dataset_id] : body.dataset_ids;
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path.join(".") || "body";
    throw refuse.badRequest(`invalid request: ${path}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

function sendResult(reply: FastifyReply, r: QueryResponse): FastifyReply {
  const body =
    `{"columns":${JSON.stringify(r.columns)},"rows":[${r.rows.join(",")}],` +
    `"truncated":${r.truncated}${r.truncatedBy ? `,"truncated_by":"${r.truncatedBy}"` : ""},` +
    `"row_count":${r.rows.length}}`;
  return reply.code(200).type("application/json; charset=utf-8").send(body);
}

export interface QueryService {
  app: FastifyInstance;
  context: QueryContext;
  close(): Promise<void>;
}

export async function createQueryService(opts: QueryServiceOptions): Promise<QueryService> {
  const ownSql = !opts.sql;
  if (!opts.sql && !opts.databaseUrl)
    throw new Error("createQueryService needs sql or databaseUrl");
  const sql = opts.sql ?? connect(opts.databaseUrl as string, { applicationName: "trace-query" });
  const store =
    typeof opts.objectStore === "string" ? openObjectStore(opts.objectStore) : opts.objectStore;
  const l = opts.limits;
  const limits: Required<QueryLimits> = {
    ...l,
    maxQueued: l.maxQueued ?? l.maxConcurrent * 4,
    maxManifestBytes: l.maxManifestBytes ?? 4 * 1024 * 1024,
    maxManifestObjects: l.maxManifestObjects ?? 10_000,
    warmDatabases: l.warmDatabases ?? Math.min(l.maxConcurrent, 4),
    idleDatabases: l.idleDatabases ?? Math.min(l.maxConcurrent, 4),
    idleDatabaseMs: l.idleDatabaseMs ?? 60_000,
  };
  // DuckDB spill space, private to this service instance (mkdtemp: 0700, unique): a shared
  // fixed path would be owned by whichever user created it first and refuse everyone else.
  const tempRoot = await mkdtemp(join(tmpdir(), "trace-query-"));
  const cache = new ObjectCache(
    opts.cacheDir ?? join(tmpdir(), `trace-query-cache-${process.getuid?.() ?? 0}`),
    opts.cacheMaxBytes ?? 2 * 1024 ** 3,
  );
  const context: QueryContext = {
    sql,
    store,
    cache,
    limiter: new Limiter(limits.maxConcurrent, limits.maxQueued, limits.timeoutMs),
    limits,
    tempRoot,
    manifests: new ManifestCache(),
    versions: new VersionsCache(),
    pool: new DatabasePool(
      { threads: limits.threads, memoryLimit: limits.memoryLimit, tempRoot },
      limits.warmDatabases,
    ),
    ...(limits.idleDatabases > 0
      ? { idle: new IdleDatabases(limits.idleDatabases, limits.idleDatabaseMs) }
      : {}),
  };

  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 256 * 1024 });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof QueryError || err instanceof QueryBusyError) {
      // Category only: messages of causes can carry SQL or paths.
      req.log.info({ status: err.status, category: err.category }, "query refused");
      if (err instanceof QueryBusyError) reply.header("retry-after", "1");
      return reply.code(err.status).send({ error: err.message });
    }
    if (err instanceof TokenError) return reply.code(401).send({ error: "invalid token" });
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500)
      return reply.code(status).send({ error: "invalid request body" });
    req.log.error({ category: errorCategory(err) }, "query service internal error");
    return reply.code(500).send({ error: "internal error" });
  });

  app.get("/healthz", async () => ({ ok: true }));

  app.post("/v1/task/query", async (req, reply) => {
    const header = req.headers["x-trace-task-capability"];
    if (typeof header !== "string" || header === "")
      return reply.code(401).send({ error: "missing capability token" });
    let claims: Awaited<ReturnType<typeof verifyCapabilityToken>>;
    try {
      claims = await verifyCapabilityToken(opts.capability, header);
    } catch {
      return reply.code(401).send({ error: "invalid capability token" });
    }
    const body = parseBody(TaskBody, req.body);
    if (claims.task_id !== body.task_id || claims.attempt !== body.attempt)
      return reply.code(403).send({ error: "capability does not match request" });
    const r = await runQuery(context, {
      principal: {
        orgId: claims.org_id,
        subject: claims.sub,
        route: "task",
        taskId: claims.task_id,
      },
      grants: claims.datasets,
      ...(datasetIdsOf(body) ? { datasetIds: datasetIdsOf(body) } : {}),
      sql: body.sql,
      ...(body.limit !== undefined ? { limit: body.limit } : {}),
    });
    return sendResult(reply, r);
  });

  app.post("/v1/query", async (req, reply) => {
    const header = req.headers.authorization;
    if (typeof header !== "string" || header === "")
      return reply.code(401).send({ error: "missing authorization" });
    if (!header.startsWith("Bearer "))
      return reply.code(401).send({ error: "invalid authorization" });
    let claims: Awaited<ReturnType<typeof verifyUserToken>>;
    try {
      claims = await verifyUserToken(opts.user, header.slice("Bearer ".length));
    } catch {
      return reply.code(401).send({ error: "invalid authorization" });
    }
    const body = parseBody(UserBody, req.body);
    const r = await runQuery(context, {
      principal: { orgId: claims.org_id, subject: claims.sub, route: "user" },
      grants: claims.datasets,
      ...(datasetIdsOf(body) ? { datasetIds: datasetIdsOf(body) } : {}),
      sql: body.sql,
      ...(body.limit !== undefined ? { limit: body.limit } : {}),
    });
    return sendResult(reply, r);
  });

  return {
    app,
    context,
    async close() {
      await app.close();
      await context.pool?.close();
      await context.idle?.close();
      if (ownSql) await sql.end({ timeout: 5 });
      if (typeof opts.objectStore === "string") await store?.close();
      await rm(tempRoot, { recursive: true, force: true });
    },
  };
}
