// Shape primitives (reshape, expand, permute) and the views built on them.

import { gatherCopy } from '../../kernels/strided';
import { apply, type RuleTable } from '../autograd';
import {
  broadcastShapes,
  broadcastStrides,
  checkShape,
  formatShape,
  normalizeAxis,
  numel,
  sameShape,
  stridesOf,
  type Shape,
} from '../shape';
import { Tensor } from '../tensor';
import { sum } from './reduce';

export const shapeRules: RuleTable<'reshape' | 'expand' | 'permute'> = {
  // A reshape of contiguous storage is a view: it shares the buffer.
  reshape: {
    forward([x], { shape }) {
      return new Tensor(x.storage.retain(), shape, x.dtype);
    },
    backward: (g, { inputs: [x] }) => [reshape(g, x.shape)],
  },

  // The broadcast copy's gradient sums over the broadcast dimensions.
  expand: {
    forward([x], { shape }) {
      const out = Tensor.empty(shape, x.dtype, 'expand');
      if (out.size > 0)
        gatherCopy('expand', x.buffer, out.buffer, {
          shape,
          strides: broadcastStrides(x.shape, shape),
        });
      return out;
    },
    backward: (g, { inputs: [x] }) => [sumTo(g, x.shape)],
  },

  // out.shape[i] = x.shape[dims[i]]; the gradient applies the inverse permutation.
  permute: {
    forward([x], { dims }) {
      const shape = dims.map((d) => x.shape[d]);
      const strides = stridesOf(x.shape);
      const out = Tensor.empty(shape, x.dtype, 'permute');
      if (out.size > 0)
        gatherCopy('permute', x.buffer, out.buffer, {
          shape,
          strides: dims.map((d) => strides[d]),
        });
      return out;
    },
    backward(g, { attrs: { dims } }) {
      const inverse = new Array<number>(dims.length);
      dims.forEach((d, i) => (inverse[d] = i));
      return [permute(g, inverse)];
    },
  },
};

/** Returns x with a new shape of the same size; one dimension may be -1 and is inferred. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const wanted = [...shape];
  const inferred = wanted.indexOf(-1);
  if (inferred !== -1) {
    if (wanted.lastIndexOf(-1) !== inferred)
      throw new Error(`reshape: shape ${formatShape(shape)} has more than one -1.`);
    const known = numel(wanted.filter((_, i) => i !== inferred));
    if (known === 0 || x.size % known !== 0) {
      throw new Error(
        `reshape: cannot infer the -1 in ${formatShape(shape)} for a tensor of shape ${formatShape(x.shape)}.`,
      );
    }
    wanted[inferred] = x.size / known;
  }
  checkShape('reshape', wanted);
  if (numel(wanted) !== x.size) {
    throw new Error(
      `reshape: cannot reshape a tensor of shape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}.`,
    );
  }
  if (sameShape(wanted, x.shape)) return x;
  return apply('reshape', [x], { shape: wanted });
}

/** Broadcasts x to `shape` (a copy, since storage is contiguous); -1 keeps a dimension. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const offset = shape.length - x.ndim;
  if (offset < 0)
    throw new Error(
      `expand: cannot expand shape ${formatShape(x.shape)} to fewer dimensions, ${formatShape(shape)}.`,
    );
  const target = shape.map((d, i) => (d === -1 && i >= offset ? x.shape[i - offset] : d));
  const broadcast = broadcastShapes('expand', x.shape, target);
  if (!sameShape(broadcast, target)) {
    throw new Error(
      `expand: shape ${formatShape(x.shape)} cannot be expanded to ${formatShape(shape)}; only size-1 dimensions expand.`,
    );
  }
  if (sameShape(target, x.shape)) return x;
  return apply('expand', [x], { shape: target });
}

/** Sums x down to `shape`, undoing a broadcast: the gradient rule of every broadcasting op. */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const offset = x.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) {
    if (i < offset || (shape[i - offset] === 1 && x.shape[i] !== 1)) axes.push(i);
  }
  return reshape(sum(x, axes, true), shape);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) {
    throw new Error(
      `permute: got ${dims.length} dims [${dims.join(', ')}] for a tensor of rank ${x.ndim}; pass one per dimension.`,
    );
  }
  const normalized = dims.map((d) => normalizeAxis('permute', d, x.ndim));
  if (new Set(normalized).size !== normalized.length)
    throw new Error(`permute: dims [${dims.join(', ')}] repeat a dimension.`);
  if (normalized.every((d, i) => d === i)) return x;
  return apply('permute', [x], { dims: normalized });
}

/** Swaps two dimensions. */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  if (x.ndim < 2 && dim0 === -2 && dim1 === -1) return x;
  const a = normalizeAxis('transpose', dim0, x.ndim);
  const b = normalizeAxis('transpose', dim1, x.ndim);
  const dims = Array.from({ length: x.ndim }, (_, i) => i);
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

/** Removes size-1 dimensions: the given one, or all of them. */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const a = normalizeAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return x;
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

/** Inserts a size-1 dimension at `axis` (in [-rank-1, rank]). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Merges dimensions startDim..endDim into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const start = normalizeAxis('flatten', startDim, x.ndim);
  const end = normalizeAxis('flatten', endDim, x.ndim);
  if (start > end) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}.`);
  const merged = numel(x.shape.slice(start, end + 1));
  return reshape(x, [...x.shape.slice(0, start), merged, ...x.shape.slice(end + 1)]);
}
