// SVG figures drawn with Vega-Lite and rendered by Vega in Node, with no canvas.

import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface CurvePoint {
  iteration: number;
  /** Series name, e.g. "train loss" or "val accuracy". */
  series: string;
  panel: 'loss' | 'accuracy' | 'mse';
  value: number;
}

/** Training loss and accuracy and validation accuracy against iteration, one panel per quantity. */
export function curvesSpec(points: CurvePoint[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points },
    facet: { row: { field: 'panel', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 520,
      height: 180,
      mark: { type: 'line', point: { size: 12 } },
      encoding: {
        x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
  };
}
