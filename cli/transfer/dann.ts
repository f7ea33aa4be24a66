// `metagrad transfer dann`: Fashion-MNIST (labelled) to a shifted target domain
// (unlabelled), reporting source-only, DANN and trained-on-target accuracy on
// the target test set, and a PCA figure of the features before and after DANN.

import * as mg from '../../engine/index';
import {
  DOMAIN_SHIFTS,
  loadFashionMnist,
  selectImages,
  shiftDomain,
  type DomainShift,
  type LabelledImages,
} from '../../data/fashion-mnist';
import type { BackboneKind } from '../../algorithms/transfer/backbone';
import { DannModel, trainDann } from '../../algorithms/transfer/dann';
import { pca2 } from '../../algorithms/transfer/evaluate';
import { accuracy, extractFeatures } from '../../algorithms/transfer/training';
import { renderSvg } from '../plot';
import type { OptionSpec, ParsedOptions } from './options';
import { pcaSpec } from './plots';
import { Interrupted, type RunFolder } from './run-folder';

export const DANN_OPTIONS: OptionSpec[] = [
  {
    flag: '--domain <name>',
    key: 'domain',
    description: 'target domain: blended (colour textures), inverted or rotated',
    type: 'choice',
    choices: DOMAIN_SHIFTS.filter((d) => d !== 'none'),
    default: 'blended',
  },
  {
    flag: '--angle <degrees>',
    key: 'angle',
    description: 'rotated: the rotation angle',
    type: 'number',
    default: 30,
  },
  {
    flag: '--steps <n>',
    key: 'steps',
    description: 'SGD steps of each of the three trainings',
    type: 'integer',
    default: 1000,
    min: 1,
  },
  {
    flag: '--lr <a>',
    key: 'lr',
    description: 'mu0 of the annealed SGD rate mu0 / (1 + 10 p)^0.75',
    type: 'number',
    default: 0.01,
  },
  {
    flag: '--lambda-max <l>',
    key: 'lambdaMax',
    description: 'final gradient-reversal factor of the schedule 2 / (1 + exp(-10 p)) - 1',
    type: 'number',
    default: 1,
  },
  {
    flag: '--train-images <n>',
    key: 'trainImages',
    description: 'training images per domain (source labelled, target unlabelled, disjoint)',
    type: 'integer',
    default: 20000,
    min: 2,
  },
  {
    flag: '--test-images <n>',
    key: 'testImages',
    description: 'target test images',
    type: 'integer',
    default: 10000,
    min: 1,
  },
];

function domains(config: ParsedOptions, train: LabelledImages, test: LabelledImages) {
  const n = Math.min(config.trainImages as number, Math.floor(train.labels.length / 2));
  const range = (start: number, count: number) =>
    Array.from({ length: count }, (_, i) => start + i);
  const shift = (images: LabelledImages) =>
    shiftDomain(images, config.domain as DomainShift, {
      seed: (config.seed as number) + 1,
      angle: config.angle as number,
      channels: 3,
    });
  const testImages = selectImages(
    test,
    range(0, Math.min(config.testImages as number, test.labels.length)),
  );
  return {
    source: shiftDomain(selectImages(train, range(0, n)), 'none', { channels: 3 }),
    // The target training images are other images than the source ones, so no image is seen in both domains.
    target: shift(selectImages(train, range(n, n))),
    sourceTest: shiftDomain(testImages, 'none', { channels: 3 }),
    targetTest: shift(testImages),
  };
}

