// `metagrad eval RUN --lake all_runs.zip`: Lake et al.'s 20-way within-alphabet
// one-shot benchmark on a trained run's best checkpoint, written to lake.json.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/checkpoint';
import { evaluateLake } from '../algorithms/lake';
import { formatMeanInterval } from '../algorithms/evaluation';
import type { MetaLearner } from '../algorithms/meta/learner';
import { loadLakeRuns } from '../data/lake';
import { UsageError } from './errors';
import type { TaskSource } from './tasks';
import type { TrainConfig } from './train';

/** Evaluates `learner` on every run of the zip, writes lake.json into the run folder and returns the line to print. */
export async function evaluateLakeRuns(
  config: TrainConfig,
  source: TaskSource,
  learner: MetaLearner,
  zip: string,
): Promise<string> {
  if (config.dataset !== 'omniglot')
    throw new UsageError(
      `--lake needs an Omniglot run; ${config.out} was trained on ${config.dataset}.`,
    );
  if (!existsSync(zip))
    throw new UsageError(
      `--lake ${zip} does not exist; give the path of all_runs.zip from the Omniglot release.`,
    );
  const runs = await loadLakeRuns(zip, source.inputShape[1]);
  const { errors, summary } = await evaluateLake(learner, runs);
  const result = {
    algorithm: config.algorithm,
    split: config.split,
    runs: runs.map((run, i) => ({ run: run.name, error: errors[i] })),
    mean_error: summary.mean,
    mean_error_ci95: summary.ci95,
  };
  await writeFileAtomic(
    join(config.out, 'lake.json'),
    new TextEncoder().encode(JSON.stringify(result, null, 2)),
  );
  return `Lake 20-way one-shot error over ${runs.length} runs: ${formatMeanInterval(summary, 2, 100, '%')}`;
}
