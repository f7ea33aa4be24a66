// Slicing, joining, gathering and scattering along one axis, and dtype casts.
// Each data-moving primitive comes with its transpose (slice and slice_pad,
// gather and scatter_add, index_select and index_add), and each backward is
// written with the other one, so gradients of gradients work to any order.

import { scatterCopy, gatherCopy } from '../../kernels/strided';
import {
  cast,
  gatherAlongAxis,
  indexAddAlongAxis,
  scatterAddAlongAxis,
} from '../../kernels/indexing';
import { apply, noGrad, type RuleTable } from '../autograd';
import { formatShape, normalizeAxis, numel, sameShape, stridesOf, type Shape } from '../shape';
import { Tensor } from '../tensor';
import { full, zeros } from './creation';
import type { SliceView } from './primitives';
import { unsqueeze } from './shape';

type IndexingPrimitive =
  | 'slice'
  | 'slice_pad'
  | 'concat'
  | 'index_select'
  | 'index_add'
  | 'gather'
  | 'scatter_add'
  | 'to_float'
  | 'to_int';

/** Returns the strides and element offset with which a SliceView reads a tensor of `shape`. */
function sliceStrides(shape: Shape, { starts, steps }: SliceView) {
  const strides = stridesOf(shape);
  return {
    strides: strides.map((stride, d) => stride * steps[d]),
    offset: strides.reduce((total, stride, d) => total + stride * starts[d], 0),
  };
}

/** Strides that walk a 1-D index along `axis` and stay put on every other dimension. */
function axisOnlyStrides(rank: number, axis: number): number[] {
  return Array.from({ length: rank }, (_, d) => (d === axis ? 1 : 0));
}

