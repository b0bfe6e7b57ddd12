/**
 * `node --import tsx roundtrip-child.ts <store-url> <key> <bytes> [partSizeBytes] [queueSize]`:
 * one measured round trip in a process of its own (AWS settings from the environment); prints
 * the RoundTripReport as one JSON line. TRACE_ROUNDTRIP_GC=1 (with --expose-gc) measures held
 * memory rather than natural GC behaviour.
 */
import { openObjectStore } from "../open-store.ts";
import { roundTrip } from "./roundtrip.ts";

const [url, key, bytes, partSize, queueSize] = process.argv.slice(2);
if (!url || !key || !bytes)
  throw new Error("usage: roundtrip-child.ts <url> <key> <bytes> [partSize] [queueSize]");
const store = openObjectStore(url, {
  partSizeBytes: partSize ? Number(partSize) : undefined,
  queueSize: queueSize ? Number(queueSize) : undefined,
});
const report = await roundTrip(store, key, Number(bytes), {
  collectGarbage: process.env.TRACE_ROUNDTRIP_GC === "1",
});
await store.delete(key);
await store.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
