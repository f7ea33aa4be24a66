// BatchNorm's arithmetic as fused primitives. Built from separate elementwise
// ops, one BatchNorm layer took about a dozen passes over the activations
// forward and backward. Here the forward takes three passes (a sum, a sum of
// squared deviations, one affine map) and the backward three (two sums and one
// affine map). Every backward is written in these same differentiable
// primitives, so gradients of gradients stay fused too.

import { affine } from '../../kernels/affine';
import { apply, type RuleTable } from '../autograd';
import {
  broadcastStrides,
  formatShape,
  normalizeAxes,
  numel,
  reducedShape,
  sameShape,
} from '../shape';
import { Tensor } from '../tensor';
import { addScalar, mul, mulScalar, neg, powScalar, sub } from './elementwise';
import { sum, sumProduct, sumSquaredDeviation } from './reduce';
import { reshape } from './shape';
import { requireTensors } from './check';

/** Returns the axes over which a coefficient of `shape` is broadcast to `target` (same rank). */
function broadcastAxes(shape: readonly number[], target: readonly number[]): number[] {
  return target.flatMap((size, axis) => (shape[axis] === 1 && size !== 1 ? [axis] : []));
}

function checkCoefficients(op: string, x: Tensor, coefficients: readonly Tensor[]): void {
  const shape = coefficients[0].shape;
  const fits =
    shape.length === x.ndim && shape.every((size, axis) => size === 1 || size === x.shape[axis]);
  if (!fits)
    throw new Error(
      `${op}: coefficients of shape ${formatShape(shape)} do not broadcast to the input's ${formatShape(x.shape)}; ` +
        "give them the input's rank with size 1 on the broadcast axes.",
    );
  for (const t of [x, ...coefficients]) {
    if (t.dtype !== 'f32') throw new Error(`${op}: expected f32 tensors, got ${t.dtype}.`);
  }
  for (const c of coefficients) {
    if (!sameShape(c.shape, shape))
      throw new Error(
        `${op}: every coefficient needs one shape; got ${formatShape(shape)} and ${formatShape(c.shape)}.`,
      );
  }
}

function affineForward(op: string, x: Tensor, a: Tensor, c: Tensor, y?: Tensor, b?: Tensor) {
  const out = Tensor.empty(x.shape, 'f32', op);
  if (out.size === 0) return out;
  affine({
    op,
    x: x.buffer,
    y: y?.buffer,
    a: a.buffer,
    b: b?.buffer,
    c: c.buffer,
    out: out.buffer,
    shape: x.shape,
    strides: broadcastStrides(a.shape, x.shape),
  });
  return out;
}

/** Returns the sum of g * t over the coefficient's broadcast axes, shaped as the coefficient. */
function coefficientGrad(g: Tensor, t: Tensor, coefficient: Tensor): Tensor {
  const axes = broadcastAxes(coefficient.shape, t.shape);
  return reshape(sumProduct(g, t, axes, true), coefficient.shape);
}

/** Returns the sum of g over the coefficient's broadcast axes, shaped as the coefficient. */
function biasGrad(g: Tensor, coefficient: Tensor): Tensor {
  return reshape(sum(g, broadcastAxes(coefficient.shape, g.shape), true), coefficient.shape);
}

