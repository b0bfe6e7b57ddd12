import { realpathSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerAdminCommands } from "./admin.ts";
import { registerDevnet } from "./devnet.ts";
import { registerExtract } from "./extract.ts";
import { registerQuery } from "./query.ts";
import { registerStatus } from "./status.ts";
import { registerUp } from "./up.ts";
import { EXIT_USAGE, UsageError } from "./usage.ts";

/**
 * The `trace` command. This file is only a registry: each subcommand lives in its own module
 * exporting `register(program)`; add yours to COMMANDS.
 */
const COMMANDS: ((program: Command) => void)[] = [
  registerExtract,
  registerUp,
  registerAdminCommands,
  registerStatus,
  registerQuery,
  registerDevnet,
];

export function buildProgram(): Command {
  const program = new Command("trace")
    .description("Turn EVM chains into versioned, queryable Parquet datasets")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)");
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version end with exit code 0; anything else commander rejects is usage.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** True when this process was started as the `trace` command (bin/trace.js, or this file). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return /(?:bin[\\/]trace\.js|cli[\\/]main\.ts)$/.test(realpathSync(script));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main(process.argv.slice(2));
