import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseExactJson, stringifyExactJson } from "./exact-json.ts";
import { formatQueryResult, MAX_CELL_WIDTH, type QueryResult, shortenCell } from "./format.ts";

const HASH = `0x${"ab".repeat(32)}`;

const result: QueryResult = {
  columns: [
    { name: "block_number", type: "BIGINT" },
    { name: "hash", type: "BLOB" },
    { name: "note", type: "VARCHAR" },
    { name: "gas", type: "UBIGINT" },
  ],
  rows: [
    [7, HASH, "plain", "12"],
    [12345, "0x01", null, "9007199254740993"],
  ],
  truncated: false,
};

describe("formatQueryResult table", () => {
  test("aligns columns, right-aligns numbers (and their headers), shortens hashes at both ends, counts rows", () => {
    const text = formatQueryResult(result, "table");
    const lines = text.split("\n");
    assert.equal(lines.at(-1), "");
    const short = shortenCell(HASH);
    assert.equal(short.length, MAX_CELL_WIDTH);
    assert.ok(short.startsWith("0xabab") && short.endsWith("abab") && short.includes("…"));
    assert.deepEqual(lines.slice(0, -1), [
      `block_number  ${"hash".padEnd(MAX_CELL_WIDTH)}  note   ${"gas".padStart(16)}`,
      `------------  ${"-".repeat(MAX_CELL_WIDTH)}  -----  ----------------`,
      `           7  ${short}  plain                12`,
      `       12345  ${"0x01".padEnd(MAX_CELL_WIDTH)}  NULL   9007199254740993`,
      "(2 rows)",
    ]);
  });

  test("says when the service truncated the result, and by which limit", () => {
    const text = formatQueryResult({ ...result, truncated: true, truncatedBy: "rows" }, "table");
    assert.match(
      text.trimEnd().split("\n").at(-1) ?? "",
      /^\(2 rows; more rows match: raise --limit \(the service caps it\) or narrow the query\)$/,
    );
    const bytes = formatQueryResult({ ...result, truncated: true, truncatedBy: "bytes" }, "table");
    assert.match(
      bytes,
      /\n\(2 rows; cut at the service's result size cap: narrow the query or select fewer columns\)\n$/,
    );
    const one = formatQueryResult({ ...result, rows: [result.rows[0] ?? []] }, "table");
    assert.match(one, /\n\(1 row\)\n$/);
  });

  test("long text keeps its start; newlines cannot break the table", () => {
    assert.equal(shortenCell("a\nb"), "a↵b");
    const long = "x".repeat(100);
    assert.equal(shortenCell(long), `${"x".repeat(MAX_CELL_WIDTH - 1)}…`);
  });

  test("nested values print as JSON, big integers exactly", () => {
    const text = formatQueryResult(
      {
        columns: [{ name: "s", type: "STRUCT(a BIGINT)" }],
        rows: [[{ a: 9007199254740993n }]],
        truncated: false,
      },
      "table",
    );
    assert.match(text, /\{"a":9007199254740993\}/);
  });
});

describe("formatQueryResult json and csv", () => {
  test("json round-trips exactly (i64 beyond 2^53 too)", () => {
    const r: QueryResult = {
      columns: [{ name: "v", type: "BIGINT" }],
      rows: [[9007199254740993n], [1], [null]],
      truncated: true,
      truncatedBy: "bytes",
    };
    const text = formatQueryResult(r, "json");
    assert.deepEqual(parseExactJson(text), {
      columns: r.columns,
      rows: r.rows,
      truncated: true,
      truncated_by: "bytes",
    });
    assert.match(text, /\[9007199254740993\]/);
    assert.deepEqual(JSON.parse(formatQueryResult({ ...r, rows: [] }, "json")).rows, []);
  });

  test("csv follows RFC 4180: CRLF, header, quoting of comma, quote and newline", () => {
    const text = formatQueryResult(
      {
        columns: [
          { name: "a", type: "VARCHAR" },
          { name: "b,c", type: "BIGINT" },
        ],
        rows: [
          ['say "hi"', 1],
          ["two\nlines", null],
          ["plain", 9007199254740993n],
        ],
        truncated: false,
      },
      "csv",
    );
    assert.equal(text, 'a,"b,c"\r\n"say ""hi""",1\r\n"two\nlines",\r\nplain,9007199254740993\r\n');
  });

  test("an unknown format is refused", () => {
    assert.throws(() => formatQueryResult(result, "xml" as never), /unknown format "xml"/);
  });
});

describe("exact JSON", () => {
  test("keeps unsafe integers as BigInt, everything else like JSON.parse", () => {
    const text =
      '{"a":[1,-2,3.5,1e3,18446744073709551615,-9007199254740993],"b":"x\\"y\\u00e9","c":null,"d":true,"__proto__":1}';
    const v = parseExactJson(text) as Record<string, unknown>;
    assert.deepEqual(v.a, [1, -2, 3.5, 1000, 18446744073709551615n, -9007199254740993n]);
    assert.equal(v.b, 'x"yé');
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal(Object.keys(v).includes("__proto__"), true);
    assert.equal(
      stringifyExactJson({ n: 18446744073709551615n, s: "q" }),
      '{"n":18446744073709551615,"s":"q"}',
    );
  });

  test("malformed input is a SyntaxError with the offset", () => {
    for (const bad of ["", "[1,", '{"a" 1}', "[1] x", "tru", '"open'])
      assert.throws(() => parseExactJson(bad), SyntaxError, bad);
  });
});
