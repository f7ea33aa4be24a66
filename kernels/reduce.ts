// Launcher for reduce.wgsl.

import source from './wgsl/reduce.wgsl?raw';
import { Kernel, collapseDims, grid, scratchBuffer } from './kernel';

const kernel = new Kernel('reduce', source);
const WORKGROUP = 64;
const MAX_RANK = 8;

export const REDUCE = {
  sum: 0,
  max: 1,
  min: 2,
  argmax: 3,
  argmin: 4,
  sum_product: 5,
  sum_sq_dev: 6,
} as const;
export type ReduceCode = keyof typeof REDUCE;

// Constants objects by op, contiguity and ranks, reused by every launch so the
// kernel finds its pipeline by identity.
const reduceConstants = new Map<string, Record<string, number>>();

function constantsFor(
  fn: ReduceCode,
  trailing: boolean,
  outerRank: number,
  innerRank: number,
): Record<string, number> {
  const key = `${fn},${trailing},${outerRank},${innerRank}`;
  let constants = reduceConstants.get(key);
  if (!constants) {
    constants = {
      OP: REDUCE[fn],
      INNER_CONTIGUOUS: trailing ? 1 : 0,
      OUTER_RANK: outerRank,
      INNER_RANK: innerRank,
    };
    reduceConstants.set(key, constants);
  }
  return constants;
}

export interface ReduceArgs {
  fn: ReduceCode;
  x: GPUBuffer;
  /**
   * Second input: for sum_product laid out as x, for sum_sq_dev one value per
   * output element (the point the deviations are taken from).
   */
  y?: GPUBuffer;
  /** f32 output for sum, max and min; i32 output for argmax and argmin. */
  out: GPUBuffer;
  shape: readonly number[];
  /** Sorted axes to reduce. */
  axes: readonly number[];
}

export function reduce(args: ReduceArgs): void {
  const { shape, axes } = args;
  if (shape.length > MAX_RANK)
    throw new Error(
      `${args.fn}: tensors of rank up to ${MAX_RANK} are supported; got ${shape.length}.`,
    );

  const strides: number[] = [];
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  const outerShape: number[] = [];
  const outerStrides: number[] = [];
  const innerShape: number[] = [];
  const innerStrides: number[] = [];
  shape.forEach((size, d) => {
    if (axes.includes(d)) {
      innerShape.push(size);
      innerStrides.push(strides[d]);
    } else {
      outerShape.push(size);
      outerStrides.push(strides[d]);
    }
  });
  const outSize = outerShape.reduce((a, b) => a * b, 1);
  const innerSize = innerShape.reduce((a, b) => a * b, 1);
  const trailing = axes.every((axis, i) => axis === shape.length - axes.length + i);

  // Merged dimensions address the same elements in the same order with fewer divisions.
  const outer = collapseDims(outerShape, [outerStrides]);
  const inner = collapseDims(innerShape, [innerStrides]);

  const perGroup = outSize < 1024 && innerSize >= 256;
  const isArg = args.fn === 'argmax' || args.fn === 'argmin';
  kernel.dispatch({
    op: args.fn,
    entry: perGroup ? 'per_group' : 'per_thread',
    buffers: {
      x: args.x,
      y: args.y ?? args.x,
      out: isArg ? scratchBuffer() : args.out,
      out_index: isArg ? args.out : scratchBuffer(),
    },
    uniforms: {
      out_size: outSize,
      inner_size: innerSize,
      outer_rank: outer.shape.length,
      inner_rank: inner.shape.length,
      outer_shape: outer.shape,
      outer_strides: outer.strides[0],
      inner_shape: inner.shape,
      inner_strides: inner.strides[0],
    },
    constants: constantsFor(args.fn, trailing, outer.shape.length, inner.shape.length),
    workgroups: grid(perGroup ? outSize : Math.ceil(outSize / WORKGROUP)),
  });
}
