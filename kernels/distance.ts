// Launcher for distance.wgsl.

import source from './wgsl/distance.wgsl?raw';
import { Kernel } from './kernel';

const kernel = new Kernel('distance', source);
// One workgroup covers 64 output rows and 32 columns: 8 x 8 invocations of 8 rows
// and 4 columns each. For 2000 x 2000 x 64 on lavapipe (Mesa 25.0, 2 cores) the 8x4
// block took about 20% less process CPU time than 4x4, and 8x8 and 16x4 were no faster.
const ROWS_PER_GROUP = 64;
const COLS_PER_GROUP = 32;

export interface PairwiseArgs {
  measure: 'squared_euclidean' | 'cosine';
  x: GPUBuffer;
  y: GPUBuffer;
  out: GPUBuffer;
  batch: number;
  N: number;
  M: number;
  D: number;
  /** Lower bound of the norm product for cosine similarity. */
  eps?: number;
}

export function pairwise(args: PairwiseArgs): void {
  const cosine = args.measure === 'cosine';
  kernel.dispatch({
    op: cosine ? 'pairwise_cosine_similarity' : 'pairwise_squared_euclidean',
    buffers: { x: args.x, y: args.y, out: args.out },
    uniforms: { N: args.N, M: args.M, D: args.D, eps: args.eps ?? 0 },
    constants: { COSINE: cosine ? 1 : 0 },
    workgroups: [
      Math.ceil(args.M / COLS_PER_GROUP),
      Math.ceil(args.N / ROWS_PER_GROUP),
      args.batch,
    ],
  });
}
