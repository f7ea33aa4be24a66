// Omniglot episodes as sequences for the memory-augmented network: `ways` classes
// with `instances` images each, shown one image at a time in a shuffled order.
// Labels 0..ways-1 go to the episode's classes in a random order, so a label
// means nothing across episodes.

import * as mg from '../engine/index';
import type { Task } from '../algorithms/meta/functional';
import {
  checkEpisodeShape,
  fixedEpisodes,
  materialize,
  omniglotSplits,
  sampleEpisode,
  type ClassSplit,
  type EpisodeShape,
  type EpisodeSpec,
} from '../data/episodes';
import { loadOmniglot } from '../data/omniglot';
import { Rng } from '../data/rng';
import type { TaskSource } from './tasks';
import { UsageError } from './errors';

export interface SequenceSourceOptions {
  dataDir: string;
  split: 'vinyals' | 'lake';
  ways: number;
  /** Images of each class in one episode. */
  instances: number;
  /**
   * Side of the input images. It must divide the loaded side (28), and each output
   * pixel is the mean of a block of loaded pixels. Santoro et al. use 20x20 images,
   * and 14x14 has a quarter of the inputs of 28x28.
   */
  imageSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Builds one sequence task: supportX [T, D] flattened images, supportY [T] labels.
 * Every step is also scored, so queryX and queryY are the same tensors; disposing
 * a task disposes them once, because Tensor.dispose is idempotent.
 */
export function sequenceTask(
  split: ClassSplit,
  spec: EpisodeSpec,
  shape: EpisodeShape,
  order: Rng,
  imageSize?: number,
): Task {
  const episode = materialize(split, spec, shape);
  const steps = episode.supportY.length;
  const source = episode.supportX;
  const [c, h, w] = episode.imageShape;
  const side = imageSize ?? h;
  const pixels = c * side * side;
  const resized = side === h ? source : shrink(source, steps * c, h, w, side);
  const permutation = order.shuffle(Array.from({ length: steps }, (_, i) => i));
  const images = new Float32Array(steps * pixels);
  const labels = new Int32Array(steps);
  permutation.forEach((from, to) => {
    images.set(resized.subarray(from * pixels, (from + 1) * pixels), to * pixels);
    labels[to] = episode.supportY[from];
  });
  const x = mg.tensor(images, { shape: [steps, pixels] });
  const y = mg.tensor(labels, { shape: [steps] });
  return { supportX: x, supportY: y, queryX: x, queryY: y };
}

/**
 * Shrinks `planes` square h x w planes to side x side by averaging blocks of
 * (h / side) x (w / side) pixels. The loaded images are area averages of the
 * 105x105 originals, so this equals loading them at the smaller side directly.
 */
function shrink(
  images: Float32Array,
  planes: number,
  h: number,
  w: number,
  side: number,
): Float32Array {
  const fy = h / side;
  const fx = w / side;
  const out = new Float32Array(planes * side * side);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const target = p * side * side + Math.floor(y / fy) * side + Math.floor(x / fx);
        out[target] += images[p * h * w + y * w + x] / (fy * fx);
      }
    }
  }
  return out;
}

export async function omniglotSequenceSource(options: SequenceSourceOptions): Promise<TaskSource> {
  const data = await loadOmniglot(options.dataDir, { onProgress: options.onProgress });
  const side = options.imageSize ?? data.size;
  if (!Number.isInteger(side) || side < 1 || data.size % side !== 0) {
    throw new UsageError(
      `--image-size ${side} does not divide the loaded image side ${data.size}; use a divisor of ${data.size}, such as 14 or 7.`,
    );
  }
  const splits = omniglotSplits(data, { split: options.split });
  // An episode of the sequence is the support set of an N-way, `instances`-shot episode.
  const shape: EpisodeShape = { ways: options.ways, shots: options.instances, queries: 0 };
  for (const split of [splits.train, splits.val, splits.test]) {
    const fewest = Math.min(...split.classes.map((c) => c.images.length));
    if (options.instances > fewest) {
      throw new UsageError(
        `--instances ${options.instances} is more than the ${fewest} images of the smallest class in the ${split.name} split; use at most ${fewest}.`,
      );
    }
    checkEpisodeShape(split, shape);
  }
  return {
    kind: 'classification',
    inputShape: [side * side],
    outputs: options.ways,
    sampleTrain: (rng, count) =>
      Array.from({ length: count }, () =>
        sequenceTask(splits.train, sampleEpisode(splits.train, shape, rng), shape, rng, side),
      ),
    fixed(which, count, seed) {
      const split = which === 'val' ? splits.val : splits.test;
      const specs = fixedEpisodes(split, shape, count, seed + (which === 'val' ? 1 : 2));
      return {
        count,
        // Each episode's order has its own stream, so episode i is the same whatever the count.
        task: (index) =>
          sequenceTask(split, specs[index], shape, new Rng(seed * 7919 + index), side),
      };
    },
  };
}
