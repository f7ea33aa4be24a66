// Launcher for softmax.wgsl.

import source from './wgsl/softmax.wgsl?raw';
import { Kernel, grid } from './kernel';

const kernel = new Kernel('softmax', source);
const WORKGROUP = 64;

export interface SoftmaxArgs {
  x: GPUBuffer;
  out: GPUBuffer;
  /** Product of the dimensions before the axis. */
  outer: number;
  /** Length of the axis. */
  len: number;
  /** Product of the dimensions after the axis. */
  inner: number;
  log: boolean;
}

export function softmax(args: SoftmaxArgs): void {
  const rows = args.outer * args.inner;
  // A workgroup per row pays off once rows are too few to fill the cores
  // and long enough to split; the thresholds follow reduce.ts.
  const perGroup = rows < 1024 && args.len >= 256;
  kernel.dispatch({
    op: args.log ? 'log_softmax' : 'softmax',
    entry: perGroup ? 'per_group' : 'per_thread',
    buffers: { x: args.x, out: args.out },
    uniforms: { rows, len: args.len, inner: args.inner },
    constants: { LOG: args.log ? 1 : 0 },
    workgroups: grid(perGroup ? rows : Math.ceil(rows / WORKGROUP)),
  });
}
