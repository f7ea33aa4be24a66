// Adam and AdamW as torch.optim.Adam/AdamW (amsgrad off):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// Adam adds wd p to g (L2 penalty); AdamW multiplies p by (1 - lr wd) first.

import { adamUpdate } from '../../kernels/optim';
import { fillConstant } from '../../kernels/creation';
import type { Tensor } from '../tensor';
import {
  Optimizer,
  type GroupInput,
  type GroupOptions,
  type ParamGroup,
  type ParamState,
} from './optimizer';

export interface AdamOptions extends GroupOptions {
  beta1: number;
  beta2: number;
  eps: number;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  constructor(
    name: string,
    private readonly decoupled: boolean,
    params: Tensor[] | GroupInput<AdamOptions>[],
    defaults: AdamOptions,
  ) {
    super(name, params, defaults);
  }

  protected override validate(group: ParamGroup<AdamOptions>, index: number): void {
    super.validate(group, index);
    for (const key of ['beta1', 'beta2'] as const) {
      if (!(group[key] >= 0 && group[key] < 1))
        throw new Error(
          `Adam: group ${index} has invalid ${key} ${group[key]}; it must be in [0, 1).`,
        );
    }
    if (!(group.eps >= 0))
      throw new Error(`Adam: group ${index} has invalid eps ${group.eps}; it must be >= 0.`);
  }

  protected update(
    param: Tensor,
    grad: Tensor,
    group: ParamGroup<AdamOptions>,
    state: ParamState,
  ): void {
    const expAvg = this.stateTensor(param, state, 'exp_avg');
    const expAvgSq = this.stateTensor(param, state, 'exp_avg_sq');
    for (const moment of [expAvg, expAvgSq])
      if (moment.created)
        fillConstant({ out: moment.tensor.buffer, n: param.size, isInt: false }, 0);
    adamUpdate({
      param: param.buffer,
      grad: grad.buffer,
      expAvg: expAvg.tensor.buffer,
      expAvgSq: expAvgSq.tensor.buffer,
      n: param.size,
      lr: group.lr,
      weightDecay: group.weightDecay,
      beta1: group.beta1,
      beta2: group.beta2,
      eps: group.eps,
      decoupled: this.decoupled,
      step: state.step,
    });
  }
}

type AdamInput = Partial<AdamOptions> & { lr?: number };

/** Adam with L2 weight decay added to the gradient (default lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0). */
export class Adam extends AdamBase {
  constructor(params: Tensor[] | GroupInput<AdamOptions>[], options: AdamInput = {}) {
    super('Adam', false, params, {
      lr: 1e-3,
      weightDecay: 0,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      ...options,
    });
  }
}

/** Adam with decoupled weight decay (default wd 0.01, as torch.optim.AdamW). */
export class AdamW extends AdamBase {
  constructor(params: Tensor[] | GroupInput<AdamOptions>[], options: AdamInput = {}) {
    super('AdamW', true, params, {
      lr: 1e-3,
      weightDecay: 1e-2,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      ...options,
    });
  }
}
