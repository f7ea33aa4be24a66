// Launchers for augment.wgsl: random resized crop with horizontal flip,
// Gaussian blur, and Gaussian noise with random erasing, each over a batch with
// per-image parameters drawn on the host.

import source from './wgsl/augment.wgsl?raw';
import { Kernel, grid } from './kernel';

const kernel = new Kernel('augment', source);
const WORKGROUP = 64;

/** Floats of per-image parameters; the layout is documented in augment.wgsl. */
export const AUGMENT_STRIDE = 12;

export interface AugmentArgs {
  x: GPUBuffer;
  params: GPUBuffer;
  out: GPUBuffer;
  n: number;
  channels: number;
  height: number;
  width: number;
  /** Seed of the noise stream (noise_erase only). */
  seed?: number;
}

export type AugmentStage = 'crop_flip' | 'blur' | 'noise_erase';

export function augmentStage(stage: AugmentStage, args: AugmentArgs): void {
  const total = args.n * args.channels * args.height * args.width;
  kernel.dispatch({
    op: `augment ${stage}`,
    entry: stage,
    buffers: { x: args.x, params: args.params, out: args.out },
    uniforms: {
      n: args.n,
      channels: args.channels,
      height: args.height,
      width: args.width,
      seed: (args.seed ?? 0) >>> 0,
      stride: AUGMENT_STRIDE,
    },
    workgroups: grid(Math.ceil(total / WORKGROUP)),
  });
}
