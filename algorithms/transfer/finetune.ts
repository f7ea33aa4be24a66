// Fine-tuning strategies for a pretrained BlockNet on a new task. Each strategy
// decides, per epoch, which units (blocks and the head) train and at what
// learning rate. Frozen parameters are set requiresGrad false, so the tape
// records no gradient work for them and the optimizer (which skips parameters
// without a gradient) leaves them unchanged; frozen units also run in
// evaluation mode, so their BatchNorm running statistics stay as pretrained.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/tensor';
import type { LabelledImages } from '../../data/fashion-mnist';
import { Rng } from '../../data/rng';
import type { BlockNet } from './backbone';
import { sampleBatch, shuffledBatches, step, toBatch } from './training';

export type Strategy = 'full' | 'linear' | 'partial' | 'discriminative' | 'gradual';
export const STRATEGIES: readonly Strategy[] = [
  'full',
  'linear',
  'partial',
  'discriminative',
  'gradual',
];

export interface StrategyOptions {
  /** partial: the number of blocks, from the input, that stay frozen. */
  frozenBlocks: number;
  /** discriminative: each unit's learning rate is this factor times the next unit's (the head's is the base rate). */
  lrDecay: number;
}

/** One unit's setting in an epoch. */
export interface UnitPlan {
  name: string;
  trainable: boolean;
  /** Multiplier of the base learning rate. */
  lrScale: number;
}

/**
 * Returns each unit's setting at `epoch` (0-based) for `units` names ordered
 * from the input to the head.
 *  - full: everything trains at the base rate.
 *  - linear: only the head trains (a linear probe of the frozen backbone).
 *  - partial: the first `frozenBlocks` blocks are frozen, the rest train.
 *  - discriminative: everything trains; unit i of n gets lrDecay^(n-1-i).
 *  - gradual: the head trains in epoch 0 and one more unit from the top is
 *    unfrozen each epoch (ULMFiT), all at the base rate.
 */
export function planEpoch(
  strategy: Strategy,
  units: readonly string[],
  epoch: number,
  options: StrategyOptions,
): UnitPlan[] {
  const n = units.length;
  const plan = (trainable: (i: number) => boolean, scale: (i: number) => number = () => 1) =>
    units.map((name, i) => ({ name, trainable: trainable(i), lrScale: scale(i) }));
  switch (strategy) {
    case 'full':
      return plan(() => true);
    case 'linear':
      return plan((i) => i === n - 1);
    case 'partial':
      if (
        !Number.isInteger(options.frozenBlocks) ||
        options.frozenBlocks < 0 ||
        options.frozenBlocks >= n
      )
        throw new Error(
          `--frozen-blocks ${options.frozenBlocks} is invalid; use an integer from 0 to ${n - 1} (the model has ${n - 1} blocks and a head).`,
        );
      return plan((i) => i >= options.frozenBlocks);
    case 'discriminative':
      if (!(options.lrDecay > 0 && options.lrDecay <= 1))
        throw new Error(`--lr-decay ${options.lrDecay} is invalid; use a factor in (0, 1].`);
      return plan(
        () => true,
        (i) => options.lrDecay ** (n - 1 - i),
      );
    case 'gradual':
      return plan((i) => i >= n - 1 - epoch);
    default:
      throw new Error(`Unknown strategy '${String(strategy)}'; use ${STRATEGIES.join(', ')}.`);
  }
}

/** Sets requiresGrad and train/eval mode of each unit of `model` by `plan`. */
export function applyPlan(model: BlockNet, plan: readonly UnitPlan[]): void {
  const units = model.parameterBlocks();
  plan.forEach((unit, i) => {
    for (const [, p] of units[i].params) p.requiresGrad_(unit.trainable);
    const module = i < model.blocks.length ? model.blocks[i] : model.head;
    module?.train(unit.trainable);
  });
}

/** Creates an Adam optimizer with one parameter group per unit, so a plan can scale each unit's rate. */
export function unitOptimizer(model: BlockNet, lr: number, weightDecay = 0): mg.optim.Adam {
  return new mg.optim.Adam(
    model.parameterBlocks().map((unit) => ({ params: unit.params.map(([, p]) => p) })),
    { lr, weightDecay },
  );
}

/** Writes the plan's learning rates into the optimizer's groups. */
export function applyLearningRates(
  optimizer: mg.optim.Adam,
  plan: readonly UnitPlan[],
  lr: number,
): void {
  plan.forEach((unit, i) => {
    optimizer.paramGroups[i].lr = lr * unit.lrScale;
  });
}

export interface FineTuneOptions extends StrategyOptions {
  strategy: Strategy;
  epochs: number;
  /** Optimizer steps per epoch; each draws a batch with replacement when the set is smaller than a batch. */
  stepsPerEpoch: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  /** Called after each epoch with the mean training loss. */
  onEpoch?: (epoch: number, loss: number, plan: UnitPlan[]) => Promise<void> | void;
}

/** Fine-tunes `model` (already holding the pretrained backbone and a fresh head) on `train`. */
export async function fineTune(
  model: BlockNet,
  train: LabelledImages,
  options: FineTuneOptions,
): Promise<void> {
  const units = model.parameterBlocks().map((unit) => unit.name);
  const optimizer = unitOptimizer(model, options.lr, options.weightDecay);
  const rng = new Rng(options.seed);
  const count = train.labels.length;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const plan = planEpoch(options.strategy, units, epoch, options);
    applyPlan(model, plan);
    applyLearningRates(optimizer, plan, options.lr);
    let total = 0;
    const batches =
      count >= options.batchSize
        ? shuffledBatches(count, options.batchSize, rng).slice(0, options.stepsPerEpoch)
        : Array.from({ length: options.stepsPerEpoch }, () =>
            sampleBatch(count, options.batchSize, rng),
          );
    for (const indices of batches) {
      total += await step(optimizer, (): Tensor => {
        const { x, y } = toBatch(train, indices);
        return mg.crossEntropy(model.forward(x), y);
      });
    }
    await options.onEpoch?.(epoch, total / Math.max(1, batches.length), plan);
  }
  // Leave every parameter trainable again, so the model can be saved or trained further.
  applyPlan(
    model,
    units.map((name) => ({ name, trainable: true, lrScale: 1 })),
  );
}
