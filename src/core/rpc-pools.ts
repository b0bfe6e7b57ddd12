import { FatalError } from "./errors.ts";

/**
 * RPC pools: a stream names a pool; its URLs come from the environment only, never from YAML or
 * the database, so secrets in URLs stay out of specs, state and logs.
 */
export function rpcPoolEnvVar(pool: string): string {
  return `${poolEnvPrefix(pool)}_URL`;
}

/** `TRACE_RPC_POOL_<POOL>`: the pool name upper-cased, anything but letters and digits as `_`. */
function poolEnvPrefix(pool: string): string {
  return `${POOL_PREFIX}${pool
    .trim()
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, "_")}`;
}

const POOL_PREFIX = "TRACE_RPC_POOL_";

/**
 * How hard a process may drive a pool's endpoints, from `TRACE_RPC_POOL_<POOL>_<SETTING>`, next
 * to its URLs: providers limit per key, and each pool is a provider (or a set of nodes) with its
 * own limits. They hold per worker (each worker has one RpcClient per pool; `trace up` runs
 * several workers in one process), so N workers may together send N times as much. Unset
 * settings keep the RpcClient's defaults.
 */
export interface RpcPoolLimits {
  /** HTTP requests in flight at once (RpcClient default 50). */
  maxConcurrentRequests?: number;
  /** HTTP requests started per second (default: no limit; 429s are still honoured). */
  requestsPerSecond?: number;
  /** JSON-RPC calls per HTTP request (default 100; full blocks and receipts at most 10). */
  batchSize?: number;
  /** Largest response body taken, in bytes (default 128 MiB; bigger batch answers are split). */
  maxResponseBytes?: number;
}

/**
 * How extractions use a pool, beyond the client's limits: blocks per `eth_getLogs` call (cryo's
 * `--inner-request-size`, default 1). Providers bill and limit per call, and on chains with few
 * logs per block one block per call wastes most of both; a range the provider refuses as too
 * large is split anyway. The rows are the same whatever the value.
 */
export interface RpcPoolExtractSettings {
  innerRequestSize?: number;
}

interface LimitSetting {
  key: keyof RpcPoolLimits | keyof RpcPoolExtractSettings;
  /** The parsed value, or undefined when the text is not acceptable. */
  parse: (raw: string) => number | undefined;
  expected: string;
}

const integerIn =
  (max: number) =>
  (raw: string): number | undefined => {
    if (!/^[0-9]+$/.test(raw)) return undefined;
    const n = Number(raw);
    return n >= 1 && n <= max ? n : undefined;
  };

const LIMIT_SETTINGS: Record<string, LimitSetting> = {
  MAX_CONCURRENT_REQUESTS: {
    key: "maxConcurrentRequests",
    parse: integerIn(10_000),
    expected: "an integer from 1 to 10000",
  },
  REQUESTS_PER_SECOND: {
    key: "requestsPerSecond",
    parse: (raw) => {
      if (!/^[0-9]+(?:\.[0-9]+)?$/.test(raw)) return undefined;
      const n = Number(raw);
      return n > 0 && Number.isFinite(n) ? n : undefined;
    },
    expected: "a positive number (decimals allowed, e.g. 0.5)",
  },
  BATCH_SIZE: {
    key: "batchSize",
    parse: integerIn(10_000),
    expected: "an integer from 1 to 10000",
  },
  MAX_RESPONSE_BYTES: {
    key: "maxResponseBytes",
    // Up to V8's longest string: a response is parsed as one.
    parse: integerIn(2 ** 29 - 24),
    expected: "an integer number of bytes from 1 to 536870888",
  },
};

const EXTRACT_SETTINGS: Record<string, LimitSetting> = {
  LOGS_BLOCKS_PER_REQUEST: {
    key: "innerRequestSize",
    parse: integerIn(1_000_000),
    expected: "an integer from 1 to 1000000",
  },
};

/** The pool's limits; a set but unacceptable value is a config FatalError naming the variable. */
export function rpcPoolLimits(pool: string, env: NodeJS.ProcessEnv = process.env): RpcPoolLimits {
  return readSettings(pool, env, LIMIT_SETTINGS) as RpcPoolLimits;
}

/** The pool's extraction settings, read and checked like its limits. */
export function rpcPoolExtractSettings(
  pool: string,
  env: NodeJS.ProcessEnv = process.env,
): RpcPoolExtractSettings {
  return readSettings(pool, env, EXTRACT_SETTINGS) as RpcPoolExtractSettings;
}

function readSettings(
  pool: string,
  env: NodeJS.ProcessEnv,
  table: Record<string, LimitSetting>,
): Record<string, number> {
  const prefix = poolEnvPrefix(pool);
  const out: Record<string, number> = {};
  for (const [suffix, setting] of Object.entries(table)) {
    const name = `${prefix}_${suffix}`;
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") continue;
    out[setting.key] = parseLimit(name, raw, setting);
  }
  return out;
}

function parseLimit(name: string, raw: string, setting: LimitSetting): number {
  const value = setting.parse(raw);
  if (value === undefined)
    throw new FatalError(`${name} must be ${setting.expected}`, { category: "config" });
  return value;
}

/**
 * Checks every `TRACE_RPC_POOL_*` variable at startup, so a bad limit or a misspelt setting
 * stops the process at once instead of failing (or being ignored by) the first task that uses
 * the pool: each must end in `_URL` or a known limit, and limits must parse. URLs themselves are
 * checked where they are used (resolveRpcPool), as before.
 */
export function checkRpcPoolSettings(env: NodeJS.ProcessEnv): void {
  const settings = { ...LIMIT_SETTINGS, ...EXTRACT_SETTINGS };
  const suffixes = Object.keys(settings);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(POOL_PREFIX) || name.endsWith("_URL")) continue;
    const suffix = suffixes.find(
      (s) => name.endsWith(`_${s}`) && name.length > POOL_PREFIX.length + s.length + 1,
    );
    if (suffix === undefined)
      throw new FatalError(
        `unknown RPC pool setting ${name}: expected ${POOL_PREFIX}<POOL>_ followed by URL, ${suffixes.join(", ")}`,
        { category: "config" },
      );
    const raw = value?.trim();
    if (raw !== undefined && raw !== "") parseLimit(name, raw, settings[suffix] as LimitSetting);
  }
}

export function resolveRpcPool(pool: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const name = rpcPoolEnvVar(pool);
  const raw = env[name];
  if (!raw || raw.trim() === "") {
    throw new FatalError(
      `RPC pool '${pool}' has no URL: set ${name} (comma-separated URLs allowed)`,
      {
        category: "missing_rpc_url",
      },
    );
  }
  const urls = raw
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new FatalError(`${name} holds an invalid URL (entry ${urls.indexOf(u) + 1})`, {
        category: "config",
      });
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new FatalError(`${name}: only http(s) URLs are supported`, { category: "config" });
    }
  }
  return urls;
}

/** An RPC URL with credentials and query string removed, safe for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.length > 1 ? "/…" : "";
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return "<invalid url>";
  }
}
