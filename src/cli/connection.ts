import { causeChain, FatalError, RetryableError } from "../core/errors.ts";

/**
 * Turns a failed request of a client command into a message that says what to do: nobody
 * listening, wrong host, a timeout. `service` names what we tried to reach ("the dispatcher at
 * http://…"); `hint` says how that usually gets fixed.
 */
export function connectionError(err: unknown, service: string, hint: string): Error {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED")
      return new RetryableError(`cannot reach ${service}: connection refused (${hint})`, {
        category: "unreachable",
        cause: err,
      });
    if (code === "ENOTFOUND" || code === "EAI_AGAIN")
      return new FatalError(`cannot reach ${service}: unknown host (${hint})`, {
        category: "unreachable",
        cause: err,
      });
    if (
      code === "ECONNRESET" ||
      code === "ETIMEDOUT" ||
      code === "UND_ERR_CONNECT_TIMEOUT" ||
      code === "UND_ERR_SOCKET"
    )
      return new RetryableError(`cannot reach ${service}: ${String(code)} (${hint})`, {
        category: "unreachable",
        cause: err,
      });
  }
  if (err instanceof TypeError && /fetch failed|invalid url/i.test(err.message)) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return new FatalError(`cannot reach ${service}: ${err.message}${cause} (${hint})`, {
      category: "unreachable",
      cause: err,
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}
