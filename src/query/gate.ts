/**
 * The SQL gate: the first of two independent barriers in front of untrusted SQL (the second is
 * the locked-down DuckDB in session.ts). It is a comment- and string-aware lexer plus a small
 * state machine, deliberately stricter than trace-rust §3.4: it closes the gaps listed in §9.7
 * (nested string-literal relations, quoted-identifier replacement scans, read_text / glob /
 * parquet_metadata / read_ndjson …) by refusing every table function that is not on a short
 * allow-list and every relation that is not a plain name or a subquery.
 *
 * Reasons are short static strings: callers may log them, never the SQL itself.
 */

export const MAX_SQL_LENGTH = 64 * 1024;
const MAX_TOKEN_LENGTH = 4096;

export type GateResult = { ok: true } | { ok: false; reason: string };

/** Statement keywords that may never appear as a bare word, anywhere (quoted "set" is fine). */
const FORBIDDEN_KEYWORDS = new Set([
  "alter",
  "analyze",
  "attach",
  "begin",
  "call",
  "checkpoint",
  "commit",
  "copy",
  "create",
  "deallocate",
  "delete",
  "describe",
  "detach",
  "drop",
  "exec",
  "execute",
  "explain",
  "export",
  "force",
  "grant",
  "import",
  "insert",
  "install",
  "into",
  "load",
  "merge",
  "pragma",
  "prepare",
  "reset",
  "revoke",
  "rollback",
  "set",
  "show",
  "summarize",
  "transaction",
  "truncate",
  "update",
  "use",
  "vacuum",
]);

/** Table functions a query may use in FROM: they generate rows, they touch nothing outside. */
const ALLOWED_TABLE_FUNCTIONS = new Set([
  "range",
  "generate_series",
  "unnest",
  "json_each",
  "json_tree",
]);

/**
 * Functions refused wherever they are called. Every DuckDB 1.5 table function not allowed above
 * is here by name (so it is refused even outside FROM), plus scalars that read configuration,
 * variables, logs or execute SQL text.
 */
const FORBIDDEN_FUNCTIONS = new Set([
  "arrow_scan",
  "arrow_scan_dumb",
  "check_peg_parser",
  "checkpoint",
  "current_query",
  "current_setting",
  "disable_logging",
  "disable_peg_parser",
  "disable_profile",
  "disable_profiling",
  "enable_logging",
  "enable_peg_parser",
  "enable_profile",
  "enable_profiling",
  "extension_versions",
  "force_checkpoint",
  "getenv",
  "getvariable",
  "glob",
  "icu_calendar_names",
  "json_deserialize_sql",
  "json_execute_serialized_sql",
  "json_serialize_sql",
  "parse_duckdb_log_message",
  "pg_timezone_names",
  "query",
  "query_table",
  "repeat_row",
  "sniff_csv",
  "sql_auto_complete",
  "summary",
  "test_all_types",
  "test_vector_types",
  "truncate_duckdb_logs",
  "which_secret",
  "write_log",
]);

/** Name families refused wherever they are called, so future readers are refused too. */
const FORBIDDEN_FUNCTION_PATTERNS = [
  /^read_/,
  /^write_/,
  /_scan$/,
  /^parquet_/,
  /^duckdb_/,
  /^pragma_/,
  /^(iceberg|delta|sqlite|postgres|mysql|httpfs|s3|gcs|azure|ducklake|excel|spatial|st_read)/,
  /^(load|install|attach|detach)_?/,
  /^json_.*_sql$/,
];

/** Words that end the FROM clause of the current nesting level. */
const FROM_CLAUSE_END = new Set([
  "where",
  "group",
  "having",
  "qualify",
  "window",
  "order",
  "limit",
  "offset",
  "union",
  "except",
  "intersect",
  "select",
  "returning",
]);

/** Words after which a relation is still expected (FROM t, LATERAL …; JOIN …). */
const RELATION_PREFIX = new Set(["lateral", "only", "pivot", "unpivot"]);

type TokenKind = "ident" | "qident" | "string" | "number" | "punct" | "op";
interface Token {
  kind: TokenKind;
  /** Lowercased for idents and quoted idents; the character for punctuation. */
  text: string;
}

class GateError extends Error {}

const isIdentStart = (c: string) => /[A-Za-z_]/.test(c);
const isIdentPart = (c: string) => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string) => c >= "0" && c <= "9";

