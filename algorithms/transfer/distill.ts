// Knowledge distillation: a small student learns from a trained teacher.
// Response-based (Hinton, Vinyals and Dean 2015, "Distilling the Knowledge in a
// Neural Network"): the student matches the teacher's temperature-softened
// class distribution. Feature-based (Romero et al. 2015, "FitNets"): a learned
// regressor maps a student block's output onto a teacher block's output and an
// MSE hint loss pulls them together.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/tensor';
import type { LabelledImages } from '../../data/fashion-mnist';
import { Rng } from '../../data/rng';
import type { BlockNet } from './backbone';
import { shuffledBatches, step, toBatch } from './training';

/**
 * KL(softmax(teacher / T) || softmax(student / T)) averaged over the batch and
 * scaled by T^2 (which keeps the soft-target gradients on the scale of the
 * hard-label ones as T changes), mixed with the hard-label cross-entropy:
 * alpha * T^2 * KL + (1 - alpha) * CE. As PyTorch's kl_div(..., 'batchmean').
 */
export function distillationLoss(
  studentLogits: Tensor,
  teacherLogits: Tensor,
  labels: Tensor,
  temperature: number,
  alpha: number,
): Tensor {
  if (!(temperature > 0))
    throw new Error(`--temperature ${temperature} is invalid; use a positive number.`);
  if (!(alpha >= 0 && alpha <= 1))
    throw new Error(`--alpha ${alpha} is invalid; use a value in [0, 1].`);
  const n = studentLogits.shape[0];
  const teacherLogProbs = mg.logSoftmax(mg.div(teacherLogits, temperature), 1);
  const studentLogProbs = mg.logSoftmax(mg.div(studentLogits, temperature), 1);
  const kl = mg.div(
    mg.sum(mg.mul(mg.exp(teacherLogProbs), mg.sub(teacherLogProbs, studentLogProbs))),
    n,
  );
  const soft = mg.mul(kl, alpha * temperature * temperature);
  if (alpha === 1) return soft;
  return mg.add(soft, mg.mul(mg.crossEntropy(studentLogits, labels), 1 - alpha));
}

/** FitNets hint loss: the mean squared error between the regressed student feature and the teacher's. */
export function hintLoss(regressed: Tensor, teacherFeature: Tensor): Tensor {
  return mg.mseLoss(regressed, teacherFeature);
}

/**
 * Builds the FitNets regressor from a student block output to the teacher's:
 * a 1x1 convolution for conv backbones, a linear map for MLPs.
 */
export function hintRegressor(
  student: BlockNet,
  teacher: BlockNet,
  block: number,
): mg.nn.Sequential {
  const studentWidth = student.options.widths[block];
  const teacherWidth = teacher.options.widths[block];
  if (studentWidth === undefined || teacherWidth === undefined)
    throw new Error(
      `--hint-block ${block} is invalid; the student has ${student.blocks.length} blocks and the teacher ${teacher.blocks.length}.`,
    );
  if (student.options.kind !== teacher.options.kind)
    throw new Error(
      'Feature distillation needs the student and teacher to be the same kind of network.',
    );
  return new mg.nn.Sequential(
    student.options.kind === 'conv'
      ? new mg.nn.Conv2d(studentWidth, teacherWidth, 1)
      : new mg.nn.Linear(studentWidth, teacherWidth),
  );
}

export interface DistillOptions {
  kind: 'none' | 'response' | 'feature';
  epochs: number;
  batchSize: number;
  /** Caps the steps of an epoch, to fix the training budget. */
  stepsPerEpoch: number;
  lr: number;
  temperature: number;
  alpha: number;
  /** feature: the block whose output is matched, and the weight of the hint loss. */
  hintBlock: number;
  hintWeight: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => Promise<void> | void;
}

/**
 * Trains `student` on `train`. 'none' uses the hard labels alone; 'response'
 * the distillation loss against the frozen teacher; 'feature' the hard-label
 * loss plus hintWeight times the hint loss at `hintBlock`, training the
 * regressor with the student (the FitNets hint and the label loss in one
 * stage rather than the paper's two).
 */
export async function distill(
  student: BlockNet,
  teacher: BlockNet | null,
  train: LabelledImages,
  options: DistillOptions,
): Promise<mg.nn.Sequential | null> {
  if (options.kind !== 'none' && !teacher)
    throw new Error(`Distillation kind '${options.kind}' needs a teacher.`);
  const regressor =
    options.kind === 'feature' && teacher
      ? hintRegressor(student, teacher, options.hintBlock)
      : null;
  const params = [...student.parameters(), ...(regressor?.parameters() ?? [])];
  const optimizer = new mg.optim.Adam(params, { lr: options.lr });
  teacher?.eval();
  for (const p of teacher?.parameters() ?? []) p.requiresGrad_(false);
  const rng = new Rng(options.seed);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const batches = shuffledBatches(train.labels.length, options.batchSize, rng).slice(
      0,
      options.stepsPerEpoch,
    );
    let total = 0;
    for (const indices of batches) {
      total += await step(optimizer, () => {
        const { x, y } = toBatch(train, indices);
        if (options.kind === 'none' || !teacher) return mg.crossEntropy(student.forward(x), y);
        if (options.kind === 'response') {
          const teacherLogits = mg.noGrad(() => teacher.forward(x));
          return distillationLoss(
            student.forward(x),
            teacherLogits,
            y,
            options.temperature,
            options.alpha,
          );
        }
        const studentHint = student.blockOutput(x, options.hintBlock);
        const teacherHint = mg.noGrad(() => teacher.blockOutput(x, options.hintBlock));
        const rest = mg.flatten(studentAfter(student, studentHint, options.hintBlock), 1);
        const logits = student.head ? student.head.forward(rest) : rest;
        const hint = hintLoss(regressor!.forward(studentHint), teacherHint);
        return mg.add(mg.crossEntropy(logits, y), mg.mul(hint, options.hintWeight));
      });
    }
    await options.onEpoch?.(epoch, total / Math.max(1, batches.length));
  }
  for (const p of teacher?.parameters() ?? []) p.requiresGrad_(true);
  return regressor;
}

/** Runs the blocks after `block` on a block output, sharing the forward pass with the hint. */
function studentAfter(student: BlockNet, out: Tensor, block: number): Tensor {
  let x = out;
  for (let i = block + 1; i < student.blocks.length; i++) x = student.blocks[i].forward(x);
  return x;
}

/** Returns the mean seconds of one forward pass over `batch` images, after one warm-up pass. */
export async function inferenceSeconds(
  model: BlockNet,
  images: LabelledImages,
  batch = 500,
  repeats = 3,
): Promise<number> {
  const indices = Array.from({ length: Math.min(batch, images.labels.length) }, (_, i) => i);
  model.eval();
  const sample = toBatch(images, indices);
  sample.y.dispose();
  const x = mg.keep(sample.x);
  const run = async () => {
    const out = mg.noGrad(() => model.forward(x));
    await out.data();
    out.dispose();
  };
  await run();
  const start = performance.now();
  for (let r = 0; r < repeats; r++) await run();
  x.dispose();
  model.train();
  return (performance.now() - start) / 1000 / repeats;
}
