// `metagrad transfer pretrain <simclr|moco>`: self-supervised pretraining on
// unlabelled Fashion-MNIST training images, then the frozen backbone is
// evaluated by a linear probe, k-nearest neighbours and 5-way few-shot
// episodes, next to a randomly initialised and a supervised backbone.

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import * as mg from '../../engine/index';
import type { Module } from '../../engine/nn/module';
import { loadSafetensors, saveSafetensors } from '../../engine/checkpoint';
import {
  loadFashionMnist,
  selectImages,
  TARGET_CLASSES,
  type LabelledImages,
} from '../../data/fashion-mnist';
import type { ClassSplit } from '../../data/episodes';
import { BlockNet, type BackboneKind } from '../../algorithms/transfer/backbone';
import { ContrastiveModel, MocoKeys, pretrain } from '../../algorithms/transfer/contrastive';
import {
  knnAccuracy,
  linearProbe,
  prototypeEpisodes,
  type FeatureSet,
} from '../../algorithms/transfer/evaluate';
import { extractFeatures } from '../../algorithms/transfer/training';
import type { OptionSpec, ParsedOptions } from './options';
import { supervisedStage } from './finetune';
import { Interrupted, type RunFolder } from './run-folder';

export const PRETRAIN_OPTIONS: OptionSpec[] = [
  {
    flag: '--steps <n>',
    key: 'steps',
    description: 'pretraining steps (and supervised baseline steps)',
    type: 'integer',
    default: 500,
    min: 1,
  },
  {
    flag: '--lr <a>',
    key: 'lr',
    description: 'Adam learning rate',
    type: 'number',
    default: 0.001,
  },
  {
    flag: '--temperature <t>',
    key: 'temperature',
    description: 'softmax temperature of NT-Xent or InfoNCE',
    type: 'number',
    default: 0.2,
  },
  {
    flag: '--projection-dim <n>',
    key: 'projectionDim',
    description: 'output width of the projection head',
    type: 'integer',
    default: 64,
    min: 1,
  },
  {
    flag: '--momentum <m>',
    key: 'momentum',
    description: 'moco: key encoder momentum',
    type: 'number',
    default: 0.99,
  },
  {
    flag: '--queue-size <n>',
    key: 'queueSize',
    description: 'moco: keys in the queue of negatives',
    type: 'integer',
    default: 4096,
    min: 1,
  },
  {
    flag: '--images <n>',
    key: 'images',
    description: 'unlabelled training images to pretrain on',
    type: 'integer',
    default: 20000,
    min: 2,
  },
  {
    flag: '--probe-images <n>',
    key: 'probeImages',
    description: 'labelled training images of the linear probe and k-NN',
    type: 'integer',
    default: 5000,
    min: 10,
  },
  {
    flag: '--test-images <n>',
    key: 'testImages',
    description: 'test images of the probe and k-NN',
    type: 'integer',
    default: 5000,
    min: 10,
  },
  {
    flag: '--episodes <n>',
    key: 'episodes',
    description: '5-way 5-shot episodes on the target classes',
    type: 'integer',
    default: 200,
    min: 1,
  },
];

const range = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i);

async function pretrainStage(
  run: RunFolder,
  method: 'simclr' | 'moco',
  model: ContrastiveModel,
  backbone: { kind: BackboneKind; imageShape: [number, number, number]; widths: number[] },
  images: LabelledImages,
  config: ParsedOptions,
  log: (line: string) => void,
): Promise<void> {
  const stage = method;
  const optimizer = new mg.optim.Adam(model.parameters(), { lr: config.lr as number });
  const keys =
    method === 'moco'
      ? new MocoKeys(model, backbone, config.projectionDim as number, config.queueSize as number)
      : null;
  const modules: Record<string, Module<never[], unknown>> = keys
    ? { model, keys: keys.encoder }
    : { model };
  const startStep = await run.restore(stage, modules, optimizer);
  const queuePath = join(run.out, `last.${stage}.queue.safetensors`);
  if (keys && startStep > 0 && existsSync(queuePath)) {
    const stored = (await loadSafetensors(queuePath)).tensors.get('queue')!;
    const values = new Float32Array(Uint8Array.from(stored.bytes).buffer);
    keys.queue.dispose();
    keys.queue = mg.keep(mg.tensor(values, { shape: stored.shape }));
  }
  let window = 0;
  let windowSteps = 0;
  const logInterval = config.logInterval as number;
  await pretrain(
    model,
    images,
    {
      method,
      steps: config.steps as number,
      batchSize: config.batchSize as number,
      lr: config.lr as number,
      temperature: config.temperature as number,
      momentum: config.momentum as number,
      queueSize: config.queueSize as number,
      seed: config.seed as number,
      startStep,
      optimizer,
      onStep: async (iteration, loss) => {
        windowSteps += 1;
        window += loss;
        const done = iteration + 1;
        if (done % logInterval === 0 || done === config.steps || run.interrupted) {
          const mean = window / Math.max(1, windowSteps);
          window = 0;
          windowSteps = 0;
          await run.metrics({ stage, step: done, train_loss: mean });
          log(`${stage} step ${done}/${config.steps}: loss ${mean.toFixed(4)}`);
          await run.checkpoint(stage, done, modules, optimizer);
          if (keys) await saveSafetensors(queuePath, { queue: keys.queue });
          if (run.interrupted) throw new Interrupted(stage);
        }
      },
    },
    keys,
  );
}

