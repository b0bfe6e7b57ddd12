/**
 * keccak256 (the original Keccak padding, not SHA3-256; node:crypto has only SHA3) for tests:
 * written apart from the code under test so that re-encoded transactions can be checked against
 * their hashes. BigInt lanes: slow but small, fine for ~1,000 transactions. Never used by the
 * extraction path.
 */
const MASK = (1n << 64n) - 1n;
const ROT: number[] = new Array(25).fill(0);
{
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t++) {
    ROT[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
    [x, y] = [y, (2 * x + 3 * y) % 5];
  }
}
const RC: bigint[] = [];
{
  let r = 1;
  const bit = () => {
    const out = r & 1;
    r <<= 1;
    if (r & 0x100) r ^= 0x171;
    return out;
  };
  for (let i = 0; i < 24; i++) {
    let c = 0n;
    for (let j = 0; j < 7; j++) if (bit()) c |= 1n << BigInt(2 ** j - 1);
    RC.push(c);
  }
}
const rot = (v: bigint, n: number) =>
  n === 0 ? v : ((v << BigInt(n)) | (v >> BigInt(64 - n))) & MASK;

function keccakF(a: bigint[]): void {
  for (let round = 0; round < 24; round++) {
    const c = [0, 1, 2, 3, 4].map((x) => a[x]! ^ a[x + 5]! ^ a[x + 10]! ^ a[x + 15]! ^ a[x + 20]!);
    for (let x = 0; x < 5; x++) {
      const d = c[(x + 4) % 5]! ^ rot(c[(x + 1) % 5]!, 1);
      for (let y = 0; y < 5; y++) a[x + 5 * y]! ^= d;
    }
    const b: bigint[] = new Array(25).fill(0n);
    for (let x = 0; x < 5; x++)
      for (let y = 0; y < 5; y++)
        b[y + 5 * ((2 * x + 3 * y) % 5)] = rot(a[x + 5 * y]!, ROT[x + 5 * y]!);
    for (let x = 0; x < 5; x++)
      for (let y = 0; y < 5; y++)
        a[x + 5 * y] =
          b[x + 5 * y]! ^ (~b[((x + 1) % 5) + 5 * y]! & MASK & b[((x + 2) % 5) + 5 * y]!);
    a[0]! ^= RC[round]!;
  }
}

export function keccak256(msg: Uint8Array): string {
  const rate = 136;
  const padded = new Uint8Array(Math.ceil((msg.length + 1) / rate) * rate);
  padded.set(msg);
  padded[msg.length]! ^= 0x01;
  padded[padded.length - 1]! ^= 0x80;
  const a: bigint[] = new Array(25).fill(0n);
  const view = new DataView(padded.buffer);
  for (let off = 0; off < padded.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) a[i]! ^= view.getBigUint64(off + i * 8, true);
    keccakF(a);
  }
  const out = new DataView(new ArrayBuffer(32));
  for (let i = 0; i < 4; i++) out.setBigUint64(i * 8, a[i]!, true);
  return `0x${Buffer.from(out.buffer).toString("hex")}`;
}
