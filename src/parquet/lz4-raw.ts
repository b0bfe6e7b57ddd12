/**
 * LZ4 block-format decompression (Parquet's LZ4_RAW codec), for reading our own files back in
 * tests with hyparquet, which ships no LZ4 decoder. Not used on the write path.
 */
export function lz4RawDecompress(input: Uint8Array, outputLength: number): Uint8Array {
  const out = new Uint8Array(outputLength);
  let i = 0;
  let o = 0;
  while (i < input.length) {
    const token = input[i++] as number;
    let literals = token >> 4;
    if (literals === 15) {
      let b: number;
      do {
        b = input[i++] as number;
        literals += b;
      } while (b === 255);
    }
    out.set(input.subarray(i, i + literals), o);
    i += literals;
    o += literals;
    if (i >= input.length) break; // the last sequence has literals only
    const offset = (input[i] as number) | ((input[i + 1] as number) << 8);
    i += 2;
    if (offset === 0) throw new Error("lz4: zero match offset");
    let match = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        b = input[i++] as number;
        match += b;
      } while (b === 255);
    }
    // Byte by byte: matches may overlap their own output.
    for (let k = 0; k < match; k++, o++) out[o] = out[o - offset] as number;
  }
  if (o !== outputLength) throw new Error(`lz4: decoded ${o} bytes, expected ${outputLength}`);
  return out;
}

/** hyparquet `compressors` option with LZ4_RAW (and Hadoop-less LZ4) support. */
export const testCompressors = {
  LZ4_RAW: lz4RawDecompress,
};