export const indexingRules: RuleTable<IndexingPrimitive> = {
  slice: {
    forward([x], view) {
      const out = Tensor.empty(view.shape, x.dtype, 'slice');
      if (out.size > 0)
        gatherCopy('slice', x.buffer, out.buffer, {
          shape: view.shape,
          ...sliceStrides(x.shape, view),
        });
      return out;
    },
    // The slice's adjoint places g back into zeros of x's shape.
    backward: (g, { inputs: [x], attrs: { starts, steps } }) => [
      apply('slice_pad', [g], { starts, steps, shape: [...x.shape] }),
    ],
  },

  // Zeros of attrs.shape with the input written at the sliced positions.
  slice_pad: {
    forward([x], view) {
      const out = full(view.shape, 0, { dtype: x.dtype });
      if (x.size > 0)
        scatterCopy('slice_pad', x.buffer, out.buffer, {
          shape: x.shape,
          ...sliceStrides(view.shape, view),
        });
      return out;
    },
    // The pad's adjoint reads the sliced positions back.
    backward: (g, { inputs: [x], attrs: { starts, steps } }) => [
      apply('slice', [g], { starts, steps, shape: [...x.shape] }),
    ],
  },

  concat: {
    forward(inputs, { axis }) {
      const shape = [...inputs[0].shape];
      shape[axis] = inputs.reduce((total, input) => total + input.shape[axis], 0);
      const out = Tensor.empty(shape, inputs[0].dtype, 'concat');
      const strides = stridesOf(shape);
      let start = 0;
      for (const input of inputs) {
        if (input.size > 0)
          scatterCopy('concat', input.buffer, out.buffer, {
            shape: input.shape,
            strides,
            offset: start * strides[axis],
          });
        start += input.shape[axis];
      }
      return out;
    },
    // Each input's gradient is its block of g along the axis.
    backward(g, { inputs, attrs: { axis }, needsGrad }) {
      let start = 0;
      return inputs.map((input, i) => {
        const length = input.shape[axis];
        start += length;
        return needsGrad[i] ? narrow(g, axis, start - length, length) : null;
      });
    },
  },

  index_select: {
    forward([x, index], { axis }) {
      const shape = [...x.shape];
      shape[axis] = index.size;
      const out = Tensor.empty(shape, x.dtype, 'indexSelect');
      if (out.size > 0)
        gatherAlongAxis('indexSelect', {
          x: x.buffer,
          index: index.buffer,
          out: out.buffer,
          outShape: shape,
          axis,
          axisSize: x.shape[axis],
          xStrides: stridesOf(x.shape),
          indexStrides: axisOnlyStrides(x.ndim, axis),
        });
      return out;
    },
    // d x = indexAdd(0, axis, index, g): each selected row sends its gradient back to its source row.
    backward: (g, { inputs: [x, index], attrs: { axis }, needsGrad }) => [
      needsGrad[0] ? apply('index_add', [zeros(x.shape), index, g], { axis }) : null,
      null,
    ],
  },

  index_add: {
    forward([x, index, source], { axis }) {
      const out = Tensor.empty(x.shape, 'f32', 'indexAdd');
      if (out.size > 0)
        indexAddAlongAxis('indexAdd', {
          x: x.buffer,
          index: index.buffer,
          source: source.buffer,
          out: out.buffer,
          outer: numel(x.shape.slice(0, axis)),
          size: x.shape[axis],
          inner: numel(x.shape.slice(axis + 1)),
          count: index.size,
        });
      return out;
    },
    // out = x + P source with P a fixed 0/1 matrix: d x = g, d source = P^T g = indexSelect(g).
    backward: (g, { inputs: [, index], attrs: { axis }, needsGrad }) => [
      needsGrad[0] ? g : null,
      null,
      needsGrad[2] ? apply('index_select', [g, index], { axis }) : null,
    ],
  },

  gather: {
    forward([x, index], { axis }) {
      const out = Tensor.empty(index.shape, x.dtype, 'gather');
      if (out.size > 0)
        gatherAlongAxis('gather', {
          x: x.buffer,
          index: index.buffer,
          out: out.buffer,
          outShape: index.shape,
          axis,
          axisSize: x.shape[axis],
          xStrides: stridesOf(x.shape),
          indexStrides: stridesOf(index.shape),
        });
      return out;
    },
    // d x = scatterAdd(0, axis, index, g), the adjoint of the gather.
    backward: (g, { inputs: [x, index], attrs: { axis }, needsGrad }) => [
      needsGrad[0] ? apply('scatter_add', [zeros(x.shape), index, g], { axis }) : null,
      null,
    ],
  },

  scatter_add: {
    forward([x, index, src], { axis }) {
      const out = Tensor.empty(x.shape, 'f32', 'scatterAdd');
      if (out.size > 0)
        scatterAddAlongAxis('scatterAdd', {
          x: x.buffer,
          index: index.buffer,
          src: src.buffer,
          out: out.buffer,
          outShape: x.shape,
          axis,
          count: index.shape[axis],
          indexStrides: stridesOf(index.shape),
          srcStrides: stridesOf(src.shape),
          indexBounds: index.shape,
        });
      return out;
    },
    // d x = g; d src = gather(g), zero-padded where src extends past the index.
    backward(g, { inputs: [, index, src], attrs: { axis }, needsGrad }) {
      let gSrc: Tensor | null = null;
      if (needsGrad[2]) {
        gSrc = apply('gather', [g, index], { axis });
        if (!sameShape(index.shape, src.shape)) {
          gSrc = apply('slice_pad', [gSrc], {
            starts: src.shape.map(() => 0),
            steps: src.shape.map(() => 1),
            shape: [...src.shape],
          });
        }
      }
      return [needsGrad[0] ? g : null, null, gSrc];
    },
  },

  // Casts have no gradient: i32 tensors never require grad.
  to_float: {
    forward([x]) {
      const out = Tensor.empty(x.shape, 'f32', 'toFloat');
      if (out.size > 0) cast('toFloat', x.buffer, out.buffer, out.size);
      return out;
    },
    backward: () => [null],
  },
  to_int: {
    forward([x]) {
      const out = Tensor.empty(x.shape, 'i32', 'toInt');
      if (out.size > 0) cast('toInt', x.buffer, out.buffer, out.size);
      return out;
    },
    backward: () => [null],
  },
};

