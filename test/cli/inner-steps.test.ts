import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';
import { buildCliAndFolder, runCli } from './cli-run';

// Long inner loops: 50 second-order steps of the conv net queue about 36,000
// dispatches for one task, past the runtime's limit per event-loop turn, so the
// learners must let the loop turn between steps.
let work: string;

beforeAll(async () => {
  work = await buildCliAndFolder('mg-inner-steps-');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const run = (args: string[]) => runCli(work, args);

const tiny = [
  '--queries',
  '1',
  '--hidden',
  '8',
  '--meta-batch',
  '1',
  '--iterations',
  '1',
  '--val-episodes',
  '1',
  '--test-episodes',
  '1',
  '--no-progress',
];

describe('long inner loops', () => {
  it('trains maml with 50 inner steps on omniglot', () => {
    const result = run([
      'train',
      'maml',
      '--dataset',
      'omniglot',
      '--data-dir',
      OMNIGLOT_DIR,
      '--inner-steps',
      '50',
      ...tiny,
      '--out',
      'maml-50',
    ]);
    expect(result.stderr).not.toMatch(/event loop/);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Test accuracy over 1 episode\b/);
  }, 120_000);

  it('evaluates reptile with 200 test inner steps', () => {
    const result = run([
      'train',
      'reptile',
      '--dataset',
      'omniglot',
      '--data-dir',
      OMNIGLOT_DIR,
      '--inner-steps',
      '2',
      '--test-inner-steps',
      '200',
      ...tiny,
      '--out',
      'reptile-200',
    ]);
    expect(result.stderr).not.toMatch(/event loop/);
    expect(result.status).toBe(0);
  }, 120_000);

  it.each([
    ['--inner-steps', '1e9'],
    ['--inner-steps', '1001'],
    ['--test-inner-steps', '1001'],
  ])('rejects %s %s above the maximum', (option, value) => {
    const result = run(['train', 'maml', option, value, '--out', 'too-many']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(
      `error: ${option} ${value} is too large; use at most 1000 (MAML uses 1 to 10 inner steps, Reptile 50 at test time).`,
    );
  });
});
