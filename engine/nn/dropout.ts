// Dropout: in training mode each element is zeroed with probability p and the
// survivors are scaled by 1/(1 - p), so the expected output equals the input.
// The mask comes from mg.rand, so mg.manualSeed fixes it. In eval mode it is
// the identity.

import { rand } from '../ops/creation';
import { gt, mul, mulScalar } from '../ops/elementwise';
import type { Tensor } from '../tensor';
import { Module } from './module';

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}.`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (this.p === 1) return mulScalar(x, 0);
    const keepMask = gt(rand(x.shape), this.p);
    return mul(x, mulScalar(keepMask, 1 / (1 - this.p)));
  }
}
