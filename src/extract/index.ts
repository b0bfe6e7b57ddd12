export type {
  ExtractedFile,
  ExtractionJob,
  ExtractionResult,
  ExtractProgress,
  FailedChunk,
} from "./engine.ts";
export { PARQUET_CONTENT_TYPE, planChunks, runExtraction } from "./engine.ts";
export type { ExtractRangeArgs, ExtractRangeResult } from "./extract-range.ts";
export { extractRange } from "./extract-range.ts";
export { blockChunks, chunkFileName, DEFAULT_CHUNK_SIZE, networkName } from "./naming.ts";
export type { DatasetOptions } from "./options.ts";
export { DEFAULT_MAX_BLOCKS_IN_FLIGHT, resolveOptions } from "./options.ts";
