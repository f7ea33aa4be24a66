import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { evaluateLake } from '../../algorithms/lake';
import type { Task } from '../../algorithms/meta/functional';
import { loadLakeRuns, type LakeRun } from '../../data/lake';
import { OMNIGLOT_DIR } from './paths';

// Lake's 20-way one-shot runs, read from the real all_runs.zip. The pixel
// nearest-neighbour baseline classifies each test image as the training image
// at the smallest squared Euclidean distance between 28x28 ink images; its
// error, 317 of the 400 test images, was computed once and is asserted here so
// any change to decoding or to the answer keys shows up.

const ZIP = join(OMNIGLOT_DIR, 'all_runs.zip');
const BASELINE_ERRORS = 317;

/** Host-side nearest neighbour, independent of the device and of evaluateLake. */
function hostNearestNeighbourErrors(run: LakeRun): number {
  let wrong = 0;
  run.test.forEach((query, i) => {
    let best = -1;
    let bestDistance = Infinity;
    run.training.forEach((candidate, k) => {
      let distance = 0;
      for (let j = 0; j < query.length; j++) distance += (query[j] - candidate[j]) ** 2;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = k;
      }
    });
    if (best !== run.answers[i]) wrong += 1;
  });
  return wrong;
}

/** The same baseline as a learner for evaluateLake: scores are negative pixel distances from the engine's kernel. */
const pixelNearestNeighbour = {
  async evaluate(task: Task) {
    const scores = mg.tidy(() =>
      mg.neg(mg.pairwiseSquaredEuclidean(mg.flatten(task.queryX, 1), mg.flatten(task.supportX, 1))),
    );
    const [values, labels] = await Promise.all([scores.data(), task.queryY.data()]);
    scores.dispose();
    const ways = task.supportX.shape[0];
    let correct = 0;
    for (let i = 0; i < labels.length; i++) {
      let best = 0;
      for (let c = 1; c < ways; c++) if (values[i * ways + c] > values[i * ways + best]) best = c;
      if (best === labels[i]) correct += 1;
    }
    return { loss: 0, accuracy: correct / labels.length };
  },
};

describe.runIf(existsSync(ZIP))('Lake one-shot runs', async () => {
  const runs = await loadLakeRuns(ZIP);

  it('reads every run and answer key', () => {
    expect(runs.map((run) => run.name)).toEqual(
      Array.from({ length: 20 }, (_, i) => `run${String(i + 1).padStart(2, '0')}`),
    );
    for (const run of runs) {
      expect(run.training).toHaveLength(20);
      expect(run.test).toHaveLength(20);
      // Each run's key is a permutation: every class has exactly one test image.
      expect([...run.answers].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      );
      for (const image of [...run.training, ...run.test]) {
        expect(image).toHaveLength(28 * 28);
        const ink = image.reduce((a, b) => a + b, 0);
        expect(ink).toBeGreaterThan(5);
      }
    }
    // The first line of run01/class_labels.txt: item01 belongs to class08.
    expect(runs[0].answers[0]).toBe(7);
  });

  it('pixel nearest neighbour error is stable', async () => {
    const hostErrors = runs.reduce((total, run) => total + hostNearestNeighbourErrors(run), 0);
    expect(hostErrors).toBe(BASELINE_ERRORS);

    const { errors, summary } = await evaluateLake(pixelNearestNeighbour, runs);
    expect(errors).toHaveLength(20);
    expect(summary.mean).toBeCloseTo(BASELINE_ERRORS / 400, 10);
  });
});

describe.runIf(existsSync(ZIP))('Lake runs with bad files', () => {
  const original = unzipSync(new Uint8Array(readFileSync(ZIP)));
  const folder = mkdtempSync(join(tmpdir(), 'metagrad-lake-'));

  function write(name: string, files: Record<string, Uint8Array>): string {
    const path = join(folder, name);
    writeFileSync(path, zipSync(files));
    return path;
  }

  it('names a corrupted PNG', async () => {
    const files = { ...original, 'run03/test/item05.png': new Uint8Array([1, 2, 3, 4]) };
    await expect(loadLakeRuns(write('corrupt.zip', files))).rejects.toThrow(
      /run03\/test\/item05\.png is not a valid PNG/,
    );
  });

  it('names a missing answer', async () => {
    const key = new TextDecoder().decode(original['run02/class_labels.txt']);
    const shortened = key.split('\n').slice(1).join('\n');
    const files = { ...original, 'run02/class_labels.txt': new TextEncoder().encode(shortened) };
    await expect(loadLakeRuns(write('key.zip', files))).rejects.toThrow(
      /no answer for run02\/test\/item01\.png/,
    );
  });

  it('rejects a file that is not a zip', async () => {
    const path = join(folder, 'not-a-zip.zip');
    writeFileSync(path, 'plain text');
    await expect(loadLakeRuns(path)).rejects.toThrow(/not-a-zip\.zip is not a readable zip file/);
  });
});
