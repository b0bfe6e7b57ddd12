import { createSecretKey, type KeyObject } from "node:crypto";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { FatalError } from "./errors.ts";
import { StorageRefSchema, UuidSchema } from "./types.ts";

/**
 * Capability tokens (task) and user tokens, HS256 with a `kid` and an optional next key for
 * rotation (trace-rust §3.2). Verification is fail-closed: missing kid, unknown kid, any alg but
 * HS256, wrong iss/aud, expired, malformed claims → TokenError. Tokens are never logged.
 */

export const DatasetGrantSchema = z.object({
  dataset_uuid: UuidSchema,
  dataset_version: UuidSchema.nullish(),
  storage_ref: StorageRefSchema.nullish(),
  /** Optional view name for the query service (e.g. the chain_sync dataset_key). */
  name: z.string().max(64).nullish(),
});
export type DatasetGrant = z.infer<typeof DatasetGrantSchema>;

const S3GrantSchema = z.object({
  read_prefixes: z.array(z.string().max(2048)).max(1024),
  write_prefixes: z.array(z.string().max(2048)).max(1024),
});

export const CapabilityClaimsSchema = z.object({
  iss: z.string().min(1),
  aud: z.string().min(1),
  sub: z.string().min(1),
  exp: z.number().int(),
  iat: z.number().int(),
  org_id: UuidSchema,
  task_id: UuidSchema,
  attempt: z.number().int().positive(),
  datasets: z.array(DatasetGrantSchema).max(1024),
  s3: S3GrantSchema,
});
export type CapabilityClaims = z.infer<typeof CapabilityClaimsSchema>;

export const UserClaimsSchema = z.object({
  iss: z.string().min(1),
  aud: z.string().min(1),
  sub: z.string().min(1),
  exp: z.number().int(),
  iat: z.number().int(),
  org_id: UuidSchema,
  datasets: z.array(DatasetGrantSchema).max(1024),
  s3: S3GrantSchema,
});
export type UserClaims = z.infer<typeof UserClaimsSchema>;

export interface TokenKeyConfig {
  issuer: string;
  audience: string;
  kid: string;
  secret: string;
  /** Rotation overlap: tokens signed with the next key verify too. Both or neither. */
  nextKid?: string;
  nextSecret?: string;
  ttlSeconds?: number;
}

export const TASK_TOKEN_DEFAULTS = {
  issuer: "trace-dispatcher",
  audience: "trace.task",
  kid: "dev",
  ttlSeconds: 300,
} as const;

export const USER_TOKEN_DEFAULTS = {
  issuer: "trace-lite",
  audience: "trace.user",
  kid: "dev-user",
  ttlSeconds: 3600,
} as const;

export class TokenError extends FatalError {
  constructor(message: string, cause?: unknown) {
    super(message, { category: "invalid_token", cause });
  }
}

const MIN_SECRET_BYTES = 32;

export function checkKeyConfig(cfg: TokenKeyConfig): void {
  if (Buffer.byteLength(cfg.secret) < MIN_SECRET_BYTES) {
    throw new FatalError(
      `token secret for kid ${cfg.kid} must be at least ${MIN_SECRET_BYTES} bytes`,
      {
        category: "config",
      },
    );
  }
  if ((cfg.nextKid === undefined) !== (cfg.nextSecret === undefined)) {
    throw new FatalError("next token kid and secret must be set together", { category: "config" });
  }
}

// Importing an HMAC key on every sign/verify shows up in profiles of the task API; secrets are
// few and long-lived, so their KeyObjects are cached.
const keyCache = new Map<string, KeyObject>();
function enc(secret: string): KeyObject {
  let key = keyCache.get(secret);
  if (!key) {
    if (keyCache.size > 64) keyCache.clear();
    key = createSecretKey(Buffer.from(secret, "utf8"));
    keyCache.set(secret, key);
  }
  return key;
}

async function sign(
  cfg: TokenKeyConfig,
  claims: Record<string, unknown>,
  sub: string,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const ttl = cfg.ttlSeconds ?? 300;
  return await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "HS256", kid: cfg.kid, typ: "JWT" })
    .setIssuer(cfg.issuer)
    .setAudience(cfg.audience)
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(enc(cfg.secret));
}

