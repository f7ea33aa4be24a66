import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { META_ALGORITHMS } from '../../algorithms/meta/learners';
import { learnerFor, makeSource, type TrainConfig } from '../../cli/train';
import { disposeTask, type TaskSource } from '../../cli/tasks';
import { Rng } from '../../data/rng';
import { OMNIGLOT_DIR } from '../data/paths';
import { trainAndScore } from './train-run';

// Short real runs on real data: a few dozen meta-updates of a small model must
// already lift 5-way 1-shot accuracy on held-out Omniglot characters well above
// chance (20%), and cut the sinusoid query MSE after adaptation below the MSE
// before it. Every draw is seeded, so the figures are the same on every run.

function config(overrides: Partial<TrainConfig>): TrainConfig {
  return {
    algorithm: 'maml',
    dataset: 'omniglot',
    ways: 5,
    shots: 1,
    queries: 3,
    innerSteps: 1,
    testInnerSteps: 3,
    innerLr: 0.4,
    metaLr: 0.005,
    metaBatch: 2,
    iterations: 30,
    seed: 0,
    dataDir: OMNIGLOT_DIR,
    split: 'vinyals',
    hidden: 8,
    logInterval: 10,
    evalInterval: 30,
    valEpisodes: 10,
    testEpisodes: 20,
    out: '',
    ...overrides,
  };
}

async function run(settings: TrainConfig, source: TaskSource) {
  const { before, after } = await trainAndScore(settings, source);
  return { before: before.mean, after: after.mean };
}

describe('short Omniglot runs, 5-way 1-shot', async () => {
  const source = await makeSource(config({}), () => undefined);
  for (const algorithm of META_ALGORITHMS) {
    it(`${algorithm} lifts held-out accuracy well above chance`, async () => {
      // Reptile adapts by plain SGD on the support set, so it takes smaller inner steps.
      // MAML++ starts first order and anneals its meta learning rate, so it gets a
      // second inner step (its multi-step loss then matters) and a few more updates.
      const overrides =
        algorithm === 'reptile'
          ? { innerLr: 0.05, innerSteps: 3, metaLr: 0.01 }
          : algorithm === 'mamlpp'
            ? { innerSteps: 2, iterations: 40 }
            : {};
      const { before, after } = await run(config({ algorithm, ...overrides }), source);
      expect(after, `accuracy ${before.toFixed(3)} -> ${after.toFixed(3)}`).toBeGreaterThan(0.4);
      expect(after).toBeGreaterThan(before);
    });
  }
});

describe('short sinusoid run', async () => {
  const settings = config({
    dataset: 'sine',
    ways: 1,
    shots: 10,
    queries: 10,
    innerLr: 0.01,
    metaLr: 0.01,
    metaBatch: 5,
    iterations: 200,
    hidden: 40,
    testInnerSteps: 10,
    testEpisodes: 30,
  });
  const source = await makeSource(settings, () => undefined);

  it('MAML cuts the query MSE after adaptation below the MSE before it', async () => {
    mg.manualSeed(0);
    const { learner } = learnerFor(settings, source);
    const rng = new Rng(0);
    for (let iteration = 0; iteration < settings.iterations; iteration++) {
      const tasks = source.sampleTrain(rng, settings.metaBatch);
      await learner.trainStep(tasks, iteration);
      for (const task of tasks) disposeTask(task);
    }
    const tasks = source.fixed('test', settings.testEpisodes, 0);
    let before = 0;
    let after = 0;
    for (let i = 0; i < tasks.count; i++) {
      const task = tasks.task(i);
      before += (await learner.evaluate(task, 0)).loss / tasks.count;
      after += (await learner.evaluate(task, 10)).loss / tasks.count;
      disposeTask(task);
    }
    expect(
      after,
      `query MSE ${before.toFixed(3)} before adaptation, ${after.toFixed(3)} after 10 steps`,
    ).toBeLessThan(0.8 * before);
  });
});
