#!/usr/bin/env node
// Entry point of the `trace` command. It runs the compiled JavaScript in dist/ when that build is
// newer than every source file (`npm ci` builds it): the process then carries no TypeScript
// loader, whose own thread costs ~35 MiB of RSS in every worker and service. Otherwise (no build,
// a source edited since, or TRACE_FROM_SOURCE=1) it runs the TypeScript sources through tsx.
import { join } from "node:path";
import { freshDist } from "../scripts/dist.js";

const root = join(import.meta.dirname, "..");
if (process.env.TRACE_FROM_SOURCE !== "1" && freshDist(root)) {
  await import("../dist/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
