import { ChainSyncAdminClient, ChainSyncAdminError } from "../chain-sync/client.ts";
import { FatalError, RetryableError } from "../core/errors.ts";
import { connectionError } from "./connection.ts";
import { adminEndpoint } from "./local-stack.ts";

/**
 * The chain_sync admin API as the client commands use it: endpoint from the environment or a
 * running `trace up` (local-stack.ts), and every failure turned into a message that says what
 * went wrong and what to check.
 */
export interface AdminSession {
  url: string;
  call<T>(fn: (client: ChainSyncAdminClient) => Promise<T>): Promise<T>;
}

export function adminSession(env: NodeJS.ProcessEnv = process.env): AdminSession {
  const endpoint = adminEndpoint(env);
  return adminSessionFor(endpoint);
}

export function adminSessionFor(endpoint: { url: string; token: string }): AdminSession {
  const client = new ChainSyncAdminClient(endpoint.url, endpoint.token);
  return {
    url: endpoint.url,
    async call(fn) {
      try {
        return await fn(client);
      } catch (err) {
        throw describeAdminError(err, endpoint.url);
      }
    },
  };
}

export function describeAdminError(err: unknown, url: string): Error {
  if (err instanceof ChainSyncAdminError) {
    if (err.status === 401)
      return new FatalError(
        `the dispatcher at ${url} refused the admin token (${err.message}): check TRACE_ADMIN_TOKEN, or that it is the dispatcher of your \`trace up\``,
        { category: "unauthorized", cause: err },
      );
    if (err.status >= 500)
      return new RetryableError(
        `the dispatcher at ${url} failed (HTTP ${err.status}): ${err.message}`,
        {
          category: "dispatcher_error",
          cause: err,
        },
      );
    const problems = err.problems.filter((p) => !err.message.includes(p));
    const detail = problems.length ? `\n${problems.map((p) => `  - ${p}`).join("\n")}` : "";
    return new FatalError(`${err.message}${detail}`, {
      category: err.status === 404 ? "not_found" : "rejected",
      cause: err,
    });
  }
  return connectionError(
    err,
    `the dispatcher at ${url}`,
    "is `trace up` or `trace dispatcher` running? TRACE_DISPATCHER_URL overrides the address",
  );
}
