import { createServer } from "node:net";
import { FatalError } from "../core/errors.ts";

/** A loopback port a service of the stack could not bind. `hint` says how to choose another. */
export class PortInUseError extends FatalError {
  readonly port: number;
  readonly service: string;
  constructor(service: string, port: number, hint?: string) {
    super(`port ${port} on 127.0.0.1 (${service}) is already in use${hint ? `: ${hint}` : ""}`, {
      category: "port_in_use",
    });
    this.port = port;
    this.service = service;
  }
}

/** Resolves when `port` can be bound on 127.0.0.1 (0 always can); throws PortInUseError if not. */
export async function checkPortFree(service: string, port: number, hint?: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new PortInUseError(service, port, hint));
      else reject(err);
    });
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** True when `err` (or its cause) is a failed bind because the address is taken. */
export function isAddressInUse(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") return true;
  }
  return false;
}

/** A currently free TCP port on 127.0.0.1 (bound, then released). */
export async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no port"));
      srv.close(() => resolve(addr.port));
    });
  });
}