const CLOCK_TOLERANCE_S = 60;

/**
 * Tokens that already verified, per key configuration, by their exact text. A client sends the
 * same token with every request until it expires; verifying it again costs a WebCrypto HMAC (a
 * thread-pool round trip, ~0.5 ms on an idle server) and the claim checks, for an answer that
 * can only change with time — so a hit re-checks expiry and nothing else. Only the identical
 * string hits (a changed signature or payload is a different key and goes through jose), and a
 * different configuration object (another secret, a rotation) has a cache of its own.
 */
const verified = new WeakMap<TokenKeyConfig, Map<string, Record<string, unknown>>>();
const VERIFIED_PER_CONFIG = 1024;

function remember(cfg: TokenKeyConfig, token: string, payload: Record<string, unknown>): void {
  let cache = verified.get(cfg);
  if (!cache) {
    cache = new Map();
    verified.set(cfg, cache);
  }
  // Oldest first (insertion order): drop it when full.
  if (cache.size >= VERIFIED_PER_CONFIG) cache.delete(cache.keys().next().value as string);
  cache.set(token, payload);
}

async function verify(cfg: TokenKeyConfig, token: string): Promise<Record<string, unknown>> {
  const cache = verified.get(cfg);
  const hit = cache?.get(token);
  if (hit) {
    // The same rule jose applied the first time (exp <= now - tolerance is expired).
    if ((hit.exp as number) > Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_S) return hit;
    cache?.delete(token);
    throw new TokenError("token expired");
  }
  const payload = await verifyWithJose(cfg, token);
  remember(cfg, token, payload);
  return payload;
}

async function verifyWithJose(
  cfg: TokenKeyConfig,
  token: string,
): Promise<Record<string, unknown>> {
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== "HS256") throw new TokenError("token algorithm not allowed");
    kid = header.kid;
  } catch (err) {
    if (err instanceof TokenError) throw err;
    throw new TokenError("malformed token", err);
  }
  if (!kid) throw new TokenError("token has no kid");
  const secret =
    kid === cfg.kid
      ? cfg.secret
      : cfg.nextKid !== undefined && kid === cfg.nextKid
        ? cfg.nextSecret
        : undefined;
  if (secret === undefined) throw new TokenError("unknown token kid");
  try {
    const { payload } = await jwtVerify(token, enc(secret), {
      algorithms: ["HS256"],
      issuer: cfg.issuer,
      audience: cfg.audience,
      requiredClaims: ["exp", "iat", "sub"],
      clockTolerance: CLOCK_TOLERANCE_S,
    });
    if (typeof payload.aud !== "string") throw new TokenError("token audience must be a string");
    return payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TokenError) throw err;
    const reason =
      err instanceof joseErrors.JWTExpired ? "token expired" : "token verification failed";
    throw new TokenError(reason, err);
  }
}

export async function mintCapabilityToken(
  cfg: TokenKeyConfig,
  claims: Omit<CapabilityClaims, "iss" | "aud" | "sub" | "exp" | "iat">,
): Promise<string> {
  return await sign(cfg, claims, `task:${claims.task_id}`);
}

export async function verifyCapabilityToken(
  cfg: TokenKeyConfig,
  token: string,
): Promise<CapabilityClaims> {
  const payload = await verify(cfg, token);
  const parsed = CapabilityClaimsSchema.safeParse(payload);
  if (!parsed.success) throw new TokenError("capability token claims are malformed");
  if (parsed.data.sub !== `task:${parsed.data.task_id}`)
    throw new TokenError("capability token subject mismatch");
  return parsed.data;
}

export async function mintUserToken(
  cfg: TokenKeyConfig,
  sub: string,
  claims: Omit<UserClaims, "iss" | "aud" | "sub" | "exp" | "iat">,
): Promise<string> {
  return await sign(cfg, claims, sub);
}

export async function verifyUserToken(cfg: TokenKeyConfig, token: string): Promise<UserClaims> {
  const payload = await verify(cfg, token);
  const parsed = UserClaimsSchema.safeParse(payload);
  if (!parsed.success) throw new TokenError("user token claims are malformed");
  if (parsed.data.exp < parsed.data.iat)
    throw new TokenError("user token expires before it was issued");
  return parsed.data;
}
