// Checkpoint loading shared by the model-based learners.

import type { Module } from '../../engine/nn/index';
import { formatShape } from '../../engine/shape';
import type { ParamMap } from '../meta/functional';

/** Copies checkpointed tensors into `module` after checking that every name is present with its shape. */
export function copyStateTensors(
  module: Module<never[], unknown>,
  tensors: ParamMap,
  what: string,
): void {
  for (const [name, tensor] of module.stateDict()) {
    const given = tensors.get(name);
    if (!given) throw new Error(`${what}: the checkpoint has no tensor "${name}".`);
    if (given.shape.join() !== tensor.shape.join()) {
      throw new Error(
        `${what}: tensor "${name}" has shape ${formatShape(given.shape)} in the checkpoint, expected ${formatShape(tensor.shape)}.`,
      );
    }
  }
  module.loadStateDict(tensors);
}
