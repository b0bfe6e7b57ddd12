/**
 * A least-recently-used map bounded by the total weight of its values (e.g. manifest objects or
 * registry rows), not by entry count: a few huge values cannot blow the bound. A value heavier
 * than the whole bound is not kept.
 */
export class WeightedLru<V> {
  private readonly entries = new Map<string, V>();
  private total = 0;

  constructor(
    private readonly maxWeight: number,
    private readonly weight: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      // Map iteration order is insertion order: re-inserting marks it most recently used.
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.total -= this.weight(old);
    }
    const w = this.weight(value);
    if (w > this.maxWeight) return;
    this.entries.set(key, value);
    this.total += w;
    for (const [k, v] of this.entries) {
      if (this.total <= this.maxWeight) break;
      this.entries.delete(k);
      this.total -= this.weight(v);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
