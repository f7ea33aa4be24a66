import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../cli/main';
import { OMNIGLOT_DIR } from '../data/paths';

// The papers' settings that `metagrad train` fills in, without a device.
describe('train defaults', () => {
  const omniglot = (ways: string, extra: Record<string, string> = {}) =>
    buildConfig('maml', {
      dataset: 'omniglot',
      dataDir: OMNIGLOT_DIR,
      ways,
      seed: '0',
      progress: false,
      ...extra,
    });

  it('5-way Omniglot', () => {
    const config = omniglot('5');
    expect(config.innerSteps).toBe(1);
    expect(config.testInnerSteps).toBe(3);
    expect(config.innerLr).toBe(0.4);
    expect(config.metaBatch).toBe(32);
  });

  it('20-way Omniglot', () => {
    const config = omniglot('20');
    expect(config.innerSteps).toBe(5);
    expect(config.testInnerSteps).toBe(5);
    expect(config.innerLr).toBe(0.1);
    expect(config.metaBatch).toBe(16);
  });

  it('test steps follow more training steps', () => {
    expect(omniglot('5', { innerSteps: '4' }).testInnerSteps).toBe(4);
    expect(omniglot('5', { innerSteps: '4', testInnerSteps: '2' }).testInnerSteps).toBe(2);
  });
});
