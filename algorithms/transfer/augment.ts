// The SimCLR-style augmentation pipeline on the GPU: random resized crop,
// horizontal flip, Gaussian blur, Gaussian noise and random erasing. The random
// choices for each image are drawn here from a seeded generator; the pixel
// work runs in augment.wgsl. The output is a new tensor outside the graph.

import { AUGMENT_STRIDE, augmentStage } from '../../kernels/augment';
import * as mg from '../../engine/index';
import { Tensor } from '../../engine/tensor';
import type { Rng } from '../../data/rng';

export interface AugmentOptions {
  /** Range of the crop's area as a fraction of the image (torchvision default 0.08-1; 0.2-1 suits 28x28). */
  scale: [number, number];
  /** Range of the crop's aspect ratio width / height. */
  ratio: [number, number];
  flipProbability: number;
  blurProbability: number;
  /** Range of the blur sigma in pixels. */
  blurSigma: [number, number];
  /** Gaussian noise standard deviation range (drawn per image). */
  noiseStd: [number, number];
  erasingProbability: number;
  /** Range of the erased box's area as a fraction of the image. */
  erasingScale: [number, number];
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  scale: [0.2, 1],
  ratio: [3 / 4, 4 / 3],
  flipProbability: 0.5,
  blurProbability: 0.5,
  blurSigma: [0.1, 1.5],
  noiseStd: [0, 0.1],
  erasingProbability: 0.25,
  erasingScale: [0.02, 0.2],
};

/** Draws one image's parameters in the layout of augment.wgsl. */
export function drawAugmentParams(
  rng: Rng,
  height: number,
  width: number,
  options: AugmentOptions = DEFAULT_AUGMENT,
): number[] {
  const area = height * width;
  // torchvision's RandomResizedCrop: up to 10 tries of a random area and log-uniform ratio, else the whole image.
  let box = [0, 0, width, height];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(options.scale[0], options.scale[1]);
    const logRatio = rng.uniform(Math.log(options.ratio[0]), Math.log(options.ratio[1]));
    const aspect = Math.exp(logRatio);
    const w = Math.sqrt(target * aspect);
    const h = Math.sqrt(target / aspect);
    if (w <= width && h <= height) {
      box = [rng.uniform(0, width - w), rng.uniform(0, height - h), w, h];
      break;
    }
  }
  const flip = rng.next() < options.flipProbability ? 1 : 0;
  const sigma =
    rng.next() < options.blurProbability
      ? rng.uniform(options.blurSigma[0], options.blurSigma[1])
      : 0;
  const noise = rng.uniform(options.noiseStd[0], options.noiseStd[1]);
  let erase = [0, 0, 0, 0];
  if (rng.next() < options.erasingProbability) {
    const target = area * rng.uniform(options.erasingScale[0], options.erasingScale[1]);
    const aspect = Math.exp(rng.uniform(Math.log(0.3), Math.log(3.3)));
    const w = Math.min(width, Math.round(Math.sqrt(target * aspect)));
    const h = Math.min(height, Math.round(Math.sqrt(target / aspect)));
    erase = [rng.int(width - w + 1), rng.int(height - h + 1), w, h];
  }
  const params = [...box, flip, sigma, noise, ...erase, 0];
  while (params.length < AUGMENT_STRIDE) params.push(0);
  return params;
}

/** Applies the stages to a batch x [N, C, H, W] with the given per-image parameters [N * AUGMENT_STRIDE]. */
export function augmentWith(x: Tensor, params: Float32Array, seed: number): Tensor {
  const [n, channels, height, width] = x.shape;
  if (x.shape.length !== 4 || x.dtype !== 'f32')
    throw new Error(
      `augment: expected an f32 batch [N, C, H, W], got ${x.dtype} [${x.shape.join(', ')}].`,
    );
  if (params.length !== n * AUGMENT_STRIDE)
    throw new Error(
      `augment: expected ${n * AUGMENT_STRIDE} parameters for ${n} images, got ${params.length}.`,
    );
  const paramTensor = mg.tensor(params, { shape: [params.length] });
  const cropped = Tensor.empty(x.shape, 'f32', 'augment');
  const blurred = Tensor.empty(x.shape, 'f32', 'augment');
  const out = Tensor.empty(x.shape, 'f32', 'augment');
  const args = { params: paramTensor.buffer, n, channels, height, width, seed };
  if (out.size > 0) {
    augmentStage('crop_flip', { ...args, x: x.buffer, out: cropped.buffer });
    augmentStage('blur', { ...args, x: cropped.buffer, out: blurred.buffer });
    augmentStage('noise_erase', { ...args, x: blurred.buffer, out: out.buffer });
  }
  paramTensor.dispose();
  cropped.dispose();
  blurred.dispose();
  return out;
}

/** Returns a randomly augmented copy of each image of x, every choice drawn from `rng`. */
export function augment(x: Tensor, rng: Rng, options: AugmentOptions = DEFAULT_AUGMENT): Tensor {
  const [n, , height, width] = x.shape;
  const params = new Float32Array(n * AUGMENT_STRIDE);
  for (let i = 0; i < n; i++)
    params.set(drawAugmentParams(rng, height, width, options), i * AUGMENT_STRIDE);
  return augmentWith(x, params, rng.fork());
}
