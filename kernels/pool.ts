// Launchers for pool.wgsl. Planes are the N * C images of an NCHW tensor.

import source from './wgsl/pool.wgsl?raw';
import { Kernel, grid, scratchBuffer, strideGrid } from './kernel';

const kernel = new Kernel('pool', source);
const WORKGROUP = 64;

export interface PoolGeometry {
  planes: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kernelSize: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  countIncludePad?: boolean;
}

type Entry = 'max_argmax' | 'pool_gather' | 'pool_scatter' | 'avg_forward' | 'avg_backward';

function launch(
  op: string,
  entry: Entry,
  geo: PoolGeometry,
  x: GPUBuffer,
  index: GPUBuffer | null,
  out: GPUBuffer,
): void {
  // The scatter and avg_backward entries write input-sized planes, the others output-sized ones.
  const perPlane =
    entry === 'pool_scatter' || entry === 'avg_backward' ? geo.H * geo.W : geo.OH * geo.OW;
  const total = geo.planes * perPlane;
  kernel.dispatch({
    op,
    entry,
    buffers: { x, index: index ?? scratchBuffer(), out },
    uniforms: {
      H: geo.H,
      W: geo.W,
      OH: geo.OH,
      OW: geo.OW,
      KH: geo.kernelSize[0],
      KW: geo.kernelSize[1],
      SH: geo.stride[0],
      SW: geo.stride[1],
      PH: geo.padding[0],
      PW: geo.padding[1],
      count_include_pad: geo.countIncludePad ? 1 : 0,
      total,
    },
    workgroups:
      entry === 'pool_scatter' ? strideGrid(total, WORKGROUP) : grid(Math.ceil(total / WORKGROUP)),
  });
}

/** Writes the i32 index (h * W + w) of each window's first maximum of x into `out`. */
export function maxPoolArgmax(x: GPUBuffer, out: GPUBuffer, geo: PoolGeometry): void {
  launch('max_pool2d', 'max_argmax', geo, x, null, out);
}

/** out[plane, o] = x[plane, index[plane, o]], with x input-sized and out output-sized. */
export function poolGather(
  x: GPUBuffer,
  index: GPUBuffer,
  out: GPUBuffer,
  geo: PoolGeometry,
): void {
  launch('pool_gather', 'pool_gather', geo, x, index, out);
}

/** Writes the adjoint of poolGather, from output-sized g into input-sized `out`. */
export function poolScatter(
  g: GPUBuffer,
  index: GPUBuffer,
  out: GPUBuffer,
  geo: PoolGeometry,
): void {
  launch('pool_scatter', 'pool_scatter', geo, g, index, out);
}

export function avgPoolForward(x: GPUBuffer, out: GPUBuffer, geo: PoolGeometry): void {
  launch('avg_pool2d', 'avg_forward', geo, x, null, out);
}

/** Writes the adjoint of avgPoolForward, from output-sized g into input-sized `out`. */
export function avgPoolBackward(g: GPUBuffer, out: GPUBuffer, geo: PoolGeometry): void {
  launch('avg_pool2d_backward', 'avg_backward', geo, g, null, out);
}