export const normRules: RuleTable<'mul_add' | 'mul_add2' | 'batch_norm'> = {
  // d(x a + c) = a dx + x da + dc, da and dc summed over the broadcast axes.
  mul_add: {
    forward: ([x, a, c]) => affineForward('mul_add', x, a, c),
    backward: (g, { inputs: [x, a, c], needsGrad }) => [
      needsGrad[0] ? mul(g, a) : null,
      needsGrad[1] ? coefficientGrad(g, x, a) : null,
      needsGrad[2] ? biasGrad(g, c) : null,
    ],
  },

  mul_add2: {
    forward: ([x, a, y, b, c]) => affineForward('mul_add2', x, a, c, y, b),
    backward: (g, { inputs: [x, a, y, b, c], needsGrad }) => [
      needsGrad[0] ? mul(g, a) : null,
      needsGrad[1] ? coefficientGrad(g, x, a) : null,
      needsGrad[2] ? mul(g, b) : null,
      needsGrad[3] ? coefficientGrad(g, y, b) : null,
      needsGrad[4] ? biasGrad(g, c) : null,
    ],
  },

  // y = (x - mean) r w + b with r = (variance + eps)^(-1/2), run as x * (r w) + (b - mean r w).
  batch_norm: {
    forward([x, mean, variance, weight, bias], { eps }) {
      const scale = mul(powScalar(addScalar(variance, eps), -0.5), weight);
      const shift = sub(bias, mul(mean, scale));
      const out = affineForward('batch_norm', x, scale, shift);
      scale.dispose();
      shift.dispose();
      return out;
    },
    // With n values per channel, xhat = (x - mean) r and the sums over them:
    //   dw = sum(g xhat) = r (sum(g x) - mean sum(g)),  db = sum(g),
    //   dx = w r (g - sum(g) / n - xhat sum(g xhat) / n),
    // which is x's whole gradient, through mean and variance too. Regrouped as
    // dx = A g + B x + C with per-channel A = w r, k = A r^2 (sum(g x) - mean sum(g)) / n,
    // B = -k and C = k mean - A sum(g) / n, it is one pass over g and x.
    backward(g, { inputs: [x, mean, variance, weight], attrs: { axes, eps }, needsGrad }) {
      const n = numel(axes.map((axis) => x.shape[axis]));
      const rstd = powScalar(addScalar(variance, eps), -0.5);
      const sumG = sum(g, axes, true);
      const centred = sub(sumProduct(g, x, axes, true), mul(mean, sumG));
      const dWeight = needsGrad[3] ? mul(rstd, centred) : null;
      const dBias = needsGrad[4] ? sumG : null;
      if (!needsGrad[0]) return [null, null, null, dWeight, dBias];

      const A = mul(weight, rstd);
      const k = mulScalar(mul(mul(A, mul(rstd, rstd)), centred), 1 / n);
      const C = sub(mul(k, mean), mulScalar(mul(A, sumG), 1 / n));
      return [mulAdd2(g, A, x, neg(k), C), null, null, dWeight, dBias];
    },
  },
};

/** Returns x * a + c in one pass; a and c share one shape of x's rank that broadcasts to x's. */
export function mulAdd(x: Tensor, a: Tensor, c: Tensor): Tensor {
  requireTensors('mulAdd', { x, a, c });
  checkCoefficients('mulAdd', x, [a, c]);
  return apply('mul_add', [x, a, c], {});
}

/** Returns x * a + y * b + c in one pass; y has x's shape, and a, b, c as in mulAdd. */
export function mulAdd2(x: Tensor, a: Tensor, y: Tensor, b: Tensor, c: Tensor): Tensor {
  requireTensors('mulAdd2', { x, a, y, b, c });
  checkCoefficients('mulAdd2', x, [a, b, c]);
  if (!sameShape(x.shape, y.shape))
    throw new Error(
      `mulAdd2: x has shape ${formatShape(x.shape)} and y ${formatShape(y.shape)}; they need one shape.`,
    );
  return apply('mul_add2', [x, a, y, b, c], {});
}

export interface BatchNormResult {
  output: Tensor;
  /** The batch mean over the axes, with kept dimensions. */
  mean: Tensor;
  /** The biased batch variance over the axes, with kept dimensions. */
  variance: Tensor;
}

/**
 * Normalises x by its own statistics over `axes` and applies the per-channel
 * weight and bias, which have the reduced shape with kept dimensions:
 * (x - mean) / sqrt(variance + eps) * weight + bias, as BatchNorm in training mode.
 * Axes may be negative, as in every reduction.
 */
export function batchNorm(
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  axes: number | readonly number[],
  eps: number,
): BatchNormResult {
  requireTensors('batchNorm', { x, weight, bias });
  for (const [name, t] of [
    ['x', x],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t.dtype !== 'f32')
      throw new Error(`batchNorm: ${name} is ${t.dtype}; convert it with toFloat() first.`);
  }
  if (!Number.isFinite(eps) || eps < 0)
    throw new Error(
      `batchNorm: eps ${eps} is invalid; use a small non-negative number such as 1e-5.`,
    );

  const sorted = normalizeAxes('batchNorm', axes, x.ndim);
  const statShape = reducedShape(x.shape, sorted, true);
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (!sameShape(t.shape, statShape))
      throw new Error(
        `batchNorm: ${name} has shape ${formatShape(t.shape)}; reduce axes [${sorted.join(', ')}] of an input ` +
          `${formatShape(x.shape)} need it shaped ${formatShape(statShape)}.`,
      );
  }
  const n = numel(sorted.map((axis) => x.shape[axis]));
  if (n <= 1)
    throw new Error(
      `batchNorm: axes [${sorted.join(', ')}] of an input ${formatShape(x.shape)} hold ${n} value(s) per channel; ` +
        'batch statistics need at least 2, so normalise over more axes or a larger batch.',
    );
  const mean = mulScalar(sum(x, sorted, true), 1 / n);
  const variance = mulScalar(sumSquaredDeviation(x, mean, sorted, true), 1 / n);
  const output = apply('batch_norm', [x, mean, variance, weight, bias], { axes: sorted, eps });
  return { output, mean, variance };
}
