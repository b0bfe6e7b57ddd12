/**
 * Minimal JSON-RPC POST used by this folder's tests and benchmark. Production code uses the real
 * client in src/rpc; this one deliberately does nothing clever (no retries, no validation) so the
 * tests see exactly what the servers send.
 */
export interface PostResult {
  status: number;
  headers: Headers;
  text: string;
}

export async function postJson(
  url: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<PostResult> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** One call; returns the parsed response object ({result} or {error}). */
export async function rpc(
  url: string,
  method: string,
  params: unknown[] = [],
): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  const res = await postJson(url, { jsonrpc: "2.0", id: 1, method, params });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.text.slice(0, 200)}`);
  return JSON.parse(res.text);
}

/** The result of one call; throws on a JSON-RPC error. */
export async function rpcResult<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
): Promise<T> {
  const r = await rpc(url, method, params);
  if (r.error) throw new Error(`${method}: ${r.error.code} ${r.error.message}`);
  return r.result as T;
}
