import { userInfo } from "node:os";
import { datasetViewGrants } from "../chain-sync/grants.ts";
import { FatalError, RetryableError } from "../core/errors.ts";
import { isUuid } from "../core/ids.ts";
import { type DatasetGrant, mintUserToken, type TokenKeyConfig } from "../core/tokens.ts";
import { adminSessionFor } from "./admin.ts";
import { connectionError } from "./connection.ts";
import { parseExactJson } from "./exact-json.ts";
import type { QueryResult } from "./format.ts";
import { UsageError } from "./usage.ts";

/** Lifetime of the dev token `trace query` mints for one request. */
const DEV_TOKEN_TTL_SECONDS = 120;

export interface RunQueryOptions {
  query: { url: string; userKey: TokenKeyConfig; orgId: string };
  admin: { url: string; token: string };
  sql: string;
  /** Dataset keys (as in the chain_sync YAML) to query; every published one when omitted. */
  datasets?: string[];
  /** Rows to ask for (the service caps it); the service default when omitted. */
  limit?: number;
}

/**
 * One query through the query service, as a local developer: the org's published chain_sync
 * datasets come from the admin API, a short-lived user token granting them (or the `datasets`
 * asked for) is signed with the dev user-token secret, and POST /v1/query runs the SQL. Each
 * dataset is a view named by its dataset_key.
 */
export async function runQuery(opts: RunQueryOptions): Promise<QueryResult> {
  if (!isUuid(opts.query.orgId))
    throw new UsageError(
      `the org id must be a lowercase UUID (TRACE_ORG_ID), got "${opts.query.orgId}"`,
    );
  const published = await adminSessionFor(opts.admin).call((c) => c.datasets());
  const grants = selectGrants(viewGrants(published), opts.datasets);
  const token = await mintUserToken(
    { ...opts.query.userKey, ttlSeconds: DEV_TOKEN_TTL_SECONDS },
    `dev:${devUser()}`,
    {
      org_id: opts.query.orgId,
      datasets: grants,
      s3: { read_prefixes: [], write_prefixes: [] },
    },
  );
  const url = `${opts.query.url.replace(/\/+$/, "")}/v1/query`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        sql: opts.sql,
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      }),
    });
  } catch (err) {
    throw connectionError(
      err,
      `the query service at ${opts.query.url}`,
      "is `trace up` or `trace query-service` running? TRACE_QUERY_URL overrides the address",
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = parseExactJson(text);
  } catch {
    throw new FatalError(
      `the query service at ${opts.query.url} answered ${res.status} with a non-JSON body`,
      { category: "bad_response" },
    );
  }
  if (!res.ok) throw queryRefused(res.status, body, opts.query.url);
  return toResult(body);
}

/** The view name of each dataset, as the server names them (shared with src/chain-sync). */
export const viewGrants = datasetViewGrants;

function selectGrants(
  all: (DatasetGrant & { key: string })[],
  wanted: string[] | undefined,
): DatasetGrant[] {
  const known = [...new Set(all.map((g) => g.key))].sort();
  if (all.length === 0)
    throw new UsageError(
      "no published datasets to query yet: apply a chain_sync job (`trace apply`) and wait until `trace status` shows completed ranges",
    );
  const picked = wanted
    ? wanted.flatMap((key) => {
        const matching = all.filter((g) => g.key === key || g.name === key);
        if (matching.length === 0)
          throw new UsageError(
            `unknown dataset "${key}": the published datasets are ${known.join(", ")}`,
          );
        return matching;
      })
    : all;
  const unique = new Map(picked.map((g) => [g.dataset_uuid, g]));
  return [...unique.values()].map(({ dataset_uuid, name }) => ({ dataset_uuid, name }));
}

function queryRefused(status: number, body: unknown, url: string): Error {
  const message =
    typeof (body as { error?: unknown }).error === "string"
      ? (body as { error: string }).error
      : `HTTP ${status}`;
  if (status === 401)
    return new FatalError(
      `the query service at ${url} refused the dev token (${message}): TRACE_USER_TOKEN_SECRET must be the service's user-token secret and TRACE_ORG_ID its org`,
      { category: "unauthorized" },
    );
  if (status === 429 || status === 503)
    return new RetryableError(`the query service is busy (${message}); try again`, {
      category: "busy",
    });
  if (status >= 500)
    return new RetryableError(`the query service failed (HTTP ${status}): ${message}`, {
      category: "query_service_error",
    });
  return new FatalError(`query refused: ${message}`, { category: "query_refused" });
}

function toResult(body: unknown): QueryResult {
  const b = body as {
    columns?: unknown;
    rows?: unknown;
    truncated?: unknown;
    truncated_by?: unknown;
  };
  if (!Array.isArray(b.columns) || !Array.isArray(b.rows) || typeof b.truncated !== "boolean")
    throw new FatalError("the query service answered without columns/rows", {
      category: "bad_response",
    });
  return {
    columns: b.columns as QueryResult["columns"],
    rows: b.rows as unknown[][],
    truncated: b.truncated,
    ...(b.truncated_by === "rows" || b.truncated_by === "bytes"
      ? { truncatedBy: b.truncated_by }
      : {}),
  };
}

function devUser(): string {
  try {
    return userInfo().username || "local";
  } catch {
    return "local";
  }
}
