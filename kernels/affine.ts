// Launcher for affine.wgsl.

import source from './wgsl/affine.wgsl?raw';
import { Kernel, collapseDims, strideGrid } from './kernel';

const kernel = new Kernel('affine', source);
const WORKGROUP = 64;
const MAX_RANK = 8;

// Constants objects by term count and rank, reused by every launch so the
// kernel finds its pipeline by object identity.
const CONSTANTS = [1, 2].map((terms) =>
  Array.from({ length: MAX_RANK + 1 }, (_, rank) => ({ TERMS: terms, RANK: rank })),
);

export interface AffineArgs {
  op: string;
  /** Contiguous, of the output's shape. */
  x: GPUBuffer;
  /** The second term's input, of the output's shape; absent for x * a + c. */
  y?: GPUBuffer;
  a: GPUBuffer;
  b?: GPUBuffer;
  c: GPUBuffer;
  out: GPUBuffer;
  shape: readonly number[];
  /** Strides of a, b and c over `shape`, 0 on broadcast dimensions. */
  strides: readonly number[];
}

/** out = x * a + c, or x * a + y * b + c when y and b are given. */
export function affine(args: AffineArgs): void {
  const { shape } = args;
  if (shape.length > MAX_RANK)
    throw new Error(
      `${args.op}: tensors of rank up to ${MAX_RANK} are supported; got ${shape.length}.`,
    );
  const n = shape.reduce((s, d) => s * d, 1);
  const contiguous: number[] = [];
  for (let d = shape.length - 1, stride = 1; d >= 0; stride *= shape[d], d--)
    contiguous[d] = stride;
  // The output's own strides join the merge test, so merged dimensions keep its order.
  const merged = collapseDims(shape, [args.strides, contiguous]);
  const twoTerms = args.y !== undefined && args.b !== undefined;
  kernel.dispatch({
    op: args.op,
    buffers: {
      x: args.x,
      y: args.y ?? args.x,
      a: args.a,
      b: args.b ?? args.a,
      c: args.c,
      out: args.out,
    },
    uniforms: { n, rank: merged.shape.length, shape: merged.shape, strides: merged.strides[0] },
    constants: CONSTANTS[twoTerms ? 1 : 0][merged.shape.length],
    workgroups: strideGrid(n, WORKGROUP),
  });
}
