import { describe, expect, it } from 'vitest';
import * as mg from '../../../index';
import type { MetricAlgorithm } from '../../../algorithms/metric/index';
import { Rng } from '../../../data/rng';
import { evaluateTasks, learnerFor, makeSource, type TrainConfig } from '../../../cli/train';
import { disposeTask, type TaskSource } from '../../../cli/tasks';
import { OMNIGLOT_DIR } from '../../data/paths';

// Short real runs on real data: 40 to 60 episodes of a 16-channel conv net must lift
// 5-way query accuracy on held-out Omniglot characters above 60%, where chance
// is 20%. Every draw is seeded, so the figures repeat exactly.

function config(overrides: Partial<TrainConfig>): TrainConfig {
  return {
    algorithm: 'protonet',
    dataset: 'omniglot',
    ways: 5,
    shots: 1,
    queries: 5,
    innerSteps: 0,
    testInnerSteps: 0,
    innerLr: 0,
    metaLr: 0.003,
    metaBatch: 1,
    iterations: 40,
    seed: 0,
    dataDir: OMNIGLOT_DIR,
    split: 'vinyals',
    hidden: 16,
    logInterval: 10,
    evalInterval: 40,
    valEpisodes: 10,
    testEpisodes: 20,
    out: '',
    options: {},
    ...overrides,
  };
}

async function trainedAccuracy(settings: TrainConfig, source: TaskSource): Promise<number> {
  mg.manualSeed(settings.seed);
  const { learner } = learnerFor(settings, source);
  const rng = new Rng(settings.seed);
  for (let iteration = 0; iteration < settings.iterations; iteration++) {
    const tasks = source.sampleTrain(rng, settings.metaBatch);
    await learner.trainStep(tasks, iteration);
    for (const task of tasks) disposeTask(task);
  }
  const test = await evaluateTasks(learner, source, 'test', settings.testEpisodes, settings.seed);
  return test.mean;
}

// Matching Networks' softmax over cosine similarities in [0, 1] starts flat and
// sharpens slowly, so they train 5-shot here, where attention averages over five
// support images. Relation Networks learn their relation module from scratch,
// so they take 60 episodes at a higher learning rate. The Siamese logistic unit needs longer than 40 episodes to
// learn which L1 components matter, so the Siamese run uses the contrastive
// loss, and the binary cross-entropy path is checked against PyTorch instead.
const RUNS: [MetricAlgorithm, Partial<TrainConfig>][] = [
  ['protonet', {}],
  ['matchingnet', { shots: 5, queries: 3 }],
  ['relationnet', { metaLr: 0.01, iterations: 60 }],
  ['siamese', { options: { pairLoss: 'contrastive', margin: 1 } }],
];

describe('short Omniglot runs, 5-way', async () => {
  const sources = new Map<string, TaskSource>();
  async function sourceFor(settings: TrainConfig): Promise<TaskSource> {
    const key = `${settings.shots}/${settings.queries}`;
    if (!sources.has(key)) sources.set(key, await makeSource(settings, () => undefined));
    return sources.get(key)!;
  }

  for (const [algorithm, overrides] of RUNS) {
    it(`${algorithm} lifts accuracy above 60%`, async () => {
      const settings = config({ algorithm, ...overrides });
      const accuracy = await trainedAccuracy(settings, await sourceFor(settings));
      expect(accuracy, `${settings.shots}-shot accuracy ${accuracy.toFixed(3)}`).toBeGreaterThan(
        0.6,
      );
    }, 600_000);
  }
});
