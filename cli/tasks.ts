// Task sources for training and evaluation: sinusoid regression and Omniglot
// episodes, turned into tensors on the device.

import * as mg from '../engine/index';
import type { Task } from '../algorithms/meta/functional';
import type { TaskKind } from '../algorithms/meta/learners';
import {
  checkEpisodeShape,
  EpisodeShapeError,
  fixedEpisodes,
  materialize,
  omniglotSplits,
  sampleEpisode,
  type ClassSplit,
  type EpisodeShape,
} from '../data/episodes';
import { loadOmniglot } from '../data/omniglot';
import { Rng } from '../data/rng';
import { sampleSineBatch, sampleSineTask, type SineTask } from '../data/sinusoid';

export interface TaskSource {
  readonly kind: TaskKind;
  /** Input shape of one example, without the batch dimension. */
  readonly inputShape: number[];
  /** Output features of the model: ways for classification, 1 for regression. */
  readonly outputs: number;
  /** Samples a meta-batch of training tasks from `rng`. */
  sampleTrain(rng: Rng, count: number): Task[];
  /** The fixed validation or test tasks (the same list for every run with this seed). */
  fixed(split: 'val' | 'test', count: number, seed: number): FixedTasks;
}

/** A fixed task list materialized one task at a time, so 600 test episodes never sit on the GPU at once. */
export interface FixedTasks {
  readonly count: number;
  task(index: number): Task;
}

export function disposeTask(task: Task): void {
  for (const t of [task.supportX, task.supportY, task.queryX, task.queryY]) t.dispose();
}

export interface SineSourceOptions {
  shots: number;
  queries: number;
}

export function sineSource(options: SineSourceOptions): TaskSource {
  const toTasks = (rng: Rng, tasks: SineTask[]): Task[] => {
    const batch = sampleSineBatch(rng, tasks.length, options.shots, options.queries, tasks);
    return tasks.map((_, t) => {
      const slice = (data: Float32Array, points: number) =>
        data.subarray(t * points, (t + 1) * points);
      return {
        supportX: mg.tensor(slice(batch.supportX, options.shots), { shape: [options.shots, 1] }),
        supportY: mg.tensor(slice(batch.supportY, options.shots), { shape: [options.shots, 1] }),
        queryX: mg.tensor(slice(batch.queryX, options.queries), { shape: [options.queries, 1] }),
        queryY: mg.tensor(slice(batch.queryY, options.queries), { shape: [options.queries, 1] }),
      };
    });
  };
  return {
    kind: 'regression',
    inputShape: [1],
    outputs: 1,
    sampleTrain: (rng, count) =>
      toTasks(
        rng,
        Array.from({ length: count }, () => sampleSineTask(rng)),
      ),
    fixed(split, count, seed) {
      // Each fixed task has its own stream, so task i is the same whatever the count.
      const offset = split === 'val' ? 1_000_003 : 2_000_003;
      return {
        count,
        task: (index) => {
          const rng = new Rng(seed * 7919 + offset + index);
          return toTasks(rng, [sampleSineTask(rng)])[0];
        },
      };
    },
  };
}

export interface OmniglotSourceOptions extends EpisodeShape {
  dataDir: string;
  split: 'vinyals' | 'lake';
  /** Ways of the training episodes when they differ from `ways` (Prototypical Networks train 60-way); 0 or absent uses `ways`. */
  trainWays?: number;
  /** Check only the test split's class sizes, for `metagrad eval`, which samples no other split. */
  testOnly?: boolean;
  onProgress?: (done: number, total: number) => void;
}

// Checks that each split can supply its episodes, so a bad shape fails before training
// and the message names the split that is too small.
function checkSplits(
  splits: { train: ClassSplit; val: ClassSplit; test: ClassSplit },
  shape: EpisodeShape,
  trainShape: EpisodeShape,
  testOnly: boolean,
): void {
  if (testOnly) {
    checkEpisodeShape(splits.test, shape);
    return;
  }
  try {
    checkEpisodeShape(splits.train, trainShape);
  } catch (error) {
    // The training ways came from --train-ways when it is set, so name that option.
    if (!(error instanceof EpisodeShapeError) || trainShape.ways === shape.ways) throw error;
    throw new EpisodeShapeError(error.message.replace('--ways', '--train-ways'));
  }
  for (const split of [splits.val, splits.test]) checkEpisodeShape(split, shape);
}

function episodeTask(
  split: ClassSplit,
  spec: ReturnType<typeof sampleEpisode>,
  shape: EpisodeShape,
): Task {
  const episode = materialize(split, spec, shape);
  const [c, h, w] = episode.imageShape;
  return {
    supportX: mg.tensor(episode.supportX, { shape: [shape.ways * shape.shots, c, h, w] }),
    supportY: mg.tensor(episode.supportY, { shape: [shape.ways * shape.shots] }),
    queryX: mg.tensor(episode.queryX, { shape: [shape.ways * shape.queries, c, h, w] }),
    queryY: mg.tensor(episode.queryY, { shape: [shape.ways * shape.queries] }),
  };
}

export async function omniglotSource(options: OmniglotSourceOptions): Promise<TaskSource> {
  const data = await loadOmniglot(options.dataDir, { onProgress: options.onProgress });
  const splits = omniglotSplits(data, { split: options.split });
  const shape: EpisodeShape = {
    ways: options.ways,
    shots: options.shots,
    queries: options.queries,
  };
  const trainShape: EpisodeShape = { ...shape, ways: options.trainWays || options.ways };
  checkSplits(splits, shape, trainShape, options.testOnly ?? false);
  return {
    kind: 'classification',
    inputShape: [1, data.size, data.size],
    outputs: options.ways,
    sampleTrain: (rng, count) =>
      Array.from({ length: count }, () =>
        episodeTask(splits.train, sampleEpisode(splits.train, trainShape, rng), trainShape),
      ),
    fixed(which, count, seed) {
      const split = which === 'val' ? splits.val : splits.test;
      const specs = fixedEpisodes(split, shape, count, seed + (which === 'val' ? 1 : 2));
      return { count, task: (index) => episodeTask(split, specs[index], shape) };
    },
  };
}

/**
 * Builds a task source over ready-made class splits (CIFAR-100, CUB-200-2011,
 * mini-ImageNet from data/image-sets.ts), so meta-learners train on them as on Omniglot.
 */
export function classSplitSource(
  splits: { train: ClassSplit; val: ClassSplit; test: ClassSplit },
  shape: EpisodeShape,
  trainWays = 0,
  testOnly = false,
): TaskSource {
  const trainShape: EpisodeShape = { ...shape, ways: trainWays || shape.ways };
  checkSplits(splits, shape, trainShape, testOnly);
  const { channels, height, width } = splits.train.store;
  return {
    kind: 'classification',
    inputShape: [channels, height, width],
    outputs: shape.ways,
    sampleTrain: (rng, count) =>
      Array.from({ length: count }, () =>
        episodeTask(splits.train, sampleEpisode(splits.train, trainShape, rng), trainShape),
      ),
    fixed(which, count, seed) {
      const split = which === 'val' ? splits.val : splits.test;
      const specs = fixedEpisodes(split, shape, count, seed + (which === 'val' ? 1 : 2));
      return { count, task: (index) => episodeTask(split, specs[index], shape) };
    },
  };
}
