// The episode shape of `metagrad eval`: the run's own, or the --ways, --shots,
// --queries and --test-inner-steps given on the command line where the learner
// allows them.

import { algorithmSpec } from './algorithms/index';
import { UsageError, checkSinePoints, innerStepCount, parseNumber } from './errors';
import type { TrainConfig } from './train';

// A type alias, not an interface, so that it fits checkPathOptions' Record parameter.
export type EvalShapeFlags = {
  ways?: string;
  shots?: string;
  queries?: string;
  testInnerSteps?: string;
};

/**
 * Returns the run's config with the test episode shape of the flags. Only
 * learners that compare queries with the support set (spec.anyWays) take a
 * --ways other than the trained one, because the others have one output per class.
 */
export function evalConfig(config: TrainConfig, flags: EvalShapeFlags): TrainConfig {
  const spec = algorithmSpec(config.algorithm);
  const flagNames = {
    ways: '--ways',
    shots: '--shots',
    queries: '--queries',
    testInnerSteps: '--test-inner-steps',
  } as const;
  const givenKeys = (Object.keys(flagNames) as (keyof typeof flagNames)[]).filter(
    (key) => flags[key] !== undefined,
  );
  for (const key of givenKeys) {
    const flag = flagNames[key];
    if (spec.unusedFlags?.includes(flag))
      throw new UsageError(`${flag} does not apply to ${config.algorithm}; leave it out.`);
  }

  const shape = {
    ways: config.ways,
    shots: config.shots,
    queries: config.queries,
    testInnerSteps: config.testInnerSteps,
  };
  if (flags.ways !== undefined) {
    if (config.dataset === 'sine')
      throw new UsageError(
        '--ways does not apply to a --dataset sine run, which is regression; leave it out.',
      );
    shape.ways = parseNumber('--ways', flags.ways, 'integer', 2);
    if (shape.ways !== config.ways && !spec.anyWays)
      throw new UsageError(
        `--ways ${shape.ways} does not fit this ${config.algorithm} run, whose output layer has the ${config.ways} classes it was trained on; use --ways ${config.ways} or train a ${shape.ways}-way run.`,
      );
  }
  if (flags.shots !== undefined) shape.shots = parseNumber('--shots', flags.shots, 'integer', 1);
  if (flags.queries !== undefined)
    shape.queries = parseNumber('--queries', flags.queries, 'integer', 1);
  if (flags.testInnerSteps !== undefined)
    shape.testInnerSteps = innerStepCount('--test-inner-steps', flags.testInnerSteps, 0);
  if (config.dataset === 'sine') {
    checkSinePoints('--shots', shape.shots);
    checkSinePoints('--queries', shape.queries);
  }
  return { ...config, ...shape };
}

/** Describes the test episodes when they differ from the training ones, for the `eval` output. */
export function describeEvalShape(trained: TrainConfig, evaluated: TrainConfig): string | null {
  const same =
    trained.ways === evaluated.ways &&
    trained.shots === evaluated.shots &&
    trained.queries === evaluated.queries;
  const steps =
    trained.testInnerSteps === evaluated.testInnerSteps
      ? ''
      : ` Adaptation: ${evaluated.testInnerSteps} inner steps (the run's default was ${trained.testInnerSteps}).`;
  if (same) return steps === '' ? null : steps.trim();
  const shape = (c: TrainConfig) =>
    c.dataset === 'sine'
      ? `K = ${c.shots} with ${c.queries} queries`
      : `${c.ways}-way ${c.shots}-shot with ${c.queries} queries per class`;
  return `Test episodes: ${shape(evaluated)} (the run trained on ${shape(trained)}).${steps}`;
}