// ---- Public functions ----

function requireAxis(op: string, x: Tensor, axis: number): number {
  if (x.ndim === 0)
    throw new Error(`${op}: the tensor is 0-d and has no axis ${axis}; reshape it to [1] first.`);
  return normalizeAxis(op, axis, x.ndim);
}

function requireIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'i32') {
    throw new Error(
      `${op}: the index must be an i32 tensor, got ${index.dtype}; convert it with toInt() first.`,
    );
  }
}

function requireF32(op: string, name: string, t: Tensor): void {
  if (t.dtype !== 'f32')
    throw new Error(
      `${op}: ${name} must be an f32 tensor, got ${t.dtype}; convert it with toFloat() first.`,
    );
}

function requireInteger(op: string, name: string, value: number): void {
  if (!Number.isInteger(value)) throw new Error(`${op}: ${name} must be an integer, got ${value}.`);
}

/**
 * Returns x[start:end:step] along `axis`, as Python slicing: negative start and
 * end count from the end, and both are clamped to [0, size]. step must be positive.
 */
export function slice(x: Tensor, axis: number, start = 0, end?: number, step = 1): Tensor {
  const a = requireAxis('slice', x, axis);
  requireInteger('slice', 'start', start);
  if (end !== undefined) requireInteger('slice', 'end', end);
  if (!Number.isInteger(step) || step < 1)
    throw new Error(`slice: step must be a positive integer, got ${step}.`);

  const size = x.shape[a];
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const first = clamp(start);
  const last = end === undefined ? size : clamp(end);
  const length = Math.max(0, Math.ceil((last - first) / step));
  if (first === 0 && length === size && step === 1) return x;

  const starts = x.shape.map((_, d) => (d === a ? first : 0));
  const steps = x.shape.map((_, d) => (d === a ? step : 1));
  const shape = x.shape.map((dim, d) => (d === a ? length : dim));
  return apply('slice', [x], { starts, steps, shape });
}

/** Returns `length` elements from `start` along `axis` (a negative start counts from the end), as torch.narrow. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = requireAxis('narrow', x, axis);
  requireInteger('narrow', 'start', start);
  requireInteger('narrow', 'length', length);
  const size = x.shape[a];
  const first = start < 0 ? start + size : start;
  if (first < 0 || first > size || length < 0 || first + length > size) {
    throw new Error(
      `narrow: start ${start} and length ${length} do not fit in axis ${axis} of size ${size} ` +
        `(shape ${formatShape(x.shape)}); use start in [${-size}, ${size}] and start + length <= ${size}.`,
    );
  }
  return slice(x, a, first, first + length);
}

/** Joins tensors of one dtype along `axis`; all other dimensions must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('concat: got an empty list; pass at least one tensor.');
  const [first] = tensors;
  const a = requireAxis('concat', first, axis);
  for (const [i, t] of tensors.entries()) {
    if (t.dtype !== first.dtype) {
      throw new Error(
        `concat: tensor ${i} is ${t.dtype} but tensor 0 is ${first.dtype}; convert them to one dtype first.`,
      );
    }
    const matches =
      t.ndim === first.ndim && t.shape.every((dim, d) => d === a || dim === first.shape[d]);
    if (!matches) {
      throw new Error(
        `concat: tensor ${i} has shape ${formatShape(t.shape)}, which does not match tensor 0's ` +
          `${formatShape(first.shape)} outside axis ${axis}; every dimension except the axis must be equal.`,
      );
    }
  }
  if (tensors.length === 1) return first;
  return apply('concat', tensors, { axis: a });
}

/** Alias of concat, as torch.cat. */
export const cat = concat;

