import { realpathSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { describeError } from "../core/errors.ts";
import { configureExtractionMemory } from "../core/extraction-memory.ts";
import { EXIT_USAGE, UsageError } from "./usage.ts";

type Register = (program: Command) => void;

/**
 * The `trace` command. This file is only a registry: each subcommand lives in its own module
 * exporting `register(program)`; add yours to COMMANDS with the command name(s) it registers.
 * Modules are imported lazily — only the one of the command being run (all of them for help or
 * an unknown command) — so that `trace status` does not pay for DuckDB, the AWS SDK or the
 * embedded stack at every start.
 */
const COMMANDS: [names: string[], load: () => Promise<Register>][] = [
  [["extract"], async () => (await import("./extract.ts")).registerExtract],
  [["up"], async () => (await import("./up.ts")).registerUp],
  [
    ["dispatcher", "worker", "query-service", "migrate"],
    async () => (await import("./services.ts")).registerServices,
  ],
  [
    ["apply", "pause", "resume", "retry-failed"],
    async () => (await import("./admin.ts")).registerAdminCommands,
  ],
  [["status"], async () => (await import("./status.ts")).registerStatus],
  [["query"], async () => (await import("./query.ts")).registerQuery],
  [["devnet"], async () => (await import("./devnet.ts")).registerDevnet],
  [["demo"], async () => (await import("./demo.ts")).registerDemo],
];

/** The program with every command, or only those of `commandName` when it is a known one. */
export async function buildProgram(commandName?: string): Promise<Command> {
  const program = new Command("trace")
    .description("Turn EVM chains into versioned, queryable Parquet datasets")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)");
  const only = COMMANDS.filter(([names]) => commandName && names.includes(commandName));
  const registers = await Promise.all(
    (only.length > 0 ? only : COMMANDS).map(([, load]) => load()),
  );
  for (const register of registers) register(program);
  return program;
}

/** Commands whose process extracts blocks (in-process workers included). */
const EXTRACTING = new Set(["extract", "worker", "up", "demo"]);

export async function main(argv: string[]): Promise<number> {
  try {
    // The first word not starting with "-" names the command (trace has no global options
    // that take a value).
    const commandName = argv.find((a) => !a.startsWith("-"));
    if (commandName && EXTRACTING.has(commandName)) {
      try {
        configureExtractionMemory(process.env);
      } catch (err) {
        throw new UsageError(describeError(err));
      }
    }
    const program = await buildProgram(commandName);
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
    return /(?:bin[\\/]trace\.js|cli[\\/]main\.[jt]s)$/.test(realpathSync(script));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main(process.argv.slice(2));
