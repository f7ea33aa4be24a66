// `metagrad transfer finetune`: pretrain on the five source classes of
// Fashion-MNIST, then fine-tune on the five target classes with 1, 5, 10 and
// 50 labelled examples per class under each chosen strategy.

import * as mg from '../../engine/index';
import {
  loadFashionMnist,
  TARGET_CLASSES,
  transferSplit,
  type FashionMnist,
} from '../../data/fashion-mnist';
import { BlockNet, copyMatchingState, type BackboneKind } from '../../algorithms/transfer/backbone';
import { fineTune, STRATEGIES, type Strategy } from '../../algorithms/transfer/finetune';
import { accuracy, shuffledBatches, step, toBatch } from '../../algorithms/transfer/training';
import { Rng } from '../../data/rng';
import { UsageError } from '../errors';
import { renderSvg } from '../plot';
import type { OptionSpec, ParsedOptions } from './options';
import { shotsSpec } from './plots';
import { Interrupted, type RunFolder } from './run-folder';

export const FINETUNE_OPTIONS: OptionSpec[] = [
  {
    flag: '--strategy <list>',
    key: 'strategy',
    description: `comma-separated strategies from ${STRATEGIES.join(', ')}, or all`,
    type: 'string',
    default: 'all',
  },
  {
    flag: '--shots <list>',
    key: 'shots',
    description: 'labelled target examples per class, comma-separated',
    type: 'list',
    default: [1, 5, 10, 50],
    min: 1,
  },
  {
    flag: '--pretrain-steps <n>',
    key: 'pretrainSteps',
    description: 'Adam steps of supervised pretraining on the source classes',
    type: 'integer',
    default: 600,
    min: 1,
  },
  {
    flag: '--epochs <n>',
    key: 'epochs',
    description: 'fine-tuning epochs (gradual unfreezing opens one more block per epoch)',
    type: 'integer',
    default: 5,
    min: 1,
  },
  {
    flag: '--steps-per-epoch <n>',
    key: 'stepsPerEpoch',
    description: 'optimizer steps per fine-tuning epoch',
    type: 'integer',
    default: 20,
    min: 1,
  },
  {
    flag: '--lr <a>',
    key: 'lr',
    description: "Adam learning rate (the head's under discriminative rates)",
    type: 'number',
    default: 0.001,
  },
  {
    flag: '--frozen-blocks <k>',
    key: 'frozenBlocks',
    description: 'partial: blocks frozen from the input',
    type: 'integer',
    default: 1,
    min: 0,
  },
  {
    flag: '--lr-decay <f>',
    key: 'lrDecay',
    description: 'discriminative: factor between the rates of adjacent units',
    type: 'number',
    default: 0.3,
  },
];

export function parseStrategies(value: string): Strategy[] {
  if (value === 'all') return [...STRATEGIES];
  const list = value.split(',').map((s) => s.trim());
  for (const s of list)
    if (!(STRATEGIES as readonly string[]).includes(s))
      throw new UsageError(
        `--strategy ${JSON.stringify(s)} is not supported; use ${STRATEGIES.join(', ')} or all.`,
      );
  return list as Strategy[];
}

function backbone(config: ParsedOptions, outFeatures: number): BlockNet {
  return new BlockNet({
    kind: config.model as BackboneKind,
    imageShape: [1, 28, 28],
    widths: config.widths as number[],
    outFeatures,
  });
}

/** Trains `model` on `images` for `steps` Adam steps, checkpointing through `run` under `stage`. */
export async function supervisedStage(
  run: RunFolder,
  stage: string,
  model: BlockNet,
  images: Parameters<typeof toBatch>[0],
  steps: number,
  config: ParsedOptions,
  log: (line: string) => void,
): Promise<void> {
  const optimizer = new mg.optim.Adam(model.parameters(), { lr: config.lr as number });
  let done = await run.restore(stage, { model }, optimizer);
  const batchSize = config.batchSize as number;
  const perEpoch = Math.max(1, Math.floor(images.labels.length / batchSize));
  let window = 0;
  let windowSteps = 0;
  while (done < steps) {
    const epoch = Math.floor(done / perEpoch);
    // Each epoch's order comes from its own seed, so a resumed run draws the same batches.
    const batches = shuffledBatches(
      images.labels.length,
      batchSize,
      new Rng((config.seed as number) * 7919 + epoch),
    );
    const indices = batches[done % perEpoch] ?? batches[0];
    windowSteps += 1;
    window += await step(optimizer, () => {
      const { x, y } = toBatch(images, indices);
      return mg.crossEntropy(model.forward(x), y);
    });
    done += 1;
    const logInterval = config.logInterval as number;
    if (done % logInterval === 0 || done === steps || run.interrupted) {
      const loss = window / Math.max(1, windowSteps);
      window = 0;
      windowSteps = 0;
      await run.metrics({ stage, step: done, train_loss: loss });
      log(`${stage} step ${done}/${steps}: train loss ${loss.toFixed(4)}`);
      await run.checkpoint(stage, done, { model }, optimizer);
      if (run.interrupted) throw new Interrupted(stage);
    }
  }
}

