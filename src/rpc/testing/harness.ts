/**
 * Test harness: a fault server on the synthetic chain and an RpcClient on it with retry delays of
 * milliseconds, both closed when `fn` ends (however it ends).
 */
import { RpcClient } from "../client.ts";
import type { RpcClientOptions } from "../types.ts";
import { answerFrom, syntheticChain } from "./chain.ts";
import { type FaultServer, type FaultServerOptions, startFaultServer } from "./fault-server.ts";

/** Retry and endpoint-cooldown delays that make injected faults cost milliseconds. */
export const FAST = { baseMs: 1, maxMs: 5 };

export async function withFaultServer<T>(
  opts: Omit<FaultServerOptions, "answer">,
  clientOpts: Partial<RpcClientOptions>,
  fn: (client: RpcClient, server: FaultServer) => Promise<T>,
): Promise<T> {
  const server = await startFaultServer({ answer: answerFrom(syntheticChain()), ...opts });
  const client = new RpcClient({
    urls: [server.url],
    backoff: FAST,
    endpointCooldown: FAST,
    ...clientOpts,
  });
  try {
    return await fn(client, server);
  } finally {
    await client.close();
    await server.close();
  }
}
