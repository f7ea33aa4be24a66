import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import {
  DEFAULT_FASHION_MNIST_DIR,
  loadFashionMnist,
  selectImages,
  shiftDomain,
} from '../../data/fashion-mnist';
import { DannModel, trainDann } from '../../algorithms/transfer/dann';
import { BlockNet } from '../../algorithms/transfer/backbone';
import { distill } from '../../algorithms/transfer/distill';
import { accuracy } from '../../algorithms/transfer/training';

// Short real runs on Fashion-MNIST with small MLPs: DANN beats source-only
// training on the blended target domain, and a distilled student beats the
// same student trained alone on the same budget. Every draw is seeded.

const range = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i);

describe('transfer short runs', async () => {
  const data = await loadFashionMnist(DEFAULT_FASHION_MNIST_DIR);

  it('DANN beats source-only on the blended domain', async () => {
    const source = shiftDomain(selectImages(data.train, range(0, 3000)), 'none', { channels: 3 });
    const target = shiftDomain(selectImages(data.train, range(3000, 3000)), 'blended', { seed: 1 });
    const targetTest = shiftDomain(selectImages(data.test, range(0, 1000)), 'blended', { seed: 1 });
    const scores: Record<string, number> = {};
    for (const mode of ['source-only', 'dann'] as const) {
      mg.manualSeed(0);
      const model = new DannModel({ kind: 'mlp', imageShape: [3, 28, 28], widths: [64, 32] }, 10);
      await trainDann(model, source, target, {
        mode,
        steps: 150,
        batchSize: 32,
        lr: 0.01,
        lambdaMax: 1,
        seed: 1,
      });
      scores[mode] = await accuracy(model, targetTest);
    }
    expect(scores.dann, JSON.stringify(scores)).toBeGreaterThan(scores['source-only'] + 0.01);
  });

  it('distilled student beats the student alone', async () => {
    const train = selectImages(data.train, range(0, 5000));
    const test = selectImages(data.test, range(0, 1000));
    mg.manualSeed(0);
    const teacher = new BlockNet({
      kind: 'mlp',
      imageShape: [1, 28, 28],
      widths: [128, 64],
      outFeatures: 10,
    });
    const budget = {
      epochs: 1,
      batchSize: 32,
      stepsPerEpoch: 150,
      lr: 0.003,
      temperature: 4,
      alpha: 0.9,
      hintBlock: 0,
      hintWeight: 1,
      seed: 2,
    };
    await distill(teacher, null, train, {
      ...budget,
      kind: 'none',
      epochs: 2,
      stepsPerEpoch: 1000,
    });
    const scores: Record<string, number> = { teacher: await accuracy(teacher, test) };
    // The student sees only 300 labelled images, so the teacher's soft targets carry what the labels lack.
    const small = selectImages(train, range(0, 300));
    for (const kind of ['none', 'response'] as const) {
      mg.manualSeed(1);
      const student = new BlockNet({
        kind: 'mlp',
        imageShape: [1, 28, 28],
        widths: [16],
        outFeatures: 10,
      });
      await distill(student, teacher, small, { ...budget, kind, epochs: 15 });
      scores[kind] = await accuracy(student, test);
    }
    expect(scores.response, JSON.stringify(scores)).toBeGreaterThan(scores.none + 0.01);
  });
});
