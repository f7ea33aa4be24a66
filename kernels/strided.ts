// Launchers for strided.wgsl. Data moves as raw 32-bit words, so these serve
// f32 and i32 tensors alike.

import source from './wgsl/strided.wgsl?raw';
import { Kernel, collapseDims, strideGrid } from './kernel';

const kernel = new Kernel('strided', source);
const WORKGROUP = 64;
const MAX_RANK = 8;
// One constants object per rank, so the kernel finds its pipeline by identity.
const RANK_CONSTANTS = Array.from({ length: MAX_RANK + 1 }, (_, rank) => ({ RANK: rank }));

export interface StridedView {
  /** Shape iterated over: the output's for gatherCopy, the input's for scatterCopy. */
  shape: readonly number[];
  /** Element strides into the strided side, 0 on broadcast dimensions. */
  strides: readonly number[];
  /** Element offset into the strided side. */
  offset?: number;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides: number[] = [];
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

function launch(op: string, entry: string, x: GPUBuffer, out: GPUBuffer, view: StridedView): void {
  if (view.shape.length > MAX_RANK)
    throw new Error(
      `${op}: tensors of rank up to ${MAX_RANK} are supported; got ${view.shape.length}.`,
    );
  const n = view.shape.reduce((a, b) => a * b, 1);
  // The contiguous side's strides join the merge test, so merged dimensions keep its order.
  const { shape, strides } = collapseDims(view.shape, [
    view.strides,
    contiguousStrides(view.shape),
  ]);
  kernel.dispatch({
    op,
    entry,
    buffers: { x, out },
    uniforms: {
      n,
      rank: shape.length,
      offset: view.offset ?? 0,
      shape,
      strides: strides[0],
    },
    constants: RANK_CONSTANTS[shape.length],
    workgroups: strideGrid(n, WORKGROUP),
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
