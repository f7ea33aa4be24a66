// Launchers for index_gather.wgsl, index_scatter_add.wgsl, index_add.wgsl and cast.wgsl.

import gatherSource from './wgsl/index_gather.wgsl?raw';
import scatterAddSource from './wgsl/index_scatter_add.wgsl?raw';
import indexAddSource from './wgsl/index_add.wgsl?raw';
import castSource from './wgsl/cast.wgsl?raw';
import { Kernel, grid } from './kernel';

const gatherKernel = new Kernel('index_gather', gatherSource);
const scatterAddKernel = new Kernel('index_scatter_add', scatterAddSource);
const indexAddKernel = new Kernel('index_add', indexAddSource);
const castKernel = new Kernel('cast', castSource);
/** Output elements per invocation of index_add.wgsl (its CHUNK). */
const INDEX_ADD_CHUNK = 16;
const WORKGROUP = 64;
const MAX_RANK = 8;

function checkRank(op: string, rank: number): void {
  if (rank > MAX_RANK)
    throw new Error(`${op}: tensors of rank up to ${MAX_RANK} are supported; got ${rank}.`);
}

function withoutAxis(strides: readonly number[], axis: number): number[] {
  return strides.map((stride, d) => (d === axis ? 0 : stride));
}

export interface GatherArgs {
  x: GPUBuffer;
  index: GPUBuffer;
  out: GPUBuffer;
  outShape: readonly number[];
  axis: number;
  /** x.shape[axis]: indices outside [0, axisSize) read 0. */
  axisSize: number;
  xStrides: readonly number[];
  /** Strides of the i32 index over the output's coordinates (0 where the index is broadcast). */
  indexStrides: readonly number[];
}

/** Writes out[c] = x[c with coordinate `axis` replaced by index[c]], for f32 or i32 data. */
export function gatherAlongAxis(op: string, args: GatherArgs): void {
  checkRank(op, args.outShape.length);
  const n = args.outShape.reduce((a, b) => a * b, 1);
  gatherKernel.dispatch({
    op,
    buffers: { x: args.x, index: args.index, out: args.out },
    uniforms: {
      n,
      rank: args.outShape.length,
      axis_size: args.axisSize,
      x_axis_stride: args.xStrides[args.axis],
      out_shape: args.outShape,
      x_strides: withoutAxis(args.xStrides, args.axis),
      index_strides: args.indexStrides,
    },
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}

export interface ScatterAddArgs {
  /** f32 base values, of shape outShape. */
  x: GPUBuffer;
  index: GPUBuffer;
  src: GPUBuffer;
  out: GPUBuffer;
  outShape: readonly number[];
  axis: number;
  /** Number of index entries along the axis. */
  count: number;
  /** Strides of the i32 index (0 off the axis where it is broadcast). */
  indexStrides: readonly number[];
  srcStrides: readonly number[];
  /** Index extent off the axis; output coordinates beyond it get no contribution. */
  indexBounds: readonly number[];
}

/** Writes out = x plus src[k] added at coordinate `axis` = index[k], for every index position k. */
export function scatterAddAlongAxis(op: string, args: ScatterAddArgs): void {
  checkRank(op, args.outShape.length);
  const n = args.outShape.reduce((a, b) => a * b, 1);
  scatterAddKernel.dispatch({
    op,
    buffers: { x: args.x, index: args.index, src: args.src, out: args.out },
    uniforms: {
      n,
      rank: args.outShape.length,
      axis: args.axis,
      count: args.count,
      index_axis_stride: args.indexStrides[args.axis],
      src_axis_stride: args.srcStrides[args.axis],
      out_shape: args.outShape,
      index_strides: withoutAxis(args.indexStrides, args.axis),
      src_strides: withoutAxis(args.srcStrides, args.axis),
      index_bounds: args.indexBounds,
    },
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}

export interface IndexAddArgs {
  /** f32 base values, viewed as [outer, size, inner]. */
  x: GPUBuffer;
  /** 1-D i32 index of length count. */
  index: GPUBuffer;
  /** f32 values viewed as [outer, count, inner]. */
  source: GPUBuffer;
  out: GPUBuffer;
  outer: number;
  size: number;
  inner: number;
  count: number;
}

/** Writes out = x with source row k added to row index[k] along the middle axis. */
export function indexAddAlongAxis(op: string, args: IndexAddArgs): void {
  const chunksPerRow = Math.ceil(args.inner / INDEX_ADD_CHUNK);
  const nChunks = args.outer * args.size * chunksPerRow;
  indexAddKernel.dispatch({
    op,
    buffers: { x: args.x, index: args.index, source: args.source, out: args.out },
    uniforms: {
      n_chunks: nChunks,
      size: args.size,
      inner: args.inner,
      count: args.count,
      chunks_per_row: chunksPerRow,
    },
    workgroups: grid(Math.ceil(nChunks / WORKGROUP)),
  });
}

/** Converts n words: 'toFloat' reads i32 and writes f32; 'toInt' truncates f32 toward zero into i32. */
export function cast(op: 'toFloat' | 'toInt', x: GPUBuffer, out: GPUBuffer, n: number): void {
  castKernel.dispatch({
    op,
    buffers: { x, out },
    uniforms: { n },
    constants: { OP: op === 'toFloat' ? 0 : 1 },
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}
