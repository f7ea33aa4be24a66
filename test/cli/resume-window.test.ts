import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { runStateProblem, train, type TrainConfig } from '../../cli/train';

// Runs of the training loop in this process, on sinusoids so that they take seconds.
function sineConfig(out: string, changes: Partial<TrainConfig> = {}): TrainConfig {
  return {
    algorithm: 'maml',
    dataset: 'sine',
    ways: 1,
    shots: 5,
    queries: 5,
    innerSteps: 1,
    testInnerSteps: 1,
    innerLr: 0.01,
    metaLr: 0.001,
    metaBatch: 2,
    iterations: 8,
    seed: 3,
    dataDir: '',
    split: 'vinyals',
    hidden: 8,
    logInterval: 4,
    evalInterval: 8,
    valEpisodes: 2,
    testEpisodes: 2,
    out,
    ...changes,
  };
}

function metrics(out: string): Record<string, number>[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number>);
}

const quiet = () => undefined;

describe('train', () => {
  beforeAll(() => mg.init());

  it('resumes mid-row with identical rows', async () => {
    const straight = mkdtempSync(join(tmpdir(), 'mg-straight-'));
    await train(sineConfig(straight), { resume: false, progress: false, log: quiet });

    // Stop after 2 and then 5 iterations: both stops fall inside a metrics row of 4.
    const stopped = mkdtempSync(join(tmpdir(), 'mg-stopped-'));
    const config = sineConfig(stopped);
    const lines: string[] = [];
    const options = { progress: false, log: (line: string) => lines.push(line) };
    expect(await train(config, { ...options, resume: false, stopAfter: 2 })).toBe('stopped');
    expect(await train(config, { ...options, resume: true, stopAfter: 3 })).toBe('stopped');
    expect(await train(config, { ...options, resume: true })).toBe('finished');

    const resumes = lines.filter((line) => line.startsWith('Resuming'));
    expect(resumes).toEqual([
      `Resuming ${stopped} at iteration 2 of 8`,
      `Resuming ${stopped} at iteration 5 of 8`,
    ]);
    const expected = metrics(straight);
    const resumed = metrics(stopped);
    expect(resumed.map((row) => row.iteration)).toEqual([4, 8]);
    for (const [i, row] of resumed.entries())
      expect(row.train_loss).toBeCloseTo(expected[i].train_loss, 5);
  });

  it('warns when the model diverged', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mg-diverged-'));
    const lines: string[] = [];
    // A meta learning rate this large sends the sine MLP's weights to infinity.
    const config = sineConfig(out, { metaLr: 1e30, iterations: 4, evalInterval: 4 });
    await train(config, { resume: false, progress: false, log: (line) => lines.push(line) });

    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
      test_mse: number | null;
    };
    expect(result.test_mse).toBeNull();
    expect(lines.join('\n')).toMatch(
      /model diverged.*smaller --inner-lr or --meta-lr \(this run used --inner-lr 0\.01 and --meta-lr 1e\+30\)/,
    );
  });

  it('rejects a state past the last iteration', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mg-past-'));
    const config = sineConfig(out);
    await train(config, { resume: false, progress: false, log: quiet, stopAfter: 2 });
    const statePath = join(out, 'last.state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { iteration: number };
    writeFileSync(statePath, JSON.stringify({ ...state, iteration: 99 }));

    await expect(train(config, { resume: true, progress: false, log: quiet })).rejects.toThrow(
      /last\.state\.json is invalid: iteration 99 is past the run's 8 iterations/,
    );
  });
});

describe('runStateProblem', () => {
  const valid = { iteration: 3, rng: 7, engineRng: { seed: 0, counter: 12 }, best: null };

  it('accepts a saved state', () => {
    expect(runStateProblem(valid)).toBeNull();
    expect(runStateProblem({ ...valid, best: { iteration: 2, score: null } })).toBeNull();
  });

  it.each([
    ['null', null, /does not contain an object/],
    ['an empty object', {}, /"iteration" is not a non-negative integer/],
    ['a text iteration', { ...valid, iteration: 'two' }, /"iteration"/],
    ['a missing engine RNG', { ...valid, engineRng: undefined }, /"engineRng"/],
    ['a best without score', { ...valid, best: { iteration: 1 } }, /"best"/],
  ])('rejects %s', (_name, state, message) => {
    expect(runStateProblem(state)).toMatch(message);
  });
});
