// Shared test utilities: seeded host data and float64 comparisons with messages
// that name the first mismatching element.

import { expect } from 'vitest';

/** Mulberry32, so every test draws the same inputs on every run. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [low, high) from a seeded generator. */
export function randomArray(count: number, seed: number, low = -1, high = 1): Float64Array {
  const next = seeded(seed);
  return Float64Array.from({ length: count }, () => low + (high - low) * next());
}

export interface Tolerance {
  atol?: number;
  rtol?: number;
}

/** Asserts |actual - expected| <= atol + rtol |expected| elementwise, reporting the worst element. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance = {},
): void {
  const atol = tolerance.atol ?? 1e-5;
  const rtol = tolerance.rtol ?? 1e-4;
  expect(actual.length, 'element count').toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    const bothNaN = Number.isNaN(actual[i]) && Number.isNaN(expected[i]);
    if (!bothNaN && (excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `element ${worst} of ${expected.length}: got ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${atol}, rtol ${rtol})`,
    );
  }
}
