// Default initialisation as PyTorch's Linear and Conv2d reset_parameters: weights
// from kaiming_uniform(a = sqrt(5)), which works out to U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), and biases from the same range. Draws come from the engine's
// seeded stream, so mg.manualSeed makes them reproducible.

import { rand } from '../ops/creation';
import type { Tensor } from '../tensor';

/** Uniform draws in [-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function uniformFanIn(shape: readonly number[], fanIn: number): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rand(shape, { low: -bound, high: bound });
}

/** Throws unless `value` is a positive integer, naming the layer and the option. */
export function checkPositiveInt(layer: string, option: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${layer}: ${option} must be a positive integer, got ${value}.`);
}
