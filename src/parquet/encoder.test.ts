import assert from "node:assert/strict";
import { test } from "node:test";
import {
  RecordBatch as Batch,
  Field,
  makeData,
  type RecordBatch,
  Schema,
  Struct,
} from "apache-arrow";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { FatalError } from "../core/errors.ts";
import { arrowType, BytesColumn, FixedColumn, U64Column } from "./columns.ts";
import { collectBytes, encodeParquet, parseCompression } from "./encoder.ts";
import { testCompressors } from "./lz4-raw.ts";

const schema = new Schema([
  new Field("n", arrowType("u32"), true),
  new Field("big", arrowType("u64"), true),
  new Field("bin", arrowType("binary"), true),
]);

function batch(from: number, count: number): RecordBatch {
  const n = new FixedColumn("u32");
  const big = new U64Column();
  const bin = new BytesColumn("binary");
  for (let i = from; i < from + count; i++) {
    n.append(i);
    if (i % 3 === 0) big.appendNull();
    else big.appendBigInt(2n ** 63n + BigInt(i));
    bin.append(Uint8Array.of(i & 255, (i >> 8) & 255));
  }
  const children = [n.finish(), big.finish(), bin.finish()];
  return new Batch(
    schema,
    makeData({ type: new Struct(schema.fields), length: count, nullCount: 0, children }),
  );
}

async function* batches(list: RecordBatch[]) {
  for (const b of list) yield b;
}

const ab = (b: Uint8Array) =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

test("round-trips values, nulls and u64 above 2^63; LZ4_RAW by default; row groups capped", async () => {
  const bytes = await collectBytes(
    encodeParquet(schema, batches([batch(0, 5000), batch(5000, 5000)]), { rowGroupSize: 4000 }),
  );
  const meta = parquetMetadata(ab(bytes));
  assert.equal(meta.num_rows, 10000n);
  assert.deepEqual(
    meta.row_groups.map((g) => Number(g.num_rows)),
    [4000, 4000, 2000],
  );
  assert.equal(meta.row_groups[0]!.columns[0]!.meta_data!.codec, "LZ4_RAW");
  assert.ok(meta.row_groups[0]!.columns[0]!.meta_data!.statistics?.max_value !== undefined);
  const rows = await parquetReadObjects({
    file: ab(bytes),
    utf8: false,
    compressors: testCompressors,
  });
  assert.equal(rows[3]!.big, null);
  assert.equal(rows[4]!.big, 2n ** 63n + 4n);
  assert.deepEqual([...(rows[258]!.bin as Uint8Array)], [2, 1]);
  assert.equal(rows[9999]!.n, 9999);
});

test("the same batches give byte-identical files", async () => {
  const a = await collectBytes(encodeParquet(schema, batches([batch(0, 3000)])));
  const b = await collectBytes(encodeParquet(schema, batches([batch(0, 3000)])));
  assert.deepEqual(a, b);
});

test("several batches handed over together (empty ones skipped) keep their rows in order", async () => {
  async function* handOvers() {
    yield [batch(0, 700), batch(700, 0), batch(700, 1300)];
    yield [batch(2000, 0)];
    yield batch(2000, 500);
  }
  const bytes = await collectBytes(encodeParquet(schema, handOvers(), { rowGroupSize: 1000 }));
  const meta = parquetMetadata(ab(bytes));
  assert.deepEqual(
    meta.row_groups.map((g) => Number(g.num_rows)),
    [1000, 1000, 500],
  );
  const rows = await parquetReadObjects({
    file: ab(bytes),
    utf8: false,
    compressors: testCompressors,
  });
  assert.deepEqual(
    rows.map((r) => r.n),
    Array.from({ length: 2500 }, (_, i) => i),
  );
});

test("no batches still gives a valid file with the schema and zero row groups (like cryo)", async () => {
  const bytes = await collectBytes(encodeParquet(schema, batches([])));
  const meta = parquetMetadata(ab(bytes));
  assert.equal(meta.num_rows, 0n);
  assert.equal(meta.row_groups.length, 0);
  assert.deepEqual(
    meta.schema.slice(1).map((s) => s.name),
    ["n", "big", "bin"],
  );
});

test("every compression option writes its codec", async () => {
  const want = {
    zstd: "ZSTD",
    snappy: "SNAPPY",
    gzip: "GZIP",
    brotli: "BROTLI",
    none: "UNCOMPRESSED",
    lz4: "LZ4_RAW",
  };
  for (const [name, codec] of Object.entries(want)) {
    const bytes = await collectBytes(
      encodeParquet(schema, batches([batch(0, 100)]), { compression: parseCompression(name) }),
    );
    assert.equal(parquetMetadata(ab(bytes)).row_groups[0]!.columns[0]!.meta_data!.codec, codec);
  }
  assert.throws(() => parseCompression("lzo"), /unknown compression "lzo"/);
});

test("an error from the batch source reaches the consumer unchanged", async () => {
  const boom = new FatalError("source broke", { category: "test" });
  async function* failing() {
    yield batch(0, 10);
    throw boom;
  }
  await assert.rejects(collectBytes(encodeParquet(schema, failing())), (e) => e === boom);
});
