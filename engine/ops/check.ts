// Argument checks shared by the op files; not part of the public API.

import { Tensor } from '../tensor';

/** Throws unless each named argument is a Tensor, naming the first that is not. */
export function requireTensors(op: string, args: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(args)) {
    if (!(value instanceof Tensor))
      throw new Error(
        `${op}: ${name} must be a Tensor, got ${value === null ? 'null' : typeof value}; ` +
          'make numbers into tensors with mg.full(shape, value) or mg.tensor(data).',
      );
  }
}
