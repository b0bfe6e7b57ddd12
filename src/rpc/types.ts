/**
 * Raw JSON-RPC shapes as nodes send them: every number is a hex string, untouched. Fields a
 * node may omit (by fork or client) are optional; validate.ts guarantees the required ones.
 */

export interface RpcTransaction {
  hash: string;
  blockHash: string;
  blockNumber: string;
  transactionIndex: string;
  from: string;
  to: string | null;
  nonce: string;
  value: string;
  gas: string;
  input: string;
  type?: string;
  gasPrice?: string;
  maxFeePerGas?: string;
  maxPriorityFeePerGas?: string;
  maxFeePerBlobGas?: string;
  blobVersionedHashes?: string[];
  chainId?: string;
  accessList?: unknown[];
  v?: string;
  r?: string;
  s?: string;
  yParity?: string;
  [key: string]: unknown;
}

export interface RpcWithdrawal {
  index: string;
  validatorIndex: string;
  address: string;
  amount: string;
}

/** A block's header fields (getBlockHeaders gives only these; see blocks-decode.ts). */
export interface RpcBlockHeader {
  number: string;
  hash: string;
  parentHash: string;
  timestamp: string;
  gasUsed: string;
  gasLimit: string;
  miner: string;
  extraData: string;
  sha3Uncles?: string;
  stateRoot?: string;
  transactionsRoot?: string;
  receiptsRoot?: string;
  logsBloom?: string;
  difficulty?: string;
  totalDifficulty?: string;
  size?: string;
  mixHash?: string;
  nonce?: string;
  baseFeePerGas?: string;
  withdrawalsRoot?: string;
  withdrawals?: RpcWithdrawal[];
  blobGasUsed?: string;
  excessBlobGas?: string;
  parentBeaconBlockRoot?: string;
  requestsHash?: string;
  uncles?: string[];
  [key: string]: unknown;
}

export interface RpcBlock extends RpcBlockHeader {
  /** Hashes when fetched with fullTransactions=false, objects otherwise. */
  transactions: string[] | RpcTransaction[];
}

export interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  transactionIndex: string;
  logIndex: string;
  removed?: boolean;
  blockTimestamp?: string;
  [key: string]: unknown;
}

export interface RpcReceipt {
  transactionHash: string;
  transactionIndex: string;
  blockHash: string;
  blockNumber: string;
  from: string;
  to: string | null;
  gasUsed: string;
  cumulativeGasUsed: string;
  logs: RpcLog[];
  /** Post-Byzantium; older receipts carry `root` instead. */
  status?: string;
  root?: string;
  effectiveGasPrice?: string;
  contractAddress?: string | null;
  logsBloom?: string;
  type?: string;
  blobGasUsed?: string;
  blobGasPrice?: string;
  [key: string]: unknown;
}

export interface LogFilter {
  fromBlock: number;
  toBlock: number;
  address?: string | string[];
  topics?: (string | string[] | null)[];
}

export interface RpcClientOptions {
  /** One or more http(s) endpoints; credentials in them never appear in errors or stats. */
  urls: string[];
  /** Calls per JSON-RPC batch (HTTP request). Default 100. */
  batchSize?: number;
  /** Global cap on concurrent HTTP requests across all endpoints. Default 50. */
  maxConcurrentRequests?: number;
  /** Optional global cap on HTTP requests per second. */
  requestsPerSecond?: number;
  /** Attempts per call before giving up (RetryableError, or FatalError for invalid data). Default 8. */
  maxAttempts?: number;
  /** Per HTTP request, headers + body. Default 30000. */
  requestTimeoutMs?: number;
  /** Exponential backoff with jitter between attempts. Default { baseMs: 250, maxMs: 10000 }. */
  backoff?: { baseMs: number; maxMs: number };
  /**
   * How long a failing endpoint is avoided (exponential in consecutive failures; at least
   * Retry-After). Default { baseMs: 1000, maxMs: 30000 }.
   */
  endpointCooldown?: { baseMs: number; maxMs: number };
  /** Calls per batch for heavy results (full blocks, block receipts). Default min(batchSize, 10). */
  heavyBatchSize?: number;
  /**
   * Largest response body taken, in bytes; the transfer is cut off there. A batch whose answer is
   * larger is sent again in halves, an eth_getLogs range is split; a single call's answer that is
   * still too large is a FatalError (category `rpc_response_too_large`). Default 128 MiB.
   */
  maxResponseBytes?: number;
}

export interface EndpointStats {
  requests: number;
  failures: number;
  /** Consecutive failures right now (0 = healthy). */
  consecutiveFailures: number;
  /** True while the endpoint is backed off. */
  backedOff: boolean;
  /** Methods this endpoint answered "not supported" for. */
  unsupported: string[];
}

export interface RpcStats {
  /** HTTP requests sent (a batch is one request). */
  requests: number;
  /** JSON-RPC calls sent, counting every attempt. */
  calls: number;
  /** Attempts repeated after a retryable failure. */
  retries: number;
  /** Failed HTTP requests or responses (including invalid data). */
  failures: number;
  /** Blocks whose receipts came from the per-transaction fallback. */
  receiptFallbacks: number;
  /** Keyed by redacted endpoint label. */
  byEndpoint: Record<string, EndpointStats>;
}
