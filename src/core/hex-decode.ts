/**
 * Node's native hex decoder (`buf.write(s, …, "hex")`) is the fastest way to validate and decode
 * long hex strings, and it stops at the first pair that is not hex — but it reads each UTF-16
 * code unit's *low byte*, so "\u0130" decodes as if it were "0". Every caller that relies on
 * "bytes written = all digits valid" must first know the string is pure ASCII.
 */
export function isAscii(s: string): boolean {
  // UTF-8 and UTF-16 lengths agree only when every code unit is below 0x80.
  return Buffer.byteLength(s, "utf8") === s.length;
}

/** Decode `digits` (hex, no prefix, even length) into `buf` at `at`; false if any is not hex. */
export function decodeHexInto(buf: Buffer, digits: string, at: number): boolean {
  const n = digits.length >> 1;
  return isAscii(digits) && buf.write(digits, at, n, "hex") === n;
}
