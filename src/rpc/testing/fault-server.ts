/**
 * Test-only HTTP fault generator for the RPC client's tests: a real JSON-RPC server on
 * 127.0.0.1 that answers from a chain (see chain.ts) and injects precise fault sequences
 * (HTTP status, Retry-After, timeouts, dropped connections, truncated JSON, JSON-RPC errors,
 * missing batch items, tampered results). It also counts requests and peak concurrency.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RpcCall {
  id: unknown;
  method: string;
  params: unknown[];
}

export type Answer = { result: unknown } | { error: { code: number; message: string } };

export type Fault =
  | { kind: "status"; status: number; retryAfter?: string; body?: string }
  | { kind: "hang" }
  /** HTTP 200 and a body that never ends (chunks of JSON-ish filler until the client hangs up). */
  | { kind: "endless" }
  | { kind: "drop" }
  | { kind: "truncate" }
  | { kind: "reverse" }
  | { kind: "rpcError"; code: number; message: string; only?: (call: RpcCall) => boolean }
  | { kind: "omit"; only?: (call: RpcCall) => boolean }
  | {
      kind: "tamper";
      fn: (result: unknown, call: RpcCall) => unknown;
      only?: (call: RpcCall) => boolean;
    };

export interface FaultServerOptions {
  answer: (call: RpcCall) => Answer;
  /** Decide a fault for the n-th HTTP request (1-based); undefined = answer normally. */
  fault?: (n: number, calls: RpcCall[]) => Fault | undefined;
  /** Hold each request this long before answering (to make concurrency observable). */
  delayMs?: number;
}

export interface FaultServer {
  url: string;
  /** HTTP requests received. */
  readonly requests: number;
  /** Every JSON-RPC call received, per HTTP request. */
  readonly log: RpcCall[][];
  /** Highest number of requests in flight at once. */
  readonly maxInFlight: number;
  /** Auth header of the last request. */
  readonly lastAuthorization: string | undefined;
  /** URL path+query of the last request. */
  readonly lastPath: string | undefined;
  close(): Promise<void>;
}

export async function startFaultServer(opts: FaultServerOptions): Promise<FaultServer> {
  let requests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let lastAuthorization: string | undefined;
  let lastPath: string | undefined;
  const log: RpcCall[][] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const n = ++requests;
    lastAuthorization = req.headers.authorization;
    lastPath = req.url;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as RpcCall | RpcCall[];
      const isBatch = Array.isArray(parsed);
      const calls = isBatch ? parsed : [parsed];
      log.push(calls);
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      const fault = opts.fault?.(n, calls);
      if (fault?.kind === "hang") return; // never answer; the client must time out
      if (fault?.kind === "endless") {
        res.writeHead(200, { "content-type": "application/json" });
        const filler = Buffer.alloc(16 * 1024, 0x20);
        const drainedOrClosed = () =>
          new Promise<void>((resolve) => {
            const done = () => {
              res.off("drain", done);
              res.off("close", done);
              resolve();
            };
            res.on("drain", done);
            res.on("close", done);
          });
        res.write("[");
        while (!res.destroyed) if (!res.write(filler)) await drainedOrClosed();
        return;
      }
      if (fault?.kind === "drop") {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === "status") {
        const headers: Record<string, string> = { "content-type": "text/plain" };
        if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
        res.writeHead(fault.status, headers).end(fault.body ?? `status ${fault.status}`);
        return;
      }
      const out: unknown[] = [];
      for (const call of calls) {
        const applies = (f: { only?: (c: RpcCall) => boolean }) => !f.only || f.only(call);
        if (fault?.kind === "omit" && applies(fault)) continue;
        if (fault?.kind === "rpcError" && applies(fault)) {
          out.push({
            jsonrpc: "2.0",
            id: call.id,
            error: { code: fault.code, message: fault.message },
          });
          continue;
        }
        const answer = opts.answer(call);
        if (fault?.kind === "tamper" && applies(fault) && "result" in answer) {
          const copy = JSON.parse(JSON.stringify(answer.result)) as unknown;
          out.push({ jsonrpc: "2.0", id: call.id, result: fault.fn(copy, call) });
          continue;
        }
        out.push({ jsonrpc: "2.0", id: call.id, ...answer });
      }
      if (fault?.kind === "reverse") out.reverse(); // JSON-RPC batch answers may come in any order
      let body = JSON.stringify(isBatch ? out : out[0]);
      if (fault?.kind === "truncate")
        body = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    } finally {
      inFlight--;
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    get requests() {
      return requests;
    },
    get log() {
      return log;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get lastAuthorization() {
      return lastAuthorization;
    },
    get lastPath() {
      return lastPath;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
