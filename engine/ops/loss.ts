// Loss functions, composed of differentiable ops so that they can be
// differentiated to any order. Shapes and defaults follow torch.nn.functional.

import { formatShape, numel, sameShape } from '../shape';
import type { Tensor } from '../tensor';
import { tensor } from './creation';
import { add, mul, neg, square, sub } from './elementwise';
import { mean, sum } from './reduce';
import { permute, unsqueeze } from './shape';
import { logSoftmax, oneHot } from './softmax';

export type LossReduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  /** Combination of the per-element losses: their mean (the default), their sum, or none. */
  reduction?: LossReduction;
}

export interface CrossEntropyOptions extends LossOptions {
  /** Weight in [0, 1] moved from the true class to a uniform distribution over all classes. */
  labelSmoothing?: number;
}

export interface BceWithLogitsOptions extends LossOptions {
  /** Weight of the positive term, broadcast against the last dimension of the logits. */
  posWeight?: Tensor;
}

function reduce(op: string, losses: Tensor, reduction: LossReduction | undefined): Tensor {
  switch (reduction ?? 'mean') {
    case 'mean':
      return mean(losses);
    case 'sum':
      return sum(losses);
    case 'none':
      return losses;
    default:
      throw new Error(
        `${op}: reduction ${String(reduction)} is invalid; use 'mean', 'sum' or 'none'.`,
      );
  }
}

function checkF32(op: string, name: string, t: Tensor): void {
  if (t.dtype !== 'f32') throw new Error(`${op}: ${name} must be an f32 tensor, got ${t.dtype}.`);
}

/**
 * Checks that `labels` are i32 of the input's shape without the class axis 1:
 * [N] for [N, C] inputs, [N, d1, ...] for [N, C, d1, ...].
 */
function checkLabels(op: string, input: Tensor, labels: Tensor): void {
  checkF32(op, 'the input', input);
  if (input.ndim < 2) {
    throw new Error(
      `${op}: the input has shape ${formatShape(input.shape)}; expected [N, C] or [N, C, d1, ...] with classes on axis 1.`,
    );
  }
  if (labels.dtype !== 'i32') {
    throw new Error(
      `${op}: labels must be an i32 tensor of class indices, got ${labels.dtype}; create them with dtype 'i32'.`,
    );
  }
  const expected = input.shape.filter((_, i) => i !== 1);
  if (!sameShape(labels.shape, expected)) {
    throw new Error(
      `${op}: labels have shape ${formatShape(labels.shape)} but the input ${formatShape(input.shape)} needs labels of shape ${formatShape(expected)}.`,
    );
  }
}

/** One-hot targets [N, C, d1, ...] laid out like the input, with classes on axis 1. */
function classTargets(input: Tensor, labels: Tensor): Tensor {
  const encoded = oneHot(labels, input.shape[1]);
  if (input.ndim === 2) return encoded;
  const dims = [0, input.ndim - 1, ...Array.from({ length: input.ndim - 2 }, (_, i) => i + 1)];
  return permute(encoded, dims);
}

/**
 * Negative log-likelihood: -logProbs[n, labels[n], ...], for log-probabilities
 * [N, C] or [N, C, d1, ...] and i32 labels [N] or [N, d1, ...].
 * NOTE: a label outside [0, C) contributes a loss of 0 instead of raising,
 * because checking it would need a read back to the host.
 */
export function nllLoss(logProbs: Tensor, labels: Tensor, options: LossOptions = {}): Tensor {
  checkLabels('nllLoss', logProbs, labels);
  const picked = neg(sum(mul(classTargets(logProbs, labels), logProbs), 1));
  return reduce('nllLoss', picked, options.reduction);
}

/**
 * Cross-entropy of logits [N, C] or [N, C, d1, ...] against i32 class labels
 * [N] or [N, d1, ...], as torch.nn.functional.cross_entropy. With label
 * smoothing e the target is (1 - e) onehot + e / C. Labels outside [0, C) are
 * not detected, as in nllLoss.
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  checkLabels('crossEntropy', logits, labels);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) {
    throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}.`);
  }
  const logProbs = logSoftmax(logits, 1);
  let targets = classTargets(logits, labels);
  if (smoothing > 0) targets = add(mul(targets, 1 - smoothing), smoothing / logits.shape[1]);
  const losses = neg(sum(mul(targets, logProbs), 1));
  return reduce('crossEntropy', losses, options.reduction);
}

function checkSameShape(op: string, input: Tensor, target: Tensor): void {
  checkF32(op, 'the input', input);
  checkF32(op, 'the target', target);
  if (!sameShape(input.shape, target.shape)) {
    throw new Error(
      `${op}: the input has shape ${formatShape(input.shape)} but the target has shape ${formatShape(target.shape)}; they must match.`,
    );
  }
}

/** Mean squared error (input - target)^2, reduced as requested. */
export function mseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  checkSameShape('mseLoss', input, target);
  return reduce('mseLoss', square(sub(input, target)), options.reduction);
}

/**
 * Binary cross-entropy of sigmoid(logits) against targets in [0, 1]:
 * -(w t log sigmoid(x) + (1 - t) log sigmoid(-x)), with w = posWeight (default 1).
 * Both log-sigmoids come from one log-softmax over the pair [x, 0], which
 * equals the stable form max(x, 0) - x t + log(1 + exp(-|x|)) when w = 1, and
 * unlike that form has exact derivatives of every order at x = 0.
 */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  targets: Tensor,
  options: BceWithLogitsOptions = {},
): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  checkSameShape(op, logits, targets);
  const posWeight = options.posWeight;
  if (posWeight) {
    checkF32(op, 'posWeight', posWeight);
    const lastDim = logits.shape.at(-1) ?? 1;
    if (
      posWeight.ndim > 1 ||
      (numel(posWeight.shape) !== 1 && numel(posWeight.shape) !== lastDim)
    ) {
      throw new Error(
        `${op}: posWeight has shape ${formatShape(posWeight.shape)}; expected [] or [1] or [${lastDim}] (the last dimension of the logits).`,
      );
    }
  }

  // logSigmoids[..., 0] = log sigmoid(x) and logSigmoids[..., 1] = log sigmoid(-x).
  const pairs = mul(unsqueeze(logits, -1), tensor([1, 0]));
  const logSigmoids = logSoftmax(pairs, -1);

  // weights[..., 0] = w t and weights[..., 1] = 1 - t.
  const positive = posWeight ? mul(targets, posWeight) : targets;
  const weights = add(
    mul(unsqueeze(positive, -1), tensor([1, 0])),
    mul(unsqueeze(sub(1, targets), -1), tensor([0, 1])),
  );
  const losses = neg(sum(mul(weights, logSigmoids), -1));
  return reduce(op, losses, options.reduction);
}
