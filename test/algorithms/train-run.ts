// The loop of the short real-run tests: score the fixed test tasks, meta-train for
// settings.iterations steps, then score the same tasks again.

import * as mg from '../../index';
import { disposeTask, type TaskSource } from '../../cli/tasks';
import { evaluateTasks, learnerFor, type TaskSummary, type TrainConfig } from '../../cli/train';
import { Rng } from '../../data/rng';

/** Trains the learner of `settings` and returns its test scores before and after training. */
export async function trainAndScore(
  settings: TrainConfig,
  source: TaskSource,
): Promise<{ before: TaskSummary; after: TaskSummary }> {
  mg.manualSeed(settings.seed);
  const { learner } = learnerFor(settings, source);
  const before = await evaluateTasks(learner, source, 'test', settings.testEpisodes, settings.seed);

  const rng = new Rng(settings.seed);
  for (let iteration = 0; iteration < settings.iterations; iteration++) {
    const tasks = source.sampleTrain(rng, settings.metaBatch);
    await learner.trainStep(tasks, iteration);
    for (const task of tasks) disposeTask(task);
  }

  const after = await evaluateTasks(learner, source, 'test', settings.testEpisodes, settings.seed);
  return { before, after };
}
