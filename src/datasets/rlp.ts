import { rlpPrefixLength } from "../rpc/tx-columns.ts";
import { badValue } from "./values.ts";

/**
 * The EIP-2718 encoding of a transaction from its JSON-RPC form, for cryo's `n_rlp_bytes`
 * (alloy's `encode_2718_len`: legacy = the RLP list; typed = type byte ‖ RLP list). The encoding
 * is exactly what the transaction hash is the keccak256 of, which is how the tests check it.
 *
 * Byte strings are kept as hex digits (no `0x`): the length needs only the digit count and the
 * first byte, so the column never converts transaction inputs to bytes.
 */

/** A byte string as even-length lowercase-or-not hex digits without `0x`, or a list. */
export type RlpItem = string | RlpItem[];

const DATA = /^0x(?:[0-9a-fA-F]{2})*$/;
const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;

/** A JSON-RPC data field (bytes, address, hash) as an RLP byte string. */
function data(field: string, v: unknown): string {
  if (typeof v !== "string" || !DATA.test(v)) throw badValue(`n_rlp_bytes (${field})`, v);
  return v.slice(2);
}

/** A JSON-RPC quantity as RLP's minimal big-endian integer (zero = the empty string). */
function quantity(field: string, v: unknown): string {
  if (typeof v !== "string" || !QUANTITY.test(v)) throw badValue(`n_rlp_bytes (${field})`, v);
  let i = 2;
  while (i < v.length && v[i] === "0") i++;
  const digits = v.slice(i);
  return digits.length % 2 === 1 ? `0${digits}` : digits;
}

/** `to`: empty for contract creation. */
function to(v: unknown): string {
  return v === null || v === undefined ? "" : data("to", v);
}

interface AccessEntry {
  address?: unknown;
  storageKeys?: unknown;
}

function accessList(v: unknown): RlpItem[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badValue("n_rlp_bytes (accessList)", v);
  return v.map((e: AccessEntry) => {
    if (!Array.isArray(e?.storageKeys)) throw badValue("n_rlp_bytes (accessList)", e);
    return [data("accessList.address", e.address), e.storageKeys.map((k) => data("storageKey", k))];
  });
}

interface Authorization {
  chainId?: unknown;
  address?: unknown;
  nonce?: unknown;
  yParity?: unknown;
  r?: unknown;
  s?: unknown;
}

function authorizationList(v: unknown): RlpItem[] {
  if (!Array.isArray(v)) throw badValue("n_rlp_bytes (authorizationList)", v);
  return v.map((a: Authorization) => [
    quantity("authorization.chainId", a?.chainId),
    data("authorization.address", a?.address),
    quantity("authorization.nonce", a?.nonce),
    quantity("authorization.yParity", a?.yParity),
    quantity("authorization.r", a?.r),
    quantity("authorization.s", a?.s),
  ]);
}

/** The JSON-RPC transaction fields the encodings use (all hex strings as the node sent them). */
export interface RlpTx {
  type?: string;
  chainId?: string;
  nonce?: unknown;
  gasPrice?: unknown;
  maxPriorityFeePerGas?: unknown;
  maxFeePerGas?: unknown;
  maxFeePerBlobGas?: unknown;
  gas?: unknown;
  to?: unknown;
  value?: unknown;
  input?: unknown;
  accessList?: unknown;
  blobVersionedHashes?: unknown;
  authorizationList?: unknown;
  v?: unknown;
  yParity?: unknown;
  r?: unknown;
  s?: unknown;
}

/**
 * The transaction's EIP-2718 envelope as [type byte (hex) or "" for legacy, RLP list], or null
 * for a type this engine cannot re-encode (e.g. L2 deposit types), like cryo reports null.
 */
export function transactionEnvelope(tx: RlpTx): [string, RlpItem[]] | null {
  const type = tx.type === undefined ? 0 : Number.parseInt(quantity("type", tx.type) || "0", 16);
  const q = (name: keyof RlpTx) => quantity(name, tx[name]);
  // Typed transactions carry y parity; some nodes send only `v` (0 or 1) for them.
  const parity = () => quantity("yParity", tx.yParity ?? tx.v);
  const signature = () => [parity(), q("r"), q("s")];
  switch (type) {
    case 0:
      return [
        "",
        [
          q("nonce"),
          q("gasPrice"),
          q("gas"),
          to(tx.to),
          q("value"),
          data("input", tx.input),
          q("v"),
          q("r"),
          q("s"),
        ],
      ];
    case 1:
      return [
        "01",
        [
          q("chainId"),
          q("nonce"),
          q("gasPrice"),
          q("gas"),
          to(tx.to),
          q("value"),
          data("input", tx.input),
          accessList(tx.accessList),
          ...signature(),
        ],
      ];
    case 2:
    case 3:
    case 4: {
      const fees = [
        q("chainId"),
        q("nonce"),
        q("maxPriorityFeePerGas"),
        q("maxFeePerGas"),
        q("gas"),
      ];
      const body = [to(tx.to), q("value"), data("input", tx.input), accessList(tx.accessList)];
      if (type === 2) return ["02", [...fees, ...body, ...signature()]];
      if (type === 3) {
        if (!Array.isArray(tx.blobVersionedHashes)) {
          throw badValue("n_rlp_bytes (blobVersionedHashes)", tx.blobVersionedHashes);
        }
        const hashes = tx.blobVersionedHashes.map((h) => data("blobVersionedHash", h));
        return ["03", [...fees, ...body, q("maxFeePerBlobGas"), hashes, ...signature()]];
      }
      return ["04", [...fees, ...body, authorizationList(tx.authorizationList), ...signature()]];
    }
    default:
      return null;
  }
}

export function rlpLength(item: RlpItem): number {
  if (typeof item === "string") {
    const n = item.length / 2;
    if (n === 1 && Number.parseInt(item, 16) < 0x80) return 1;
    return rlpPrefixLength(n) + n;
  }
  let payload = 0;
  for (const child of item) payload += rlpLength(child);
  return rlpPrefixLength(payload) + payload;
}

/** cryo's `n_rlp_bytes`: the EIP-2718 encoded length, null for types it cannot re-encode. */
export function transactionRlpLength(tx: RlpTx): number | null {
  const envelope = transactionEnvelope(tx);
  if (!envelope) return null;
  return envelope[0].length / 2 + rlpLength(envelope[1]);
}

function header(n: number, short: number): number[] {
  if (n <= 55) return [short + n];
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return [short + 55 + bytes.length, ...bytes];
}

/** The RLP bytes of `item` (tests use it to hash transactions; the column needs only lengths). */
export function rlpEncode(item: RlpItem): Buffer {
  if (typeof item === "string") {
    const bytes = Buffer.from(item, "hex");
    if (bytes.length === 1 && (bytes[0] as number) < 0x80) return bytes;
    return Buffer.concat([Buffer.from(header(bytes.length, 0x80)), bytes]);
  }
  const payload = Buffer.concat(item.map(rlpEncode));
  return Buffer.concat([Buffer.from(header(payload.length, 0xc0)), payload]);
}

/** The EIP-2718 bytes of a transaction (null as in transactionEnvelope). */
export function encodeTransaction(tx: RlpTx): Buffer | null {
  const envelope = transactionEnvelope(tx);
  if (!envelope) return null;
  return Buffer.concat([Buffer.from(envelope[0], "hex"), rlpEncode(envelope[1])]);
}
