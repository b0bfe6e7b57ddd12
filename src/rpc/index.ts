export { RpcClient } from "./client.ts";
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
export type {
  EndpointStats,
  LogFilter,
  RpcBlock,
  RpcClientOptions,
  RpcLog,
  RpcReceipt,
  RpcStats,
  RpcTransaction,
  RpcWithdrawal,
} from "./types.ts";
