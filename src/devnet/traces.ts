/**
 * Call traces for the synthetic chain, derived from its blocks and receipts so they agree with
 * them: one top-level frame per transaction (CALL, or CREATE at the receipt's contractAddress),
 * and one nested CALL into each other contract that emitted a log in that transaction. Failed
 * transactions carry the revert error and no result, as Parity/Erigon and Geth report them.
 *
 * Traces are not a hot path (no Trace dataset benchmark reads them), so this works on the parsed
 * JSON objects rather than on the byte renderer.
 */

// biome-ignore lint/suspicious/noExplicitAny: node JSON, shape documented by the JSON-RPC spec
type Json = Record<string, any>;

interface Frame {
  type: "CALL" | "CREATE";
  from: string;
  to: string;
  value: string;
  gas: number;
  gasUsed: number;
  input: string;
  output: string;
  error?: string;
  calls: Frame[];
}

/** Intrinsic cost of a plain transaction; the traced execution gas excludes it. */
const INTRINSIC_GAS = 21_000;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The frame tree of one transaction. */
function frameOf(tx: Json, receipt: Json): Frame {
  const failed = receipt.status === "0x0";
  const isCreate = tx.to === null || tx.to === undefined;
  const gas = Math.max(0, Number(tx.gas) - INTRINSIC_GAS);
  const gasUsed = Math.max(0, Math.min(gas, Number(receipt.gasUsed) - INTRINSIC_GAS));
  const self: string = isCreate ? (receipt.contractAddress ?? tx.from) : tx.to;
  const emitters: string[] = [];
  for (const log of receipt.logs as Json[]) {
    if (log.address !== self && !emitters.includes(log.address)) emitters.push(log.address);
  }
  // Each nested call gets an equal share of the parent's gas; deterministic by construction.
  const share = emitters.length ? Math.floor(gas / (emitters.length + 1)) : 0;
  const usedShare = emitters.length ? Math.floor(gasUsed / (emitters.length + 1)) : 0;
  return {
    type: isCreate ? "CREATE" : "CALL",
    from: tx.from,
    to: self,
    value: tx.value,
    gas,
    gasUsed,
    input: tx.input,
    output: isCreate && !failed ? "0x60806040" : "0x",
    ...(failed ? { error: "execution reverted" } : {}),
    calls: emitters.map((to) => ({
      type: "CALL",
      from: self,
      to,
      value: "0x0",
      gas: share,
      gasUsed: usedShare,
      input: "0x",
      output: "0x",
      calls: [],
    })),
  };
}

function framesOf(block: Json, receipts: Json[]): { tx: Json; frame: Frame }[] {
  return (block.transactions as Json[]).map((tx, i) => ({ tx, frame: frameOf(tx, receipts[i]!) }));
}

/** `debug_traceBlockByNumber` with `{ tracer: "callTracer" }`: Geth's shape. */
export function callTracerBlock(block: Json, receipts: Json[]): Json[] {
  const render = (f: Frame): Json => ({
    from: f.from,
    gas: hex(f.gas),
    gasUsed: hex(f.gasUsed),
    to: f.to,
    input: f.input,
    ...(f.error ? { error: f.error } : { output: f.output }),
    ...(f.calls.length ? { calls: f.calls.map(render) } : {}),
    value: f.value,
    type: f.type,
  });
  return framesOf(block, receipts).map(({ tx, frame }) => ({
    txHash: tx.hash,
    result: render(frame),
  }));
}

/** `trace_block`: the Parity/Erigon flat list, depth-first, with traceAddress paths. */
export function parityTraceBlock(block: Json, receipts: Json[]): Json[] {
  const out: Json[] = [];
  for (const { tx, frame } of framesOf(block, receipts)) {
    const visit = (f: Frame, traceAddress: number[]) => {
      const create = f.type === "CREATE";
      out.push({
        action: create
          ? { from: f.from, gas: hex(f.gas), init: f.input, value: f.value }
          : {
              callType: "call",
              from: f.from,
              gas: hex(f.gas),
              input: f.input,
              to: f.to,
              value: f.value,
            },
        blockHash: block.hash,
        blockNumber: Number(block.number),
        ...(f.error
          ? { error: "Reverted" }
          : {
              result: create
                ? { address: f.to, code: f.output, gasUsed: hex(f.gasUsed) }
                : { gasUsed: hex(f.gasUsed), output: f.output },
            }),
        subtraces: f.calls.length,
        traceAddress,
        transactionHash: tx.hash,
        transactionPosition: Number(tx.transactionIndex),
        type: create ? "create" : "call",
      });
      f.calls.forEach((c, i) => {
        visit(c, [...traceAddress, i]);
      });
    };
    visit(frame, []);
  }
  return out;
}