function lex(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") {
      i++;
      continue;
    }
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) throw new GateError("unterminated block comment");
      // DuckDB nests block comments; a lexer that did not could be tricked into hiding
      // code, so nesting is refused outright.
      if (sql.slice(i + 2, end).includes("/*")) throw new GateError("nested block comment");
      i = end + 2;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf("'", j);
        if (k === -1) throw new GateError("unterminated string literal");
        if (sql[k + 1] === "'") {
          j = k + 2;
          continue;
        }
        j = k + 1;
        break;
      }
      if (j - i > MAX_TOKEN_LENGTH) throw new GateError("string literal too long");
      tokens.push({ kind: "string", text: "'" });
      i = j;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let name = "";
      for (;;) {
        const k = sql.indexOf('"', j);
        if (k === -1) throw new GateError("unterminated quoted identifier");
        name += sql.slice(j, k);
        if (sql[k + 1] === '"') {
          name += '"';
          j = k + 2;
          continue;
        }
        j = k + 1;
        break;
      }
      if (j - i > MAX_TOKEN_LENGTH) throw new GateError("quoted identifier too long");
      tokens.push({ kind: "qident", text: name.toLowerCase() });
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(sql[j] as string)) j++;
      const word = sql.slice(i, j).toLowerCase();
      const after = sql[j];
      // Prefixed literals: E'..' has backslash escapes and U&'..' / U&".." unicode escapes,
      // which a simple lexer would mis-split (and U&".." can spell any function name).
      if (after === "'" || after === '"' || (after === "&" && word === "u"))
        throw new GateError("prefixed string literal");
      if (after === "$") throw new GateError("dollar sign not allowed");
      if (j - i > MAX_TOKEN_LENGTH) throw new GateError("identifier too long");
      tokens.push({ kind: "ident", text: word });
      i = j;
      continue;
    }
    if (isDigit(c) || (c === "." && next !== undefined && isDigit(next))) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(sql[j] as string)) {
        // Exponent sign: 1e-5
        j++;
        if (/[eE]/.test(sql[j - 1] as string) && (sql[j] === "+" || sql[j] === "-")) j++;
      }
      tokens.push({ kind: "number", text: "0" });
      i = j;
      continue;
    }
    if (c === "$") throw new GateError("dollar sign not allowed");
    if ("(),;.[]{}".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
      continue;
    }
    if ("+-*/%<>=!|&~^:@#?".includes(c)) {
      tokens.push({ kind: "op", text: c });
      i++;
      continue;
    }
    // Anything else outside strings, comments and quoted identifiers: non-ASCII letters,
    // look-alike unicode, control characters. None is needed to write a query.
    throw new GateError("unexpected character");
  }
  return tokens;
}

function functionForbidden(name: string): boolean {
  if (FORBIDDEN_FUNCTIONS.has(name)) return true;
  return FORBIDDEN_FUNCTION_PATTERNS.some((re) => re.test(name));
}

const PLAIN_NAME = /^[a-z_][a-z0-9_]*$/;

interface Level {
  /** Inside the FROM clause of this nesting level. */
  inFrom: boolean;
  /** The next token must be a relation (after FROM, JOIN or a FROM-list comma). */
  expectRelation: boolean;
  /** Opened by extract( / substring( / trim( …, where FROM is part of the call syntax. */
  fromTakingCall: boolean;
}

const FROM_TAKING_FUNCTIONS = new Set(["extract", "substring", "trim", "overlay", "position"]);

