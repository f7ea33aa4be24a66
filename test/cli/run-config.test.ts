import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../cli/run-config';

const base = {
  algorithm: 'protonet',
  dataset: 'omniglot',
  ways: 5,
  shots: 1,
  queries: 15,
  innerSteps: 0,
  testInnerSteps: 0,
  innerLr: 0.4,
  metaLr: 0.001,
  metaBatch: 1,
  iterations: 10,
  seed: 0,
  dataDir: '/data/omniglot',
  split: 'vinyals',
  hidden: 64,
  logInterval: 10,
  evalInterval: 10,
  valEpisodes: 2,
  testEpisodes: 2,
  out: '/runs/protonet',
  options: { distance: 'sqeuclidean', trainWays: 0 },
};

describe('parseRunConfig', () => {
  it('accepts zero inner steps', () => {
    const config = parseRunConfig('config.json', JSON.stringify(base));
    expect(config.innerSteps).toBe(0);
    expect(config.testInnerSteps).toBe(0);
  });

  it('rejects negative inner steps', () => {
    expect(() =>
      parseRunConfig('config.json', JSON.stringify({ ...base, innerSteps: -1 })),
    ).toThrow(/"innerSteps" is -1 \(expected a non-negative integer\)/);
  });

  it('rejects zero ways', () => {
    expect(() => parseRunConfig('config.json', JSON.stringify({ ...base, ways: 0 }))).toThrow(
      /"ways" is 0 \(expected a positive integer\)/,
    );
  });
});
