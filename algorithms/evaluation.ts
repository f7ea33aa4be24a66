// The evaluation protocol of the few-shot papers: mean query accuracy over many
// test episodes with a 95% confidence interval of 1.96 standard errors.

export interface Summary {
  mean: number;
  /**
   * Half-width of the 95% confidence interval: 1.96 * std / sqrt(n), with the sample std (n - 1).
   * Null for a single value, where the sample std and so the interval are undefined.
   */
  ci95: number | null;
  /** Sample standard deviation (n - 1), set to 0 for a single value. */
  std: number;
  count: number;
}

export function summarize(values: readonly number[]): Summary {
  const count = values.length;
  if (count === 0) throw new Error('summarize: no values to summarize.');
  const mean = values.reduce((a, b) => a + b, 0) / count;
  if (count === 1) return { mean, std: 0, ci95: null, count };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (count - 1);
  const std = Math.sqrt(variance);
  return { mean, std, ci95: (1.96 * std) / Math.sqrt(count), count };
}

/**
 * Formats a mean with its 95% interval, both multiplied by `scale` and given `digits` decimals:
 * "98.70 ± 0.42%", or "40.00% (n = 1, no interval)" when the interval is undefined.
 */
export function formatMeanInterval(summary: Summary, digits: number, scale = 1, unit = ''): string {
  const mean = (scale * summary.mean).toFixed(digits);
  if (summary.ci95 === null) return `${mean}${unit} (n = 1, no interval)`;
  return `${mean} ± ${(scale * summary.ci95).toFixed(digits)}${unit}`;
}

/** Formats a summary of fractions as a percentage, e.g. "98.70 ± 0.42%". */
export function formatAccuracy(summary: Summary): string {
  return formatMeanInterval(summary, 2, 100, '%');
}
