// Launcher for reduce.wgsl.

import source from './wgsl/reduce.wgsl?raw';
import { Kernel, grid, scratchBuffer } from './kernel';

const kernel = new Kernel('reduce', source);
const WORKGROUP = 64;
const MAX_RANK = 8;

export const REDUCE = { sum: 0, max: 1, min: 2, argmax: 3, argmin: 4 } as const;
export type ReduceCode = keyof typeof REDUCE;

// Constants objects reused by every launch, so the kernel finds its pipeline by identity.
const REDUCE_CONSTANTS = Object.fromEntries(
  Object.entries(REDUCE).map(([fn, code]) => [
    fn,
    [
      { OP: code, INNER_CONTIGUOUS: 0 },
      { OP: code, INNER_CONTIGUOUS: 1 },
    ],
  ]),
) as Record<
  ReduceCode,
  [{ OP: number; INNER_CONTIGUOUS: number }, { OP: number; INNER_CONTIGUOUS: number }]
>;

export interface ReduceArgs {
  fn: ReduceCode;
  x: GPUBuffer;
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

  const perGroup = outSize < 1024 && innerSize >= 256;
  const isArg = args.fn === 'argmax' || args.fn === 'argmin';
  kernel.dispatch({
    op: args.fn,
    entry: perGroup ? 'per_group' : 'per_thread',
    buffers: {
      x: args.x,
      out: isArg ? scratchBuffer() : args.out,
      out_index: isArg ? args.out : scratchBuffer(),
    },
    uniforms: {
      out_size: outSize,
      inner_size: innerSize,
      outer_rank: outerShape.length,
      inner_rank: innerShape.length,
      outer_shape: outerShape,
      outer_strides: outerStrides,
      inner_shape: innerShape,
      inner_strides: innerStrides,
    },
    constants: REDUCE_CONSTANTS[args.fn][trailing ? 1 : 0],
    workgroups: grid(perGroup ? outSize : Math.ceil(outSize / WORKGROUP)),
  });
}
