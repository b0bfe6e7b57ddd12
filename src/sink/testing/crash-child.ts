/**
 * Child process for the crash test (run with `node --import tsx`), configured only through
 * argv and the standard AWS environment, like a real worker:
 *   upload  <store-url> <key>                 start a put that never finishes; print READY
 *   cleanup <store-url> <prefix> <olderThanMs>  run cleanupStale; print its report as JSON
 */
import { cleanupStale } from "../cleanup.ts";
import { openObjectStore } from "../open-store.ts";
import { patternBytes } from "./fixtures.ts";

const [mode, url, arg, olderThan] = process.argv.slice(2);
if (!mode || !url || !arg)
  throw new Error("usage: crash-child.ts upload|cleanup <url> <key|prefix> [olderThanMs]");
const store = openObjectStore(url, { partSizeBytes: 5 * 1024 * 1024, queueSize: 2 });

if (mode === "upload") {
  async function* forever() {
    yield* patternBytes(12 * 1024 * 1024);
    process.stdout.write("READY\n");
    // The producer hangs until the parent SIGKILLs us; the timer keeps the process alive.
    setInterval(() => {}, 60_000);
    await new Promise(() => {});
  }
  await store.put(arg, forever());
} else if (mode === "cleanup") {
  const report = await cleanupStale(store, { prefix: arg, olderThanMs: Number(olderThan ?? "0") });
  process.stdout.write(
    `${JSON.stringify({ aborted: report.aborted.map((a) => a.key), kept: report.kept, failed: report.failed.length })}\n`,
  );
  await store.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
