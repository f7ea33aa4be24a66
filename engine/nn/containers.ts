// Containers and shape layers: Sequential chains modules and names them 0, 1, ...
// (so parameters read `0.weight`, `features.3.bias` as in PyTorch); Flatten
// merges axes.

import { flatten } from '../ops/shape';
import type { Tensor } from '../tensor';
import { Module } from './module';

/** A layer from one tensor to one tensor. */
export type Layer = Module<[Tensor], Tensor>;

export class Sequential extends Module {
  readonly layers: readonly Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
  }

  get length(): number {
    return this.layers.length;
  }

  /** Returns layer i; negative i counts from the end. */
  at(i: number): Layer {
    const layer = this.layers.at(i);
    if (!layer)
      throw new Error(`Sequential.at(${i}): index out of range for ${this.layers.length} layers.`);
    return layer;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }
}

/** Flattens axes startDim..endDim into one (defaults keep the batch axis, as torch.nn.Flatten). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/** Returns its input; a placeholder layer, as torch.nn.Identity. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
