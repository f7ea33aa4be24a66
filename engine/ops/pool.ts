// 2-D max and average pooling (NCHW). Max pooling is a gather at the argmax
// positions. The gather and its adjoint, a scatter to the same positions, are each
// other's backward, so max pooling differentiates to any order with the argmax
// index held fixed. Average pooling and its adjoint likewise close.

import {
  avgPoolBackward,
  avgPoolForward,
  maxPoolArgmax,
  poolGather,
  poolScatter,
  type PoolGeometry,
} from '../../kernels/pool';
import { apply, noGrad, type RuleTable } from '../autograd';
import { formatShape } from '../shape';
import { Tensor } from '../tensor';
import type { PoolAttrs } from './primitives';

type Pair = [number, number];

export interface MaxPool2dOptions {
  kernelSize: number | Pair;
  /** Defaults to kernelSize. */
  stride?: number | Pair;
  padding?: number | Pair;
}

export interface AvgPool2dOptions extends MaxPool2dOptions {
  /** Divide by the full window size, padding included (true), or by the elements inside the input. */
  countIncludePad?: boolean;
}

function outputSize(size: number, k: number, s: number, p: number): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

/** Returns the geometry of pooling x-shaped [N, C, H, W] input into y-shaped [N, C, OH, OW] output. */
function geometry(
  xShape: readonly number[],
  yShape: readonly number[],
  attrs: PoolAttrs,
): PoolGeometry {
  return {
    planes: xShape[0] * xShape[1],
    H: xShape[2],
    W: xShape[3],
    OH: yShape[2],
    OW: yShape[3],
    kernelSize: attrs.kernelSize,
    stride: attrs.stride,
    padding: attrs.padding,
  };
}

function pooledShape(x: Tensor, attrs: PoolAttrs): number[] {
  return [
    x.shape[0],
    x.shape[1],
    ...[0, 1].map((axis) =>
      outputSize(
        x.shape[2 + axis],
        attrs.kernelSize[axis],
        attrs.stride[axis],
        attrs.padding[axis],
      ),
    ),
  ];
}

function pickPool(attrs: PoolAttrs): PoolAttrs {
  const { kernelSize, stride, padding } = attrs;
  return { kernelSize, stride, padding };
}

export const poolRules: RuleTable<
  'max_pool2d_argmax' | 'pool_gather' | 'pool_scatter' | 'avg_pool2d' | 'avg_pool2d_backward'
> = {
  max_pool2d_argmax: {
    forward([x], attrs) {
      const out = Tensor.empty(pooledShape(x, attrs), 'i32', 'max_pool2d');
      if (out.size > 0) maxPoolArgmax(x.buffer, out.buffer, geometry(x.shape, out.shape, attrs));
      return out;
    },
    // An index is piecewise constant in x: no gradient flows through it.
    backward: () => [null],
  },

  pool_gather: {
    forward([x, index], attrs) {
      const out = Tensor.empty(index.shape, 'f32', 'pool_gather');
      if (out.size > 0)
        poolGather(x.buffer, index.buffer, out.buffer, geometry(x.shape, index.shape, attrs));
      return out;
    },
    // out = x[index] is linear in x, and its adjoint scatters g back to the index.
    backward(g, { inputs: [x, index], attrs, needsGrad }) {
      if (!needsGrad[0]) return [null, null];
      const inputSize = [x.shape[2], x.shape[3]] as Pair;
      return [apply('pool_scatter', [g, index], { ...pickPool(attrs), inputSize }), null];
    },
  },

  pool_scatter: {
    forward([g, index], attrs) {
      const [H, W] = attrs.inputSize;
      const out = Tensor.empty([g.shape[0], g.shape[1], H, W], 'f32', 'pool_scatter');
      if (out.size > 0)
        poolScatter(g.buffer, index.buffer, out.buffer, geometry(out.shape, g.shape, attrs));
      return out;
    },
    // The adjoint of a scatter is the gather at the same index.
    backward(g, { inputs: [, index], attrs, needsGrad }) {
      if (!needsGrad[0]) return [null, null];
      return [apply('pool_gather', [g, index], pickPool(attrs)), null];
    },
  },

  avg_pool2d: {
    forward([x], attrs) {
      const out = Tensor.empty(pooledShape(x, attrs), 'f32', 'avg_pool2d');
      if (out.size > 0)
        avgPoolForward(x.buffer, out.buffer, {
          ...geometry(x.shape, out.shape, attrs),
          countIncludePad: attrs.countIncludePad,
        });
      return out;
    },
    // avg_pool2d is linear: dx = avg_pool2dᵀ(g).
    backward(g, { inputs: [x], attrs }) {
      const inputSize = [x.shape[2], x.shape[3]] as Pair;
      return [apply('avg_pool2d_backward', [g], { ...attrs, inputSize })];
    },
  },

  avg_pool2d_backward: {
    forward([g], attrs) {
      const [H, W] = attrs.inputSize;
      const out = Tensor.empty([g.shape[0], g.shape[1], H, W], 'f32', 'avg_pool2d_backward');
      if (out.size > 0)
        avgPoolBackward(g.buffer, out.buffer, {
          ...geometry(out.shape, g.shape, attrs),
          countIncludePad: attrs.countIncludePad,
        });
      return out;
    },
    // The adjoint of the adjoint is avg_pool2d itself.
    backward(g, { attrs }) {
      const { kernelSize, stride, padding, countIncludePad } = attrs;
      return [apply('avg_pool2d', [g], { kernelSize, stride, padding, countIncludePad })];
    },
  },
};

