// Launchers for unary.wgsl and binary.wgsl.

import unarySource from './wgsl/unary.wgsl?raw';
import binarySource from './wgsl/binary.wgsl?raw';
import { Kernel, collapseDims, strideGrid } from './kernel';

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
  relu_backward: 12,
} as const;
export type BinaryCode = keyof typeof BINARY;

// One constants object per op, reused by every launch so the kernel finds its
// pipeline by object identity.
const UNARY_CONSTANTS = Object.fromEntries(
  Object.entries(UNARY).map(([fn, code]) => [fn, { OP: code }]),
) as Record<UnaryCode, { OP: number }>;
// Constants objects by op, contiguity and rank, reused by every launch so the
// kernel finds its pipeline by object identity.
const binaryConstants = new Map<string, Record<string, number>>();

function binaryConstantsFor(
  op: number,
  broadcast: boolean,
  uniforms: ReturnType<typeof layoutUniforms>,
): Record<string, number> {
  const rank = broadcast ? uniforms.rank : 0;
  // An operand laid out as the (collapsed) output reads element i directly.
  const dense: number[] = [];
  for (let d = rank - 1, stride = 1; d >= 0; stride *= uniforms.shape[d], d--) dense[d] = stride;
  const direct = (strides: readonly number[]) =>
    broadcast && dense.every((stride, d) => strides[d] === stride) ? 1 : 0;
  const aDirect = direct(uniforms.a_strides);
  const bDirect = direct(uniforms.b_strides);
  const key = `${op},${broadcast},${rank},${aDirect},${bDirect}`;
  let constants = binaryConstants.get(key);
  if (!constants) {
    constants = {
      OP: op,
      BROADCAST: broadcast ? 1 : 0,
      RANK: rank,
      A_DIRECT: aDirect,
      B_DIRECT: bDirect,
    };
    binaryConstants.set(key, constants);
  }
  return constants;
}

/** Maximum rank the broadcast kernels handle. */
export const MAX_RANK = 8;

export function unary(fn: UnaryCode, x: GPUBuffer, out: GPUBuffer, n: number, alpha = 0): void {
  unaryKernel.dispatch({
    op: fn,
    buffers: { x, out },
    uniforms: { n, alpha },
    constants: UNARY_CONSTANTS[fn],
    workgroups: strideGrid(n, WORKGROUP),
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
  // Merged dimensions give the same offsets with fewer divisions per element.
  const operands = [layout.aStrides, layout.bStrides, layout.cStrides ?? layout.aStrides];
  const { shape, strides } = collapseDims(layout.shape, operands);
  return {
    n,
    rank: shape.length,
    shape,
    a_strides: strides[0],
    b_strides: strides[1],
    c_strides: layout.cStrides ? strides[2] : [],
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
  const uniforms = layoutUniforms(n, layout);
  binaryKernel.dispatch({
    op: fn,
    // `c` is unused by these ops, but the bind group layout lists it.
    buffers: { a, b, c: a, out },
    uniforms,
    constants: binaryConstantsFor(BINARY[fn], !layout.contiguous, uniforms),
    workgroups: strideGrid(n, WORKGROUP),
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
  const uniforms = layoutUniforms(n, layout);
  binaryKernel.dispatch({
    op: 'where',
    entry: 'where_select',
    buffers: { a, b, c: condition, out },
    uniforms,
    constants: binaryConstantsFor(0, true, uniforms),
    workgroups: strideGrid(n, WORKGROUP),
  });
}
