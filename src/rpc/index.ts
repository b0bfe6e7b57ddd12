export { DecodedBlock } from "./blocks-decode.ts";
export { RpcClient, type TransactionBlock } from "./client.ts";
export { InvalidResponseError, LogRangeTooLargeError, MethodUnsupportedError } from "./errors.ts";
export {
  hexToBytes,
  isAddress,
  isHash,
  isHexData,
  isHexQuantity,
  parseHexBigInt,
  parseHexQuantity,
  toHexQuantity,
} from "./hex.ts";
export { LogColumns } from "./log-columns.ts";
export { ReceiptColumns } from "./receipts-decode.ts";
export { TxColumns } from "./tx-columns.ts";
export type {
  EndpointStats,
  LogFilter,
  RpcBlock,
  RpcBlockHeader,
  RpcClientOptions,
  RpcLog,
  RpcReceipt,
  RpcStats,
  RpcTransaction,
  RpcWithdrawal,
} from "./types.ts";
