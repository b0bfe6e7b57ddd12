import { stringifyExactJson } from "./exact-json.ts";

/** What `trace query` prints: the query service's answer, rows already parsed (i64 exact). */
export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
  /** Which server cap cut the result ("rows" or "bytes"), when the service says so. */
  truncatedBy?: "rows" | "bytes";
}

export type OutputFormat = "table" | "json" | "csv";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json", "csv"];

/** Cells wider than this are shortened in the table (json and csv are never shortened). */
export const MAX_CELL_WIDTH = 42;

export function formatQueryResult(result: QueryResult, format: OutputFormat): string {
  switch (format) {
    case "table":
      return formatTable(result);
    case "json":
      return formatJson(result);
    case "csv":
      return formatCsv(result);
    default:
      throw new Error(`unknown format ${JSON.stringify(format)} (use table, json or csv)`);
  }
}

const NUMERIC_TYPE_RE =
  /^(U?TINYINT|U?SMALLINT|U?INTEGER|U?BIGINT|U?HUGEINT|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?|BIGNUM|VARINT)$/i;

function isNumericColumn(type: string): boolean {
  return NUMERIC_TYPE_RE.test(type.trim());
}

/** A value as text (no shortening): NULL for null, nested values as compact JSON. */
function cellText(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return stringifyExactJson(v);
}

/**
 * Shortens a cell to MAX_CELL_WIDTH: hashes and addresses (0x…) keep both ends, since both are
 * what people compare; anything else keeps its start. Control characters are made visible so
 * a value cannot break the table's lines.
 */
export function shortenCell(text: string, max = MAX_CELL_WIDTH): string {
  const flat = text.replace(/\r\n|\r|\n/g, "↵").replace(/\t/g, " ");
  if (flat.length <= max) return flat;
  if (/^0x[0-9a-fA-F]+$/.test(flat)) {
    const keep = max - 1;
    const head = Math.ceil(keep / 2);
    return `${flat.slice(0, head)}…${flat.slice(flat.length - (keep - head))}`;
  }
  return `${flat.slice(0, max - 1)}…`;
}

function formatTable(r: QueryResult): string {
  const n = r.rows.length;
  const footer = `(${n} ${n === 1 ? "row" : "rows"}${truncationNote(r)})`;
  if (r.columns.length === 0) return `${footer}\n`;
  const right = r.columns.map((c) => isNumericColumn(c.type));
  const header = r.columns.map((c) => shortenCell(c.name));
  const body = r.rows.map((row) => r.columns.map((_, i) => shortenCell(cellText(row[i]))));
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((cells) => cellLength(cells[i]))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return right[i] ? c.padStart(w) : c.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const cells of body) out.push(line(cells));
  out.push(footer);
  return `${out.join("\n")}\n`;
}

function cellLength(cell: string | undefined): number {
  return cell?.length ?? 0;
}

function truncationNote(r: QueryResult): string {
  if (!r.truncated) return "";
  if (r.truncatedBy === "bytes")
    return "; cut at the service's result size cap: narrow the query or select fewer columns";
  // "rows" (or unspecified): the row limit asked for, itself capped by the service.
  return "; more rows match: raise --limit (the service caps it) or narrow the query";
}

/** `{columns, rows, truncated}` with one row per line; i64 values stay digit-exact. */
function formatJson(r: QueryResult): string {
  const rows = r.rows.map((row) => `  ${stringifyExactJson(row)}`);
  const truncatedBy = r.truncatedBy ? `,\n"truncated_by":${JSON.stringify(r.truncatedBy)}` : "";
  return (
    `{"columns":${JSON.stringify(r.columns)},\n` +
    `"rows":[${rows.length ? `\n${rows.join(",\n")}\n` : ""}],\n` +
    `"truncated":${r.truncated}${truncatedBy}}\n`
  );
}

/** RFC 4180: CRLF line ends, a header row, fields quoted when they hold `,` `"` CR or LF. */
function formatCsv(r: QueryResult): string {
  const field = (v: unknown) => {
    const text = v === null || v === undefined ? "" : cellText(v);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [r.columns.map((c) => field(c.name)).join(",")];
  for (const row of r.rows) lines.push(r.columns.map((_, i) => field(row[i])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
