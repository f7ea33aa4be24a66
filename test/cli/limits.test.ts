import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';
import { buildCliAndFolder, runCli, writeUntrainedRun } from './cli-run';

// Values past the CLI's limits: each must end in one error line naming the option,
// with exit code 2, before any run folder is written.
let work: string;

beforeAll(async () => {
  work = await buildCliAndFolder('mg-limits-');
  await writeUntrainedRun(join(work, 'sine-run'), 'sine', '/nonexistent');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = {}) => runCli(work, args, env);

const omniglot = ['--dataset', 'omniglot', '--data-dir', OMNIGLOT_DIR];

describe('train limits', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'meta-batch on sine',
      ['train', 'maml', '--meta-batch', '1e9'],
      /^error: --meta-batch 1e9 is too large; use at most 1024 tasks/,
    ],
    [
      'meta-batch on omniglot',
      ['train', 'maml', ...omniglot, '--meta-batch', '1025'],
      /^error: --meta-batch 1025 is too large; use at most 1024 tasks/,
    ],
    [
      'hidden 1e9 on sine',
      ['train', 'maml', '--hidden', '1e9'],
      /^error: the model at --hidden 1000000000 needs a tensor of \d+ bytes, more than the GPU's largest storage binding/,
    ],
    [
      'hidden 100000 on sine',
      ['train', 'maml', '--hidden', '100000'],
      /^error: the model at --hidden 100000 needs a tensor/,
    ],
    [
      'hidden on omniglot',
      ['train', 'maml', ...omniglot, '--hidden', '1e9'],
      /^error: the model at --hidden 1000000000 needs a tensor/,
    ],
    [
      'mann memory slots',
      ['train', 'mann', ...omniglot, '--memory-slots', '1e9'],
      /^error: --memory-slots 1000000000 with --memory-size 40 and --meta-batch 16 needs a memory tensor of \d+ bytes/,
    ],
    [
      'shots on sine',
      ['train', 'maml', '--shots', '1e9'],
      /^error: --shots 1000000000 is too large for --dataset sine; use at most 10000 points per task/,
    ],
    [
      'queries on sine',
      ['train', 'cnp', '--queries', '10001'],
      /^error: --queries 10001 is too large for --dataset sine; use at most 10000 points per task/,
    ],
  ];

  it.each(cases)('rejects %s', (_name, args, message) => {
    const result = run([...args, '--out', 'run']);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(message);
    expect(result.status).toBe(2);
    expect(existsSync(join(work, 'run'))).toBe(false);
  });
});

describe('eval limits', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'shots on a sine run',
      ['eval', 'sine-run', '--shots', '20000'],
      /^error: --shots 20000 is too large for --dataset sine; use at most 10000 points per task/,
    ],
    [
      'data dir on a sine run',
      ['eval', 'sine-run', '--data-dir', '/tmp'],
      /^error: --data-dir does not apply to a --dataset sine run, which is regression; leave it out\.$/,
    ],
  ];

  it.each(cases)('rejects %s', (_name, args, message) => {
    const result = run(args);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(message);
    expect(result.status).toBe(2);
  });
});

describe('output folder', () => {
  it.each([
    ['under a file', '/dev/null/x', /a part of the path is a file, not a folder/],
    ['under /proc', '/proc/metagrad-none/run', /the parent folder does not accept new folders/],
  ])('rejects --out %s before the GPU starts', (_name, out, reason) => {
    const result = run(['train', 'maml', '--out', out]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(`error: --out ${out} cannot be created (`);
    expect(result.errors[0]).toMatch(reason);
    expect(result.status).toBe(2);
    // Dawn prints its "Warning:" lines about device limits when the GPU starts.
    expect(result.stderr).not.toMatch(/Warning:/);
  });

  it('leaves no folders behind', () => {
    const out = join(work, 'new', 'deeper', 'run');
    const result = run(['train', 'maml', '--meta-batch', '2000', '--out', out]);
    expect(result.status).toBe(2);
    expect(existsSync(join(work, 'new'))).toBe(false);
  });
});

describe('number options', () => {
  const cases: [string, string[], string][] = [
    [
      'infinite rate',
      ['--meta-lr', 'Infinity'],
      'error: --meta-lr Infinity is not finite; give a finite number.',
    ],
    [
      'overflowing rate',
      ['--inner-lr', '1e999'],
      'error: --inner-lr 1e999 is too large to be finite; give a finite number.',
    ],
    [
      'huge seed',
      ['--seed', '1e20'],
      'error: --seed 1e20 is too large; use an integer from 0 to 9007199254740991.',
    ],
    [
      'hexadecimal ways',
      ['--ways', '0x5'],
      'error: --ways "0x5" is not an integer; write it in decimal digits, such as 5.',
    ],
    [
      'binary rate',
      ['--meta-lr', '0b1'],
      'error: --meta-lr "0b1" is not a number; write it in decimal digits, such as 5 or 0.01.',
    ],
    [
      'fractional iterations',
      ['--iterations', '1.5'],
      'error: --iterations 1.5 is not an integer.',
    ],
  ];

  it.each(cases)('rejects %s', (_name, args, message) => {
    const result = run(['train', 'maml', ...omniglot, ...args, '--out', 'run']);
    expect(result.errors).toEqual([message]);
    expect(result.status).toBe(2);
  });
});
