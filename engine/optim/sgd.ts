// Stochastic gradient descent with momentum, dampening, Nesterov momentum and
// L2 weight decay, as torch.optim.SGD:
//   d = g + wd p;  buf = momentum buf + (1 - dampening) d (buf = d on the first step);
//   d = nesterov ? d + momentum buf : buf;  p -= lr d.

import { sgdUpdate } from '../../kernels/optim';
import type { Tensor } from '../tensor';
import {
  Optimizer,
  type GroupInput,
  type GroupOptions,
  type ParamGroup,
  type ParamState,
} from './optimizer';

export interface SGDOptions extends GroupOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(
    params: Tensor[] | GroupInput<SGDOptions>[],
    options: Partial<SGDOptions> & { lr: number },
  ) {
    super('SGD', params, {
      weightDecay: 0,
      momentum: 0,
      dampening: 0,
      nesterov: false,
      ...options,
    });
  }

  protected override validate(group: ParamGroup<SGDOptions>, index: number): void {
    super.validate(group, index);
    if (!(group.momentum >= 0))
      throw new Error(
        `SGD: group ${index} has invalid momentum ${group.momentum}; it must be >= 0.`,
      );
    if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0))
      throw new Error(`SGD: group ${index}: Nesterov momentum needs momentum > 0 and dampening 0.`);
  }

  protected update(
    param: Tensor,
    grad: Tensor,
    group: ParamGroup<SGDOptions>,
    state: ParamState,
  ): void {
    const buffer = group.momentum !== 0 ? this.stateTensor(param, state, 'momentum_buffer') : null;
    sgdUpdate({
      param: param.buffer,
      grad: grad.buffer,
      momentumBuffer: buffer?.tensor.buffer ?? null,
      n: param.size,
      lr: group.lr,
      weightDecay: group.weightDecay,
      momentum: group.momentum,
      dampening: group.dampening,
      nesterov: group.nesterov,
      first: buffer?.created ?? false,
    });
  }
}
