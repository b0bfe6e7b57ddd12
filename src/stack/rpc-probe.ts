import { redactUrl } from "../core/rpc-pools.ts";

/**
 * At start, `trace up` asks every configured RPC pool (TRACE_RPC_POOL_<POOL>_URL) for
 * eth_chainId, so a typo or a dead node shows up now rather than as failing ranges later.
 * Results name the pool and a redacted endpoint (scheme and host only: paths and query strings
 * often carry API keys).
 */
export interface PoolProbe {
  pool: string;
  envVar: string;
  endpoint: string;
  ok: boolean;
  chainId?: number;
  error?: string;
}

const POOL_VAR = /^TRACE_RPC_POOL_([A-Z0-9_]+)_URL$/;

export async function probeRpcPools(
  env: NodeJS.ProcessEnv,
  options: { timeoutMs?: number } = {},
): Promise<PoolProbe[]> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const probes: Promise<PoolProbe>[] = [];
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    const m = POOL_VAR.exec(name);
    if (!m || !value) continue;
    const pool = (m[1] ?? "").toLowerCase();
    for (const url of value
      .split(",")
      .map((u) => u.trim())
      .filter(Boolean))
      probes.push(probeOne(pool, name, url, timeoutMs));
  }
  return await Promise.all(probes);
}

async function probeOne(
  pool: string,
  envVar: string,
  url: string,
  timeoutMs: number,
): Promise<PoolProbe> {
  const endpoint = redactUrl(url).replace("/…", "");
  const base = { pool, envVar, endpoint };
  let target: URL;
  try {
    target = new URL(url);
    if (target.protocol !== "http:" && target.protocol !== "https:")
      return { ...base, ok: false, error: "only http(s) URLs are supported" };
  } catch {
    return { ...base, ok: false, error: "not a valid URL" };
  }
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (target.username || target.password) {
    const auth = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.authorization = `Basic ${Buffer.from(auth).toString("base64")}`;
    target.username = "";
    target.password = "";
  }
  try {
    const res = await fetch(target, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return { ...base, ok: false, error: `HTTP ${res.status}` };
    const body = (await res.json()) as { result?: unknown; error?: { message?: unknown } };
    if (typeof body.result !== "string" || !/^0x[0-9a-f]+$/i.test(body.result))
      return { ...base, ok: false, error: "eth_chainId gave no chain id" };
    return { ...base, ok: true, chainId: Number.parseInt(body.result.slice(2), 16) };
  } catch (err) {
    return { ...base, ok: false, error: networkReason(err, timeoutMs) };
  }
}

/** A short reason without the URL (fetch causes can quote it). */
function networkReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"))
    return `no answer within ${timeoutMs} ms`;
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (typeof code === "string") return code;
  if (err instanceof SyntaxError) return "answer is not JSON";
  return "request failed";
}
