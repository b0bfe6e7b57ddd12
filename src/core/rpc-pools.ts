import { FatalError } from "./errors.ts";

/**
 * RPC pools: a stream names a pool; its URLs come from the environment only, never from YAML or
 * the database, so secrets in URLs stay out of specs, state and logs.
 */
export function rpcPoolEnvVar(pool: string): string {
  return `TRACE_RPC_POOL_${pool
    .trim()
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, "_")}_URL`;
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
