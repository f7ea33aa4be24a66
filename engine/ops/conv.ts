// 2-D convolution (NCHW) and its adjoints. Three primitives close under
// differentiation: conv2d, its adjoint in the input (conv_transpose2d) and its
// adjoint in the weight (conv2d_weight_grad). Each is linear in each input, so
// every backward is one of the three again, to any order.

import {
  convForward,
  convTranspose,
  convForwardPacked,
  convWeightGrad,
  packedPathApplies,
  packedSizes,
  transposeAsForward,
  weightGradChunks,
  type ConvGeometry,
} from '../../kernels/conv';
import { apply, type RuleTable } from '../autograd';
import { formatShape } from '../shape';
import { Tensor } from '../tensor';
import { zeros } from './creation';
import { add } from './elementwise';
import type { ConvAttrs } from './primitives';
import { sum } from './reduce';
import { reshape } from './shape';

type Pair = [number, number];

export interface Conv2dOptions {
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows and columns added to one side of the output; each must be smaller than the stride. */
  outputPadding?: number | Pair;
}

/** Returns the output length of a convolution along one axis. */
function convOutputSize(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** Returns the output length of a transposed convolution along one axis. */
function transposeOutputSize(size: number, k: number, s: number, p: number, d: number, op: number) {
  return (size - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

/** Returns the convolution geometry of x [N, C_in, H, W], a weight of `kernelSize` and y [N, C_out, OH, OW]. */
function geometry(
  xShape: readonly number[],
  yShape: readonly number[],
  kernelSize: readonly number[],
  attrs: ConvAttrs,
): ConvGeometry {
  const [N, C_in, H, W] = xShape;
  const [, C_out, OH, OW] = yShape;
  const [KH, KW] = kernelSize;
  return {
    ...{ N, C_in, H, W, C_out, OH, OW, KH, KW },
    stride: attrs.stride,
    padding: attrs.padding,
    dilation: attrs.dilation,
    groups: attrs.groups,
  };
}

/** Returns the output padding that makes the transposed convolution of y recover x's size. */
function recoveringPadding(x: Tensor, y: Tensor, kernelSize: readonly number[], attrs: ConvAttrs) {
  return [0, 1].map(
    (axis) =>
      x.shape[2 + axis] -
      transposeOutputSize(
        y.shape[2 + axis],
        kernelSize[axis],
        attrs.stride[axis],
        attrs.padding[axis],
        attrs.dilation[axis],
        0,
      ),
  ) as Pair;
}

/** Runs the packed fast path of conv.wgsl with temporary repacked operands. */
function runPacked(x: Tensor, w: Tensor, out: Tensor, geo: ConvGeometry, flip: boolean): void {
  const sizes = packedSizes(geo);
  const xp = Tensor.empty([sizes.input], 'f32', 'conv2d packed input');
  const wp = Tensor.empty([sizes.weight], 'f32', 'conv2d packed weight');
  const op = flip ? 'conv_transpose2d' : 'conv2d';
  convForwardPacked(
    { x: x.buffer, w: w.buffer, xp: xp.buffer, wp: wp.buffer, out: out.buffer },
    geo,
    flip,
    op,
  );
  // Later dispatches that reuse these buffers run after this one.
  xp.dispose();
  wp.dispose();
}

function pickConv(attrs: ConvAttrs): ConvAttrs {
  const { stride, padding, dilation, groups } = attrs;
  return { stride, padding, dilation, groups };
}

export const convRules: RuleTable<'conv2d' | 'conv_transpose2d' | 'conv2d_weight_grad'> = {
  conv2d: {
    forward([x, w], attrs) {
      const [OH, OW] = [0, 1].map((axis) =>
        convOutputSize(
          x.shape[2 + axis],
          w.shape[2 + axis],
          attrs.stride[axis],
          attrs.padding[axis],
          attrs.dilation[axis],
        ),
      );
      const out = Tensor.empty([x.shape[0], w.shape[0], OH, OW], 'f32', 'conv2d');
      if (out.size === 0) return out;
      const geo = geometry(x.shape, out.shape, w.shape.slice(2), attrs);
      if (packedPathApplies(geo)) runPacked(x, w, out, geo, false);
      else convForward(x.buffer, w.buffer, out.buffer, geo);
      return out;
    },
    // y = conv(x, w) is bilinear: dx = convᵀ(g, w) and dw = corr(x, g).
    backward(g, { inputs: [x, w], attrs, needsGrad }) {
      const kernelSize = w.shape.slice(2) as Pair;
      const dx = needsGrad[0]
        ? apply('conv_transpose2d', [g, w], {
            ...pickConv(attrs),
            outputPadding: recoveringPadding(x, g, kernelSize, attrs),
          })
        : null;
      const dw = needsGrad[1]
        ? apply('conv2d_weight_grad', [x, g], { ...pickConv(attrs), kernelSize })
        : null;
      return [dx, dw];
    },
  },

  // Inputs are y [N, C_out, OH, OW] and w [C_out, C_in / groups, KH, KW] of the convolution
  // whose adjoint this is. The output is x-shaped.
  conv_transpose2d: {
    forward([y, w], attrs) {
      const [H, W] = [0, 1].map((axis) =>
        transposeOutputSize(
          y.shape[2 + axis],
          w.shape[2 + axis],
          attrs.stride[axis],
          attrs.padding[axis],
          attrs.dilation[axis],
          attrs.outputPadding[axis],
        ),
      );
      const C_in = w.shape[1] * attrs.groups;
      const out = Tensor.empty([y.shape[0], C_in, H, W], 'f32', 'conv_transpose2d');
      if (out.size === 0) return out;
      const geo = geometry(out.shape, y.shape, w.shape.slice(2), attrs);
      const forward = transposeAsForward(geo);
      if (forward) runPacked(y, w, out, forward, true);
      else convTranspose(y.buffer, w.buffer, out.buffer, geo);
      return out;
    },
    // x = convᵀ(y, w) is bilinear: dy = conv(g, w) and dw = corr(g, y).
    backward(g, { inputs: [y, w], attrs, needsGrad }) {
      const kernelSize = w.shape.slice(2) as Pair;
      const dy = needsGrad[0] ? apply('conv2d', [g, w], pickConv(attrs)) : null;
      const dw = needsGrad[1]
        ? apply('conv2d_weight_grad', [g, y], { ...pickConv(attrs), kernelSize })
        : null;
      return [dy, dw];
    },
  },

  // Inputs are x [N, C_in, H, W] and y [N, C_out, OH, OW]. The output is weight-shaped.
  conv2d_weight_grad: {
    forward([x, y], attrs) {
      const [KH, KW] = attrs.kernelSize;
      const shape = [y.shape[1], x.shape[1] / attrs.groups, KH, KW];
      const geo = geometry(x.shape, y.shape, attrs.kernelSize, attrs);
      if (x.shape[0] === 0) return zeros(shape);
      const chunks = weightGradChunks(geo);
      const partial = Tensor.empty([chunks, ...shape], 'f32', 'conv2d_weight_grad');
      convWeightGrad(x.buffer, y.buffer, partial.buffer, geo, chunks);
      const out = chunks === 1 ? reshape(partial, shape) : sum(partial, 0);
      partial.dispose();
      return out;
    },
    // dW = corr(x, y) is bilinear, with <conv(x, V), y> = <V, corr(x, y)>:
    // dx = convᵀ(y, G) and dy = conv(x, G).
    backward(g, { inputs: [x, y], attrs, needsGrad }) {
      const dx = needsGrad[0]
        ? apply('conv_transpose2d', [y, g], {
            ...pickConv(attrs),
            outputPadding: recoveringPadding(x, y, attrs.kernelSize, attrs),
          })
        : null;
      const dy = needsGrad[1] ? apply('conv2d', [x, g], pickConv(attrs)) : null;
      return [dx, dy];
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

function convAttrs(op: string, options: Conv2dOptions): ConvAttrs {
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1)
    throw new Error(`${op}: groups must be a positive integer; got ${groups}.`);
  return {
    stride: pair(op, 'stride', options.stride ?? 1, 1),
    padding: pair(op, 'padding', options.padding ?? 0, 0),
    dilation: pair(op, 'dilation', options.dilation ?? 1, 1),
    groups,
  };
}

function checkOperands(op: string, x: Tensor, weight: Tensor, bias: Tensor | undefined): void {
  for (const [name, t] of [
    ['input', x],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && t.dtype !== 'f32') throw new Error(`${op}: expected an f32 ${name}, got ${t.dtype}.`);
  }
  if (x.ndim !== 4)
    throw new Error(
      `${op}: expected an input of shape [N, C, H, W]; got ${formatShape(x.shape)}. Add a batch dimension with unsqueeze(0).`,
    );
  if (weight.ndim !== 4)
    throw new Error(
      `${op}: expected a 4-D weight [channels, channels / groups, kH, kW]; got ${formatShape(weight.shape)}.`,
    );
}

function addBias(op: string, y: Tensor, bias: Tensor | undefined): Tensor {
  if (!bias) return y;
  const channels = y.shape[1];
  if (bias.ndim !== 1 || bias.shape[0] !== channels)
    throw new Error(
      `${op}: bias has shape ${formatShape(bias.shape)}; expected [${channels}], one value per output channel.`,
    );
  // The bias gradient, the sum of g over N, H and W, comes from add's broadcast rule.
  return add(y, reshape(bias, [1, channels, 1, 1]));
}

function checkFits(op: string, x: Tensor, kernelSize: Pair, attrs: ConvAttrs): void {
  for (const axis of [0, 1]) {
    const padded = x.shape[2 + axis] + 2 * attrs.padding[axis];
    const extent = attrs.dilation[axis] * (kernelSize[axis] - 1) + 1;
    if (extent > padded) {
      throw new Error(
        `${op}: the input of shape ${formatShape(x.shape)} with padding ${attrs.padding[axis]} is ${padded} ` +
          `${axis === 0 ? 'rows' : 'columns'} tall, smaller than the dilated kernel (${extent}); ` +
          'use a larger input, more padding or a smaller kernel.',
      );
    }
  }
}

/**
 * 2-D convolution (cross-correlation, as PyTorch) of x [N, C_in, H, W] with
 * weight [C_out, C_in / groups, kH, kW], plus bias [C_out] when given.
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor,
  options: Conv2dOptions = {},
): Tensor {
  const op = 'conv2d';
  checkOperands(op, x, weight, bias);
  const attrs = convAttrs(op, options);
  const [C_out, cinPerGroup] = weight.shape;
  const C_in = x.shape[1];
  if (C_in % attrs.groups !== 0 || C_out % attrs.groups !== 0)
    throw new Error(
      `${op}: groups = ${attrs.groups} must divide both the input channels (${C_in}, input ${formatShape(x.shape)}) ` +
        `and the output channels (${C_out}, weight ${formatShape(weight.shape)}).`,
    );
  if (cinPerGroup * attrs.groups !== C_in)
    throw new Error(
      `${op}: weight ${formatShape(weight.shape)} expects ${cinPerGroup * attrs.groups} input channels ` +
        `(${cinPerGroup} per group x ${attrs.groups} groups), but the input ${formatShape(x.shape)} has ${C_in}.`,
    );
  checkFits(op, x, weight.shape.slice(2) as Pair, attrs);
  return addBias(op, apply('conv2d', [x, weight], attrs), bias);
}

/**
 * Transposed 2-D convolution, the adjoint of conv2d in its input, with PyTorch's
 * conventions: x [N, C_in, H, W], weight [C_in, C_out / groups, kH, kW], bias [C_out].
 * The output is ((H - 1) * stride - 2 * padding + dilation * (kH - 1) + outputPadding + 1) tall.
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const op = 'convTranspose2d';
  checkOperands(op, x, weight, bias);
  const attrs = convAttrs(op, options);
  const outputPadding = pair(op, 'outputPadding', options.outputPadding ?? 0, 0);
  const C_in = x.shape[1];
  if (weight.shape[0] !== C_in)
    throw new Error(
      `${op}: weight ${formatShape(weight.shape)} expects ${weight.shape[0]} input channels, ` +
        `but the input ${formatShape(x.shape)} has ${C_in}.`,
    );
  if (C_in % attrs.groups !== 0)
    throw new Error(
      `${op}: groups = ${attrs.groups} must divide the input channels (${C_in}, input ${formatShape(x.shape)}).`,
    );
  for (const axis of [0, 1]) {
    if (outputPadding[axis] >= attrs.stride[axis])
      throw new Error(
        `${op}: outputPadding ${outputPadding[axis]} must be smaller than the stride ${attrs.stride[axis]}.`,
      );
    const size = transposeOutputSize(
      x.shape[2 + axis],
      weight.shape[2 + axis],
      attrs.stride[axis],
      attrs.padding[axis],
      attrs.dilation[axis],
      outputPadding[axis],
    );
    if (size < 1)
      throw new Error(
        `${op}: the input ${formatShape(x.shape)} with weight ${formatShape(weight.shape)} and padding ` +
          `${attrs.padding[axis]} gives an output of size ${size}; use less padding or a larger input.`,
      );
  }
  return addBias(op, apply('conv_transpose2d', [x, weight], { ...attrs, outputPadding }), bias);
}

/**
 * Returns the gradient of sum(conv2d(x, w) * g) with respect to w: a correlation of x
 * [N, C_in, H, W] with g [N, C_out, OH, OW], returning [C_out, C_in / groups, kH, kW].
 */
export function conv2dWeightGrad(
  x: Tensor,
  g: Tensor,
  kernelSize: number | Pair,
  options: Conv2dOptions = {},
): Tensor {
  const op = 'conv2dWeightGrad';
  const attrs = convAttrs(op, options);
  const size = pair(op, 'kernelSize', kernelSize, 1);
  for (const [name, t] of [
    ['input', x],
    ['output gradient', g],
  ] as const) {
    if (t.ndim !== 4 || t.dtype !== 'f32')
      throw new Error(
        `${op}: expected a 4-D f32 ${name}; got ${t.dtype} of shape ${formatShape(t.shape)}.`,
      );
  }
  if (x.shape[1] % attrs.groups !== 0 || g.shape[1] % attrs.groups !== 0)
    throw new Error(
      `${op}: groups = ${attrs.groups} must divide the channels of the input ${formatShape(x.shape)} ` +
        `and of the output gradient ${formatShape(g.shape)}.`,
    );
  checkFits(op, x, size, attrs);
  const expected = [
    x.shape[0],
    g.shape[1],
    ...[0, 1].map((axis) =>
      convOutputSize(
        x.shape[2 + axis],
        size[axis],
        attrs.stride[axis],
        attrs.padding[axis],
        attrs.dilation[axis],
      ),
    ),
  ];
  if (expected.some((d, i) => d !== g.shape[i]))
    throw new Error(
      `${op}: the output gradient has shape ${formatShape(g.shape)}, but conv2d of ${formatShape(x.shape)} ` +
        `with this kernel size, stride, padding and dilation gives ${formatShape(expected)}.`,
    );
  return apply('conv2d_weight_grad', [x, g], { ...attrs, kernelSize: size });
}
