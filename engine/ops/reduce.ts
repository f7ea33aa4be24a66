// Reductions over any set of axes.

import { reduce } from '../../kernels/reduce';
import { apply, noGrad, type RuleTable } from '../autograd';
import {
  formatShape,
  normalizeAxes,
  normalizeAxis,
  numel,
  reducedShape,
  sameShape,
} from '../shape';
import { Tensor } from '../tensor';
import { full } from './creation';
import { abs, add, div, eq, exp, log, mul, mulScalar, neg, sqrt, sub, where } from './elementwise';
import { requireTensors } from './check';
import { mulAdd } from './norm';
import type { Reduction } from './primitives';
import { expand, reshape } from './shape';

/** Launches the reduce kernel for max, min, argmax or argmin into a new tensor. */
function extremeForward(fn: 'max' | 'min' | 'argmax' | 'argmin', x: Tensor, attrs: Reduction) {
  const isArg = fn === 'argmax' || fn === 'argmin';
  const out = Tensor.empty(
    reducedShape(x.shape, attrs.axes, attrs.keepdim),
    isArg ? 'i32' : 'f32',
    fn,
  );
  if (out.size > 0) reduce({ fn, x: x.buffer, out: out.buffer, shape: x.shape, axes: attrs.axes });
  return out;
}

// d max(x) = g / count where x equals the maximum, else 0, with count the number of
// such elements per output: ties share the gradient evenly, as torch.amax. A NaN
// maximum equals no element, so its row gets a zero gradient, as in PyTorch.
function extremeBackward(g: Tensor, x: Tensor, output: Tensor, axes: number[]): Tensor {
  const keptShape = reducedShape(x.shape, axes, true);
  const mask = eq(x, reshape(output, keptShape));
  const count = sum(mask, axes, true);
  return where(mask, div(reshape(g, keptShape), count), 0);
}

/** Launches the sum_product or sum_sq_dev kernel into a new tensor. */
function pairSumForward(
  fn: 'sum_product' | 'sum_sq_dev',
  x: Tensor,
  y: Tensor,
  { axes, keepdim }: Reduction,
): Tensor {
  const out = Tensor.empty(reducedShape(x.shape, axes, keepdim), 'f32', fn);
  if (out.size === 0) return out;
  if (x.size === 0) return full(out.shape, 0);
  reduce({ fn, x: x.buffer, y: y.buffer, out: out.buffer, shape: x.shape, axes });
  return out;
}

export const reduceRules: RuleTable<
  'sum' | 'sum_product' | 'sum_sq_dev' | 'amax' | 'amin' | 'argmax' | 'argmin'
> = {
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

  // d sum(x y) = y dx + x dy, with the output's gradient broadcast back.
  sum_product: {
    forward: ([x, y], attrs) => pairSumForward('sum_product', x, y, attrs),
    backward: (g, { inputs: [x, y], attrs: { axes }, needsGrad }) => {
      const gradKeepdim = reshape(g, reducedShape(x.shape, axes, true));
      return [needsGrad[0] ? mul(gradKeepdim, y) : null, needsGrad[1] ? mul(gradKeepdim, x) : null];
    },
  },

  // d sum((x - m)^2) = 2 (x - m) dx - 2 sum(x - m) dm, where sum(x - m) = sum(x) - n m.
  sum_sq_dev: {
    forward: ([x, m], attrs) => pairSumForward('sum_sq_dev', x, m, attrs),
    backward: (g, { inputs: [x, m], attrs: { axes }, needsGrad }) => {
      const gradKeepdim = reshape(g, reducedShape(x.shape, axes, true));
      const twice = mulScalar(gradKeepdim, 2);
      const dx = needsGrad[0] ? mulAdd(x, twice, neg(mul(twice, m))) : null;
      if (!needsGrad[1]) return [dx, null];
      const count = numel(axes.map((axis) => x.shape[axis]));
      const deviation = sub(sum(x, axes, true), mulScalar(m, count));
      return [dx, reshape(neg(mul(twice, deviation)), m.shape)];
    },
  },

  amax: {
    forward: ([x], attrs) => extremeForward('max', x, attrs),
    backward: (g, { inputs: [x], output, attrs }) => [extremeBackward(g, x, output, attrs.axes)],
  },
  amin: {
    forward: ([x], attrs) => extremeForward('min', x, attrs),
    backward: (g, { inputs: [x], output, attrs }) => [extremeBackward(g, x, output, attrs.axes)],
  },

  // Indices are piecewise constant in x: no gradient.
  argmax: { forward: ([x], attrs) => extremeForward('argmax', x, attrs), backward: () => [null] },
  argmin: { forward: ([x], attrs) => extremeForward('argmin', x, attrs), backward: () => [null] },
};

export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  if (x.dtype !== 'f32') throw new Error(`sum: expected an f32 tensor, got ${x.dtype}.`);
  const normalized = normalizeAxes('sum', axes, x.ndim);
  if (normalized.length === 0) return x;
  return apply('sum', [x], { axes: normalized, keepdim });
}

/** Returns the sum of x * y over `axes` (all when undefined) in one pass; x and y share a shape. */
export function sumProduct(
  x: Tensor,
  y: Tensor,
  axes?: number | readonly number[],
  keepdim = false,
): Tensor {
  requireTensors('sumProduct', { x });
  checkPair('sumProduct', x, y, x.shape);
  const normalized = normalizeAxes('sumProduct', axes, x.ndim);
  return apply('sum_product', [x, y], { axes: normalized, keepdim });
}

