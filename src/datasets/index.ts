import { FatalError } from "../core/errors.ts";
import { blocks } from "./blocks.ts";
import { logs } from "./logs.ts";
import { transactions } from "./transactions.ts";
import type { AnyDataset } from "./types.ts";

export type { ColumnSelection, EncodingOptions, RowLayout, U256Type } from "./schema.ts";
export {
  compileLayout,
  DEFAULT_U256_TYPES,
  parseU256Types,
  selectColumns,
  U256_TYPES,
} from "./schema.ts";
export type { AnyDataset, BlockRpc, DatasetDef, RowContext } from "./types.ts";

export const DATASETS: readonly AnyDataset[] = [blocks, transactions, logs];

/** Resolve a dataset name or alias (`txs`, `events`) to its definition. */
export function getDataset(name: string): AnyDataset {
  const n = name.toLowerCase();
  const found = DATASETS.find((d) => d.name === n || d.aliases.includes(n));
  if (!found) {
    const known = DATASETS.flatMap((d) => [d.name, ...d.aliases]).join(", ");
    throw new FatalError(`unknown dataset "${name}" (supported: ${known})`, {
      category: "invalid_options",
    });
  }
  return found;
}
