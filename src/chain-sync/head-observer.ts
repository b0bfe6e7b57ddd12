import type { Logger } from "pino";
import { describeError, errorCategory } from "../core/errors.ts";
import { resolveRpcPool } from "../core/rpc-pools.ts";
import { RpcClient } from "../rpc/index.ts";
import { type Sql, textArray, uuidArray } from "../state/index.ts";
import { recordError } from "./planner.ts";

/**
 * follow_head input: polls eth_blockNumber per (org, chain, rpc_pool) of enabled follow_head jobs
 * into state.chain_head_observations, each group at most every min(head_poll_interval_seconds)
 * of its jobs. Failures are logged and recorded on the jobs; the observation then ages and the
 * planner stops planning (fail closed) instead of guessing a head. The first poll through a
 * client also checks eth_chainId, so a pool pointing at another chain never drives planning.
 */

export interface HeadObserverOptions {
  /** Where TRACE_RPC_POOL_<POOL>_URL is read. Default process.env. */
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Per RPC request. Default 5000 ms. */
  rpcTimeoutMs?: number;
}

/** Error kinds the head observer records on jobs (and clears once the pool answers again). */
const HEAD_ERROR_KINDS = ["rpc_chain_mismatch", "missing_rpc_url", "head_poll_failed"] as const;

interface Group {
  org_id: string;
  chain_id: string;
  rpc_pool: string;
  job_ids: string[];
}

interface PoolClient {
  client: RpcClient;
  verifiedChains: Set<number>;
}

export class HeadObserver {
  private readonly clients = new Map<string, PoolClient>();
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: HeadObserverOptions = {}) {
    this.env = options.env ?? process.env;
  }

  /** One pass over the groups that are due. Returns how many heads were recorded. */
  async observeOnce(sql: Sql): Promise<number> {
    const groups = await sql<Group[]>`
      WITH g AS (
        SELECT j.org_id, j.chain_id, s.rpc_pool,
               min(j.head_poll_interval_seconds) AS poll_secs,
               array_agg(DISTINCT j.job_id) AS job_ids
          FROM state.chain_sync_jobs j
          JOIN state.chain_sync_streams s USING (job_id)
         WHERE j.enabled AND j.mode = 'follow_head' AND s.active
         GROUP BY j.org_id, j.chain_id, s.rpc_pool)
      SELECT g.org_id, g.chain_id, g.rpc_pool, g.job_ids
        FROM g
        LEFT JOIN state.chain_head_observations o
               ON o.org_id = g.org_id AND o.chain_id = g.chain_id AND o.rpc_pool = g.rpc_pool
       WHERE o.observed_at IS NULL OR o.observed_at + make_interval(secs => g.poll_secs) <= now()
       ORDER BY g.org_id, g.chain_id, g.rpc_pool`;
    const results = await Promise.all(groups.map((g) => this.observeGroup(sql, g)));
    return results.filter(Boolean).length;
  }

  private async observeGroup(sql: Sql, g: Group): Promise<boolean> {
    const chainId = Number(g.chain_id);
    try {
      const pc = this.clientFor(g.rpc_pool);
      if (!pc.verifiedChains.has(chainId)) {
        const actual = await pc.client.chainId();
        if (actual !== chainId) {
          await this.fail(
            sql,
            g,
            "rpc_chain_mismatch",
            `RPC pool ${g.rpc_pool} serves chain ${actual}, not chain ${chainId}`,
          );
          return false;
        }
        pc.verifiedChains.add(chainId);
      }
      const head = await pc.client.blockNumber();
      await sql`
        INSERT INTO state.chain_head_observations
          (org_id, chain_id, rpc_pool, head_block, observed_at, source)
        VALUES (${g.org_id}, ${g.chain_id}, ${g.rpc_pool}, ${head}, now(), ${`eth_blockNumber:${g.rpc_pool}`})
        ON CONFLICT (org_id, chain_id, rpc_pool) DO UPDATE
          SET head_block = EXCLUDED.head_block, observed_at = EXCLUDED.observed_at,
              source = EXCLUDED.source, updated_at = now()`;
      await this.clearRecovered(sql, g);
      return true;
    } catch (err) {
      const kind =
        errorCategory(err) === "missing_rpc_url" ? "missing_rpc_url" : "head_poll_failed";
      await this.fail(
        sql,
        g,
        kind,
        `polling the head of chain ${chainId} via pool ${g.rpc_pool} failed: ${describeError(err)}`,
      );
      return false;
    }
  }

  /**
   * A good observation ends this pool's earlier head errors on its jobs (errors about another
   * pool of the same job stay). Every message this class writes names the pool as "pool <name> ".
   */
  private async clearRecovered(sql: Sql, g: Group): Promise<void> {
    await sql`
      UPDATE state.chain_sync_jobs
         SET last_error_kind = NULL, last_error_message = NULL, last_error_at = NULL
       WHERE job_id = ANY(${uuidArray(sql, g.job_ids)})
         AND last_error_kind = ANY(${textArray(sql, HEAD_ERROR_KINDS)})
         AND position(${`pool ${g.rpc_pool} `} IN last_error_message) > 0`;
  }

  private async fail(sql: Sql, g: Group, kind: string, message: string): Promise<void> {
    this.options.log?.warn(
      {
        event: `chain_sync.head_observer.${kind}`,
        chain_id: g.chain_id,
        rpc_pool: g.rpc_pool,
        err: message,
      },
      "head observation failed",
    );
    for (const jobId of g.job_ids) {
      await recordError(sql, jobId, null, kind, message).catch(() => {});
    }
  }

  private clientFor(pool: string): PoolClient {
    // Resolved on every poll so a changed environment (tests, reloads) takes effect; the
    // client (and its keep-alive connections) is reused while the URLs stay the same.
    const urls = resolveRpcPool(pool, this.env);
    const key = urls.join(",");
    let pc = this.clients.get(key);
    if (!pc) {
      pc = {
        client: new RpcClient({
          urls,
          maxAttempts: 2,
          requestTimeoutMs: this.options.rpcTimeoutMs ?? 5000,
          maxConcurrentRequests: 4,
          backoff: { baseMs: 100, maxMs: 500 },
          endpointCooldown: { baseMs: 200, maxMs: 2000 },
        }),
        verifiedChains: new Set(),
      };
      this.clients.set(key, pc);
    }
    return pc;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(all.map((pc) => pc.client.close()));
  }
}