/** Joins tensors of one shape along a new axis (in [-rank-1, rank]). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('stack: got an empty list; pass at least one tensor.');
  const [first] = tensors;
  for (const [i, t] of tensors.entries()) {
    if (!sameShape(t.shape, first.shape)) {
      throw new Error(
        `stack: tensor ${i} has shape ${formatShape(t.shape)} but tensor 0 has ${formatShape(first.shape)}; ` +
          'all tensors must have the same shape.',
      );
    }
  }
  const a = normalizeAxis('stack', axis, first.ndim + 1);
  return concat(
    tensors.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** Returns the entries of x at positions `index` (1-D i32) along `axis`, as torch.index_select. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const a = requireAxis('indexSelect', x, axis);
  requireIndex('indexSelect', index);
  if (index.ndim !== 1)
    throw new Error(
      `indexSelect: the index must be 1-D, got shape ${formatShape(index.shape)}; flatten it first.`,
    );
  return apply('index_select', [x, index], { axis: a });
}

/**
 * Returns x plus `source` added at positions `index` (1-D i32) along `axis`, as
 * torch.index_add; repeated indices accumulate.
 */
export function indexAdd(x: Tensor, axis: number, index: Tensor, source: Tensor): Tensor {
  const a = requireAxis('indexAdd', x, axis);
  requireIndex('indexAdd', index);
  requireF32('indexAdd', 'x', x);
  requireF32('indexAdd', 'source', source);
  if (index.ndim !== 1)
    throw new Error(
      `indexAdd: the index must be 1-D, got shape ${formatShape(index.shape)}; flatten it first.`,
    );
  const expected = x.shape.map((dim, d) => (d === a ? index.size : dim));
  if (!sameShape(source.shape, expected)) {
    throw new Error(
      `indexAdd: source has shape ${formatShape(source.shape)} but x of shape ${formatShape(x.shape)} ` +
        `with ${index.size} indices along axis ${axis} needs ${formatShape(expected)}.`,
    );
  }
  return apply('index_add', [x, index, source], { axis: a });
}

/**
 * Returns out[c] = x[c with coordinate `axis` replaced by index[c]], of index's
 * shape, as torch.gather. index must have x's rank and fit in x off the axis.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const a = requireAxis('gather', x, axis);
  requireIndex('gather', index);
  const fits = index.ndim === x.ndim && index.shape.every((dim, d) => d === a || dim <= x.shape[d]);
  if (!fits) {
    throw new Error(
      `gather: index of shape ${formatShape(index.shape)} does not fit x of shape ${formatShape(x.shape)} ` +
        `along axis ${axis}; the index needs x's rank and at most x's size in every other dimension.`,
    );
  }
  return apply('gather', [x, index], { axis: a });
}

/**
 * Returns x plus src[c] added at x[c with coordinate `axis` replaced by index[c]]
 * for every position c of index, as torch.scatter_add; repeated indices accumulate.
 */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const a = requireAxis('scatterAdd', x, axis);
  requireIndex('scatterAdd', index);
  requireF32('scatterAdd', 'x', x);
  requireF32('scatterAdd', 'src', src);
  const fits =
    index.ndim === x.ndim &&
    src.ndim === x.ndim &&
    index.shape.every((dim, d) => dim <= src.shape[d] && (d === a || dim <= x.shape[d]));
  if (!fits) {
    throw new Error(
      `scatterAdd: index ${formatShape(index.shape)}, src ${formatShape(src.shape)} and x ${formatShape(x.shape)} ` +
        `do not fit along axis ${axis}; all need one rank, and the index at most src's size everywhere ` +
        "and at most x's size off the axis.",
    );
  }
  return apply('scatter_add', [x, index, src], { axis: a });
}

/** Returns x as f32 (a no-op for f32). */
export function toFloat(x: Tensor): Tensor {
  if (x.dtype === 'f32') return x;
  return apply('to_float', [x], {});
}

/**
 * Returns x as i32, truncating toward zero as torch's .int() (a no-op for i32).
 * Values beyond the i32 range saturate and NaN becomes 0. Not differentiable.
 */
export function toInt(x: Tensor): Tensor {
  if (x.dtype === 'i32') return x;
  return noGrad(() => apply('to_int', [x], {}));
}
