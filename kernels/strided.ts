// Launchers for strided.wgsl. Data moves as raw 32-bit words, so these serve
// f32 and i32 tensors alike.

import source from './wgsl/strided.wgsl?raw';
import { Kernel, grid } from './kernel';

const kernel = new Kernel('strided', source);
const WORKGROUP = 64;
const MAX_RANK = 8;

export interface StridedView {
  /** Shape iterated over: the output's for gatherCopy, the input's for scatterCopy. */
  shape: readonly number[];
  /** Element strides into the strided side, 0 on broadcast dimensions. */
  strides: readonly number[];
  /** Element offset into the strided side. */
  offset?: number;
}

function launch(op: string, entry: string, x: GPUBuffer, out: GPUBuffer, view: StridedView): void {
  if (view.shape.length > MAX_RANK)
    throw new Error(
      `${op}: tensors of rank up to ${MAX_RANK} are supported; got ${view.shape.length}.`,
    );
  const n = view.shape.reduce((a, b) => a * b, 1);
  kernel.dispatch({
    op,
    entry,
    buffers: { x, out },
    uniforms: {
      n,
      rank: view.shape.length,
      offset: view.offset ?? 0,
      shape: view.shape,
      strides: view.strides,
    },
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}

/** Writes the contiguous tensor of shape view.shape read from `x` through view.strides. */
export function gatherCopy(op: string, x: GPUBuffer, out: GPUBuffer, view: StridedView): void {
  launch(op, 'gather_copy', x, out, view);
}

/** Writes the contiguous tensor `x` of shape view.shape into `out` through view.strides. */
export function scatterCopy(op: string, x: GPUBuffer, out: GPUBuffer, view: StridedView): void {
  launch(op, 'scatter_copy', x, out, view);
}
