// Conv2d: 2-D convolution over [N, C_in, H, W] with weight
// [C_out, C_in / groups, kH, kW], as torch.nn.Conv2d.

import { conv2d, type Conv2dOptions } from '../ops/conv';
import type { Tensor } from '../tensor';
import { checkPositiveInt, uniformFanIn } from './init';
import { Module } from './module';

export interface Conv2dLayerOptions extends Conv2dOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly options: Conv2dOptions;
  readonly hasBias: boolean;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | [number, number],
    options: Conv2dLayerOptions = {},
  ) {
    super();
    checkPositiveInt('Conv2d', 'inChannels', inChannels);
    checkPositiveInt('Conv2d', 'outChannels', outChannels);
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    checkPositiveInt('Conv2d', 'kernelSize', kh);
    checkPositiveInt('Conv2d', 'kernelSize', kw);
    const groups = options.groups ?? 1;
    checkPositiveInt('Conv2d', 'groups', groups);
    if (inChannels % groups !== 0 || outChannels % groups !== 0)
      throw new Error(
        `Conv2d: groups = ${groups} must divide inChannels (${inChannels}) and outChannels (${outChannels}).`,
      );

    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = [kh, kw];
    const { bias, ...convOptions } = options;
    this.options = convOptions;
    this.hasBias = bias ?? true;

    const fanIn = (inChannels / groups) * kh * kw;
    this.registerParameter(
      'weight',
      uniformFanIn([outChannels, inChannels / groups, kh, kw], fanIn),
    );
    if (this.hasBias) this.registerParameter('bias', uniformFanIn([outChannels], fanIn));
  }

  forward(x: Tensor): Tensor {
    const bias = this.hasBias ? this.param('bias') : undefined;
    return conv2d(x, this.param('weight'), bias, this.options);
  }
}
