import { type Command, InvalidArgumentError } from "commander";
import { FatalError } from "../core/errors.ts";
import { SLUG_RE } from "../core/ids.ts";
import { rpcPoolEnvVar } from "../core/rpc-pools.ts";
import { startDevnet } from "../devnet/server.ts";
import { parseCount, parsePositive, UsageError } from "./usage.ts";

interface DevnetFlags {
  port: number;
  host: string;
  seed: string;
  chainId?: number;
  length?: number;
  txsPerBlock?: number;
  logsPerBlock?: number;
  blockTime?: number;
  pool: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost"]);

function parsePort(value: string): number {
  const n = parseCount(value);
  if (n > 65_535) throw new InvalidArgumentError(`a port is at most 65535, got ${value}`);
  return n;
}

/** `trace devnet`: the synthetic chain on a loopback port, until Ctrl-C. */
export function registerDevnet(program: Command): void {
  program
    .command("devnet")
    .description("serve the deterministic synthetic EVM chain over JSON-RPC on 127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", parsePort, 8545)
    .option("--host <address>", "bind address (loopback only)", "127.0.0.1")
    .option("--seed <seed>", "same seed and parameters → the same chain", "1")
    .option("--chain-id <n>", "chain id (default 31337)", parsePositive)
    .option(
      "--length <blocks>",
      "number of blocks; the head is length - 1 (default 1M)",
      parsePositive,
    )
    .option("--txs-per-block <n>", "mean transactions per block (default 150)", parseCount)
    .option("--logs-per-block <n>", "mean logs per block (default 300)", parseCount)
    .option("--block-time <seconds>", "seconds between blocks (default 12)", parsePositive)
    .option("--pool <name>", "RPC pool name used in the printed env line", "devnet")
    .action(async (flags: DevnetFlags) => {
      if (!LOOPBACK.has(flags.host))
        throw new FatalError(
          `trace devnet serves on loopback only (127.0.0.1), not ${flags.host}: it is a test chain without access control`,
          { category: "config" },
        );
      if (!SLUG_RE.test(flags.pool))
        throw new UsageError(
          `--pool must be 1-64 characters of a-z, 0-9 and _, got "${flags.pool}"`,
        );
      let devnet: Awaited<ReturnType<typeof startDevnet>>;
      try {
        devnet = await startDevnet({
          port: flags.port,
          chain: {
            seed: /^\d+$/.test(flags.seed) ? Number(flags.seed) : flags.seed,
            ...(flags.chainId !== undefined ? { chainId: flags.chainId } : {}),
            ...(flags.length !== undefined ? { length: flags.length } : {}),
            ...(flags.txsPerBlock !== undefined ? { txsPerBlock: flags.txsPerBlock } : {}),
            ...(flags.logsPerBlock !== undefined ? { logsPerBlock: flags.logsPerBlock } : {}),
            ...(flags.blockTime !== undefined ? { blockTime: flags.blockTime } : {}),
          },
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE")
          throw new FatalError(
            `port ${flags.port} on 127.0.0.1 is in use: pick another with --port (0 picks a free one)`,
            { category: "port_in_use", cause: err },
          );
        throw err;
      }
      const env = `${rpcPoolEnvVar(flags.pool)}=${devnet.url}`;
      process.stdout.write(
        [
          `devnet: chain ${devnet.chain.chainId}, blocks 0..${devnet.chain.head}, at ${devnet.url}`,
          `use it as the RPC pool "${flags.pool}" of a chain_sync job (rpc_pool: ${flags.pool}) with:`,
          `  export ${env}`,
          "Ctrl-C stops it",
          "",
        ].join("\n"),
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void devnet.stop().then(resolve, resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      process.stdout.write("devnet stopped\n");
    });
}
