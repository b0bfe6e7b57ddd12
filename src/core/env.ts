import { z } from "zod";
import { FatalError } from "./errors.ts";
import type { TokenKeyConfig } from "./tokens.ts";

/**
 * Environment parsing shared by every service: empty variables count as unset, and a failure
 * names each variable and its problem ("is required" for a missing one) — never its value, which
 * may be a secret.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv,
  service: string,
): z.infer<S> {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const msg = parsed.error.issues
    .map((i) => {
      const name = i.path.join(".");
      const missing = i.code === "invalid_type" && present[name] === undefined;
      return `${name}: ${missing ? "is required" : i.message}`;
    })
    .join("; ");
  throw new FatalError(`invalid ${service} environment: ${msg}`, { category: "config" });
}

/**
 * The variables of one HMAC signing key — `<P>_SECRET`, `<P>_KID`, `<P>_ISS`, `<P>_AUD` and the
 * rotation pair `<P>_NEXT_KID` / `<P>_NEXT_SECRET` — as a schema shape to spread into a service's
 * env schema, and the reader that turns parsed values into a TokenKeyConfig.
 */
export function signingKeyEnv(
  prefix: string,
  defaults: { kid: string; issuer: string; audience: string },
) {
  const secret = (name: string) => z.string().min(32, `${name} must be at least 32 bytes`);
  const shape: Record<string, z.ZodType> = {
    [`${prefix}_SECRET`]: secret(`${prefix}_SECRET`),
    [`${prefix}_KID`]: z.string().min(1).default(defaults.kid),
    [`${prefix}_ISS`]: z.string().min(1).default(defaults.issuer),
    [`${prefix}_AUD`]: z.string().min(1).default(defaults.audience),
    [`${prefix}_NEXT_KID`]: z.string().min(1).optional(),
    [`${prefix}_NEXT_SECRET`]: secret(`${prefix}_NEXT_SECRET`).optional(),
  };
  function read(parsed: object, service: string): TokenKeyConfig {
    const e = parsed as Record<string, string | undefined>;
    const get = (k: string) => e[`${prefix}_${k}`];
    if ((get("NEXT_KID") === undefined) !== (get("NEXT_SECRET") === undefined))
      throw new FatalError(
        `invalid ${service} environment: set ${prefix}_NEXT_KID and ${prefix}_NEXT_SECRET together`,
        { category: "config" },
      );
    return {
      secret: get("SECRET") as string,
      kid: get("KID") as string,
      issuer: get("ISS") as string,
      audience: get("AUD") as string,
      nextKid: get("NEXT_KID"),
      nextSecret: get("NEXT_SECRET"),
    };
  }
  return { shape, read };
}
