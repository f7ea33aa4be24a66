// Linear: y = x W^T + b over the last axis, with W of shape [out, in] as in PyTorch.

import { add } from '../ops/elementwise';
import { matmulT } from '../ops/matmul';
import { reshape } from '../ops/shape';
import { formatShape } from '../shape';
import type { Tensor } from '../tensor';
import { checkPositiveInt, uniformFanIn } from './init';
import { Module } from './module';

export interface LinearOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly hasBias: boolean;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.hasBias = options.bias ?? true;
    this.registerParameter('weight', uniformFanIn([outFeatures, inFeatures], inFeatures));
    if (this.hasBias) this.registerParameter('bias', uniformFanIn([outFeatures], inFeatures));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 1 || x.shape[x.ndim - 1] !== this.inFeatures)
      throw new Error(
        `Linear: input of shape ${formatShape(x.shape)} does not end in inFeatures = ${this.inFeatures}.`,
      );

    // Fold leading axes into one batch axis for a single matmul.
    const lead = x.shape.slice(0, -1);
    const flat = x.ndim === 2 ? x : reshape(x, [-1, this.inFeatures]);
    let y = matmulT(flat, this.param('weight'), false, true);
    if (this.hasBias) y = add(y, this.param('bias'));
    return x.ndim === 2 ? y : reshape(y, [...lead, this.outFeatures]);
  }
}