function checkTokens(tokens: Token[]): void {
  // Statement shape: one statement, optionally wrapped in parentheses, starting SELECT/WITH.
  const semicolon = tokens.findIndex((t) => t.kind === "punct" && t.text === ";");
  if (semicolon !== -1 && semicolon !== tokens.length - 1)
    throw new GateError("multiple statements");
  const body = semicolon === -1 ? tokens : tokens.slice(0, -1);
  if (body.length === 0) throw new GateError("no statement");
  for (const t of body)
    if (t.kind === "ident" && FORBIDDEN_KEYWORDS.has(t.text))
      throw new GateError("forbidden keyword");
  const first = body.find((t) => !(t.kind === "punct" && t.text === "("));
  if (first?.kind !== "ident" || (first.text !== "select" && first.text !== "with"))
    throw new GateError("only SELECT allowed");

  const levels: Level[] = [{ inFrom: false, expectRelation: false, fromTakingCall: false }];
  for (let i = 0; i < body.length; i++) {
    const t = body[i] as Token;
    const prev = body[i - 1];
    const next = body[i + 1];
    const level = levels[levels.length - 1] as Level;
    const callsFunction = next?.kind === "punct" && next.text === "(";

    if ((t.kind === "ident" || t.kind === "qident") && callsFunction && functionForbidden(t.text))
      throw new GateError("forbidden function");

    if (level.expectRelation) {
      if (t.kind === "punct" && t.text === "(") {
        // A parenthesised relation: the first thing inside must be a relation too.
        levels.push({ inFrom: true, expectRelation: true, fromTakingCall: false });
        level.expectRelation = false;
        continue;
      }
      if (t.kind === "ident") {
        if (RELATION_PREFIX.has(t.text)) continue;
        if (t.text === "select" || t.text === "with" || t.text === "values" || t.text === "from") {
          level.expectRelation = t.text === "from";
          level.inFrom = t.text === "from";
          continue;
        }
        // A (possibly schema-qualified) name; if it is called, it is a table function.
        let j = i;
        while (body[j + 1]?.text === "." && body[j + 2] !== undefined) j += 2;
        const last = body[j] as Token;
        if (last.kind !== "ident" && last.kind !== "qident")
          throw new GateError("invalid relation");
        if (last.kind === "qident" && !PLAIN_NAME.test(last.text))
          throw new GateError("quoted relation name");
        if (body[j + 1]?.kind === "punct" && body[j + 1]?.text === "(") {
          if (!ALLOWED_TABLE_FUNCTIONS.has(last.text))
            throw new GateError("table function not allowed");
        } else if (functionForbidden(last.text)) {
          // System views (duckdb_logs, duckdb_settings …) share the functions' names.
          throw new GateError("forbidden relation");
        }
        level.expectRelation = false;
        i = j;
        continue;
      }
      if (t.kind === "qident") {
        // Quoted names in FROM are where replacement scans turn "x.csv" into a file read.
        if (!PLAIN_NAME.test(t.text)) throw new GateError("quoted relation name");
        let j = i;
        while (body[j + 1]?.text === "." && body[j + 2] !== undefined) j += 2;
        const last = body[j] as Token;
        if (!PLAIN_NAME.test(last.text)) throw new GateError("quoted relation name");
        if (body[j + 1]?.text === "(" && !ALLOWED_TABLE_FUNCTIONS.has(last.text))
          throw new GateError("table function not allowed");
        if (functionForbidden(last.text)) throw new GateError("forbidden relation");
        level.expectRelation = false;
        i = j;
        continue;
      }
      if (t.kind === "string") throw new GateError("string literal relation");
      throw new GateError("invalid relation");
    }

    if (t.kind === "punct" && t.text === "(") {
      const fromTakingCall = prev?.kind === "ident" && FROM_TAKING_FUNCTIONS.has(prev.text);
      levels.push({ inFrom: false, expectRelation: false, fromTakingCall });
      continue;
    }
    if (t.kind === "punct" && t.text === ")") {
      if (levels.length === 1) throw new GateError("unbalanced parentheses");
      levels.pop();
      continue;
    }
    if (t.kind === "punct" && t.text === "," && level.inFrom) {
      level.expectRelation = true;
      continue;
    }
    if (t.kind === "ident") {
      if (t.text === "from") {
        // `a IS [NOT] DISTINCT FROM b` is a comparison, not a FROM clause.
        if (prev?.kind === "ident" && prev.text === "distinct") {
          const before = body[i - 2];
          const isComparison =
            before?.kind === "ident" &&
            (before.text === "is" ||
              (before.text === "not" &&
                body[i - 3]?.kind === "ident" &&
                body[i - 3]?.text === "is"));
          if (isComparison) continue;
        }
        if (level.fromTakingCall) continue;
        level.inFrom = true;
        level.expectRelation = true;
        continue;
      }
      if (t.text === "join") {
        level.inFrom = true;
        level.expectRelation = true;
        continue;
      }
      if (FROM_CLAUSE_END.has(t.text)) level.inFrom = false;
      // A subquery inside extract(…) would be odd, but then FROM is a FROM clause again.
      if (t.text === "select") level.fromTakingCall = false;
    }
  }
  if (levels.length !== 1) throw new GateError("unbalanced parentheses");
  const last = levels[0] as Level;
  if (last.expectRelation) throw new GateError("missing relation");
}

/**
 * Decide whether untrusted SQL may run. Pure and synchronous; the reason is safe to log.
 */
export function checkSql(sql: unknown): GateResult {
  if (typeof sql !== "string") return { ok: false, reason: "sql must be a string" };
  if (sql.length > MAX_SQL_LENGTH) return { ok: false, reason: "sql too long" };
  if (sql.trim().length === 0) return { ok: false, reason: "empty" };
  try {
    checkTokens(lex(sql));
    return { ok: true };
  } catch (err) {
    if (err instanceof GateError) return { ok: false, reason: err.message };
    throw err;
  }
}