export async function runDann(
  run: RunFolder,
  config: ParsedOptions,
  log: (line: string) => void,
): Promise<object> {
  const data = await loadFashionMnist(config.dataDir as string);
  const { source, target, sourceTest, targetTest } = domains(config, data.train, data.test);
  const stages = [
    ['source-only', 'source-only', source],
    ['dann', 'dann', source],
    // Trained on labelled target images: the upper reference.
    ['target-trained', 'source-only', target],
  ] as const;
  const models = new Map<string, DannModel>();
  for (const [stage, mode, labelled] of stages) {
    mg.manualSeed(config.seed as number);
    const model = new DannModel(
      {
        kind: config.model as BackboneKind,
        imageShape: [3, 28, 28],
        widths: config.widths as number[],
      },
      10,
    );
    models.set(stage, model);
    if (run.done(stage)) {
      await run.loadModel(stage, model);
      continue;
    }
    const optimizer = new mg.optim.SGD(model.parameters(), {
      lr: config.lr as number,
      momentum: 0.9,
    });
    const startStep = await run.restore(stage, { model }, optimizer);
    let window = 0;
    let windowSteps = 0;
    const logInterval = config.logInterval as number;
    await trainDann(model, labelled, target, {
      mode,
      steps: config.steps as number,
      batchSize: config.batchSize as number,
      lr: config.lr as number,
      lambdaMax: config.lambdaMax as number,
      seed: config.seed as number,
      startStep,
      optimizer,
      onStep: async (iteration, metrics) => {
        windowSteps += 1;
        window += metrics.loss;
        const done = iteration + 1;
        if (done % logInterval === 0 || done === config.steps || run.interrupted) {
          const loss = window / Math.max(1, windowSteps);
          window = 0;
          windowSteps = 0;
          // Only the DANN stage uses the reversal factor; the others log the learning rate alone.
          const row: Record<string, number | string> = {
            stage,
            step: done,
            train_loss: loss,
            lr: metrics.lr,
          };
          if (mode === 'dann') row.lambda = metrics.lambda;
          await run.metrics(row);
          log(
            `${stage} step ${done}/${config.steps}: loss ${loss.toFixed(4)}` +
              (mode === 'dann' ? `, lambda ${metrics.lambda.toFixed(3)}` : ''),
          );
          await run.checkpoint(stage, done, { model }, optimizer);
          if (run.interrupted) throw new Interrupted(stage);
        }
      },
    });
    const result = {
      target_accuracy: await accuracy(model, targetTest),
      source_accuracy: await accuracy(model, sourceTest),
    };
    log(
      `${stage}: target test accuracy ${(result.target_accuracy * 100).toFixed(2)}%, source ${(result.source_accuracy * 100).toFixed(2)}%`,
    );
    await run.saveModel(stage, model, { stage });
    await run.finishStage(stage, result);
  }
  await run.saveModel('model', models.get('dann')!, { stage: 'dann' });

  // Features of 500 source and 500 target test images under each model, projected on their own principal plane.
  const sample = Array.from({ length: Math.min(500, sourceTest.labels.length) }, (_, i) => i);
  const points: { model: string; domain: string; x: number; y: number }[] = [];
  for (const stage of ['source-only', 'dann']) {
    const model = models.get(stage)!;
    const embed = (x: mg.Tensor) => model.features.embed(x);
    const s = await extractFeatures(embed, model, selectImages(sourceTest, sample));
    const t = await extractFeatures(embed, model, selectImages(targetTest, sample));
    const joined = new Float32Array(s.features.length + t.features.length);
    joined.set(s.features);
    joined.set(t.features, s.features.length);
    const projected = pca2(joined, s.dim);
    const label = stage === 'dann' ? 'after DANN' : 'before DANN (source-only)';
    for (let i = 0; i < 2 * sample.length; i++)
      points.push({
        model: label,
        domain: i < sample.length ? 'source' : 'target',
        x: projected[2 * i],
        y: projected[2 * i + 1],
      });
  }
  await run.writeSvg('features-pca.svg', await renderSvg(pcaSpec(points)));

  const sourceOnly = run.done('source-only')!.target_accuracy;
  const dann = run.done('dann')!.target_accuracy;
  const targetTrained = run.done('target-trained')!.target_accuracy;
  return {
    command: 'dann',
    domain: config.domain,
    source_only: run.done('source-only'),
    dann: run.done('dann'),
    target_trained: run.done('target-trained'),
    gap_closed: (dann - sourceOnly) / (targetTrained - sourceOnly),
  };
}
