// Vega-Lite figures of the transfer commands.

import type { TopLevelSpec } from 'vega-lite';

/** Target accuracy against labelled examples per class, one line per strategy. */
export function shotsSpec(
  points: { strategy: string; shots: number; accuracy: number }[],
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Fine-tuning on the five target classes of Fashion-MNIST',
    data: { values: points },
    width: 480,
    height: 280,
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'shots',
        type: 'quantitative',
        scale: { type: 'log' },
        axis: { values: [1, 5, 10, 50] },
        title: 'labelled examples per class',
      },
      y: {
        field: 'accuracy',
        type: 'quantitative',
        title: 'target test accuracy',
        scale: { zero: false },
      },
      color: { field: 'strategy', type: 'nominal', title: 'strategy' },
    },
  };
}

/** PCA projections of source and target features, one panel per model. */
export function pcaSpec(
  points: { model: string; domain: string; x: number; y: number }[],
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Source and target features, first two principal components',
    data: { values: points },
    facet: { column: { field: 'model', type: 'nominal', title: null } },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    spec: {
      width: 300,
      height: 300,
      mark: { type: 'circle', size: 14, opacity: 0.5 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: 'PC 1' },
        y: { field: 'y', type: 'quantitative', title: 'PC 2' },
        color: { field: 'domain', type: 'nominal', title: 'domain' },
      },
    },
  };
}
