import { describe, expect, it } from 'vitest';
import { formatAccuracy, formatMeanInterval, summarize } from '../../algorithms/evaluation';

describe('summarize', () => {
  it('gives 1.96 standard errors for several values', () => {
    // Sample std of [0.2, 0.4, 0.6, 0.8] is sqrt(0.2 / 3), so ci95 = 1.96 * sqrt(0.2 / 3) / 2.
    const summary = summarize([0.2, 0.4, 0.6, 0.8]);
    expect(summary.count).toBe(4);
    expect(summary.mean).toBeCloseTo(0.5, 12);
    expect(summary.std).toBeCloseTo(Math.sqrt(0.2 / 3), 12);
    expect(summary.ci95).toBeCloseTo((1.96 * Math.sqrt(0.2 / 3)) / 2, 12);
  });

  it('has no interval for one value', () => {
    const summary = summarize([0.4]);
    expect(summary.count).toBe(1);
    expect(summary.mean).toBe(0.4);
    expect(summary.ci95).toBeNull();
  });

  it('gives a zero interval for equal values', () => {
    expect(summarize([0.4, 0.4]).ci95).toBe(0);
  });

  it('rejects an empty list', () => {
    expect(() => summarize([])).toThrow(/no values/);
  });
});

describe('formatMeanInterval', () => {
  it('prints mean and half-width', () => {
    expect(formatAccuracy(summarize([0.2, 0.4, 0.6, 0.8]))).toBe('50.00 ± 25.30%');
    expect(formatMeanInterval(summarize([1, 3]), 3)).toBe('2.000 ± 1.960');
  });

  it('prints no interval for one value', () => {
    expect(formatAccuracy(summarize([0.4]))).toBe('40.00% (n = 1, no interval)');
    expect(formatMeanInterval(summarize([0.25]), 4)).toBe('0.2500 (n = 1, no interval)');
  });
});
