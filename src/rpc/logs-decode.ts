/**
 * A JSON-RPC answer to eth_getLogs calls (one or a batch), decoded from the response bytes
 * straight into LogColumns: hex digits become bytes and numbers as they are read. Only the usual
 * form; anything else gives undefined and goes through JSON.parse (see json-bytes.ts).
 */
import { type DecodedItem, decodeOrUndefined, JsonBytesDecoder } from "./json-bytes.ts";
import { LogColumns } from "./log-columns.ts";

export type DecodedLogsItem = DecodedItem<LogColumns>;

/**
 * Every result is decoded into this one set (decoding is synchronous, so it is never shared),
 * then copied out at its exact size: it grows to the largest usual result once, and a result
 * never holds more room than its logs need. One that grew past KEEP_LOGS (a wide eth_getLogs
 * range) is dropped after use rather than kept for the life of the process.
 */
let scratch = new LogColumns(256);
const KEEP_LOGS = 16_384;

/**
 * The answer's items (an array for a batch, one item for a single call), or undefined when the
 * bytes are not in the canonical form.
 */
export function decodeLogsResponse(
  body: Uint8Array,
): DecodedLogsItem[] | DecodedLogsItem | undefined {
  try {
    return decodeOrUndefined(() => {
      const d = new LogsDecoder(body);
      return d.answer(() => d.logs(scratch));
    });
  } finally {
    if (scratch.capacity > KEEP_LOGS) scratch = new LogColumns(256);
  }
}

class LogsDecoder extends JsonBytesDecoder {
  /** `[log, …]` into `into` (cleared first), copied out at its size. */
  logs(into: LogColumns): LogColumns {
    into.clear();
    this.array(() => this.log(into));
    return into.copy();
  }
}
