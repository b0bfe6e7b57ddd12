import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidResponseError } from "./errors.ts";
import { checkLogColumns, LogColumns } from "./log-columns.ts";
import { type DecodedLogsItem, decodeLogsResponse } from "./logs-decode.ts";
import { recordedChain } from "./testing/chain.ts";
import { FAST, withFaultServer } from "./testing/harness.ts";
import { decodedEdits } from "./testing/random-edits.ts";
import type { RpcLog } from "./types.ts";
import { validateLogs } from "./validate.ts";

const N = 18_000_000;
const chain = recordedChain();
// biome-ignore lint/suspicious/noExplicitAny: tests build raw JSON freely
type J = Record<string, any>;
/** The real logs of block 18,000,000, as a node sends them (from its recorded receipts). */
const realLogs = (): J[] => structuredClone(chain.receipts(N)!.flatMap((r) => r.logs as J[]));
const FILTER = { fromBlock: N, toBlock: N };

function body(value: unknown, indent?: number): Buffer {
  return Buffer.from(JSON.stringify(value, null, indent));
}

/** What the JSON path makes of one result: validateLogs, then columns. */
function viaJson(result: unknown): LogColumns {
  const cols = LogColumns.fromJson(validateLogs(result, { fromBlock: 0, toBlock: 2 ** 31 }));
  assert.ok(cols);
  return cols;
}

/** Both column sets hold the same logs, value for value. */
function assertSameColumns(a: LogColumns, b: LogColumns): void {
  assert.equal(a.count, b.count);
  const n = a.count;
  const slice = (x: Uint8Array | Uint32Array, per: number) =>
    Buffer.from(x.slice(0, n * per).buffer);
  for (const f of ["blockNumber", "logIndex", "transactionIndex", "topicCount", "dataEnd"] as const)
    assert.deepEqual(slice(a[f], 1), slice(b[f], 1), f);
  assert.deepEqual(slice(a.blockHash, 32), slice(b.blockHash, 32), "blockHash");
  assert.deepEqual(slice(a.transactionHash, 32), slice(b.transactionHash, 32), "transactionHash");
  assert.deepEqual(slice(a.address, 20), slice(b.address, 20), "address");
  for (let t = 0; t < 4; t++) {
    for (let i = 0; i < n; i++) {
      if (t >= (a.topicCount[i] as number)) continue;
      assert.deepEqual(
        a.topics[t]!.subarray(i * 32, i * 32 + 32),
        b.topics[t]!.subarray(i * 32, i * 32 + 32),
      );
    }
  }
  assert.deepEqual(a.data.subarray(0, a.dataUsed), b.data.subarray(0, b.dataUsed), "data");
}

function items(decoded: ReturnType<typeof decodeLogsResponse>): DecodedLogsItem[] {
  assert.ok(decoded, "decoded");
  return Array.isArray(decoded) ? decoded : [decoded];
}

