// A seeded host-side generator for sampling tasks and episodes, independent of
// the GPU generator behind mg.rand so data order does not shift when a model
// draws more or fewer random numbers.

export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Rng: seed ${seed} must be an integer.`);
    this.state = seed >>> 0;
  }

  /** Returns the state, to resume the same sequence later. */
  getState(): number {
    return this.state;
  }

  setState(state: number): void {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1), from mulberry32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** `count` distinct integers from [0, n), in random order. */
  sample(n: number, count: number): number[] {
    if (count > n) throw new Error(`Rng.sample: cannot draw ${count} distinct items from ${n}.`);
    const picked = new Map<number, number>();
    const out: number[] = [];
    // Partial Fisher-Yates over a virtual array 0..n-1.
    for (let i = 0; i < count; i++) {
      const j = i + this.int(n - i);
      const atJ = picked.get(j) ?? j;
      const atI = picked.get(i) ?? i;
      picked.set(j, atI);
      out.push(atJ);
    }
    return out;
  }

  /** Returns a derived seed, to give a sub-task its own stream. */
  fork(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}
