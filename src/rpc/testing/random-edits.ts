/**
 * Test-only: deterministic random edits of a valid answer (one byte replaced, removed or
 * inserted, or the answer cut short), for checking that a decoder never takes what JSON.parse
 * refuses and never reads a value differently.
 */
export function* randomEdits(
  original: Buffer,
  opts: { seed: number; rounds: number; alphabet: string },
): Generator<Buffer> {
  const alphabet = Buffer.from(opts.alphabet);
  let seed = opts.seed;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < opts.rounds; round++) {
    const at = rand(original.length);
    const b = Buffer.from([alphabet[rand(alphabet.length)] as number]);
    const head = original.subarray(0, at);
    switch (round % 4) {
      case 0:
        yield Buffer.concat([head, b, original.subarray(at + 1)]);
        break;
      case 1:
        yield Buffer.concat([head, original.subarray(at + 1)]);
        break;
      case 2:
        yield Buffer.concat([head, b, original.subarray(at)]);
        break;
      default:
        yield head;
    }
  }
}

/**
 * The random edits of `original` that `decode` took, with what JSON.parse made of them. Throws
 * if `decode` took one that JSON.parse refuses.
 */
export function* decodedEdits<T>(
  original: Buffer,
  opts: { seed: number; rounds: number; alphabet: string },
  decode: (body: Buffer) => T | undefined,
): Generator<{ parsed: unknown; decoded: T }> {
  for (const edited of randomEdits(original, opts)) {
    const decoded = decode(edited);
    let parsed: unknown;
    try {
      parsed = JSON.parse(edited.toString("latin1"));
    } catch {
      if (decoded !== undefined) throw new Error(`took invalid JSON: ${edited.toString("latin1")}`);
      continue;
    }
    if (decoded !== undefined) yield { parsed, decoded };
  }
}
