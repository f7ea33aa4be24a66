import { describe, expect, it } from 'vitest';
import { describeEvalShape, evalConfig } from '../../cli/eval-shape';
import { UsageError } from '../../cli/errors';
import type { TrainConfig } from '../../cli/train';

// The episode shape rules of `metagrad eval`, without a device or data.
function runConfig(algorithm: string, dataset: 'sine' | 'omniglot'): TrainConfig {
  return {
    algorithm,
    dataset,
    ways: dataset === 'sine' ? 1 : 5,
    shots: dataset === 'sine' ? 10 : 1,
    queries: dataset === 'sine' ? 10 : 5,
    innerSteps: 0,
    testInnerSteps: 0,
    innerLr: 0.4,
    metaLr: 0.001,
    metaBatch: 1,
    iterations: 10,
    seed: 0,
    dataDir: '/data/omniglot',
    split: 'lake',
    hidden: 32,
    logInterval: 5,
    evalInterval: 5,
    valEpisodes: 2,
    testEpisodes: 2,
    out: '/runs/x',
  };
}

describe('eval episode shape', () => {
  it('keeps the run shape by default', () => {
    const config = runConfig('protonet', 'omniglot');
    expect(evalConfig(config, {})).toEqual(config);
    expect(describeEvalShape(config, evalConfig(config, {}))).toBeNull();
  });

  it('changes ways of metric learners', () => {
    for (const algorithm of ['protonet', 'matchingnet', 'relationnet', 'siamese']) {
      const config = runConfig(algorithm, 'omniglot');
      const changed = evalConfig(config, { ways: '20', shots: '5', queries: '3' });
      expect(changed.ways, algorithm).toBe(20);
      expect(changed.shots, algorithm).toBe(5);
      expect(changed.queries, algorithm).toBe(3);
      expect(config.ways, algorithm).toBe(5);
      expect(describeEvalShape(config, changed)).toBe(
        'Test episodes: 20-way 5-shot with 3 queries per class (the run trained on 5-way 1-shot with 5 queries per class).',
      );
    }
  });

  it('rejects other ways for MAML', () => {
    const config = runConfig('maml', 'omniglot');
    expect(() => evalConfig(config, { ways: '20' })).toThrow(UsageError);
    expect(() => evalConfig(config, { ways: '20' })).toThrow(
      '--ways 20 does not fit this maml run, whose output layer has the 5 classes it was trained on; use --ways 5 or train a 20-way run.',
    );
    expect(evalConfig(config, { ways: '5', shots: '5' }).shots).toBe(5);
  });

  it('changes adaptation steps', () => {
    const config = runConfig('maml', 'omniglot');
    const changed = evalConfig(config, { testInnerSteps: '5' });
    expect(changed.testInnerSteps).toBe(5);
    expect(changed.ways).toBe(5);
    expect(describeEvalShape(config, changed)).toBe(
      "Adaptation: 5 inner steps (the run's default was 0).",
    );
    expect(() => evalConfig(config, { testInnerSteps: 'many' })).toThrow(UsageError);
  });

  it('rejects other ways for the MANN', () => {
    const config = runConfig('mann', 'omniglot');
    expect(() => evalConfig(config, { ways: '10' })).toThrow(/--ways 10 does not fit this mann/);
    expect(() => evalConfig(config, { shots: '5' })).toThrow(
      '--shots does not apply to mann; leave it out.',
    );
  });

  it('rejects ways on sine runs', () => {
    const config = runConfig('maml', 'sine');
    expect(() => evalConfig(config, { ways: '5' })).toThrow(
      /--ways does not apply to a --dataset sine run/,
    );
    const changed = evalConfig(config, { shots: '5' });
    expect(changed.shots).toBe(5);
    expect(describeEvalShape(config, changed)).toBe(
      'Test episodes: K = 5 with 10 queries (the run trained on K = 10 with 10 queries).',
    );
  });

  it('rejects invalid numbers', () => {
    const config = runConfig('protonet', 'omniglot');
    expect(() => evalConfig(config, { ways: '1' })).toThrow(
      '--ways 1 is too small; use at least 2.',
    );
    expect(() => evalConfig(config, { shots: 'two' })).toThrow(
      '--shots "two" is not an integer; write it in decimal digits, such as 5.',
    );
    expect(() => evalConfig(config, { queries: '0' })).toThrow(
      '--queries 0 is too small; use at least 1.',
    );
  });
});
