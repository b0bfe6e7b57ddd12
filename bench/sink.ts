/**
 * Sink throughput and memory: a 256 MiB streamed put (and the read back) to the S3 test server
 * and to a folder, each in a fresh child process so RSS is the uploader's alone. The S3 server
 * (fauxqs, in-memory) runs in this process.
 *
 *   node --import tsx bench/sink.ts [MiB=256] [repeats=2]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { DEFAULT_PART_SIZE_BYTES, DEFAULT_QUEUE_SIZE } from "../src/sink/open-store.ts";
import { runRoundTripChild } from "../src/sink/testing/run-roundtrip.ts";
import { awsEnv, s3ClientFor, startS3Server } from "../test/support/s3.ts";

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const repeats = Number(process.argv[3] ?? 2);

const s3 = await startS3Server();
const client = s3ClientFor(s3.endpoint);
await client.send(new CreateBucketCommand({ Bucket: "bench" }));
const dir = await mkdtemp(join(tmpdir(), "trace-bench-sink-"));

const configs = [
  {
    label: `s3, ${DEFAULT_PART_SIZE_BYTES / MiB} MiB parts × ${DEFAULT_QUEUE_SIZE} (default)`,
    url: "s3://bench/b",
    partSizeBytes: DEFAULT_PART_SIZE_BYTES,
    queueSize: DEFAULT_QUEUE_SIZE,
  },
  { label: "s3, 5 MiB parts × 2", url: "s3://bench/b", partSizeBytes: 5 * MiB, queueSize: 2 },
  { label: "folder", url: `file://${dir}/objects` },
];

console.log(
  `sink bench: ${sizeMiB} MiB streamed put + get, ${cpus().length} CPUs, node ${process.version}`,
);
console.log(
  "| target | run | put MiB/s | get MiB/s | peak RSS MiB | RSS growth MiB (put / put+get) | sha256 ok |",
);
console.log("|---|---|---|---|---|---|---|");
try {
  for (const c of configs) {
    for (let i = 1; i <= repeats; i++) {
      const r = await runRoundTripChild(
        {
          url: c.url,
          key: `run-${i}.bin`,
          bytes: sizeMiB * MiB,
          partSizeBytes: c.partSizeBytes,
          queueSize: c.queueSize,
        },
        awsEnv(s3.endpoint),
      );
      const ok = r.putSha256 === r.expectedSha256 && r.getSha256 === r.expectedSha256;
      console.log(
        `| ${c.label} | ${i} | ${r.putMiBps.toFixed(0)} | ${r.getMiBps.toFixed(0)} | ${(r.peakRssBytes / MiB).toFixed(0)} | ` +
          `${((r.putPeakRssBytes - r.baselineRssBytes) / MiB).toFixed(0)} / ${((r.peakRssBytes - r.baselineRssBytes) / MiB).toFixed(0)} | ${ok} |`,
      );
      if (!ok) process.exitCode = 1;
    }
  }
} finally {
  client.destroy();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}
