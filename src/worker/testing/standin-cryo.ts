/**
 * A stand-in for the `cryo` binary in tests of the cli fallback. It accepts exactly the argv the
 * worker passes (`<dataset> --rpc <url> --blocks <start>:<end> --output-dir <dir>`), writes real
 * Parquet files named the way cryo names them (using our cryo-compatible extraction engine),
 * plus a `.cryo/` report dir and a symlink that must both be ignored. Its behaviour is fixed by
 * the wrapper script the test writes (the worker passes cryo no environment of ours):
 *   standin-cryo.ts <mode> <argv-log-file> -- <cryo argv...>
 * mode: ok | exit2 | exit1 | hang | empty (exits 0 having written only its `.cryo/` report)
 */
import { createWriteStream, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { runExtraction } from "../../extract/index.ts";
import { RpcClient } from "../../rpc/index.ts";

const [mode, argvLog, sep, ...argv] = process.argv.slice(2);
if (!mode || !argvLog || sep !== "--")
  throw new Error("usage: standin-cryo.ts <mode> <log> -- ...");
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const dataset = argv[0]!;
const rpcUrl = flag("--rpc");
const blocks = flag("--blocks");
const outDir = flag("--output-dir");
writeFileSync(
  argvLog,
  JSON.stringify({
    argv,
    mode: outDir ? statSync(outDir).mode & 0o777 : null,
    env: Object.keys(process.env).sort(),
  }),
);

if (mode === "exit2") {
  // cryo prints its errors to stdout.
  process.stdout.write(`error: unknown dataset ${dataset}; see cryo --help\n`);
  process.exit(2);
}
if (mode === "exit1") {
  process.stdout.write("collecting blocks...\n");
  process.stderr.write("Error: RPC provider returned 503 Service Unavailable\n");
  process.exit(1);
}
if (mode === "empty" && outDir) {
  mkdirSync(join(outDir, ".cryo", "reports"), { recursive: true });
  writeFileSync(join(outDir, ".cryo", "reports", "report.json"), "{}");
  process.exit(0);
}
if (mode === "hang") {
  setInterval(() => {}, 60_000);
  await new Promise(() => {});
}
if (!rpcUrl || !blocks || !outDir) {
  process.stdout.write("error: missing --rpc, --blocks or --output-dir\n");
  process.exit(2);
}
const [start, end] = blocks.split(":").map(Number) as [number, number];
const rpc = new RpcClient({ urls: [rpcUrl] });
try {
  const chainId = await rpc.chainId();
  await runExtraction({
    rpc,
    dataset,
    chainId,
    range: [start, end],
    write: async (name, body) => {
      await pipeline(Readable.from(body), createWriteStream(join(outDir, name)));
      return { key: name, size: 0, sha256: "" };
    },
  });
} finally {
  await rpc.close();
}
// cryo's own reports, and things a hostile output could contain: never read, never uploaded.
mkdirSync(join(outDir, ".cryo", "reports"), { recursive: true });
writeFileSync(join(outDir, ".cryo", "reports", "report.json"), "{}");
writeFileSync(join(outDir, ".cryo", "stray.parquet"), "not parquet");
symlinkSync("/etc/hostname", join(outDir, "link.parquet"));
process.stdout.write(`done: ${dataset} ${blocks}\n`);
