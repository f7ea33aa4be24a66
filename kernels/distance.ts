// Launcher for distance.wgsl.

import source from './wgsl/distance.wgsl?raw';
import { Kernel } from './kernel';

const kernel = new Kernel('distance', source);
/** Output rows and columns covered by one workgroup: 8 invocations of 4 each. */
const TILE = 32;

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
    workgroups: [Math.ceil(args.M / TILE), Math.ceil(args.N / TILE), args.batch],
  });
}