/**
 * Checks every --shots value against the training images of each target class,
 * so that a value too large fails before pretraining and before the run folder is made.
 */
export async function checkFinetuneShots(config: ParsedOptions): Promise<void> {
  const data = await loadFashionMnist(config.dataDir as string);
  const largest = Math.max(...(config.shots as number[]));
  for (const label of TARGET_CLASSES) {
    const count = data.train.labels.filter((value) => value === label).length;
    if (largest > count) {
      throw new UsageError(
        `--shots ${largest} is more than the ${count} training images of class ${label}; use at most ${count}.`,
      );
    }
  }
}

export async function runFinetune(
  run: RunFolder,
  config: ParsedOptions,
  log: (line: string) => void,
): Promise<object> {
  const strategies = parseStrategies(config.strategy as string);
  const data: FashionMnist = await loadFashionMnist(config.dataDir as string);
  const shotsList = config.shots as number[];
  mg.manualSeed(config.seed as number);

  // Stage 1: supervised pretraining on the source classes, shared by every strategy.
  const source = backbone(config, 5);
  const split0 = transferSplit(data, 1, config.seed as number);
  if (!run.done('pretrain')) {
    await supervisedStage(
      run,
      'pretrain',
      source,
      split0.sourceTrain,
      config.pretrainSteps as number,
      config,
      log,
    );
    const sourceAccuracy = await accuracy(source, split0.sourceTest);
    await run.saveModel('source', source, { stage: 'pretrain' });
    await run.finishStage('pretrain', { source_accuracy: sourceAccuracy });
    log(`pretrained on the source classes: test accuracy ${(sourceAccuracy * 100).toFixed(2)}%`);
  } else {
    await run.loadModel('source', source);
  }

  // Stage 2: each strategy at each number of shots, from the same pretrained weights.
  // Each finished stage saves its model as model.<strategy>-<shots>.safetensors and
  // its accuracy in state.json, so --resume skips it. Ctrl-C lets the stage in
  // progress finish, because these stages are short and save nothing midway.
  // model.safetensors is the best stage so far, counting stages of earlier invocations.
  let best = Math.max(
    -1,
    ...Object.values(run.state.stages).map((result) => result.target_accuracy ?? -1),
  );
  for (const strategy of strategies) {
    for (const shots of shotsList) {
      const stage = `${strategy}-${shots}`;
      if (run.done(stage)) continue;
      if (run.interrupted) throw new Interrupted(stage);
      const split = transferSplit(data, shots, config.seed as number);
      mg.manualSeed((config.seed as number) + shots);
      const target = backbone(config, 5);
      // The backbone comes from the source model; the head starts fresh for the new classes.
      copyMatchingState(source, target, (name) => name.startsWith('head.'));
      await fineTune(target, split.targetTrain, {
        strategy,
        epochs: config.epochs as number,
        stepsPerEpoch: config.stepsPerEpoch as number,
        batchSize: Math.min(
          config.batchSize as number,
          Math.max(2, split.targetTrain.labels.length),
        ),
        lr: config.lr as number,
        weightDecay: 0,
        frozenBlocks: config.frozenBlocks as number,
        lrDecay: config.lrDecay as number,
        seed: (config.seed as number) + shots,
        onEpoch: async (epoch, loss) => {
          await run.metrics({ stage, strategy, shots, epoch: epoch + 1, train_loss: loss });
        },
      });
      const targetAccuracy = await accuracy(target, split.targetTest);
      await run.metrics({ stage, strategy, shots, target_accuracy: targetAccuracy });
      log(
        `${strategy}, ${shots} per class: target test accuracy ${(targetAccuracy * 100).toFixed(2)}%`,
      );
      const metadata = { strategy, shots: String(shots) };
      await run.saveModel(`model.${stage}`, target, metadata);
      if (targetAccuracy > best) {
        best = targetAccuracy;
        await run.saveModel('model', target, metadata);
      }
      target.dispose();
      await run.finishStage(stage, { target_accuracy: targetAccuracy });
    }
  }

  const table = strategies.map((strategy) => ({
    strategy,
    accuracy: Object.fromEntries(
      shotsList.map((shots) => [shots, run.done(`${strategy}-${shots}`)!.target_accuracy]),
    ),
  }));
  const points = table.flatMap((row) =>
    shotsList.map((shots) => ({ strategy: row.strategy, shots, accuracy: row.accuracy[shots] })),
  );
  await run.writeSvg('accuracy-vs-shots.svg', await renderSvg(shotsSpec(points)));
  return {
    command: 'finetune',
    source_accuracy: run.done('pretrain')!.source_accuracy,
    target_accuracy: table,
  };
}
