import { createServer, request } from "node:http";

/**
 * An HTTP proxy in front of a JSON-RPC server that can be told to stop answering: requests that
 * arrive while stalled are held until release() or close(). Lets a test freeze a worker in the
 * middle of an extraction at a moment it chooses.
 */
export interface StallProxy {
  url: string;
  stall(): void;
  release(): void;
  /** Requests forwarded so far. */
  readonly forwarded: number;
  close(): Promise<void>;
}

export async function startStallProxy(target: string): Promise<StallProxy> {
  const to = new URL(target);
  let stalled = false;
  let forwarded = 0;
  const held: (() => void)[] = [];
  const server = createServer((req, res) => {
    const forward = () => {
      forwarded++;
      const up = request(
        {
          host: to.hostname,
          port: to.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      req.pipe(up);
    };
    if (stalled) held.push(forward);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("proxy has no port");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    get forwarded() {
      return forwarded;
    },
    stall() {
      stalled = true;
    },
    release() {
      stalled = false;
      for (const f of held.splice(0)) f();
    },
    async close() {
      held.length = 0;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
