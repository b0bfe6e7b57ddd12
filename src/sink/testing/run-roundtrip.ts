import { spawn } from "node:child_process";
import { join } from "node:path";
import type { RoundTripReport } from "./roundtrip.ts";

/** Runs roundtrip-child.ts in a fresh process and returns its report. */
export async function runRoundTripChild(
  args: {
    url: string;
    key: string;
    bytes: number;
    partSizeBytes?: number;
    queueSize?: number;
    /** Force a GC every 4 MiB so RSS reflects held memory (see roundtrip.ts). */
    collectGarbage?: boolean;
  },
  env: Record<string, string> = {},
): Promise<RoundTripReport> {
  const script = join(import.meta.dirname, "roundtrip-child.ts");
  const argv = [script, args.url, args.key, String(args.bytes)];
  if (args.partSizeBytes) argv.push(String(args.partSizeBytes), String(args.queueSize ?? ""));
  const flags = args.collectGarbage ? ["--expose-gc"] : [];
  const proc = spawn(process.execPath, [...flags, "--import", "tsx", ...argv], {
    env: { ...process.env, ...env, TRACE_ROUNDTRIP_GC: args.collectGarbage ? "1" : "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  proc.stdout.on("data", (c) => {
    out += c;
  });
  const code = await new Promise<number | null>((r) => proc.on("exit", r));
  if (code !== 0) throw new Error(`round-trip child exited with ${code}`);
  return JSON.parse(out.trim()) as RoundTripReport;
}