describe("eth_getLogs answers decoded from bytes (logs-decode)", () => {
  test("the real logs of block 18,000,000: the same values as JSON.parse + validateLogs", () => {
    const logs = realLogs();
    assert.equal(logs.length, 291);
    const single = items(decodeLogsResponse(body({ jsonrpc: "2.0", id: 7, result: logs })));
    assert.equal(single[0]!.id, 7);
    assertSameColumns(single[0]!.result, viaJson(logs));
    // A batch, pretty-printed, keys in another order, extra fields, upper-case hex digits.
    const shuffled = logs.map((l) => ({
      extra: { nested: [1, -2.5e3, 'a\\"b\u00e9', null, true, false, {}] },
      ...Object.fromEntries(Object.entries(l).reverse()),
      address: (l.address as string).toUpperCase().replace("0X", "0x"),
    }));
    const batch = items(
      decodeLogsResponse(
        body(
          [
            { id: 1, jsonrpc: "2.0", result: shuffled },
            { jsonrpc: "2.0", result: [], id: 2 },
          ],
          2,
        ),
      ),
    );
    assert.deepEqual(
      batch.map((i) => [i.id, i.result.count]),
      [
        [1, 291],
        [2, 0],
      ],
    );
    assertSameColumns(batch[0]!.result, viaJson(logs));
  });

  test("a result of 20,000 logs (a wide range) decodes whole; the next one too", () => {
    const real = realLogs();
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      ...real[i % real.length]!,
      logIndex: `0x${i.toString(16)}`,
    }));
    const [big] = items(decodeLogsResponse(body({ jsonrpc: "2.0", id: 1, result: many })));
    assertSameColumns(big!.result, viaJson(many));
    const [small] = items(decodeLogsResponse(body({ jsonrpc: "2.0", id: 2, result: real })));
    assertSameColumns(small!.result, viaJson(real));
  });

  test("anything outside the usual form is left to JSON.parse (undefined)", () => {
    const logs = realLogs().slice(0, 2);
    const ok = (result: unknown = logs, extra: J = {}) => ({
      jsonrpc: "2.0",
      id: 1,
      result,
      ...extra,
    });
    const cases: [string, string | Buffer][] = [
      [
        "an error item",
        JSON.stringify([ok(), { jsonrpc: "2.0", id: 2, error: { code: -32000, message: "x" } }]),
      ],
      ["a null result", JSON.stringify(ok(null))],
      ["a string id", JSON.stringify({ ...ok(), id: "1" })],
      ["an id with a leading zero", JSON.stringify(ok()).replace('"id":1', '"id":01')],
      ["a fractional id", JSON.stringify(ok()).replace('"id":1', '"id":1.0')],
      ["an empty batch", "[]"],
      ["trailing bytes", `${JSON.stringify(ok())} x`],
      ["two answers", `${JSON.stringify(ok())}${JSON.stringify(ok())}`],
      ["a null field", JSON.stringify(ok([{ ...logs[0], logIndex: null }]))],
      ["a missing field", JSON.stringify(ok([{ ...logs[0], data: undefined }]))],
      [
        "five topics",
        JSON.stringify(ok([{ ...logs[0], topics: Array(5).fill(logs[0]!.topics[0]) }])),
      ],
      ["a removed log", JSON.stringify(ok([{ ...logs[0], removed: true }]))],
      ["a duplicate key", JSON.stringify(ok([logs[0]])).replace('"data":', '"data":"0x","data":')],
      ["a quantity of 9 digits", JSON.stringify(ok([{ ...logs[0], logIndex: "0x100000000" }]))],
      ["an empty quantity", JSON.stringify(ok([{ ...logs[0], logIndex: "0x" }]))],
      ["odd data", JSON.stringify(ok([{ ...logs[0], data: "0x123" }]))],
      ["a short hash", JSON.stringify(ok([{ ...logs[0], blockHash: "0x12" }]))],
      [
        "an escape in a hex value",
        JSON.stringify(ok([logs[0]])).replace('"data":"0x', '"data":"0x\\u0030'),
      ],
      ["an escape in a key", JSON.stringify(ok([logs[0]])).replace('"data":', '"d\\u0061ta":')],
      [
        "a bad literal in an extra field",
        JSON.stringify(ok([{ ...logs[0], x: true }])).replace("true", "tru"),
      ],
      [
        "a bad number in an extra field",
        JSON.stringify(ok([{ ...logs[0], x: 1 }])).replace('"x":1', '"x":01'),
      ],
      [
        "a control character in an extra string",
        JSON.stringify(ok([{ ...logs[0], x: "a" }])).replace('"a"', '"a\tb"'),
      ],
      [
        "a bad escape in an extra string",
        JSON.stringify(ok([{ ...logs[0], x: "a" }])).replace('"a"', '"\\x"'),
      ],
      ["a truncated answer", JSON.stringify(ok()).slice(0, -3)],
    ];
    for (const [what, text] of cases) {
      assert.equal(decodeLogsResponse(Buffer.from(text)), undefined, what);
    }
  });

  test("never takes what JSON.parse refuses, and never decodes differently (random edits)", () => {
    const logs = realLogs().slice(0, 3);
    logs[1]!.blockTimestamp = "0x64ecf1a3";
    const original = body([
      { jsonrpc: "2.0", id: 11, result: logs },
      { jsonrpc: "2.0", id: 12, result: [] },
    ]);
    assert.ok(decodeLogsResponse(original));
    let accepted = 0;
    // Bytes that matter to JSON: structure, quotes, escapes, digits, hex, whitespace, literals.
    for (const { parsed, decoded } of decodedEdits(
      original,
      {
        seed: 12345,
        rounds: 4000,
        alphabet: '{}[]:,"\\ \n\t0123456789abcdefABCDEFxXetruflsn-+.Eg\u0001',
      },
      decodeLogsResponse,
    )) {
      accepted++;
      const answers = (Array.isArray(parsed) ? parsed : [parsed]) as J[];
      const got = items(decoded);
      assert.deepEqual(
        got.map((i) => i.id),
        answers.map((a) => a.id),
      );
      got.forEach((item, k) => {
        // The same verdict on what the logs say (e.g. two hashes for one block), then the same values.
        const wide = { fromBlock: 0, toBlock: 2 ** 31 };
        let json: LogColumns | undefined;
        try {
          json = viaJson(answers[k]!.result);
        } catch (error) {
          assert.ok(error instanceof InvalidResponseError, String(error));
          assert.throws(
            () => checkLogColumns(item.result, wide, () => undefined),
            InvalidResponseError,
          );
          return;
        }
        const none = () => undefined;
        assertSameColumns(
          checkLogColumns(item.result, wide, none),
          checkLogColumns(json, wide, none),
        );
      });
    }
    // Most edits to hex digits and whitespace keep the answer valid: the comparison ran.
    assert.ok(accepted > 500, `only ${accepted} edited answers were decoded`);
  });
});

