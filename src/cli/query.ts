import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { formatQueryResult, OUTPUT_FORMATS, type OutputFormat } from "./format.ts";
import { adminEndpoint, queryEndpoint } from "./local-stack.ts";
import { runQuery } from "./query-client.ts";
import { parsePositive, UsageError } from "./usage.ts";

interface QueryFlags {
  dataset?: string[];
  format: OutputFormat;
  limit?: number;
}

// Not a variadic option: `--dataset logs "SELECT …"` would swallow the SQL as a second key.
function collectKeys(value: string, previous: string[] | undefined): string[] {
  const keys = value
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length === 0) throw new InvalidArgumentError("expected a dataset key");
  return [...(previous ?? []), ...keys];
}

/** `trace query [--dataset <key>...] [--format table|json|csv] "<SQL>"`. */
export function registerQuery(program: Command): void {
  program
    .command("query")
    .description(
      "run SQL over the published chain_sync datasets (each a view named by its dataset_key) through the query service",
    )
    .argument("<sql>", 'the SQL, e.g. "SELECT count(*) FROM blocks"; - reads it from stdin')
    .option(
      "--dataset <key>",
      "only this dataset (dataset_key as in the YAML); repeat or separate with commas for several",
      collectKeys,
    )
    .addOption(
      new Option("--format <format>", "output format").choices(OUTPUT_FORMATS).default("table"),
    )
    .option("--limit <rows>", "rows to return (the service caps it)", parsePositive)
    .action(async (sqlArg: string, flags: QueryFlags) => {
      const sql = sqlArg === "-" ? readFileSync(0, "utf8") : sqlArg;
      if (sql.trim() === "") throw new UsageError("the SQL is empty");
      const result = await runQuery({
        query: queryEndpoint(),
        admin: adminEndpoint(),
        sql,
        ...(flags.dataset ? { datasets: flags.dataset } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      });
      process.stdout.write(formatQueryResult(result, flags.format));
    });
}
