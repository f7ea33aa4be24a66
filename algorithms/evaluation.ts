// The evaluation protocol of the few-shot papers: mean query accuracy over many
// test episodes with a 95% confidence interval of 1.96 standard errors.

export interface Summary {
  mean: number;
  /** Half-width of the 95% confidence interval: 1.96 * std / sqrt(n), with the sample std (n - 1). */
  ci95: number;
  std: number;
  count: number;
}

export function summarize(values: readonly number[]): Summary {
  const count = values.length;
  if (count === 0) throw new Error('summarize: no values to summarize.');
  const mean = values.reduce((a, b) => a + b, 0) / count;
  const variance = count > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (count - 1) : 0;
  const std = Math.sqrt(variance);
  return { mean, std, ci95: (1.96 * std) / Math.sqrt(count), count };
}

/** Formats a summary of fractions as a percentage, e.g. "98.70 ± 0.42%". */
export function formatAccuracy(summary: Summary): string {
  return `${(100 * summary.mean).toFixed(2)} ± ${(100 * summary.ci95).toFixed(2)}%`;
}
