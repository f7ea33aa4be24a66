// Reductions over any set of axes.

import { reduce } from '../../kernels/reduce';
import { apply, type RuleTable } from '../autograd';
import { normalizeAxes, numel, reducedShape } from '../shape';
import { Tensor } from '../tensor';
import { full } from './creation';
import { mulScalar } from './elementwise';
import { expand, reshape } from './shape';

export const reduceRules: RuleTable<'sum'> = {
  sum: {
    forward([x], { axes, keepdim }) {
      const out = Tensor.empty(reducedShape(x.shape, axes, keepdim), 'f32', 'sum');
      if (out.size === 0) return out;
      if (x.size === 0) return full(out.shape, 0);
      reduce({ fn: 'sum', x: x.buffer, out: out.buffer, shape: x.shape, axes });
      return out;
    },
    // Every summed element gets the output's gradient: broadcast it back.
    backward: (g, { inputs: [x], attrs: { axes } }) => [
      expand(reshape(g, reducedShape(x.shape, axes, true)), x.shape),
    ],
  },
};

export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  if (x.dtype !== 'f32') throw new Error(`sum: expected an f32 tensor, got ${x.dtype}.`);
  const normalized = normalizeAxes('sum', axes, x.ndim);
  if (normalized.length === 0) return x;
  return apply('sum', [x], { axes: normalized, keepdim });
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const normalized = normalizeAxes('mean', axes, x.ndim);
  const count = numel(normalized.map((axis) => x.shape[axis]));
  return mulScalar(sum(x, normalized, keepdim), 1 / count);
}