/**
 * Returns the sum of (x - m)^2 over `axes` in one pass, m having the reduced
 * shape with kept dimensions (a mean from `mean(x, axes, true)`, say).
 */
export function sumSquaredDeviation(
  x: Tensor,
  m: Tensor,
  axes: number | readonly number[],
  keepdim = false,
): Tensor {
  requireTensors('sumSquaredDeviation', { x });
  const normalized = normalizeAxes('sumSquaredDeviation', axes, x.ndim);
  checkPair('sumSquaredDeviation', x, m, reducedShape(x.shape, normalized, true));
  return apply('sum_sq_dev', [x, m], { axes: normalized, keepdim });
}

function checkPair(op: string, x: Tensor, y: Tensor, yShape: readonly number[]): void {
  requireTensors(op, { x, [op === 'sumProduct' ? 'y' : 'm']: y });
  if (x.dtype !== 'f32' || y.dtype !== 'f32')
    throw new Error(`${op}: expected f32 tensors, got ${x.dtype} and ${y.dtype}.`);
  if (!sameShape(y.shape, yShape))
    throw new Error(
      `${op}: the second input has shape ${formatShape(y.shape)}; it needs shape ${formatShape(yShape)}.`,
    );
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const normalized = normalizeAxes('mean', axes, x.ndim);
  const count = numel(normalized.map((axis) => x.shape[axis]));
  return mulScalar(sum(x, normalized, keepdim), 1 / count);
}

function checkReducible(op: string, x: Tensor, axes: readonly number[]): void {
  if (x.dtype !== 'f32')
    throw new Error(
      `${op}: expected an f32 tensor, got ${x.dtype}; convert it with toFloat() first.`,
    );
  for (const axis of axes) {
    if (x.shape[axis] === 0) {
      throw new Error(
        `${op}: cannot reduce over axis ${axis} of size 0 (shape [${x.shape.join(', ')}]); the result has no identity value.`,
      );
    }
  }
}

function extreme(
  op: 'max' | 'min',
  x: Tensor,
  axes: number | readonly number[] | undefined,
  keepdim: boolean,
): Tensor {
  const normalized = normalizeAxes(op, axes, x.ndim);
  checkReducible(op, x, normalized);
  if (normalized.length === 0) return x;
  return apply(op === 'max' ? 'amax' : 'amin', [x], { axes: normalized, keepdim });
}

/**
 * Returns the maximum over `axes` (all when undefined), as torch.amax. The
 * gradient is split evenly among tied maxima.
 */
export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extreme('max', x, axes, keepdim);
}

/** Returns the minimum over `axes` (all when undefined); ties share the gradient like max. */
export function min(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extreme('min', x, axes, keepdim);
}

function argExtreme(
  op: 'argmax' | 'argmin',
  x: Tensor,
  axis: number | undefined,
  keepdim: boolean,
): Tensor {
  const axes =
    axis === undefined ? normalizeAxes(op, undefined, x.ndim) : [normalizeAxis(op, axis, x.ndim)];
  checkReducible(op, x, axes);
  // Over all axes the kernel counts positions in row-major order, which is the flattened index.
  return noGrad(() => apply(op, [x], { axes, keepdim }));
}

/**
 * Returns the i32 index of the maximum along `axis`, or into the flattened tensor
 * when axis is undefined; the first index wins ties, as torch.argmax. Not differentiable.
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argExtreme('argmax', x, axis, keepdim);
}

/** Returns the i32 index of the minimum, as argmax does for the maximum. */
export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argExtreme('argmin', x, axis, keepdim);
}

/** Returns log(sum(exp(x), axes)), computed as m + log(sum(exp(x - m))) with m the detached maximum. */
export function logsumexp(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const normalized = normalizeAxes('logsumexp', axes, x.ndim);
  checkReducible('logsumexp', x, normalized);
  if (normalized.length === 0) return x;

  // The shift cancels exactly, so m carries no gradient. An infinite m (a row of
  // -inf, or a +inf entry) is replaced by 0, so x - m stays defined.
  const peak = max(x.detach(), normalized, true);
  const shift = where(eq(abs(peak), Infinity), 0, peak);
  const total = log(sum(exp(sub(x, shift)), normalized, true));
  const result = add(total, shift);
  return keepdim ? result : reshape(result, reducedShape(x.shape, normalized, false));
}

export interface VarianceOptions {
  /** Subtracted from the element count in the divisor: 1 gives the unbiased estimate, 0 the population variance. */
  correction?: number;
  keepdim?: boolean;
}

/** Returns sum((x - mean)^2) / (N - correction) over `axes` (all when undefined), as torch.var. */
export function variance(
  x: Tensor,
  axes?: number | readonly number[],
  options: VarianceOptions = {},
): Tensor {
  const correction = options.correction ?? 1;
  const keepdim = options.keepdim ?? false;
  const normalized = normalizeAxes('variance', axes, x.ndim);
  if (x.dtype !== 'f32')
    throw new Error(
      `variance: expected an f32 tensor, got ${x.dtype}; convert it with toFloat() first.`,
    );

  const count = numel(normalized.map((axis) => x.shape[axis]));
  const centered = sub(x, mean(x, normalized, true));
  // As in PyTorch, N <= correction divides by zero and gives inf or NaN.
  return mulScalar(
    sum(mul(centered, centered), normalized, keepdim),
    1 / Math.max(0, count - correction),
  );
}

/** Returns sqrt(variance(x, axes, options)). */
export function std(
  x: Tensor,
  axes?: number | readonly number[],
  options: VarianceOptions = {},
): Tensor {
  return sqrt(variance(x, axes, options));
}