async function evaluateBackbone(
  name: string,
  model: BlockNet,
  probeTrain: LabelledImages,
  test: LabelledImages,
  config: ParsedOptions,
): Promise<Record<string, number>> {
  const embed = (x: mg.Tensor) => model.embed(x);
  const train = await extractFeatures(embed, model, probeTrain);
  const testFeatures = await extractFeatures(embed, model, test);
  const trainSet: FeatureSet = { ...train, labels: probeTrain.labels };
  const testSet: FeatureSet = { ...testFeatures, labels: test.labels };
  // Few-shot episodes over the target classes of the test images: each class's store indices are rows of testFeatures.
  const split: ClassSplit = {
    name: 'test',
    store: test.store,
    classes: TARGET_CLASSES.map((label) => ({
      name: String(label),
      images: range(0, test.labels.length).filter((i) => test.labels[i] === label),
      rotation: 0,
    })),
  };
  const episodes = prototypeEpisodes(
    testFeatures.features,
    testFeatures.dim,
    split,
    { ways: 5, shots: 5, queries: 15 },
    config.episodes as number,
    config.seed as number,
  );
  const scores: Record<string, number> = {
    linear_probe: await linearProbe(trainSet, testSet, 10, { seed: config.seed as number }),
    knn: await knnAccuracy(trainSet, testSet, 10, 20),
    few_shot_5way_5shot: episodes.mean,
    [`${name}_feature_dim`]: train.dim,
  };
  // A stage record contains numbers only, so an undefined interval (one episode) is left out here
  // and written as null in result.json by runPretrain.
  if (episodes.ci95 !== null) scores.few_shot_ci95 = episodes.ci95;
  return scores;
}

export async function runPretrain(
  run: RunFolder,
  method: 'simclr' | 'moco',
  config: ParsedOptions,
  log: (line: string) => void,
): Promise<object> {
  const data = await loadFashionMnist(config.dataDir as string);
  const backbone = {
    kind: config.model as BackboneKind,
    imageShape: [1, 28, 28] as [number, number, number],
    widths: config.widths as number[],
  };
  const images = selectImages(
    data.train,
    range(0, Math.min(config.images as number, data.train.labels.length)),
  );
  const probeTrain = selectImages(
    data.train,
    range(0, Math.min(config.probeImages as number, data.train.labels.length)),
  );
  const test = selectImages(
    data.test,
    range(0, Math.min(config.testImages as number, data.test.labels.length)),
  );

  mg.manualSeed(config.seed as number);
  const model = new ContrastiveModel(backbone, config.projectionDim as number);
  if (!run.done(method)) {
    await pretrainStage(run, method, model, backbone, images, config, log);
    await run.saveModel('model', model, { method });
    await run.finishStage(method, {});
  } else {
    await run.loadModel('model', model);
  }

  const evaluated: Record<string, Record<string, number>> = {};
  for (const name of [method, 'random', 'supervised']) {
    const stage = `eval-${name}`;
    if (run.done(stage)) {
      evaluated[name] = run.done(stage)!;
      continue;
    }
    if (run.interrupted) throw new Interrupted(stage);
    let net: BlockNet;
    if (name === method) net = model.backbone;
    else {
      mg.manualSeed(config.seed as number);
      net = new BlockNet({ ...backbone, outFeatures: name === 'supervised' ? 10 : 0 });
      if (name === 'supervised') {
        // The supervised reference trains on the same images with their labels, for the same number of steps.
        if (!run.done('supervised')) {
          await supervisedStage(
            run,
            'supervised',
            net,
            images,
            config.steps as number,
            config,
            log,
          );
          await run.saveModel('supervised', net, { stage: 'supervised' });
          await run.finishStage('supervised', {});
        } else await run.loadModel('supervised', net);
      }
    }
    evaluated[name] = await evaluateBackbone(name, net, probeTrain, test, config);
    log(
      `${name}: linear probe ${(evaluated[name].linear_probe * 100).toFixed(2)}%, k-NN ${(evaluated[name].knn * 100).toFixed(2)}%, ` +
        `5-way 5-shot ${(evaluated[name].few_shot_5way_5shot * 100).toFixed(2)}%`,
    );
    await run.finishStage(stage, evaluated[name]);
  }
  const results = Object.fromEntries(
    Object.entries(evaluated).map(([name, scores]) => [
      name,
      { ...scores, few_shot_ci95: scores.few_shot_ci95 ?? null },
    ]),
  );
  return { command: 'pretrain', method, ...results };
}
