// Minibatch supervised training and accuracy for the transfer methods, over
// labelled image sets held on the host and sent to the GPU one batch at a time.

import * as mg from '../../engine/index';
import type { Optimizer, GroupOptions } from '../../engine/optim/optimizer';
import type { Tensor } from '../../engine/tensor';
import type { Module } from '../../engine/nn/module';
import { imageBatch, labelBatch, type LabelledImages } from '../../data/fashion-mnist';
import type { Rng } from '../../data/rng';

/** A batch on the GPU: images [N, C, H, W] in [0, 1] and i32 labels [N]. */
export interface Batch {
  x: Tensor;
  y: Tensor;
}

/** Returns the images at `indices` as a GPU batch; the caller disposes it (or runs inside tidy). */
export function toBatch(images: LabelledImages, indices: readonly number[]): Batch {
  const { channels, height, width } = images.store;
  return {
    x: mg.tensor(imageBatch(images, indices), { shape: [indices.length, channels, height, width] }),
    y: mg.tensor(labelBatch(images, indices), { shape: [indices.length], dtype: 'i32' }),
  };
}

/**
 * Splits a shuffled 0..count-1 into batches of `batchSize`. The last partial
 * batch is kept unless it has a single image, which BatchNorm cannot normalise.
 */
export function shuffledBatches(count: number, batchSize: number, rng: Rng): number[][] {
  const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
  const batches: number[][] = [];
  for (let start = 0; start < count; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    if (batch.length > 1) batches.push(batch);
  }
  return batches;
}

/** Draws `size` indices from [0, count) with replacement, for sets smaller than a batch. */
export function sampleBatch(count: number, size: number, rng: Rng): number[] {
  return Array.from({ length: size }, () => rng.int(count));
}

/**
 * Takes one optimizer step on `lossFn`'s loss. Only tensors that require grad
 * get a gradient, so frozen parameters cost no gradient computation and the
 * optimizer skips them. Returns the loss.
 */
export async function step<H extends GroupOptions>(
  optimizer: Optimizer<H>,
  lossFn: () => Tensor,
): Promise<number> {
  const loss = mg.tidy(() => {
    optimizer.zeroGrad();
    const value = lossFn();
    mg.backward(value);
    optimizer.step();
    return value;
  });
  const result = await loss.item();
  loss.dispose();
  await mg.yieldEventLoop();
  return result;
}

/** Returns the predicted class of each image, in evaluation mode and without a graph. */
export async function predict(
  model: Module,
  images: LabelledImages,
  batchSize = 500,
): Promise<Int32Array> {
  const wasTraining = model.training;
  model.eval();
  const count = images.labels.length;
  const out = new Int32Array(count);
  try {
    for (let start = 0; start < count; start += batchSize) {
      const indices = Array.from(
        { length: Math.min(batchSize, count - start) },
        (_, i) => start + i,
      );
      const predicted = mg.tidy(() =>
        mg.noGrad(() => mg.argmax(model.forward(toBatch(images, indices).x), 1)),
      );
      out.set((await predicted.data()) as Int32Array, start);
      predicted.dispose();
      await mg.yieldEventLoop();
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}

/** Returns the fraction of images whose predicted class equals the label. */
export async function accuracy(model: Module, images: LabelledImages): Promise<number> {
  const predicted = await predict(model, images);
  let correct = 0;
  predicted.forEach((p, i) => {
    if (p === images.labels[i]) correct++;
  });
  return correct / Math.max(1, predicted.length);
}

/** Returns features [N, D] of every image (evaluation mode, no graph) as a host array. */
export async function extractFeatures(
  embed: (x: Tensor) => Tensor,
  model: Module,
  images: LabelledImages,
  batchSize = 500,
): Promise<{ features: Float32Array; dim: number }> {
  const wasTraining = model.training;
  model.eval();
  const count = images.labels.length;
  const parts: Float32Array[] = [];
  let dim = 0;
  try {
    for (let start = 0; start < count; start += batchSize) {
      const indices = Array.from(
        { length: Math.min(batchSize, count - start) },
        (_, i) => start + i,
      );
      const features = mg.tidy(() => mg.noGrad(() => embed(toBatch(images, indices).x)));
      dim = features.shape[1];
      parts.push((await features.data()) as Float32Array);
      features.dispose();
      await mg.yieldEventLoop();
    }
  } finally {
    model.train(wasTraining);
  }
  const features = new Float32Array(count * dim);
  let offset = 0;
  for (const part of parts) {
    features.set(part, offset);
    offset += part.length;
  }
  return { features, dim };
}
