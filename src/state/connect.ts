import postgres from "postgres";

/** A porsager client or a transaction scope of one: every query helper here accepts either. */
export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;
export type Db = Sql | Tx;

export interface ConnectOptions {
  /** Pool size. Small by default: every dispatcher loop and request holds a connection briefly. */
  max?: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * Opens a pooled client. Notices are dropped (migrations emit "already exists" notices), and
 * idle connections are closed after a while so short-lived tools do not pin server slots.
 */
export function connect(databaseUrl: string, options: ConnectOptions = {}): Sql {
  return postgres(databaseUrl, {
    max: options.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "trace" },
  });
}

/**
 * Array parameters with an explicit array type. postgres.js otherwise infers the type from OIDs it
 * fetches once per connection; a query sent on a fresh connection before that fetch completes
 * serialises the array as a scalar ("malformed array literal"), e.g. the first query of a
 * freshly started service under concurrency.
 */
const UUID_ARRAY_OID = 2951;
const TEXT_ARRAY_OID = 1009;

export function uuidArray(db: Db, ids: readonly string[]) {
  return db.array([...ids], UUID_ARRAY_OID);
}

export function textArray(db: Db, values: readonly string[]) {
  return db.array([...values], TEXT_ARRAY_OID);
}