describe("checkLogColumns: validateLogs' rules on decoded logs", () => {
  const decode = (logs: J[]): LogColumns =>
    items(decodeLogsResponse(body({ jsonrpc: "2.0", id: 1, result: logs })))[0]!.result;
  const rejects = (fn: () => unknown, message: RegExp) =>
    assert.throws(
      fn,
      (err: unknown) => err instanceof InvalidResponseError && message.test(err.message),
    );

  test("the real logs pass as they are, in (block, logIndex) order", () => {
    const cols = decode(realLogs());
    assert.equal(
      checkLogColumns(cols, FILTER, () => undefined),
      cols,
    );
  });

  test("logs out of order are put in order; the same log twice is refused", () => {
    const logs = realLogs();
    const reversed = checkLogColumns(decode([...logs].reverse()), FILTER, () => undefined);
    assertSameColumns(reversed, decode(logs));
    rejects(
      () => checkLogColumns(decode([logs[5]!, logs[1]!, logs[5]!]), FILTER, () => undefined),
      /block 18000000: log \d of blocks 18000000\.\.18000000: duplicate logIndex 5/,
    );
    rejects(
      () => checkLogColumns(decode([logs[0]!, logs[0]!]), FILTER, () => undefined),
      /duplicate logIndex 0/,
    );
  });

  test("a log outside the range, or of another block hash, is refused", () => {
    const logs = realLogs();
    rejects(
      () => checkLogColumns(decode(logs), { fromBlock: N + 1, toBlock: N + 2 }, () => undefined),
      /block 18000000 is outside the requested range/,
    );
    const other = `0x${"ab".repeat(32)}`;
    rejects(
      () => checkLogColumns(decode(logs), FILTER, () => other),
      /log for the wrong block \(blockHash 0x[0-9a-f]{64}, block is 0xabab/,
    );
    const mixed = [logs[0]!, { ...logs[1]!, blockHash: other }];
    rejects(
      () => checkLogColumns(decode(mixed), FILTER, () => undefined),
      /log 1 of .*log for the wrong block \(blockHash 0xabab/,
    );
    // The block's real hash, in capitals, is the same hash.
    const real = (logs[0]!.blockHash as string).toUpperCase().replace("0X", "0x");
    assert.equal(checkLogColumns(decode(logs), FILTER, () => real).count, 291);
  });

  test("fromJson keeps the JSON path's logs (what validateLogs accepted)", () => {
    const logs = realLogs() as unknown as RpcLog[];
    assertSameColumns(LogColumns.fromJson(logs)!, decode(logs as unknown as J[]));
    const huge = [{ ...logs[0]!, blockNumber: "0x100000000" }];
    assert.equal(LogColumns.fromJson(huge), undefined);
  });
});

describe("RpcClient.getLogsColumnar", () => {
  const filters = Array.from({ length: 25 }, (_, k) => ({ fromBlock: 200 + k, toBlock: 200 + k }));
  const none = () => undefined;
  /** getLogsMany's answer for the same filters, as checked columns. */
  const expected = async (server: { url: string }) => {
    const { RpcClient } = await import("./client.ts");
    const plain = new RpcClient({ urls: [server.url], backoff: FAST, endpointCooldown: FAST });
    try {
      const lists = await plain.getLogsMany(filters);
      return lists.map((logs, k) => checkLogColumns(LogColumns.fromJson(logs)!, filters[k]!, none));
    } finally {
      await plain.close();
    }
  };

  test("the same logs as getLogsMany, in the same batched requests", async () => {
    await withFaultServer({}, {}, async (client, server) => {
      const got = await client.getLogsColumnar(filters);
      assert.equal(server.requests, 3, "25 calls in batches of 10");
      const want = await expected(server);
      assert.ok(want.some((c) => c.count > 0));
      for (const [k, cols] of got.entries()) assertSameColumns(cols, want[k]!);
    });
  });

  test("an answer not in the usual form is read as JSON, with the same result", async () => {
    // `removed: null` is valid (not true) but outside the decoder's form; batches come reversed.
    let n = 0;
    const fault = () =>
      n++ % 2 === 0
        ? ({
            kind: "tamper",
            fn: (logs: unknown) => (logs as J[]).map((l) => ({ ...l, removed: null })),
          } as const)
        : ({ kind: "reverse" } as const);
    await withFaultServer({ fault }, {}, async (client, server) => {
      const got = await client.getLogsColumnar(filters);
      const want = await expected(server);
      for (const [k, cols] of got.entries()) assertSameColumns(cols, want[k]!);
    });
  });

  test("logs that keep naming two hashes for one block fail closed", async () => {
    const fault = () =>
      ({
        kind: "tamper",
        fn: (logs: unknown) =>
          (logs as J[]).map((l, i) => (i === 1 ? { ...l, blockHash: `0x${"ee".repeat(32)}` } : l)),
        only: (c: { method: string }) => c.method === "eth_getLogs",
      }) as const;
    await withFaultServer({ fault }, { maxAttempts: 2 }, async (client) => {
      await assert.rejects(
        client.getLogsColumnar([{ fromBlock: 211, toBlock: 211 }]),
        (err: Error) => {
          assert.match(
            err.message,
            /persistent invalid response after 2 attempts: eth_getLogs.*block 211: log 1 of blocks 211\.\.211: log for the wrong block \(blockHash 0xeeee/,
          );
          return true;
        },
      );
    });
  });
});
