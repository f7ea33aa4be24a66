// Launcher for matmul.wgsl.

import source from './wgsl/matmul.wgsl?raw';
import { Kernel } from './kernel';

const kernel = new Kernel('matmul', source);
const TILE = 32;
const MAX_BATCH_RANK = 8;

export interface MatmulArgs {
  a: GPUBuffer;
  b: GPUBuffer;
  out: GPUBuffer;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** Broadcast batch shape of the output. */
  batchShape: readonly number[];
  /** Element strides of each operand's batch dimensions, 0 where broadcast. */
  aBatchStrides: readonly number[];
  bBatchStrides: readonly number[];
}

export function matmul(args: MatmulArgs): void {
  if (args.batchShape.length > MAX_BATCH_RANK) {
    throw new Error(
      `matmul: up to ${MAX_BATCH_RANK} batch dimensions are supported; got ${args.batchShape.length}.`,
    );
  }
  const batch = args.batchShape.reduce((x, y) => x * y, 1);
  kernel.dispatch({
    op: 'matmul',
    buffers: { a: args.a, b: args.b, out: args.out },
    uniforms: {
      M: args.M,
      N: args.N,
      K: args.K,
      batch_rank: args.batchShape.length,
      batch_shape: args.batchShape,
      a_batch_strides: args.aBatchStrides,
      b_batch_strides: args.bBatchStrides,
    },
    constants: { TRANS_A: args.transA ? 1 : 0, TRANS_B: args.transB ? 1 : 0 },
    workgroups: [Math.ceil(args.N / TILE), Math.ceil(args.M / TILE), batch],
  });
}
