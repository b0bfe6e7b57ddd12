import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { describeError } from "../core/errors.ts";
import { checkRpcPoolSettings } from "../core/rpc-pools.ts";
import { DEFAULT_MAX_BLOCKS_IN_FLIGHT } from "../extract/options.ts";
import {
  DEFAULT_DISPATCHER_PORT,
  DEFAULT_QUERY_PORT,
  type PoolProbe,
  probeRpcPools,
  type RunningLocalStack,
  startLocalStack,
} from "../stack/index.ts";
import { traceHome } from "./local-stack.ts";
import { parseCount, parsePositive, UsageError } from "./usage.ts";

interface UpFlags {
  home?: string;
  dispatcherPort?: number;
  queryPort?: number;
  workers?: number;
  workerConcurrency?: number;
  rpcCheck: boolean;
}

export function parsePort(value: string): number {
  const n = parseCount(value);
  if (n > 65_535) throw new InvalidArgumentError(`not a TCP port: "${value}"`);
  return n;
}

/** A flag, else its environment variable (parsed the same way), else the default. */
function setting(
  flag: number | undefined,
  env: NodeJS.ProcessEnv,
  name: string,
  parse: (v: string) => number,
  fallback: number,
): number {
  if (flag !== undefined) return flag;
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  try {
    return parse(raw);
  } catch (err) {
    throw new UsageError(`${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `trace up`: the whole stack in this process until Ctrl-C / SIGTERM. */
export function registerUp(program: Command): void {
  program
    .command("up")
    .description(
      "run the whole stack locally (embedded PostgreSQL, dispatcher, workers, query service) until Ctrl-C",
    )
    .option("--home <dir>", "state directory (default $TRACE_HOME or ./.trace)")
    .option(
      "--dispatcher-port <port>",
      `dispatcher port on 127.0.0.1 (default $TRACE_DISPATCHER_PORT or ${DEFAULT_DISPATCHER_PORT}; 0 = any free port)`,
      parsePort,
    )
    .option(
      "--query-port <port>",
      `query service port on 127.0.0.1 (default $TRACE_QUERY_PORT or ${DEFAULT_QUERY_PORT}; 0 = any free port)`,
      parsePort,
    )
    .option("--workers <n>", "in-process workers (default $TRACE_WORKERS or 2)", parsePositive)
    .option(
      "--worker-concurrency <n>",
      "tasks per worker at once (default $TRACE_WORKER_CONCURRENCY or 2)",
      parsePositive,
    )
    .option("--no-rpc-check", "start even if a configured RPC pool does not answer eth_chainId")
    .action(async (flags: UpFlags) => {
      process.exitCode = await runUp(flags, process.env);
    });
}

async function runUp(flags: UpFlags, env: NodeJS.ProcessEnv): Promise<number> {
  const home = flags.home ? resolve(flags.home) : traceHome(env);
  const dispatcherPort = setting(
    flags.dispatcherPort,
    env,
    "TRACE_DISPATCHER_PORT",
    parsePort,
    DEFAULT_DISPATCHER_PORT,
  );
  const queryPort = setting(
    flags.queryPort,
    env,
    "TRACE_QUERY_PORT",
    parsePort,
    DEFAULT_QUERY_PORT,
  );
  const workers = setting(flags.workers, env, "TRACE_WORKERS", parsePositive, 2);
  const workerConcurrency = setting(
    flags.workerConcurrency,
    env,
    "TRACE_WORKER_CONCURRENCY",
    parsePositive,
    2,
  );

  const maxBlocksInFlight = setting(
    undefined,
    env,
    "TRACE_MAX_BLOCKS_IN_FLIGHT",
    parsePositive,
    DEFAULT_MAX_BLOCKS_IN_FLIGHT,
  );

  try {
    checkRpcPoolSettings(env);
  } catch (err) {
    throw new UsageError(describeError(err));
  }

  const probes = await probeRpcPools(env);
  const dead = probes.filter((p) => !p.ok);
  for (const p of dead) {
    process.stderr.write(`${flags.rpcCheck ? "error" : "warning"}: ${describeProbe(p)}\n`);
  }
  if (dead.length > 0 && flags.rpcCheck) {
    process.stderr.write(
      "fix the URL or start the node; `trace up --no-rpc-check` starts anyway (ranges using the pool retry until it answers)\n",
    );
    return 1;
  }

  // Signals that arrive while starting are honoured once the start completes (or fails).
  let signalled: NodeJS.Signals | undefined;
  let onSignal: (s: NodeJS.Signals) => void = (s) => {
    signalled = s;
  };
  const handler = (s: NodeJS.Signals) => onSignal(s);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, handler);
  const detach = () => {
    for (const s of signals) process.off(s, handler);
  };

  process.stdout.write(`starting Trace in ${home} …\n`);
  let stack: RunningLocalStack;
  try {
    stack = await startLocalStack({
      home,
      env,
      dispatcherPort,
      queryPort,
      workers,
      workerConcurrency,
      maxBlocksInFlight,
      portHints: {
        dispatcher: "choose another with --dispatcher-port <port> or TRACE_DISPATCHER_PORT",
        query: "choose another with --query-port <port> or TRACE_QUERY_PORT",
      },
    });
  } catch (err) {
    detach();
    process.stderr.write(`error: ${describeError(err)}\n`);
    return 1;
  }
  process.stdout.write(banner(stack, probes));

  const code = await new Promise<number>((done) => {
    const stop = (s: NodeJS.Signals) => {
      onSignal = () => process.stderr.write("still stopping …\n");
      process.stdout.write(`\n${s}: stopping workers, dispatcher, query service, PostgreSQL …\n`);
      stack.stop().then(
        () => {
          process.stdout.write("stopped.\n");
          done(0);
        },
        (err) => {
          process.stderr.write(`error: ${describeError(err)}\n`);
          done(1);
        },
      );
    };
    if (signalled) stop(signalled);
    else onSignal = stop;
  });
  detach();
  // Everything is closed; a stray handle (e.g. a keep-alive socket) must not keep us alive.
  setTimeout(() => process.exit(code), 3_000).unref();
  return code;
}

function describeProbe(p: PoolProbe): string {
  return `RPC pool "${p.pool}" (${p.envVar}, endpoint ${p.endpoint}) is unreachable: ${p.error}`;
}

function banner(stack: RunningLocalStack, probes: PoolProbe[]): string {
  const homeHint = stack.home === traceHome() ? "" : `TRACE_HOME=${stack.home} `;
  const database = stack.embeddedPostgres
    ? `${stack.databaseUrlRedacted} (embedded, data in ${stack.home}/pg)`
    : `${stack.databaseUrlRedacted} (DATABASE_URL)`;
  const pools = probes.length
    ? probes
        .map(
          (p) =>
            `  rpc pool ${p.pool.padEnd(10)} ${p.endpoint} ${p.ok ? `(chain ${p.chainId})` : `(unreachable: ${p.error})`}`,
        )
        .join("\n")
    : "  rpc pools      none configured: set TRACE_RPC_POOL_<POOL>_URL (e.g. TRACE_RPC_POOL_MAIN_URL) before `trace up`";
  return [
    `Trace is up (pid ${process.pid}).`,
    `  dispatcher     ${stack.dispatcherUrl}`,
    `  query service  ${stack.queryUrl}`,
    `  workers        ${stack.workers}`,
    `  database       ${database}`,
    `  objects        ${stack.objectStore}`,
    `  home           ${stack.home}${stack.logFile ? ` (logs: ${stack.logFile})` : ""}`,
    pools,
    "",
    "In another terminal:",
    `  ${homeHint}trace apply job.yaml        # declare a chain_sync job`,
    `  ${homeHint}trace status --watch        # progress per stream`,
    `  ${homeHint}trace query "SELECT count(*) FROM blocks"`,
    "Ctrl-C stops everything.",
    "",
  ].join("\n");
}
