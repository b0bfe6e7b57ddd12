/**
 * A small JSON-RPC 2.0 server over HTTP on 127.0.0.1, shared by the synthetic chain (devnet) and
 * the mainnet replay server. Single and batch requests, keep-alive, spec error codes.
 *
 * Handlers may return a `RawJson` to splice pre-serialised JSON into the response verbatim: the
 * synthetic chain caches rendered blocks as strings, and re-serialising megabytes of JSON per
 * request would make this server the bottleneck of extraction benchmarks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;

/** A JSON-RPC error a handler throws; becomes `{error: {code, message, data?}}` for that call. */
export class JsonRpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "JsonRpcError";
    this.code = code;
    this.data = data;
  }
}

export function invalidParams(message: string): JsonRpcError {
  return new JsonRpcError(INVALID_PARAMS, message);
}

/** Already-serialised JSON (text or UTF-8 bytes), written into the response as is. */
export class RawJson {
  constructor(readonly json: string | Uint8Array) {}
}

/** `params` is always an array (omitted params become []); by-name params are rejected. */
export type MethodHandler<Ctx> = (params: unknown[], ctx: Ctx) => unknown;

export interface JsonRpcServerOptions<Ctx> {
  /** 0 or omitted: a free port. The server binds 127.0.0.1 only. */
  port?: number;
  /** The handler for a method, or undefined for "method not found". Looked up per call. */
  resolve: (method: string) => MethodHandler<Ctx> | undefined;
  /**
   * Called once per HTTP request before the body is handled. Return the context passed to every
   * handler of this request, or `null` when the hook has taken over the response itself
   * (fault injection: HTTP errors, hangs).
   */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => Ctx | null;
  /** Last look at the serialised body before it is sent (fault injection: truncation). */
  beforeSend?: (body: Buffer, ctx: Ctx) => Buffer;
  /** Largest request body accepted; larger ones get HTTP 413. Default 16 MiB. */
  maxBodyBytes?: number;
  /**
   * Milliseconds every answered request waits before its response is sent: the round trip and
   * work of a remote node, for measuring a client against one (bench/extract.ts). Default 0.
   */
  latencyMs?: number;
}

export interface RunningJsonRpcServer {
  url: string;
  port: number;
  server: Server;
  stop(): Promise<void>;
}

type Chunk = string | Uint8Array;

interface CallOutcome {
  /** Serialised response object, or undefined for a notification (no id: no response). */
  json: Chunk[] | string | undefined;
}

function errorJson(id: unknown, code: number, message: string, data?: unknown): string {
  const err = data === undefined ? { code, message } : { code, message, data };
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id ?? null)},"error":${JSON.stringify(err)}}`;
}

function resultJson(id: unknown, result: unknown): Chunk[] | string {
  const head = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`;
  if (result instanceof RawJson) return [head, result.json, "}"];
  return `${head}${JSON.stringify(result ?? null)}}`;
}

function validId(id: unknown): boolean {
  return id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

async function runCall<Ctx>(
  call: unknown,
  opts: JsonRpcServerOptions<Ctx>,
  ctx: Ctx,
): Promise<CallOutcome> {
  if (typeof call !== "object" || call === null || Array.isArray(call)) {
    return { json: errorJson(null, INVALID_REQUEST, "Invalid Request: expected an object") };
  }
  const c = call as Record<string, unknown>;
  const hasId = "id" in c;
  const id = hasId ? c.id : null;
  if (hasId && !validId(id)) {
    return {
      json: errorJson(null, INVALID_REQUEST, "Invalid Request: id must be string, number or null"),
    };
  }
  if (c.jsonrpc !== "2.0") {
    return { json: errorJson(id, INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"') };
  }
  if (typeof c.method !== "string") {
    return { json: errorJson(id, INVALID_REQUEST, "Invalid Request: method must be a string") };
  }
  let params: unknown[];
  if (c.params === undefined) params = [];
  else if (Array.isArray(c.params)) params = c.params;
  else if (typeof c.params === "object" && c.params !== null) {
    return {
      json: hasId
        ? errorJson(id, INVALID_PARAMS, "Invalid params: by-name params are not supported")
        : undefined,
    };
  } else {
    return { json: errorJson(id, INVALID_REQUEST, "Invalid Request: params must be an array") };
  }
  const handler = opts.resolve(c.method);
  if (handler === undefined) {
    return {
      json: hasId
        ? errorJson(id, METHOD_NOT_FOUND, `the method ${c.method} does not exist/is not available`)
        : undefined,
    };
  }
  try {
    let result = handler(params, ctx);
    if (result instanceof Promise) result = await result;
    return { json: hasId ? resultJson(id, result) : undefined };
  } catch (err) {
    if (!hasId) return { json: undefined };
    if (err instanceof JsonRpcError)
      return { json: errorJson(id, err.code, err.message, err.data) };
    const message = err instanceof Error ? err.message : String(err);
    return { json: errorJson(id, INTERNAL_ERROR, `Internal error: ${message}`) };
  }
}

/**
 * Answer one HTTP body (already read). Returns the response as chunks (pre-serialised results
 * are not copied into one big string), or an empty list for "no response" (only notifications).
 */
export async function answerBody<Ctx>(
  text: string,
  opts: JsonRpcServerOptions<Ctx>,
  ctx: Ctx,
): Promise<Chunk[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [errorJson(null, PARSE_ERROR, "Parse error: request body is not valid JSON")];
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0)
      return [errorJson(null, INVALID_REQUEST, "Invalid Request: empty batch")];
    const parts: Chunk[] = [];
    for (const call of parsed) {
      const out = (await runCall(call, opts, ctx)).json;
      if (out === undefined) continue;
      parts.push(parts.length === 0 ? "[" : ",");
      if (typeof out === "string") parts.push(out);
      else parts.push(...out);
    }
    if (parts.length > 0) parts.push("]");
    return parts;
  }
  const out = (await runCall(parsed, opts, ctx)).json;
  return out === undefined ? [] : typeof out === "string" ? [out] : out;
}

/** The chunks as one buffer (for hooks that inspect or cut the body). */
export function joinChunks(chunks: Chunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c)));
}

function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(tooLarge ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startJsonRpcServer<Ctx>(
  opts: JsonRpcServerOptions<Ctx>,
): Promise<RunningJsonRpcServer> {
  const limit = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      // A client that vanished mid-response is not our problem; never crash the test process.
      res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      req.resume();
      res.writeHead(405, { allow: "POST", "content-type": "text/plain" });
      res.end("JSON-RPC over HTTP POST only\n");
      return;
    }
    const text = await readBody(req, limit);
    if (text === null) {
      res.writeHead(413, { "content-type": "text/plain" });
      res.end("request body too large\n");
      return;
    }
    let ctx: Ctx | null = undefined as Ctx;
    if (opts.onRequest) {
      ctx = opts.onRequest(req, res);
      if (ctx === null) return;
    }
    let chunks = await answerBody(text, opts, ctx as Ctx);
    if (chunks.length === 0) {
      res.writeHead(204);
      res.end();
      return;
    }
    if (opts.beforeSend) chunks = [opts.beforeSend(joinChunks(chunks), ctx as Ctx)];
    if (opts.latencyMs) await sleep(opts.latencyMs);
    let length = 0;
    for (const c of chunks) length += typeof c === "string" ? Buffer.byteLength(c) : c.byteLength;
    res.writeHead(200, { "content-type": "application/json", "content-length": length });
    res.cork();
    for (const c of chunks) res.write(c);
    res.end();
  }

  // Clients pool connections; keep idle sockets around longer than typical client idle timeouts.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
