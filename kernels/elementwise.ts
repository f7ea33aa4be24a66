// Launchers for unary.wgsl and binary.wgsl.

import unarySource from './wgsl/unary.wgsl?raw';
import binarySource from './wgsl/binary.wgsl?raw';
import { Kernel, grid } from './kernel';

const unaryKernel = new Kernel('unary', unarySource);
const binaryKernel = new Kernel('binary', binarySource);
const WORKGROUP = 64;

/** Unary functions and their OP codes in unary.wgsl. */
export const UNARY = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  abs: 4,
  relu: 5,
  sigmoid: 6,
  tanh: 7,
  pow_scalar: 8,
  mul_scalar: 9,
  add_scalar: 10,
  sign: 11,
  relu_mask: 12,
  leaky_relu_slope: 13,
  copy: 14,
} as const;
export type UnaryCode = keyof typeof UNARY;

/** Binary functions and their OP codes in binary.wgsl. */
export const BINARY = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  minimum: 6,
  eq: 7,
  gt: 8,
  lt: 9,
  ge: 10,
  le: 11,
} as const;
export type BinaryCode = keyof typeof BINARY;

// One constants object per op, reused by every launch so the kernel finds its
// pipeline by object identity.
const UNARY_CONSTANTS = Object.fromEntries(
  Object.entries(UNARY).map(([fn, code]) => [fn, { OP: code }]),
) as Record<UnaryCode, { OP: number }>;
const BINARY_CONSTANTS = Object.fromEntries(
  Object.entries(BINARY).map(([fn, code]) => [
    fn,
    [
      { OP: code, BROADCAST: 0 },
      { OP: code, BROADCAST: 1 },
    ],
  ]),
) as Record<BinaryCode, [{ OP: number; BROADCAST: number }, { OP: number; BROADCAST: number }]>;

/** Maximum rank the broadcast kernels handle. */
export const MAX_RANK = 8;

export function unary(fn: UnaryCode, x: GPUBuffer, out: GPUBuffer, n: number, alpha = 0): void {
  unaryKernel.dispatch({
    op: fn,
    buffers: { x, out },
    uniforms: { n, alpha },
    constants: UNARY_CONSTANTS[fn],
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}

export interface BroadcastLayout {
  shape: readonly number[];
  aStrides: readonly number[];
  bStrides: readonly number[];
  cStrides?: readonly number[];
  /** True when both inputs are contiguous with the output's shape. */
  contiguous: boolean;
}

function layoutUniforms(n: number, layout: BroadcastLayout) {
  if (layout.shape.length > MAX_RANK) {
    throw new Error(
      `Elementwise ops support tensors of rank up to ${MAX_RANK}; got rank ${layout.shape.length}.`,
    );
  }
  return {
    n,
    rank: layout.shape.length,
    shape: layout.shape,
    a_strides: layout.aStrides,
    b_strides: layout.bStrides,
    c_strides: layout.cStrides ?? [],
  };
}

export function binary(
  fn: BinaryCode,
  a: GPUBuffer,
  b: GPUBuffer,
  out: GPUBuffer,
  n: number,
  layout: BroadcastLayout,
): void {
  binaryKernel.dispatch({
    op: fn,
    // `c` is unused by these ops, but the bind group layout lists it.
    buffers: { a, b, c: a, out },
    uniforms: layoutUniforms(n, layout),
    constants: BINARY_CONSTANTS[fn][layout.contiguous ? 0 : 1],
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}

/** out = where(condition != 0, a, b), all three broadcast to the output's shape. */
export function whereSelect(
  condition: GPUBuffer,
  a: GPUBuffer,
  b: GPUBuffer,
  out: GPUBuffer,
  n: number,
  layout: BroadcastLayout,
): void {
  binaryKernel.dispatch({
    op: 'where',
    entry: 'where_select',
    buffers: { a, b, c: condition, out },
    uniforms: layoutUniforms(n, layout),
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}
