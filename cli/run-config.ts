// Reads the config.json of a run folder and checks its fields, so that a damaged
// file stops `eval`, `compare` and `--resume` with one line instead of a failure
// deep inside training.

import { dirname } from 'node:path';
import { algorithmNames } from './algorithms/index';
import { UsageError } from './errors';
import { IMAGE_SETS } from './image-sets';
import type { TrainConfig } from './train';
import { commandName } from './invocation';

const POSITIVE_INTEGER_FIELDS = [
  'ways',
  'shots',
  'metaBatch',
  'iterations',
  'hidden',
  'logInterval',
  'evalInterval',
  'valEpisodes',
  'testEpisodes',
] as const;

// Metric-based and model-based learners have no inner loop (inner steps 0), and
// the MANN's sequence episodes have no separate query set.
const NON_NEGATIVE_INTEGER_FIELDS = ['queries', 'innerSteps', 'testInnerSteps'] as const;

/** Parses the text of `path` (a run's config.json), raising a UsageError that names the first invalid field. */
export function parseRunConfig(path: string, text: string): TrainConfig {
  const damaged = (problem: string) =>
    new UsageError(
      `${path} is invalid: ${problem}. The run folder is damaged, so restore the file or train a new run.`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw damaged(`it is not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw damaged(`it contains ${JSON.stringify(parsed)} instead of an object of settings`);
  }
  const config = parsed as Record<string, unknown>;
  const invalid = (field: string, expected: string) =>
    config[field] === undefined
      ? damaged(`"${field}" is missing (expected ${expected})`)
      : damaged(`"${field}" is ${JSON.stringify(config[field])} (expected ${expected})`);

  if (config.algorithm === undefined && typeof config.command === 'string') {
    const dir = dirname(path);
    throw new UsageError(
      `${dir} is a metagrad transfer run; use \`${commandName()} transfer ${config.command} --resume ${dir}\`.`,
    );
  }
  if (typeof config.algorithm !== 'string' || !algorithmNames().includes(config.algorithm)) {
    throw invalid('algorithm', `one of ${algorithmNames().join(', ')}`);
  }
  const datasets = ['sine', 'omniglot', ...IMAGE_SETS];
  if (typeof config.dataset !== 'string' || !datasets.includes(config.dataset)) {
    throw invalid('dataset', `one of ${datasets.join(', ')}`);
  }
  // Omniglot sequences (the MANN) may shrink images below the 16 pixels that a conv net needs.
  const imageSize = config.imageSize;
  const smallest = config.dataset === 'omniglot' ? 1 : 16;
  if (
    imageSize !== undefined &&
    (typeof imageSize !== 'number' || !Number.isSafeInteger(imageSize) || imageSize < smallest)
  ) {
    throw invalid('imageSize', `an integer of at least ${smallest}`);
  }
  if (config.split !== 'vinyals' && config.split !== 'lake') {
    throw invalid('split', 'vinyals or lake');
  }
  if (typeof config.dataDir !== 'string') throw invalid('dataDir', 'a folder path');
  for (const field of POSITIVE_INTEGER_FIELDS) {
    const value = config[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw invalid(field, 'a positive integer');
    }
  }
  for (const field of NON_NEGATIVE_INTEGER_FIELDS) {
    const value = config[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw invalid(field, 'a non-negative integer');
    }
  }
  if (typeof config.seed !== 'number' || !Number.isSafeInteger(config.seed) || config.seed < 0) {
    throw invalid('seed', 'a non-negative integer');
  }
  for (const field of ['innerLr', 'metaLr'] as const) {
    const value = config[field];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw invalid(field, 'a positive number');
    }
  }
  const options = config.options;
  if (
    options !== undefined &&
    (typeof options !== 'object' || options === null || Array.isArray(options))
  ) {
    throw invalid('options', 'an object');
  }
  return parsed as TrainConfig;
}
