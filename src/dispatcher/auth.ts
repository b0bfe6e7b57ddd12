import { createHash, timingSafeEqual } from "node:crypto";
import {
  type CapabilityClaims,
  type TokenKeyConfig,
  verifyCapabilityToken,
} from "../core/tokens.ts";

/** Worker-token and capability-token checks; deny by default, never log a token. */

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Compares in constant time regardless of length: both sides are hashed to 32 bytes first, so
 * neither the content nor the length of the expected token leaks through timing.
 */
export function workerTokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined || presented.length === 0) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}

export type CapabilityCheck =
  | { ok: true; claims: CapabilityClaims }
  | { ok: false; status: 401 | 403; error: string };

/** trace-rust §1.1 order: missing → 401, invalid → 401, task/attempt/sub mismatch → 403. */
export async function checkCapability(
  cfg: TokenKeyConfig,
  header: string | string[] | undefined,
  body: { task_id: string; attempt: number },
): Promise<CapabilityCheck> {
  if (typeof header !== "string" || header.length === 0) {
    return { ok: false, status: 401, error: "missing capability token" };
  }
  let claims: CapabilityClaims;
  try {
    claims = await verifyCapabilityToken(cfg, header);
  } catch {
    return { ok: false, status: 401, error: "invalid capability token" };
  }
  if (
    claims.task_id !== body.task_id ||
    claims.attempt !== body.attempt ||
    claims.sub !== `task:${body.task_id}`
  ) {
    return { ok: false, status: 403, error: "capability does not match request" };
  }
  return { ok: true, claims };
}
