// The standard model for each dataset, sized from the task source.

import type * as mg from '../engine/index';
import type { Module } from '../engine/nn/index';
import { convNet4, sineMlp } from '../engine/nn/models';
import type { TaskSource } from './tasks';
import type { DatasetName } from './train';

/** Builds the 1-h-h-1 ReLU MLP for sinusoids, or the 4-block conv net (with BatchNorm) for images. */
export function buildModel(
  dataset: DatasetName,
  source: TaskSource,
  hidden: number,
): Module<[mg.Tensor], mg.Tensor> {
  if (dataset === 'sine') return sineMlp({ hidden: [hidden, hidden] });
  const [channels, size] = source.inputShape;
  return convNet4({ inChannels: channels, imageSize: size, hidden, outFeatures: source.outputs });
}
