/**
 * Parameter parsing shared by the chain servers: hex quantities, block tags and eth_getLogs
 * filters with the exact matching semantics of the execution-apis spec (as geth implements it).
 * Bad input becomes a JSON-RPC "invalid params" error naming the offending field.
 */
import { invalidParams } from "./jsonrpc-server.ts";

const QUANTITY = /^0x(0|[1-9a-f][0-9a-f]*)$/i;
const LENIENT_QUANTITY = /^0x[0-9a-f]+$/i;
const DATA32 = /^0x[0-9a-f]{64}$/i;
const ADDRESS = /^0x[0-9a-f]{40}$/i;

/** Minimal lowercase hex quantity, as nodes render numbers. */
export function toQuantity(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/**
 * A block number from a hex quantity (leading zeros and upper case tolerated, as the replay
 * recordings contain `0x0112A880`-style numbers) or a JSON number.
 */
export function parseBlockNumber(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === "string" && LENIENT_QUANTITY.test(v)) {
    const n = Number.parseInt(v.slice(2), 16);
    if (Number.isSafeInteger(n)) return n;
  }
  throw invalidParams(`invalid ${what}: expected a hex block number, got ${JSON.stringify(v)}`);
}

export type BlockTag = number | "latest" | "earliest" | "pending" | "safe" | "finalized";
const NAMED_TAGS = new Set(["latest", "earliest", "pending", "safe", "finalized"]);

export function parseBlockTag(v: unknown, what: string): BlockTag {
  if (typeof v === "string" && NAMED_TAGS.has(v)) return v as BlockTag;
  return parseBlockNumber(v, what);
}

/** Resolve a tag against the current head (`earliest` is block 0). */
export function resolveTag(tag: BlockTag, head: number): number {
  if (typeof tag === "number") return tag;
  return tag === "earliest" ? 0 : head;
}

export function isQuantity(v: unknown): v is string {
  return typeof v === "string" && QUANTITY.test(v);
}

export function parseHash(v: unknown, what: string): string {
  if (typeof v === "string" && DATA32.test(v)) return v.toLowerCase();
  throw invalidParams(`invalid ${what}: expected a 32-byte hex hash, got ${JSON.stringify(v)}`);
}

export function parseBool(v: unknown, what: string): boolean {
  if (typeof v === "boolean") return v;
  throw invalidParams(`invalid ${what}: expected a boolean, got ${JSON.stringify(v)}`);
}

export function isHash(v: unknown): v is string {
  return typeof v === "string" && DATA32.test(v);
}

/** Address and topic criteria of an eth_getLogs filter, normalised to lowercase sets. */
export interface LogCriteria {
  /** null: any address. */
  addresses: Set<string> | null;
  /** One entry per topic position; null: wildcard at that position. */
  topics: Array<Set<string> | null>;
}

export interface LogFilterRequest extends LogCriteria {
  fromBlock: BlockTag | undefined;
  toBlock: BlockTag | undefined;
  blockHash: string | undefined;
}

export interface LogLike {
  address: string;
  topics: readonly string[];
}

const FILTER_KEYS = new Set(["fromBlock", "toBlock", "address", "topics", "blockHash"]);

/** Parse the single eth_getLogs parameter object. */
export function parseLogFilter(params: unknown[]): LogFilterRequest {
  const f = params[0];
  if (typeof f !== "object" || f === null || Array.isArray(f)) {
    throw invalidParams("eth_getLogs expects one filter object");
  }
  const o = f as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FILTER_KEYS.has(k)) throw invalidParams(`invalid filter: unknown field ${k}`);
  }
  const blockHash = o.blockHash == null ? undefined : parseHash(o.blockHash, "blockHash");
  if (blockHash !== undefined && (o.fromBlock != null || o.toBlock != null)) {
    throw invalidParams("invalid filter: cannot specify both blockHash and fromBlock/toBlock");
  }
  return {
    fromBlock: o.fromBlock == null ? undefined : parseBlockTag(o.fromBlock, "fromBlock"),
    toBlock: o.toBlock == null ? undefined : parseBlockTag(o.toBlock, "toBlock"),
    blockHash,
    ...parseLogCriteria(o.address, o.topics),
  };
}

export function parseLogCriteria(address: unknown, topics: unknown): LogCriteria {
  let addresses: Set<string> | null = null;
  if (address != null) {
    const list = Array.isArray(address) ? address : [address];
    for (const a of list) {
      if (typeof a !== "string" || !ADDRESS.test(a)) {
        throw invalidParams(`invalid filter address: ${JSON.stringify(a)}`);
      }
    }
    // An empty address list matches any address (geth semantics).
    if (list.length > 0) addresses = new Set(list.map((a) => (a as string).toLowerCase()));
  }
  const positions: Array<Set<string> | null> = [];
  if (topics != null) {
    if (!Array.isArray(topics)) throw invalidParams("invalid filter: topics must be an array");
    if (topics.length > 4) throw invalidParams("invalid filter: more than 4 topic positions");
    for (const [i, t] of topics.entries()) {
      if (t === null) positions.push(null);
      else {
        const alts = Array.isArray(t) ? t : [t];
        for (const x of alts) {
          if (!isHash(x)) throw invalidParams(`invalid filter topic ${i}: ${JSON.stringify(x)}`);
        }
        // An empty OR-list is a wildcard, as geth treats it.
        positions.push(
          alts.length === 0 ? null : new Set(alts.map((x) => (x as string).toLowerCase())),
        );
      }
    }
  }
  return { addresses, topics: positions };
}

/**
 * Does a log satisfy the criteria? Topics are positional: null matches anything, a set matches
 * any member. A filter with more positions than the log has topics never matches (geth).
 */
export function logMatches(log: LogLike, c: LogCriteria): boolean {
  if (c.addresses !== null && !c.addresses.has(log.address.toLowerCase())) return false;
  if (c.topics.length > log.topics.length) return false;
  for (let i = 0; i < c.topics.length; i++) {
    const want = c.topics[i];
    if (want != null && !want.has(log.topics[i]!.toLowerCase())) return false;
  }
  return true;
}
