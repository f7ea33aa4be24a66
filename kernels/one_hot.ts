// Launcher for one_hot.wgsl.

import source from './wgsl/one_hot.wgsl?raw';
import { Kernel, grid } from './kernel';

const kernel = new Kernel('one_hot', source);
const WORKGROUP = 64;

/** Writes the [labelCount, classes] one-hot encoding of i32 `labels` into `out`. */
export function oneHot(
  labels: GPUBuffer,
  out: GPUBuffer,
  labelCount: number,
  classes: number,
): void {
  const n = labelCount * classes;
  kernel.dispatch({
    op: 'one_hot',
    buffers: { labels, out },
    uniforms: { n, classes },
    workgroups: grid(Math.ceil(n / WORKGROUP)),
  });
}
