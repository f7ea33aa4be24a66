// Batch normalisation over the channel axis 1, as torch.nn.BatchNorm1d/2d:
// y = (x - mean) / sqrt(var + eps) * weight + bias. In training mode mean and
// the biased variance come from the batch (over every axis but 1), and the
// running statistics move towards them by `momentum`, with the unbiased variance
// for running_var. In eval mode the running statistics are used. Everything on
// the tape is built from differentiable ops, so gradients work to any order.

import { noGrad } from '../autograd';
import { tidy } from '../memory';
import { incrementCounter, copyInto } from '../../kernels/optim';
import { full, ones, zeros } from '../ops/creation';
import { add, addScalar, mul, mulScalar, powScalar, sub } from '../ops/elementwise';
import { batchNorm, mulAdd } from '../ops/norm';
import { reshape } from '../ops/shape';
import { formatShape } from '../shape';
import type { Tensor } from '../tensor';
import { checkPositiveInt } from './init';
import { Module } from './module';

export interface BatchNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without them eval also uses batch statistics. */
  trackRunningStats?: boolean;
}

abstract class BatchNorm extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(
    private readonly layerName: string,
    private readonly ranks: readonly number[],
    numFeatures: number,
    options: BatchNormOptions,
  ) {
    super();
    checkPositiveInt(layerName, 'numFeatures', numFeatures);
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    if (this.affine) {
      this.registerParameter('weight', ones([numFeatures]));
      this.registerParameter('bias', zeros([numFeatures]));
    }
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', full([], 0, { dtype: 'i32' }));
    }
  }

  forward(x: Tensor): Tensor {
    if (!this.ranks.includes(x.ndim) || x.shape[1] !== this.numFeatures)
      throw new Error(
        `${this.layerName}: expected input of rank ${this.ranks.join(' or ')} with ${this.numFeatures} channels ` +
          `on axis 1, got shape ${formatShape(x.shape)}.`,
      );

    // Statistics have shape [1, C, 1, ...] so they broadcast against x.
    const statShape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const count = x.size / this.numFeatures;

    // Without affine parameters the layer applies weight 1 and bias 0.
    const weight = this.affine ? reshape(this.param('weight'), statShape) : full(statShape, 1);
    const bias = this.affine ? reshape(this.param('bias'), statShape) : full(statShape, 0);

    if (this.training || !this.trackRunningStats) {
      if (this.training && count <= 1)
        throw new Error(
          `${this.layerName}: training needs more than one value per channel, got input shape ${formatShape(x.shape)}.`,
        );
      const { output, mean, variance } = batchNorm(x, weight, bias, axes, this.eps);
      if (this.training && this.trackRunningStats && !this.buffersFrozen)
        this.updateRunningStats(mean, variance, count);
      return output;
    }

    // Eval mode: y = x * (rstd * weight) + (bias - mean * rstd * weight), one pass.
    const runningMean = reshape(this.buffer('running_mean'), statShape);
    const runningVar = reshape(this.buffer('running_var'), statShape);
    const scale = mul(powScalar(addScalar(runningVar, this.eps), -0.5), weight);
    return mulAdd(x, scale, sub(bias, mul(runningMean, scale)));
  }

  // running = (1 - momentum) running + momentum batch, with running_var taking
  // the unbiased batch variance var * n / (n - 1). The results are copied into
  // the existing buffers, so references to them stay valid.
  private updateRunningStats(batchMean: Tensor, batchVar: Tensor, count: number): void {
    // tidy frees the temporaries; the copies are queued before any later
    // dispatch can reuse their buffers.
    tidy(() =>
      noGrad(() => {
        const m = this.momentum;
        const runningMean = this.buffer('running_mean');
        const runningVar = this.buffer('running_var');
        const newMean = add(
          mulScalar(runningMean, 1 - m),
          mulScalar(reshape(batchMean.detach(), [this.numFeatures]), m),
        );
        const unbiased = mulScalar(
          reshape(batchVar.detach(), [this.numFeatures]),
          count / (count - 1),
        );
        const newVar = add(mulScalar(runningVar, 1 - m), mulScalar(unbiased, m));
        copyInto(newMean.buffer, runningMean.buffer, this.numFeatures * 4);
        copyInto(newVar.buffer, runningVar.buffer, this.numFeatures * 4);
        incrementCounter(this.buffer('num_batches_tracked').buffer, 1);
      }),
    );
  }
}

/** BatchNorm over [N, C] or [N, C, L] inputs. */
export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm1d', [2, 3], numFeatures, options);
  }
}

/** BatchNorm over [N, C, H, W] inputs. */
export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm2d', [4], numFeatures, options);
  }
}