// ---- Public functions ----

function pair(op: string, name: string, value: number | Pair, min: number): Pair {
  const values: Pair = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if (
    (typeof value !== 'number' && value.length !== 2) ||
    values.some((v) => !Number.isInteger(v) || v < min)
  ) {
    throw new Error(
      `${op}: ${name} must be an integer >= ${min} or a pair of them; got ${JSON.stringify(value)}.`,
    );
  }
  return values;
}

function poolAttrs(op: string, x: Tensor, options: MaxPool2dOptions): PoolAttrs {
  if (x.ndim !== 4)
    throw new Error(
      `${op}: expected an input of shape [N, C, H, W]; got ${formatShape(x.shape)}. Add a batch dimension with unsqueeze(0).`,
    );
  if (x.dtype !== 'f32') throw new Error(`${op}: expected an f32 input, got ${x.dtype}.`);
  if (options?.kernelSize === undefined)
    throw new Error(`${op}: options.kernelSize is missing; pass for example { kernelSize: 2 }.`);
  const kernelSize = pair(op, 'kernelSize', options.kernelSize, 1);
  const stride = pair(op, 'stride', options.stride ?? kernelSize, 1);
  const padding = pair(op, 'padding', options.padding ?? 0, 0);
  for (const axis of [0, 1]) {
    if (2 * padding[axis] > kernelSize[axis])
      throw new Error(
        `${op}: padding ${padding[axis]} must be at most half the kernel size ${kernelSize[axis]}.`,
      );
    if (x.shape[2 + axis] + 2 * padding[axis] < kernelSize[axis])
      throw new Error(
        `${op}: the input ${formatShape(x.shape)} with padding ${padding[axis]} is smaller than the kernel ` +
          `size ${kernelSize[axis]}; use a smaller kernel or more padding.`,
      );
  }
  return { kernelSize, stride, padding };
}

/**
 * Max pooling of x [N, C, H, W]. The gradient goes to the first maximum of each
 * window, as in PyTorch; padding counts as -infinity.
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  const attrs = poolAttrs('maxPool2d', x, options);
  const index = noGrad(() => apply('max_pool2d_argmax', [x], attrs));
  const out = apply('pool_gather', [x, index], attrs);
  // Without a tape node nothing reads the index again.
  if (!out.node) index.dispose();
  return out;
}

/** Returns the i32 index (h * W + w within its plane) of each window's first maximum. */
export function maxPool2dIndices(x: Tensor, options: MaxPool2dOptions): Tensor {
  const attrs = poolAttrs('maxPool2dIndices', x, options);
  return apply('max_pool2d_argmax', [x], attrs);
}

/** Average pooling of x [N, C, H, W]. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const attrs = poolAttrs('avgPool2d', x, options);
  return apply('avg_pool2d', [x], { ...attrs, countIncludePad: options.countIncludePad ?? true });
}
