import { createServer, request } from "node:http";

/**
 * A loopback HTTP proxy that sits in front of the S3 test server and breaks a fraction of the
 * requests, deterministically (seeded):
 *   - "500":   answers 500 InternalError after reading the request body (nothing forwarded);
 *   - "reset": resets the TCP connection mid-request (nothing forwarded);
 *   - "lost":  forwards the request, then resets the connection instead of answering, so the
 *              server acted but the client never hears about it (the nasty case for retries).
 */
export type FaultMode = "500" | "reset" | "lost";

export interface FaultProxy {
  endpoint: string;
  stats: { requests: number } & Record<FaultMode, number>;
  /** Changes the fault rate from now on (0 = transparent, 1 = everything fails). */
  setRate(rate: number): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(
  target: string,
  opts: { rate: number; modes: FaultMode[]; seed?: number },
): Promise<FaultProxy> {
  const upstream = new URL(target);
  let rate = opts.rate;
  let x = opts.seed ?? 12345;
  const random = () => {
    // xorshift32 → [0, 1)
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const stats = { requests: 0, "500": 0, reset: 0, lost: 0 };

  const server = createServer((req, res) => {
    stats.requests++;
    const fault =
      random() < rate ? opts.modes[Math.floor(random() * opts.modes.length)] : undefined;
    if (fault === "500") {
      stats["500"]++;
      req.resume();
      req.on("end", () => {
        res.writeHead(500, { "content-type": "application/xml" });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected fault</Message></Error>`,
        );
      });
      return;
    }
    if (fault === "reset") {
      stats.reset++;
      req.socket.resetAndDestroy();
      return;
    }
    const up = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upRes) => {
        if (fault === "lost") {
          stats.lost++;
          upRes.resume();
          upRes.on("end", () => req.socket.resetAndDestroy());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => req.socket.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("fault proxy has no port");
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    stats,
    setRate(r) {
      rate = r;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
