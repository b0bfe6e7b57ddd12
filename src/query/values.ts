import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDecimalValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from "@duckdb/node-api";

/**
 * DuckDB values → JSON text, exact and JSON-safe (documented in README "Query Service"):
 * - NULL → null; BOOLEAN → true/false
 * - TINYINT…BIGINT, UTINYINT…UINTEGER → JSON number, written digit-exact (an i64 is not
 *   rounded through a double on our side)
 * - UBIGINT (u64), HUGEINT/UHUGEINT (i128/u128), DECIMAL, BIGNUM → decimal string
 * - FLOAT/DOUBLE → number; NaN and ±Infinity → null
 * - BLOB → "0x…" lowercase hex; VARCHAR, UUID, ENUM → string
 * - DATE/TIME/TIMESTAMP* → DuckDB's text form (e.g. "2024-01-01 00:00:00")
 * - INTERVAL → {"months", "days", "micros"} (micros as a number)
 * - LIST/ARRAY → array; STRUCT → object; MAP → [{"key", "value"}]; anything else → its text form
 *
 * We serialise rows ourselves (not JSON.stringify) so that i64 stays exact and so that the
 * result byte limit is measured on the very bytes sent.
 */

const STRING_INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);

function hex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

const str = (s: string) => JSON.stringify(s);

export function valueToJson(value: DuckDBValue, type: DuckDBType): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "bigint":
      return STRING_INTEGER_TYPES.has(type.typeId) ? str(value.toString()) : value.toString();
    case "string":
      return str(value);
  }
  if (value instanceof DuckDBBlobValue) return str(hex(value.bytes));
  if (value instanceof DuckDBDecimalValue) return str(value.toString());
  if (value instanceof DuckDBIntervalValue)
    return `{"months":${value.months},"days":${value.days},"micros":${value.micros.toString()}}`;
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) {
    const inner = "valueType" in type ? (type.valueType as DuckDBType) : type;
    return `[${value.items.map((v) => valueToJson(v, inner)).join(",")}]`;
  }
  if (value instanceof DuckDBStructValue) {
    const names = "entryNames" in type ? (type.entryNames as readonly string[]) : [];
    const types = "entryTypes" in type ? (type.entryTypes as readonly DuckDBType[]) : [];
    const parts = Object.entries(value.entries).map(([k, v]) => {
      const t = types[names.indexOf(k)] ?? type;
      return `${str(k)}:${valueToJson(v, t)}`;
    });
    return `{${parts.join(",")}}`;
  }
  if (value instanceof DuckDBMapValue) {
    const kt = "keyType" in type ? (type.keyType as DuckDBType) : type;
    const vt = "valueType" in type ? (type.valueType as DuckDBType) : type;
    return `[${value.entries
      .map((e) => `{"key":${valueToJson(e.key, kt)},"value":${valueToJson(e.value, vt)}}`)
      .join(",")}]`;
  }
  return str(String(value));
}

/** Serialises one row as a JSON array. */
export function rowToJson(row: readonly DuckDBValue[], types: readonly DuckDBType[]): string {
  let out = "[";
  for (let i = 0; i < row.length; i++) {
    if (i > 0) out += ",";
    out += valueToJson(row[i] as DuckDBValue, types[i] as DuckDBType);
  }
  return `${out}]`;
}
