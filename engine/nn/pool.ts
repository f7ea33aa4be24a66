// Pooling layers over [N, C, H, W], wrapping the pooling ops.

import { avgPool2d, maxPool2d, type AvgPool2dOptions, type MaxPool2dOptions } from '../ops/pool';
import type { Tensor } from '../tensor';
import { Module } from './module';

type Pair = [number, number];

/** Max over kernelSize windows; stride defaults to kernelSize, as torch.nn.MaxPool2d. */
export class MaxPool2d extends Module {
  readonly options: MaxPool2dOptions;

  constructor(kernelSize: number | Pair, options: Omit<MaxPool2dOptions, 'kernelSize'> = {}) {
    super();
    this.options = { kernelSize, ...options };
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

/** Mean over kernelSize windows; stride defaults to kernelSize, as torch.nn.AvgPool2d. */
export class AvgPool2d extends Module {
  readonly options: AvgPool2dOptions;

  constructor(kernelSize: number | Pair, options: Omit<AvgPool2dOptions, 'kernelSize'> = {}) {
    super();
    this.options = { kernelSize, ...options };
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.options);
  }
}
