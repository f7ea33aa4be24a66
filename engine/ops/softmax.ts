// Softmax and log-softmax along one axis, and one-hot encoding of class labels.

import { oneHot as launchOneHot } from '../../kernels/one_hot';
import { softmax as launchSoftmax } from '../../kernels/softmax';
import { apply, type RuleTable } from '../autograd';
import { formatShape, normalizeAxis, numel } from '../shape';
import { Tensor } from '../tensor';
import { exp, mul, sub } from './elementwise';
import { sum } from './reduce';

function softmaxForward(x: Tensor, axis: number, log: boolean): Tensor {
  const out = Tensor.empty(x.shape, 'f32', log ? 'log_softmax' : 'softmax');
  if (out.size === 0) return out;
  const shape = x.ndim === 0 ? [1] : x.shape;
  launchSoftmax({
    x: x.buffer,
    out: out.buffer,
    outer: numel(shape.slice(0, axis)),
    len: shape[axis],
    inner: numel(shape.slice(axis + 1)),
    log,
  });
  return out;
}

export const softmaxRules: RuleTable<'softmax' | 'log_softmax' | 'one_hot'> = {
  softmax: {
    forward: ([x], { axis }) => softmaxForward(x, axis, false),
    // ds = s * (dg - sum(dg * s, axis))
    backward(g, { output: s, attrs: { axis } }) {
      if (s.ndim === 0) return [mul(g, 0)];
      return [mul(s, sub(g, sum(mul(g, s), axis, true)))];
    },
  },
  log_softmax: {
    forward: ([x], { axis }) => softmaxForward(x, axis, true),
    // d logsoftmax = dg - softmax * sum(dg, axis), with softmax = exp(output)
    backward(g, { output, attrs: { axis } }) {
      if (output.ndim === 0) return [mul(g, 0)];
      return [sub(g, mul(exp(output), sum(g, axis, true)))];
    },
  },
  one_hot: {
    forward([labels], { numClasses }) {
      const out = Tensor.empty([...labels.shape, numClasses], 'f32', 'one_hot');
      if (out.size > 0) launchOneHot(labels.buffer, out.buffer, labels.size, numClasses);
      return out;
    },
    // Integer labels have no gradient.
    backward: () => [null],
  },
};

function checkF32(op: string, x: Tensor): void {
  if (x.dtype !== 'f32')
    throw new Error(`${op}: expected an f32 tensor, got ${x.dtype}; convert it to f32 first.`);
}

/** Normalizes `axis`. A scalar accepts 0 and -1, as in PyTorch. */
function softmaxAxis(op: string, axis: number, x: Tensor): number {
  return normalizeAxis(op, axis, Math.max(x.ndim, 1));
}

/** Computes exp(x) / sum(exp(x)) along `axis`, with the row maximum subtracted first so no exp overflows. */
export function softmax(x: Tensor, axis = -1): Tensor {
  checkF32('softmax', x);
  return apply('softmax', [x], { axis: softmaxAxis('softmax', axis, x) });
}

/** Computes x - log(sum(exp(x))) along `axis`, stable for logits of any magnitude. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkF32('logSoftmax', x);
  return apply('log_softmax', [x], { axis: softmaxAxis('logSoftmax', axis, x) });
}

/**
 * Encodes i32 class labels of any shape as f32 [...labels.shape, numClasses]
 * with a 1 at each label. A label outside [0, numClasses) gives an all-zero row
 * and is not reported, because checking would need a read back to the host.
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  if (labels.dtype !== 'i32') {
    throw new Error(
      `oneHot: labels must be an i32 tensor of class indices, got ${labels.dtype}; create them with dtype 'i32'.`,
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`oneHot: numClasses must be a positive integer, got ${numClasses}.`);
  }
  if (labels.size * numClasses > 2 ** 32 - 1) {
    throw new Error(
      `oneHot: the output ${formatShape([...labels.shape, numClasses])} has more than 2^32 - 1 elements; encode fewer labels at a time.`,
    );
  }
  return apply('one_hot', [labels], { numClasses });
}
