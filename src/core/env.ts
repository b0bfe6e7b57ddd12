import type { z } from "zod";
import { FatalError } from "./errors.ts";

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
