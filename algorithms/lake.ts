// Lake et al.'s 20-way one-shot benchmark for any learner: each run is one
// episode whose support set is the 20 training images (label k for classk+1)
// and whose query set is the 20 test images with the answer key as labels. The
// published figure is the error rate averaged over the runs.

import * as mg from '../engine/index';
import type { LakeRun } from '../data/lake';
import { summarize, type Summary } from './evaluation';
import type { Task } from './meta/functional';
import type { MetaLearner } from './meta/learner';

/** Builds the episode of one run on the device: support = training images, query = test images. */
export function lakeTask(run: LakeRun): Task {
  const plane = run.size * run.size;
  const pack = (images: Float32Array[]) => {
    const out = new Float32Array(images.length * plane);
    images.forEach((image, i) => out.set(image, i * plane));
    return mg.tensor(out, { shape: [images.length, 1, run.size, run.size] });
  };
  return {
    supportX: pack(run.training),
    supportY: mg.tensor(
      Int32Array.from(run.training, (_, i) => i),
      { shape: [run.training.length] },
    ),
    queryX: pack(run.test),
    queryY: mg.tensor(Int32Array.from(run.answers), { shape: [run.answers.length] }),
  };
}

export interface LakeResult {
  /** Error rate (1 - accuracy) of every run, in the order given. */
  errors: number[];
  /** Mean error rate over the runs with its 95% confidence interval. */
  summary: Summary;
}

/** Evaluates `learner` on every run and returns the error rates; the learner is not trained on them. */
export async function evaluateLake(
  learner: Pick<MetaLearner, 'evaluate'>,
  runs: readonly LakeRun[],
): Promise<LakeResult> {
  const errors: number[] = [];
  for (const run of runs) {
    const task = lakeTask(run);
    try {
      const result = await learner.evaluate(task);
      if (result.accuracy === undefined)
        throw new Error(`evaluateLake: the learner returned no accuracy for ${run.name}.`);
      errors.push(1 - result.accuracy);
    } finally {
      for (const t of [task.supportX, task.supportY, task.queryX, task.queryY]) t.dispose();
    }
    await mg.yieldEventLoop();
  }
  return { errors, summary: summarize(errors) };
}
