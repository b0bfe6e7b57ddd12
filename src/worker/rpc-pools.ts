import { raceAbort } from "../core/abort.ts";
import { FatalError } from "../core/errors.ts";
import {
  type RpcPoolExtractSettings,
  resolveRpcPool,
  rpcPoolExtractSettings,
  rpcPoolLimits,
} from "../core/rpc-pools.ts";
import { RpcClient, type RpcClientOptions } from "../rpc/index.ts";

/**
 * One RpcClient per pool for the worker's lifetime (keep-alive connections, endpoint health and
 * the pool's request limits carry over between tasks). Pool URLs and settings come from the
 * environment only (`TRACE_RPC_POOL_<POOL>_URL` and the settings in core/rpc-pools.ts); a
 * pool's own limits override `options`.
 */
export class RpcPools {
  private readonly clients = new Map<string, RpcClient>();
  private readonly chainIds = new Map<string, Promise<number>>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly options: Omit<RpcClientOptions, "urls"> = {},
  ) {}

  /** The pool's URLs (FatalError when the pool has none configured). */
  urls(pool: string): string[] {
    return resolveRpcPool(pool, this.env);
  }

  /** How extractions through this pool fetch (`TRACE_RPC_POOL_<POOL>_LOGS_BLOCKS_PER_REQUEST`). */
  extractSettings(pool: string): RpcPoolExtractSettings {
    return rpcPoolExtractSettings(pool, this.env);
  }

  client(pool: string): RpcClient {
    let c = this.clients.get(pool);
    if (!c) {
      c = new RpcClient({
        ...this.options,
        ...rpcPoolLimits(pool, this.env),
        urls: this.urls(pool),
      });
      this.clients.set(pool, c);
    }
    return c;
  }

  /**
   * Checks the pool serves the chain the task names, once per pool: extracting chain A's blocks
   * into chain B's dataset would publish wrong data forever, so a mismatch is fatal.
   */
  async checkChain(pool: string, expected: number, signal?: AbortSignal): Promise<void> {
    let p = this.chainIds.get(pool);
    if (!p) {
      p = this.client(pool).chainId();
      this.chainIds.set(pool, p);
      // A transient failure must not be remembered.
      p.catch(() => this.chainIds.delete(pool));
    }
    const actual = signal ? await raceAbort(p, signal) : await p;
    if (actual !== expected)
      throw new FatalError(
        `RPC pool '${pool}' serves chain ${actual}, but the task is for chain ${expected}`,
        { category: "chain_mismatch" },
      );
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
    this.chainIds.clear();
  }
}
