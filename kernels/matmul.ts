// Launcher for the matmul kernels: matmul_subgroup.wgsl where the device has
// subgroups and the sizes allow vec4 reads, else matmul_vec4.wgsl for
// untransposed vec4 sizes, else the scalar matmul.wgsl.

import source from './wgsl/matmul.wgsl?raw';
import subgroupSource from './wgsl/matmul_subgroup.wgsl?raw';
import vec4Source from './wgsl/matmul_vec4.wgsl?raw';
import { hasSubgroups } from './gpu';
import { Kernel } from './kernel';

const kernel = new Kernel('matmul', source);
const vec4Kernel = new Kernel('matmul_vec4', vec4Source);
const subgroupKernel = new Kernel('matmul_subgroup', subgroupSource);
// Output tile of one workgroup: 8x8 invocations of 4x4 in matmul.wgsl, and
// ROWS x (LANES * COLS) vec4s in matmul_vec4.wgsl.
const TILE = 32;
const VEC4_TILE_M = 8;
const VEC4_TILE_N = 64;
// Output tile of one workgroup of matmul_subgroup.wgsl: 32 rows by 8 vec4 columns.
const SUBGROUP_TILE_M = 32;
const SUBGROUP_TILE_N = 32;
const MAX_BATCH_RANK = 8;

// One constants object per transpose combination, so the pipeline cache can key on identity.
const NEITHER = { TRANS_A: 0, TRANS_B: 0 };
const TRANS_A = { TRANS_A: 1, TRANS_B: 0 };
const TRANS_B = { TRANS_A: 0, TRANS_B: 1 };
const BOTH = { TRANS_A: 1, TRANS_B: 1 };

function transposeConstants(transA: boolean, transB: boolean): Record<string, number> {
  if (transA) return transB ? BOTH : TRANS_A;
  return transB ? TRANS_B : NEITHER;
}

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
  const buffers = { a: args.a, b: args.b, out: args.out };
  const uniforms = {
    M: args.M,
    N: args.N,
    K: args.K,
    batch_rank: args.batchShape.length,
    batch_shape: args.batchShape,
    a_batch_strides: args.aBatchStrides,
    b_batch_strides: args.bBatchStrides,
  };

  if (hasSubgroups() && subgroupSizesFit(args)) {
    subgroupKernel.dispatch({
      op: 'matmul',
      buffers,
      uniforms,
      constants: transposeConstants(args.transA, args.transB),
      workgroups: [Math.ceil(args.N / SUBGROUP_TILE_N), Math.ceil(args.M / SUBGROUP_TILE_M), batch],
    });
    return;
  }
  // The vec4 kernel reads rows of A and B as vec4, so it needs untransposed
  // operands with K and N multiples of 4.
  if (!args.transA && !args.transB && args.K % 4 === 0 && args.N % 4 === 0) {
    vec4Kernel.dispatch({
      op: 'matmul',
      buffers,
      uniforms,
      workgroups: [Math.ceil(args.N / VEC4_TILE_N), Math.ceil(args.M / VEC4_TILE_M), batch],
    });
    return;
  }
  kernel.dispatch({
    op: 'matmul',
    buffers,
    uniforms,
    constants: transposeConstants(args.transA, args.transB),
    workgroups: [Math.ceil(args.N / TILE), Math.ceil(args.M / TILE), batch],
  });
}

/**
 * Returns whether matmul_subgroup.wgsl can read both operands as vec4: it writes
 * rows of the output as vec4 (N), reads A along K, or along M when transposed,
 * and reads B along N, or along K when transposed.
 */
function subgroupSizesFit(args: MatmulArgs): boolean {
  if (args.N % 4 !== 0) return false;
  if (args.transA && args.M % 4 !== 0) return false;
  // NOTE: A^T B with K not a multiple of 4 read as vec4 along M looks valid, but it
  // returned zeros in some output rows on lavapipe (16x2x4, for example), so every
  // form requires K % 4 === 0 until that path is understood.
  return args.K % 4 === 0;
}
